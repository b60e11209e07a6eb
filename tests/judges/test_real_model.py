"""The pairwise-llm judge on the real default model (slow: marked ``model``)."""

from __future__ import annotations

import pytest

from judges.panel import run_panel

pytestmark = pytest.mark.model


def test_it_judges_with_the_default_model_in_both_orders():
    from agents.inference.local import label_probabilities

    answers = [
        "The capital of France is Paris.",
        "Banana banana banana.",
        "Paris.",
    ]
    outcome = run_panel(
        panel_config=[{"kind": "pairwise-llm"}],
        prompt_text="What is the capital of France?",
        reference="",
        answers=answers,
    )
    [verdict] = outcome.verdicts
    pairs = verdict.details["pairs"]
    assert len(pairs) == 3
    for pair in pairs:
        assert pair["by"] in ("model", "margin-below-threshold")
        for probs in (pair["p_ab"], pair["p_ba"]):
            assert len(probs) == 2 and all(0 <= p <= 1 for p in probs)
            assert sum(probs) == pytest.approx(1, abs=1e-4)
    assert sum(verdict.points) == 3  # one point per pair, split or not
    assert sorted(outcome.ranks)[0] == 1 and all(1 <= r <= 3 for r in outcome.ranks)
    # The same question again gives the same verdict: the judge reads logits, no sampling.
    again = run_panel(
        panel_config=[{"kind": "pairwise-llm"}],
        prompt_text="What is the capital of France?",
        reference="",
        answers=answers,
    )
    assert again.ranks == outcome.ranks
    # And the function the judge calls is the agents one, on the real model.
    direct = label_probabilities([{"role": "user", "content": "Say A or B."}], ["A", "B"])
    assert sum(direct) == pytest.approx(1, abs=1e-4)
