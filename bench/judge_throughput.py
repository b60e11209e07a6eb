"""Judgements per second: the batched label-probability judge against generate-and-parse.

The same answer pairs (haiku prompts of the demo's "haiku" space, fixed answers: deterministic)
are judged two ways in one run, with the real default model on the CPU:

1. **pairwise-llm**, the project's way: each pair is a 2-answer match run through
   ``judges.panel.run_panel`` with the demo's haiku panel. ``PairwiseLLMJudge.judge`` sends both
   orders (plus its content-free probe, as it does in a space with no stored prior) to the model
   in ONE ``label_probabilities_batch`` call and reads the next-token probabilities of "A" and "B".
   A pair is decided when the debiased margin clears ``tie_margin``.
1b. **pairwise-llm, stored prior**: the same judge as it runs in a space with enough earlier
   verdicts (``judges.prior``): the prior is stored, so no probe, two conversations per call. Its
   verdicts must equal 1's (the prior cancels out of the decision); only its cost differs.
2. **generate-and-parse**, the baseline: the same two conversations (``build_messages``, same
   instructions, same cut) tokenised the same way (``encode_prompts``: chat template, left
   padding), one greedy ``generate`` per pair for both orders (batched like the judge, so the
   comparison is reading one token's probabilities against generating and parsing text, not
   batching against no batching), ``--new-tokens`` new tokens at most, the label parsed from each
   reply. A pair is decided when both orders name the same answer (the classic rule); an
   unparseable reply leaves the pair a tie.

A judgement is one pair decided (both orders). The ways alternate within every round (which goes
first rotates each round), so machine noise hits all of them; one warm-up pair per way is not
timed.
Torch runs on ``--threads`` threads (default 1: the machine is shared). Prints one JSON document,
then a short table.

    .venv/bin/python bench/judge_throughput.py [--pairs 16] [--rounds 2] [--new-tokens 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

import regex  # noqa: E402
import torch  # noqa: E402

from agents.inference.local.backend import encode_prompts  # noqa: E402
from agents.inference.local.cache import get_model  # noqa: E402
from agents.model_store import DEFAULT_MODEL_NAME  # noqa: E402
from judges.config import parse_panel  # noqa: E402
from judges.kinds import JudgeContext  # noqa: E402
from judges.kinds.base import StoredPrior  # noqa: E402
from judges.kinds.pairwise_llm import PairwiseLLMJudge, build_messages  # noqa: E402
from judges.panel import run_panel  # noqa: E402
from judges.prior import MIN_PAIRS  # noqa: E402

# The demo's haiku panel (arena/management/commands/seed_demo.py).
PANEL = [{"kind": "pairwise-llm", "instructions": "Prefer a vivid haiku of three short lines."}]

# (prompt, vivid haiku, flat prose, off-topic/short). Prompts copied from the demo's haiku space
# so this bench does not change when the demo does.
TASKS = [
    (
        "Write a haiku about a server room at night.",
        "Blue lights blink in rows\nfans hum a cold lullaby\nno one hears the disks",
        "The server room is dark at night and the computers keep running.",
        "I like pizza.",
    ),
    (
        "Write a haiku about the first rain of autumn.",
        "First cold drops of rain\nthe dust lifts its old perfume\nmaples start to blush",
        "In autumn it starts to rain for the first time and it gets colder.",
        "Rain.",
    ),
    (
        "Write a haiku about a chess game between two machines.",
        "Two silent engines\ntrade bishops at light speed\nneither feels the loss",
        "Two computers are playing chess and one of them will win the game.",
        "Checkmate is a chess term.",
    ),
    (
        "Write a haiku about learning from mistakes.",
        "Cracked cup on the shelf\ngold seam where it was broken\nstronger where it split",
        "When you make a mistake you can learn something from it for next time.",
        "Mistakes happen.",
    ),
    (
        "Write a haiku about a lighthouse keeper.",
        "Oil lamp, salted glass\nshe climbs the stairs every dusk\nships pass, never know",
        "A lighthouse keeper takes care of the lighthouse so ships are safe.",
        "Lighthouses are tall.",
    ),
    (
        "Write a haiku about a cat watching snow.",
        "Nose against the pane\nwhite moths that never land\ntail twitches, then sleeps",
        "The cat sits at the window and looks at the snow falling outside.",
        "Dogs bark.",
    ),
    (
        "Write a haiku about an old train station.",
        "Rust on the iron clock\nswallows nest above platform two\nno train since April",
        "The old train station is not used much anymore and it is quiet.",
        "Trains are fast.",
    ),
    (
        "Write a haiku about the smell of coffee.",
        "Dark steam curls upward\nthe kitchen remembers dawn\nbitter, warm, awake",
        "Coffee smells good in the morning when you make it in the kitchen.",
        "Tea is better.",
    ),
    (
        "Write a haiku about a city waking up.",
        "Shutters rattle up\nbread vans hiss at the red light\npigeons claim the square",
        "In the morning the city wakes up and people go to work.",
        "Cities are big.",
    ),
    (
        "Write a haiku about a river meeting the sea.",
        "Brown water slows, spreads\nsalt tongue tastes the mountain snow\ngulls argue the line",
        "The river flows into the sea and the fresh water mixes with salt water.",
        "Fish swim.",
    ),
]
MAX_PAIRS = len(TASKS) * 3

# A reply names a label when its first word, markdown and punctuation aside, optionally after
# "Answer", is the label itself: "A", "B.", "**B**", "Answer A". Written here: no library parses a
# judge's free-text verdict; "A haiku ..." (the article) does not count.
REPLY_LABEL = regex.compile(r"^[\W_]*(?:answer\s*)?(A|B)(?![\p{L}\p{N}])", regex.IGNORECASE)


def build_pairs(count: int) -> list[tuple[str, str, str, str]]:
    """``count`` (prompt, a, b, the better of a and b) pairs: first every prompt's haiku against
    its prose, then haiku against the off-topic reply, then prose against off-topic; the better
    answer is ``a`` in every other pair, so neither side is favoured."""
    if not 1 <= count <= MAX_PAIRS:
        raise SystemExit(f"--pairs must be between 1 and {MAX_PAIRS}")
    pairs = []
    for i, j in combinations(range(3), 2):
        for n, (prompt, *answers) in enumerate(TASKS):
            better, worse = answers[i], answers[j]
            if n % 2 == 0:
                pairs.append((prompt, better, worse, "a"))
            else:
                pairs.append((prompt, worse, better, "b"))
    return pairs[:count]


def parse_label(reply: str) -> str | None:
    found = REPLY_LABEL.match(reply.strip())
    return found.group(1).upper() if found else None


def judge_by_probabilities(prompt: str, a: str, b: str) -> str | None:
    """The project's way: one 2-answer match through the real panel; "a", "b" or None (tie)."""
    outcome = run_panel(panel_config=PANEL, prompt_text=prompt, reference="", answers=[a, b])
    winner = outcome.verdicts[0].details["pairs"][0]["winner"]
    return {0: "a", 1: "b", None: None}[winner]


