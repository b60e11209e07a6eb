"""The pairwise-llm judge on the real default model (slow: marked ``model``): on the demo's open
haiku task the small model's position prior outweighs its preferences, so the old rule (both
orders must prefer the same answer, read raw) tied every pair; the debiased margin decides."""

from __future__ import annotations

import pytest

from judges.panel import run_panel

pytestmark = pytest.mark.model

# The demo's haiku space (arena's seed_demo): its judge and one of its prompts.
PANEL = [{"kind": "pairwise-llm", "instructions": "Prefer a vivid haiku of three short lines."}]
PROMPT = "Write a haiku about the first rain of autumn."
ANSWERS = [
    "Grey clouds gather low\nfirst autumn rain on the pond\nripples meet the leaves",
    "ok",
    "The capital of France is Paris.",
]


def old_rule_winner(pair: dict) -> str | None:
    first = "a" if pair["p_ab"][0] > pair["p_ab"][1] else "b"
    second = "a" if pair["p_ba"][1] > pair["p_ba"][0] else "b"
    return first if first == second else None


def test_the_debiased_margin_decides_where_the_old_rule_tied_everything():
    outcome = run_panel(panel_config=PANEL, prompt_text=PROMPT, reference="", answers=ANSWERS)
    [verdict] = outcome.verdicts
    details = verdict.details
    pairs = details["pairs"]
    assert details["calls"] == 1 and len(pairs) == 3
    assert details["prior"]["source"] == "probe"
    for pair in pairs:
        for probs in (pair["p_ab"], pair["p_ba"]):
            assert len(probs) == 2 and sum(probs) == pytest.approx(1, abs=1e-4)
        assert pair["margin"] == pytest.approx((pair["l_ab"] - pair["l_ba"]) / 2)
    assert [old_rule_winner(p) for p in pairs] == [None, None, None]
    decided = [p for p in pairs if p["winner"] is not None]
    assert decided, pairs
    assert all(abs(p["margin"]) >= details["tie_margin"] for p in decided)
    # What it decides is the haiku over the non-haiku answers (margins of 0.1 to 0.2 nats
    # under a position prior of about 2.6 nats, on this model).
    assert all(p["winner"] == 0 for p in decided)
    assert outcome.ranks[0] == 1 and len(set(outcome.ranks)) > 1
    # The same question again gives the same verdict: the judge reads logits, no sampling.
    again = run_panel(panel_config=PANEL, prompt_text=PROMPT, reference="", answers=ANSWERS)
    assert again.ranks == outcome.ranks
