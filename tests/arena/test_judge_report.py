"""The judge-bias report over a space's stored verdicts: a verifier labels which answer is
right, a pairwise judge with a strong first-position bias decides the right way net of its prior."""

from __future__ import annotations

import json
import math

import pytest
from django.core.management import CommandError, call_command

from agents.inference.scripted import use_script
from arena.services.judge_report import cohen_kappa, judge_report
from arena.services.matches import match_run_inline
from judges.models import Verdict
from tests.arena.helpers import form_match, sum_answer


def biased_pairwise_verdict(match, *, correct: bool):
    """What a pairwise judge stores: raw, the answer shown first wins in both orders (P(A) 0.9
    and 0.8); net of its prior (1.8 nats) it prefers answer 0, or answer 1 when not ``correct``."""
    l_ab, l_ba = (math.log(9), math.log(4)) if correct else (math.log(4), math.log(9))
    winner = 0 if correct else 1
    pair = {
        "a": 0,
        "b": 1,
        "winner": winner,
        "l_ab": l_ab,
        "l_ba": l_ba,
        "p_ab": [1 - 1 / (1 + math.exp(l_ab)), 1 / (1 + math.exp(l_ab))],
        "p_ba": [1 - 1 / (1 + math.exp(l_ba)), 1 / (1 + math.exp(l_ba))],
    }
    points = [1.0, 0.0] if correct else [0.0, 1.0]
    Verdict.objects.create(
        match=match,
        judge_kind="pairwise-llm",
        data={
            "index": 1,
            "version": 2,
            "points": points,
            "max_points": 1.0,
            "scores": points,
            "config": {"kind": "pairwise-llm"},
            "details": {"pairs": [pair], "prior": {"log_odds": 1.8, "source": "probe"}},
        },
    )


@pytest.fixture
def judged_space(players, space, tier, agent_factory):
    alice, bob, _ = players
    for i in range(12):
        match = form_match(space, tier, [alice, bob], agent_factory)
        with use_script(sum_answer):
            match_run_inline(match_id=match.pk)
        biased_pairwise_verdict(match, correct=i < 11)
    return space


def test_it_measures_bias_accuracy_and_agreement(judged_space):
    report = judge_report(space=judged_space)
    assert report.matches == 12
    verifier, pairwise = report.judges
    assert (verifier.kind, verifier.pairs, verifier.tie_rate) == ("verifier", 12, 0.0)
    assert verifier.accuracy is None  # the verifier is the reference, not measured against itself
    assert pairwise.first_position_raw == 1.0  # "A" whatever is shown
    assert pairwise.first_position_debiased == 0.5  # net of the prior: the content decides
    assert pairwise.order_flip_rate == 1.0
    acc = pairwise.accuracy
    assert (acc.correct, acc.pairs) == (11, 12)
    assert acc.low > 0.5 and acc.high <= 1 and pairwise.informative is True
    # "12" and "13" are equally long: the longer-answer baseline never picks the right one
    assert pairwise.longer_wins_baseline.rate == 0.0
    [agreement] = report.agreement
    assert agreement["judges"] == [0, 1] and agreement["pairs"] == 12
    assert agreement["kappa"] == pytest.approx(cohen_kappa([1] * 12, [1] * 11 + [-1]))


def test_a_judge_whose_interval_does_not_clear_a_half_is_uninformative(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    for i in range(4):
        match = form_match(space, tier, [alice, bob], agent_factory)
        with use_script(sum_answer):
            match_run_inline(match_id=match.pk)
        biased_pairwise_verdict(match, correct=i % 2 == 0)
    [_, pairwise] = judge_report(space=space).judges
    assert pairwise.accuracy.rate == 0.5 and pairwise.informative is False


def test_cohen_kappa_matches_the_textbook_example():
    # 50 items, raters agree on 20 yes and 15 no: po 0.7, pe 0.5 -> kappa 0.4
    first = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    second = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None


def test_the_command_prints_the_report_and_refuses_an_unknown_space(judged_space, capsys):
    call_command("judge_report", "--space", judged_space.slug, "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["judges"][1]["informative"] is True
    call_command("judge_report", "--space", judged_space.slug)
    out = capsys.readouterr().out
    assert "judge 1 (pairwise-llm)" in out and "accuracy vs verifier" in out
    with pytest.raises(CommandError, match="no space 'nope'"):
        call_command("judge_report", "--space", "nope")


def test_the_creator_reads_it_in_the_api_and_the_admin_and_others_do_not(
    judged_space, client, carol, mallory
):
    url = f"/api/v1/spaces/{judged_space.slug}/judge-report/"
    client.force_login(mallory)
    assert client.get(url).status_code == 404
    client.force_login(carol)
    body = client.get(url).json()
    assert body["matches"] == 12 and body["judges"][1]["informative"] is True
    assert body["judges"][1]["accuracy"]["pairs"] == 12
    page = client.get(f"/admin/spaces/space/{judged_space.pk}/change/").content.decode()
    assert "judge 1 (pairwise-llm)" in page and "accuracy vs verifier" in page


def test_the_creator_sees_the_report_and_the_downloads_on_the_space_page(
    judged_space, client, carol, mallory
):
    page = f"/spaces/{judged_space.slug}/"
    client.force_login(mallory)
    body = client.get(page).content.decode()
    assert 'data-testid="judge-report"' not in body and "/export/" not in body
    client.force_login(carol)
    body = client.get(page).content.decode()
    assert 'data-testid="judge-report"' in body
    assert "1: pairwise-llm" in body and "92% [65, 99] of 12" in body  # 11/12, Wilson interval
    assert "(uninformative)" not in body
    assert f"/spaces/{judged_space.slug}/export/trl/" in body
    assert client.get(f"/spaces/{judged_space.slug}/export/trl/").status_code == 200