def judge_with_stored_prior(judge: PairwiseLLMJudge, prompt: str, a: str, b: str) -> str | None:
    """The same judge with its prior found in the space's verdicts: no probe in the batch."""
    result = judge.judge(prompt_text=prompt, reference="", answers=[a, b])
    assert result.details["prior"]["source"] == "verdicts", result.details["prior"]
    return {0: "a", 1: "b", None: None}[result.details["pairs"][0]["winner"]]


def judge_by_generation(loaded, config, new_tokens: int, prompt: str, a: str, b: str):
    """The baseline: both orders generated in one greedy batch, each reply parsed.
    Returns (winner "a" / "b" / None, the two replies, how many were unparseable)."""
    conversations = [
        build_messages(
            instructions=config.instructions,
            prompt_text=prompt,
            reference="",
            first=first,
            second=second,
            limit=config.max_answer_chars,
        )
        for first, second in ((a, b), (b, a))
    ]
    encoded = encode_prompts(loaded, conversations)
    with torch.inference_mode():
        output = loaded.model.generate(
            **encoded,
            do_sample=False,
            max_new_tokens=new_tokens,
            pad_token_id=loaded.tokenizer.pad_token_id,
        )
    start = encoded["input_ids"].shape[1]
    replies = loaded.tokenizer.batch_decode(output[:, start:], skip_special_tokens=True)
    first, second = (parse_label(reply) for reply in replies)
    # Order 1 shows a as A; order 2 shows b as A.
    votes = ({"A": "a", "B": "b"}.get(first), {"A": "b", "B": "a"}.get(second))
    winner = votes[0] if votes[0] is not None and votes[0] == votes[1] else None
    return winner, replies, sum(label is None for label in (first, second))


