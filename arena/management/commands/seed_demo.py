"""``manage.py seed_demo``: demo users, spaces and agents; idempotent.

Users (password = username + "-demo-pass"): ``admin`` (staff, superuser), ``creator`` (space
creator), ``player`` plus players ``ada``, ``ben`` and ``cy``; every player gets a grant of
credits. Spaces by ``creator``: ``arithmetic`` (verifiable, numeric answers, a prompt bank with
references and a held-out split, and the local model as a shadow judge measured against the
verifier), ``haiku`` (open writing, judged pairwise by the local model),
``capitals`` (verifiable, exact answers, sponsored: a subsidy per match; a shadow judge too)
and ``py-functions`` (verifiable code: each prompt carries Python tests that a verifier runs on
the answer's code).
Nine agents of four players with different prompts and generation settings.

Everything is looked up by a natural key (username, slug, owner + agent name, grant key) before
it is made, so a second run changes nothing.
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.model_store import ensure_default_base_model
from agents.models import Agent, BaseModel
from agents.services import agent_create
from arena.services.accounts import user_make_creator
from ledger import services as ledger
from ledger.models import Transfer
from spaces.economics import PLATFORM
from spaces.models import Prompt, Space
from spaces.services import prompt_create, space_create, space_set_status

GRANT = 10_000
PLAYERS = ("player", "ada", "ben", "cy")


def _arithmetic_prompts() -> list[tuple[str, str]]:
    rows = []
    for a in range(2, 14):
        for b in (3, 7, 11):
            # Sums the default model gets right about half of the time: matches then tell right
            # from wrong, and the pairs carry a signal to learn from.
            rows.append((f"What is {a} + {b}? Answer with the number only.", str(a + b)))
    return rows


HAIKU_PROMPTS = [
    "Write a haiku about a server room at night.",
    "Write a haiku about the first rain of autumn.",
    "Write a haiku about a chess game between two machines.",
    "Write a haiku about learning from mistakes.",
    "Write a haiku about a lighthouse keeper.",
    "Write a haiku about a cat watching snow.",
    "Write a haiku about an old train station.",
    "Write a haiku about the smell of coffee.",
    "Write a haiku about a city waking up.",
    "Write a haiku about a river meeting the sea.",
]

CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Germany", "Berlin"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Peru", "Lima"),
    ("Kenya", "Nairobi"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Chile", "Santiago"),
    ("Portugal", "Lisbon"),
    ("Russia", "Moscow"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"),
    ("Ireland", "Dublin"),
    ("Sweden", "Stockholm"),
    ("Poland", "Warsaw"),
    ("Austria", "Vienna"),
    ("Thailand", "Bangkok"),
    ("Cuba", "Havana"),
]

CODE_ASK = " Reply with the code in one ```python block."
PY_FUNCTIONS = [
    (
        "Write a Python function add(a, b) that returns the sum of a and b.",
        ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(10, 32) == 42"],
    ),
    (
        "Write a Python function is_even(n) that returns True when the integer n is even and "
        "False otherwise.",
        ["assert is_even(4) is True", "assert is_even(7) is False", "assert is_even(0) is True"],
    ),
    (
        "Write a Python function reverse_string(s) that returns the string s reversed.",
        ["assert reverse_string('abc') == 'cba'", "assert reverse_string('') == ''"],
    ),
    (
        "Write a Python function factorial(n) that returns n! for an integer n >= 0.",
        [
            "assert factorial(0) == 1",
            "assert factorial(5) == 120",
            "assert factorial(10) == 3628800",
        ],
    ),
    (
        "Write a Python function count_vowels(s) that returns how many vowels (a, e, i, o, u, "
        "in either case) the string s contains.",
        [
            "assert count_vowels('hello') == 2",
            "assert count_vowels('AEIOU xyz') == 5",
            "assert count_vowels('') == 0",
        ],
    ),
    (
        "Write a Python function fizzbuzz(n) that returns 'Fizz' for multiples of 3, 'Buzz' for "
        "multiples of 5, 'FizzBuzz' for multiples of both, and str(n) otherwise.",
        [
            "assert fizzbuzz(9) == 'Fizz' and fizzbuzz(10) == 'Buzz'",
            "assert fizzbuzz(30) == 'FizzBuzz'",
            "assert fizzbuzz(7) == '7'",
        ],
    ),
]

SPACES = [
    {
        "slug": "arithmetic",
        "title": "Arithmetic sprint",
        "task_kind": "verifiable",
        "description": "Exact arithmetic. The verifier checks the number in your answer.",
        "rules": {"answer_format": "number", "max_new_tokens_cap": 24, "max_chars": 200},
        # The local model judges every match too, as a shadow: never counted, but measured
        # against the verifier in the space's judge report (is an LLM judge worth trusting?).
        "judge_panel": [
            {"kind": "verifier", "mode": "numeric", "tolerance": "0.001"},
            {"kind": "pairwise-llm", "shadow": True},
        ],
        "agents_per_match": 3,
        "payout_shares": ["0.6", "0.3", "0.1"],
        "creator_rake_bps": 300,
        "platform_rake_bps": 200,
        "subsidy": 0,
        "heldout_fraction": "0.1",
        "fee_tiers": [("free", 0), ("standard", 10)],
        "prompts": _arithmetic_prompts(),
    },
    {
        "slug": "haiku",
        "title": "Haiku duel",
        "task_kind": "open",
        "description": "Two agents write a haiku; the model judges which is better, both ways.",
        "rules": {"answer_format": "free", "max_new_tokens_cap": 48, "max_chars": 400},
        "judge_panel": [
            {"kind": "pairwise-llm", "instructions": "Prefer a vivid haiku of three short lines."}
        ],
        "agents_per_match": 2,
        "payout_shares": ["1"],
        "creator_rake_bps": 500,
        "platform_rake_bps": 500,
        "subsidy": 0,
        "heldout_fraction": "0.1",
        "fee_tiers": [("free", 0), ("standard", 20)],
        "prompts": [(text, "") for text in HAIKU_PROMPTS],
    },
    {
        "slug": "capitals",
        "title": "Capitals (sponsored)",
        "task_kind": "verifiable",
        "description": "Name the capital city. A sponsor adds 30 credits to every pot.",
        "rules": {"answer_format": "single_line", "max_new_tokens_cap": 12, "max_chars": 100},
        # The answer is right when it names the reference city as a whole word.
        "judge_panel": [
            {
                "kind": "verifier",
                "mode": "regex",
                "match": "search",
                "pattern": r"(?i)\b{reference}\b",
            },
            {"kind": "pairwise-llm", "shadow": True},  # measured, never counted
        ],
        "agents_per_match": 2,
        "payout_shares": ["0.75", "0.25"],
        "creator_rake_bps": 200,
        "platform_rake_bps": 300,
        "subsidy": 30,
        # a quarter held out: the promotion gate's evaluation games (never trained on)
        "heldout_fraction": "0.25",
        "fee_tiers": [("free", 0), ("standard", 5)],
        "prompts": [
            (f"What is the capital of {country}? Answer with the city name only.", city)
            for country, city in CAPITALS
        ],
    },
    {
        "slug": "py-functions",
        "title": "Python functions",
        "task_kind": "verifiable",
        "description": "Write a small Python function. Each prompt's hidden tests run on the code "
        "of your answer (its first ```python block); the more tests pass, the better the rank.",
        "rules": {"answer_format": "free", "max_new_tokens_cap": 160, "max_chars": 3000},
        "judge_panel": [{"kind": "verifier", "mode": "tests", "timeout_s": 2}],
        "agents_per_match": 2,
        "payout_shares": ["0.7", "0.3"],
        "creator_rake_bps": 300,
        "platform_rake_bps": 200,
        "subsidy": 0,
        "heldout_fraction": "0",
        "fee_tiers": [("free", 0), ("standard", 10)],
        # (text, reference, tests): no reference, the tests decide.
        "prompts": [(text + CODE_ASK, "", tests) for text, tests in PY_FUNCTIONS],
    },
]

AGENTS = [
    (
        "player",
        "Calculator",
        "You are a precise calculator. Reply with the number only.",
        {"temperature": 0.0, "max_new_tokens": 16},
    ),
    (
        "player",
        "Poet",
        "You are a poet who writes vivid, concrete haiku.",
        {"temperature": 0.9, "top_p": 0.95, "max_new_tokens": 48},
    ),
    (
        "player",
        "Atlas",
        "You know world geography. Answer with one city name.",
        {"temperature": 0.2, "top_k": 20, "max_new_tokens": 8},
    ),
    (
        "ada",
        "Careful",
        "Think briefly, then give only the final number.",
        {"temperature": 0.3, "repetition_penalty": 1.2, "max_new_tokens": 24},
    ),
    (
        "ada",
        "Minimalist",
        "Answer in as few words as possible.",
        {"temperature": 0.5, "top_p": 0.8, "max_new_tokens": 32},
    ),
    (
        "ada",
        "Traveller",
        "You have visited every capital. Name the city only.",
        {"temperature": 0.0, "max_new_tokens": 8},
    ),
    (
        "ben",
        "Wild",
        "Be surprising and playful.",
        {"temperature": 1.3, "top_p": 1.0, "top_k": 0, "max_new_tokens": 48},
    ),
    (
        "ben",
        "Steady",
        "You are calm and exact.",
        {"temperature": 0.1, "repetition_penalty": 1.05, "max_new_tokens": 24},
    ),
    ("cy", "Rookie", "", {"temperature": 0.7, "max_new_tokens": 32}),
    # Code needs room: py-functions answers are whole functions.
    (
        "player",
        "Coder",
        "Reply with one Python code block defining the requested function, nothing else.",
        {"temperature": 0.0, "max_new_tokens": 96},
    ),
    (
        "ben",
        "Hacker",
        "You write short, correct Python. Give only the code.",
        {"temperature": 0.4, "top_p": 0.9, "max_new_tokens": 96},
    ),
]


class Command(BaseCommand):
    help = "Create demo users, spaces and agents (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        created: dict[str, list[str]] = {"users": [], "spaces": [], "agents": [], "grants": []}
        with transaction.atomic():
            users = self.users(created)
            for spec in SPACES:
                self.space(spec, users["creator"], created)
        # Agents make adapter files: each in its own transaction, after the rows they need.
        self.base_model()
        for owner, name, prompt, settings in AGENTS:
            if not Agent.objects.filter(owner=users[owner], name=name).exists():
                # A fixed adapter seed per agent: the demo is the same on every machine.
                agent_create(
                    owner=users[owner],
                    name=name,
                    system_prompt=prompt,
                    seed=sum(map(ord, owner + name)),
                    **settings,
                )
                created["agents"].append(f"{owner}/{name}")
        if opts["json"]:
            self.stdout.write(json.dumps({"created": created}))
        else:
            made = ", ".join(f"{len(v)} {k}" for k, v in created.items())
            self.stdout.write(
                f"demo data ready ({made} created); log in as player / "
                "player-demo-pass, creator / creator-demo-pass, admin / "
                "admin-demo-pass"
            )

    def users(self, created) -> dict:
        User = get_user_model()  # noqa: N806
        users = {}
        for name in ("admin", "creator", *PLAYERS):
            user = User.objects.filter(username=name).first()
            if user is None:
                extra = {"is_staff": True, "is_superuser": True} if name == "admin" else {}
                user = User.objects.create_user(
                    name, f"{name}@demo.arena", f"{name}-demo-pass", **extra
                )
                created["users"].append(name)
            users[name] = user
        user_make_creator(user=users["creator"])

        for name in PLAYERS:
            key = f"seed_demo:grant:{name}"
            if not Transfer.objects.filter(key=key).exists():
                ledger.grant(user=users[name], amount=GRANT, key=key, memo="demo grant")
                created["grants"].append(name)
        return users

    def space(self, spec: dict, creator, created) -> Space:
        space = Space.objects.filter(slug=spec["slug"]).first()
        if space is None:
            fields = {k: v for k, v in spec.items() if k != "prompts"}
            space = space_create(creator=creator, actor=PLATFORM, **fields)
            created["spaces"].append(space.slug)
        known = set(space.prompts.values_list("text", flat=True))
        for index, (text, reference, *tests) in enumerate(spec["prompts"]):
            if text not in known:
                # Every tenth prompt is held out where the space keeps a held-out split.
                split = (
                    Prompt.Split.HELDOUT
                    if spec["heldout_fraction"] != "0" and index % 10 == 9
                    else Prompt.Split.TRAIN
                )
                prompt_create(
                    space=space,
                    text=text,
                    reference=reference,
                    split=split,
                    tests=tests[0] if tests else [],
                )
        if space.status == Space.Status.DRAFT:
            space = space_set_status(space=space, status=Space.Status.OPEN)
        return space

    def base_model(self) -> BaseModel:
        base = BaseModel.objects.filter(is_default=True).first()
        if base is None:
            base = ensure_default_base_model()
        return base
