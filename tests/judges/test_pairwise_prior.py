"""A pairwise judge's position prior from its space's stored verdicts (judges.prior)."""

from __future__ import annotations

import pytest

from arena.models import Match
from arena.services.matches import verdict_fields
from judges.kinds.base import PriorKey
from judges.models import Verdict
from judges.panel import run_panel
from judges.prior import MIN_PAIRS, stored_position_prior
from spaces.services import prompt_create
from tests.judges.fakes import FakeModel, keyword

ANSWERS = ["sun", "rain falls", "snow", "rain again"]  # 6 pairs, none identical or blank


def judge_and_store(space, model, *, instructions=None):
    """Judge one match of ``space`` with ``model`` and store its verdicts as arena does."""
    prompt = prompt_create(space=space, text=f"Write {Match.objects.count()}", split="train")
    match = Match.objects.create(space=space, fee_tier=space.fee_tiers.get(), prompt=prompt, seed=1)
    panel = [{"kind": "pairwise-llm", **({"instructions": instructions} if instructions else {})}]
    outcome = run_panel(
        panel_config=panel,
        prompt_text=prompt.text,
        reference="",
        answers=ANSWERS,
        label_probabilities_batch=model,
        judge_model="fake",
        space_id=space.pk,
    )
    for verdict in outcome.verdicts:
        Verdict.objects.create(match=match, **verdict_fields(verdict))
    return outcome.verdicts[0]


def test_it_estimates_the_prior_from_recent_verdicts_once_there_are_enough(other_space):
    model = FakeModel(keyword("rain", 0.5), bias=3.0)
    matches_needed = -(-MIN_PAIRS // 6)
    for _ in range(matches_needed):
        verdict = judge_and_store(other_space, model)
        assert verdict.details["prior"]["source"] == "probe"  # too few stored pairs yet
        assert verdict.version == 2
    stored = Verdict.objects.filter(match__space=other_space)
    assert stored.count() == matches_needed
    assert stored.first().data["version"] == 2  # the version reaches the stored row

    verdict = judge_and_store(other_space, model)
    prior = verdict.details["prior"]
    assert prior["source"] == "verdicts" and prior["pairs"] == 6 * matches_needed
    assert prior["log_odds"] == pytest.approx(3.0)
    assert len(model.calls[-1][0]) == 2 * 6  # no probe this time
    assert verdict.points == [0.5, 2.5, 0.5, 2.5]  # decided the same way as before


def test_it_only_counts_verdicts_of_the_same_model_instructions_and_space(other_space, space):
    key_of = {}
    for _ in range(-(-MIN_PAIRS // 6)):
        verdict = judge_and_store(other_space, FakeModel(bias=1.0), instructions="Be kind.")
        key_of["sha"] = verdict.details["instructions_sha256"]
    key = PriorKey(kind="pairwise-llm", version=2, model="fake", instructions_sha256=key_of["sha"])
    assert stored_position_prior(space_id=other_space.pk, key=key).log_odds == pytest.approx(1.0)
    for other in (
        PriorKey(kind="pairwise-llm", version=2, model="other", instructions_sha256=key_of["sha"]),
        PriorKey(kind="pairwise-llm", version=1, model="fake", instructions_sha256=key_of["sha"]),
        PriorKey(kind="pairwise-llm", version=2, model="fake", instructions_sha256="0" * 64),
    ):
        assert stored_position_prior(space_id=other_space.pk, key=other) is None
    assert stored_position_prior(space_id=space.pk, key=key) is None
    # A judge with other instructions in the same space still probes.
    verdict = judge_and_store(other_space, FakeModel(bias=1.0))
    assert verdict.details["prior"]["source"] == "probe"