def timed(fn, pairs):
    started = time.perf_counter()
    results = [fn(prompt, a, b) for prompt, a, b, _ in pairs]
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=16, help=f"answer pairs (1..{MAX_PAIRS})")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per way")
    parser.add_argument("--new-tokens", type=int, default=8, help="baseline's max new tokens")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if args.rounds < 1 or args.new_tokens < 1 or args.threads < 1:
        raise SystemExit("--rounds, --new-tokens and --threads must be at least 1")
    pairs = build_pairs(args.pairs)
    torch.set_num_threads(args.threads)
    loaded = get_model()  # the same cached model the judge reads
    config = parse_panel(PANEL)[0]
    # Any value does: the decision does not depend on the prior.
    stored = StoredPrior(log_odds=0.0, pairs=MIN_PAIRS)
    context = JudgeContext(judge_model=DEFAULT_MODEL_NAME, stored_prior=lambda key: stored)
    judge = PairwiseLLMJudge(config, context=context)
    ways = {
        "pairwise_llm": judge_by_probabilities,
        "pairwise_llm_stored_prior": lambda *pair: judge_with_stored_prior(judge, *pair),
        "generate_parse": lambda *pair: judge_by_generation(loaded, config, args.new_tokens, *pair),
    }
    for fn in ways.values():  # warm-up: first-call costs are not what we measure
        fn(*pairs[0][:3])

    seconds = {name: [] for name in ways}
    results = {name: [] for name in ways}
    for r in range(args.rounds):
        names = list(ways)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out, spent = timed(ways[name], pairs)
            seconds[name].append(spent)
            results[name].append(out)

    # Greedy decoding and fixed batches: every round must give the same verdicts.
    stable = all(rounds == rounds[:1] * len(rounds) for rounds in results.values())
    probability_winners = results["pairwise_llm"][-1]
    prior_cancels = results["pairwise_llm_stored_prior"][-1] == probability_winners
    generated = results["generate_parse"][-1]
    generation_winners = [winner for winner, _, _ in generated]
    replies = [reply for _, pair_replies, _ in generated for reply in pair_replies]
    both = [
        (p, g)
        for p, g in zip(probability_winners, generation_winners, strict=True)
        if p is not None and g is not None
    ]
    n = len(pairs)
    better = [pair[3] for pair in pairs]
    rate = {name: n * args.rounds / sum(spent) for name, spent in seconds.items()}
    report = {
        "model": DEFAULT_MODEL_NAME,
        "device": f"cpu ({torch.get_num_threads()} threads)",
        "pairs": n,
        "rounds": args.rounds,
        "new_tokens": args.new_tokens,
        "pairwise_llm_judgements_per_s": round(rate["pairwise_llm"], 3),
        "pairwise_llm_stored_prior_judgements_per_s": round(rate["pairwise_llm_stored_prior"], 3),
        "generate_parse_judgements_per_s": round(rate["generate_parse"], 3),
        "ratio": round(rate["pairwise_llm"] / rate["generate_parse"], 2),
        "ratio_stored_prior": round(rate["pairwise_llm_stored_prior"] / rate["generate_parse"], 2),
        "seconds_per_round": {k: [round(s, 2) for s in v] for k, v in seconds.items()},
        "pairwise_llm_decided": round(sum(w is not None for w in probability_winners) / n, 3),
        "generate_parse_decided": round(sum(w is not None for w in generation_winners) / n, 3),
        "generate_parse_unparseable_replies": round(
            sum(bad for _, _, bad in generated) / (2 * n), 3
        ),
        # The better answer of each pair is its haiku (or its prose against an off-topic reply).
        "pairwise_llm_picks_better": round(
            sum(w == b for w, b in zip(probability_winners, better, strict=True)) / n, 3
        ),
        "generate_parse_picks_better": round(
            sum(w == b for w, b in zip(generation_winners, better, strict=True)) / n, 3
        ),
        "same_winner": round(
            sum(p == g for p, g in zip(probability_winners, generation_winners, strict=True)) / n,
            3,
        ),
        "same_winner_when_both_decide": round(sum(p == g for p, g in both) / len(both), 3)
        if both
        else None,
        "both_decide": len(both),
        "replies_seen": sorted(set(replies))[:10],
        "stable_across_rounds": stable,
        "stored_prior_same_verdicts": prior_cancels,
    }
    print(json.dumps(report))
    print()
    print(f"{DEFAULT_MODEL_NAME} on {report['device']}, {n} pairs x {args.rounds} rounds")
    print(f"{'way':<28} {'judgements/s':>13} {'decided':>8} {'picks better':>13}")
    for name, label, verdicts in (
        ("pairwise_llm", "pairwise-llm (probe)", "pairwise_llm"),
        ("pairwise_llm_stored_prior", "pairwise-llm (stored prior)", "pairwise_llm"),
        ("generate_parse", "generate+parse", "generate_parse"),
    ):
        print(
            f"{label:<28} {report[f'{name}_judgements_per_s']:>13} "
            f"{report[f'{verdicts}_decided']:>8.0%} {report[f'{verdicts}_picks_better']:>13.0%}"
        )
    print(
        f"ratio {report['ratio']}x (stored prior {report['ratio_stored_prior']}x); same winner "
        f"{report['same_winner']:.0%} of pairs; unparseable replies "
        f"{report['generate_parse_unparseable_replies']:.0%}"
    )


if __name__ == "__main__":
    main()
