"""The admin's match page reads as a story: prompt, each seat's answer, each judge's verdict in
words and numbers, the money; with the space's leaderboard and judge report one click away."""

from __future__ import annotations

from agents.inference.scripted import use_script
from arena.services.matches import match_run_inline
from tests.arena.conftest import make_space
from tests.arena.helpers import form_match, sum_answer


def test_the_match_page_shows_prompt_answers_verdicts_and_payouts(
    client, players, carol, agent_factory
):
    alice, bob, _ = players
    space = make_space(carol, slug="readable")
    match = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)
    with use_script(sum_answer):  # seat 0 right, seat 1 wrong
        match_run_inline(match_id=match.pk)
    match.refresh_from_db()
    assert match.status == "settled", match.failure_reason
    seats = list(match.seats.order_by("index"))
    client.force_login(carol)
    page = client.get(f"/admin/arena/match/{match.pk}/change/")
    assert page.status_code == 200
    readout = page.context["readout"]
    assert readout.prompt == match.prompt.text
    assert [s.text for s in readout.seats] == [seat.text for seat in seats]
    assert [s.rank for s in readout.seats] == [1, 2]
    assert [s.payout for s in readout.seats] == [seat.payout for seat in seats]
    [verdict] = readout.verdicts
    assert verdict.title.startswith("Judge 1: verifier in mode numeric, weight 1")
    assert verdict.says == "best: seat 1 (score 1)"
    assert verdict.cells == [("1 of 1", "1"), ("0 of 1", "0")]
    assert ("right or wrong, by seat", "right, wrong") in verdict.facts
    money = dict(readout.money)
    assert money["pot"] == f"{match.pot} credits"
    assert money["creator rake"].startswith(f"{match.creator_rake} credits (")
    text = page.text
    assert match.prompt.text in text and "The match in words" in text
    assert "{" not in text.split('id="match-readout"')[1].split("</section>")[0]  # no raw dicts
    assert f'href="/spaces/{space.slug}/"' in text  # leaderboard and judge report
    assert "Leaderboard and judge-bias report" in text


def test_another_creators_match_page_is_not_shown(client, players, carol, dave, agent_factory):
    alice, bob, _ = players
    space = make_space(carol, slug="hers")
    match = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)
    client.force_login(dave)
    assert client.get(f"/admin/arena/match/{match.pk}/change/").status_code in (302, 404)
