"""Verdict rows: what the match stores from a panel run."""

from __future__ import annotations

import dataclasses

from judges.models import Rating, Verdict
from judges.panel import run_panel


def test_it_stores_a_panel_verdict_on_a_match_and_goes_with_it(space, make_agent):
    from arena.models import Match
    from spaces.services import prompt_create

    prompt = prompt_create(space=space, text="2+2?", reference="4", split="train")
    match = Match.objects.create(space=space, fee_tier=space.fee_tiers.get(), prompt=prompt, seed=1)
    outcome = run_panel(
        panel_config=space.judge_panel,
        prompt_text=prompt.text,
        reference=prompt.reference,
        answers=["4", "5"],
    )
    for verdict in outcome.verdicts:
        data = dataclasses.asdict(verdict)
        Verdict.objects.create(match=match, judge_kind=data.pop("judge_kind"), data=data)
    stored = match.verdicts.get()
    assert stored.judge_kind == "verifier"
    assert stored.data["points"] == [1, 0] and stored.data["config"]["mode"] == "numeric"
    assert stored.data["details"]["answers"][0] == {"correct": True, "parsed": "4"}

    match.delete()
    assert not Verdict.objects.exists()


def test_it_computes_the_ordinal(space, make_agent):
    rating = Rating(agent=make_agent(), space=space, mu=30, sigma=2)
    assert rating.ordinal == 24
