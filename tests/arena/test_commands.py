"""The ``play`` and ``seed_demo`` commands."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from agents.models import Agent
from arena.models import Match
from ledger.models import Transfer
from spaces.models import Space
from tests.arena.helpers import audit_ok


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_plays_n_matches_and_prints_one_json_document(players, carol, space, agent_factory):
    alice, bob, dave = players
    for owner in (alice, alice, bob, dave):
        agent_factory(owner)
    report = json.loads(
        run(
            "play",
            "--space",
            space.slug,
            "--matches",
            "3",
            "--json",
            "--tier",
            "standard",
            "--inline",
        )
    )
    assert report["mode"] == "inline" and len(report["matches"]) == 3
    for match in report["matches"]:
        assert match["status"] == "settled"
        assert [r["rank"] for r in match["ranking"]] == sorted(r["rank"] for r in match["ranking"])
        paid = sum(r["payout"] for r in match["ranking"])
        assert paid + match["creator_rake"] + match["platform_rake"] == match["pot"] == 200
        assert match["timings"]["total"] is not None
        # never two agents of one owner in a match
        assert len({r["owner"] for r in match["ranking"]}) == 2
    assert Match.objects.filter(status="settled").count() == 3
    audit_ok()


def test_it_prints_a_readable_report_without_json(players, space, agent_factory):
    alice, bob, _ = players
    agent_factory(alice), agent_factory(bob)
    text = run("play", "--space", space.slug, "--matches", "1", "--inline")
    assert "settled" in text and "payout" in text and "1/1 matches settled" in text


def test_it_refuses_to_play_without_enough_agents_or_space(players, space, agent_factory):
    agent_factory(players[0])
    with pytest.raises(CommandError, match="not enough eligible agents"):
        run("play", "--space", space.slug, "--matches", "1", "--inline")
    with pytest.raises(CommandError, match="no space"):
        run("play", "--space", "nope", "--matches", "1", "--inline")


def test_it_seeds_the_demo_once(tiny_base):
    first = json.loads(run("seed_demo", "--json"))["created"]
    assert len(first["spaces"]) >= 4 and len(first["agents"]) >= 8
    counts = (Space.objects.count(), Agent.objects.count(), Transfer.objects.count())
    second = json.loads(run("seed_demo", "--json"))["created"]
    assert all(not made for made in second.values())
    assert (Space.objects.count(), Agent.objects.count(), Transfer.objects.count()) == counts

    spaces = {s.slug: s for s in Space.objects.all()}
    assert spaces["arithmetic"].task_kind == "verifiable"
    assert spaces["arithmetic"].rules["answer_format"] == "number"
    assert spaces["arithmetic"].prompts.exclude(reference="").count() >= 10
    assert spaces["arithmetic"].prompts.filter(split="heldout").exists()
    assert spaces["haiku"].judge_panel[0]["kind"] == "pairwise-llm"
    code = spaces["py-functions"]
    assert code.task_kind == "verifiable" and code.agents_per_match == 2
    assert code.judge_panel == [{"kind": "verifier", "mode": "tests", "timeout_s": 2}]
    assert sorted(code.fee_tiers.values_list("fee", flat=True)) == [0, 10]
    assert code.prompts.count() >= 6
    assert all(2 <= len(tests) <= 3 for tests in code.prompts.values_list("tests", flat=True))
    assert all(s.status == "open" for s in spaces.values())
    owners = Agent.objects.values_list("owner__username", flat=True).distinct()
    assert len(set(owners)) >= 3
    prompts = set(Agent.objects.values_list("system_prompt", flat=True))
    assert len(prompts) >= 8
    settings_seen = set(
        Agent.objects.values_list("temperature", "top_p", "top_k", "max_new_tokens")
    )
    assert len(settings_seen) >= 5, settings_seen  # different generation settings too
    audit_ok()


def test_it_plays_on_the_seeded_demo(tiny_base):
    run("seed_demo")
    report = json.loads(
        run(
            "play",
            "--space",
            "arithmetic",
            "--matches",
            "1",
            "--json",
            "--inline",
            "--tier",
            "standard",
        )
    )
    match = report["matches"][0]
    assert match["status"] == "settled" and len(match["ranking"]) == 3
    audit_ok()


# One answer that solves every prompt of the seeded py-functions space. The scripted backend
# counts a "token" per space-separated word and agents cap their tokens, so it has few spaces.
PY_SOLUTIONS = (
    "```python\n"
    "def add(a,b):return(a+b)\n"
    "def is_even(n):return(n%2==0)\n"
    "def reverse_string(s):return(s[::-1])\n"
    "def factorial(n):return(__import__('math').factorial(n))\n"
    "def count_vowels(s):return(sum(c in'aeiouAEIOU'for(c)in(s)))\n"
    "def fizzbuzz(n):return('Fizz'*(n%3==0)+'Buzz'*(n%5==0))or(str(n))\n"
    "```"
)


def test_it_plays_the_seeded_python_space_with_tests(tiny_base):
    from agents.inference.scripted import use_script
    from judges.models import Verdict

    run("seed_demo")
    assert len(PY_SOLUTIONS.split(" ")) <= 8  # within every demo agent's token limit
    with use_script(lambda request, index: PY_SOLUTIONS if index == 0 else "no idea"):
        report = json.loads(
            run("play", "--space", "py-functions", "--matches", "1", "--json", "--inline")
        )
    match = report["matches"][0]
    assert match["status"] == "settled"
    assert sorted(r["rank"] for r in match["ranking"]) == [1, 2]
    verdict = Verdict.objects.get(match_id=match["id"])
    passed = [a["passed"] for a in verdict.data["details"]["answers"]]
    assert passed[0] == verdict.data["details"]["tests"] >= 2 and passed[1] == 0
    audit_ok()
