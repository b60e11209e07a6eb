"""Practice runs: a draft configuration (or another agent, revision, or a fork's parent) plays
head-to-head games against a baseline on a space's training prompts, judged by the space's
panel, for the operator's fee and within a daily quota; never a prize, a rating or a pair. A
finished draft can be applied while the agent is still configured as when the run started.

Answers come from the scripted backend (the script answers right when the system prompt says
"right"), and in one test from the real local generate on the tiny model."""

from __future__ import annotations

import pytest

from agents.inference.scripted import use_script
from agents.models import AgentRevision
from agents.revisions import config_of, revision_record
from agents.services import agent_update
from arena.models import Match, Seat
from judges.models import Rating, Verdict
from learning.errors import PracticeError, PracticeValidationError
from learning.models import PracticeGame, PracticeRun
from learning.practice import practice_apply, practice_play, practice_request, side_from_token
from learning.practice_selectors import run_overview
from learning.tasks import judge_practice
from ledger import services as ledger
from ledger.models import AccountKind
from preferences.models import PreferencePair
from spaces.models import Prompt
from tests.arena.conftest import balance, fund, make_space

RIGHT = "Think, then answer right."
WRONG = "Answer anything."


def by_prompt(request, index):
    """Right (a + a) when the system prompt asks for it, else one more."""
    system = request.messages[0]["content"] if len(request.messages) > 1 else ""
    a = int(request.messages[-1]["content"].split()[2])
    return str(2 * a) if "right" in system else str(2 * a + 1)


@pytest.fixture
def math(carol):
    space = make_space(carol, prompts=3)
    # Held-out prompts must never be practised on: their answers would leak into play.
    from spaces.services import prompt_create

    prompt_create(space=space, text="What is 50 + 50?", reference="100", split="heldout")
    return space


@pytest.fixture
def scout(alice, agent_factory):
    fund(alice, 1_000)
    agent = agent_factory(alice, name="scout", system_prompt=WRONG)
    revision_record(agent, by=alice)
    return agent


def play(run: PracticeRun) -> PracticeRun:
    with use_script(by_prompt):
        return practice_play(run_id=run.pk)


def untouched_counts():
    return (
        Rating.objects.count(),
        Match.objects.count(),
        Seat.objects.count(),
        PreferencePair.objects.count(),
        Verdict.objects.count(),
    )


def test_a_right_draft_beats_the_live_configuration_and_touches_no_game_record(
    alice, scout, math, settings
):
    settings.ARENA_PRACTICE_FEE = 5
    before = untouched_counts()
    platform = ledger.system_account(AccountKind.PLATFORM_REVENUE)
    revenue = ledger.balance(platform)
    run = practice_request(
        owner=alice, agent=scout, space=math, k=5, draft={"system_prompt": RIGHT}
    )
    assert (run.kind, run.status, run.fee) == ("draft", "queued", 5)
    assert balance(alice) == 995  # held in escrow until the games are played
    run = play(run)
    run.refresh_from_db()
    assert (run.status, run.games, run.wins, run.losses, run.ties) == ("done", 5, 5, 0, 0)
    assert run.win_rate == 1.0 and 0.5 < run.low < run.high == 1.0
    games = list(run.game_rows.select_related("prompt"))
    assert len(games) == 5 and {g.prompt.split for g in games} == {Prompt.Split.TRAIN}
    # K = 5 of 3 training prompts: every prompt once before any repeats
    assert len({g.prompt_id for g in games[:3]}) == 3
    assert all(g.outcome == PracticeGame.Outcome.A for g in games)
    assert games[0].verdicts[0]["judge_kind"] == "verifier"
    assert games[0].a_text != games[0].b_text
    # paid to the platform; nothing else in the game's records moved
    assert balance(alice) == 995 and ledger.balance(platform) == revenue + 5
    assert untouched_counts() == before
    scout.refresh_from_db()
    assert scout.system_prompt == WRONG  # a practice run alone never changes the agent


def test_the_run_page_says_the_result_in_words(alice, scout, math):
    run = play(
        practice_request(owner=alice, agent=scout, space=math, k=2, draft={"system_prompt": RIGHT})
    )
    view = run_overview(run)
    assert view.a_label == "the draft" and view.b_label == "scout (live, r1)"
    assert view.summary.startswith("The draft: 2 won, 0 lost, 0 tied of 2; win rate 1.00")
    assert view.games[0].result == "the draft won"
    assert view.games[0].verdicts[0] == (
        "Judge 1 (verifier) preferred the draft: the draft right, scout (live, r1) wrong."
    )
    assert view.can_apply and view.bar["high"] == 100


def test_the_task_plays_a_queued_run_once(alice, scout, math):
    run = practice_request(owner=alice, agent=scout, space=math, k=2, draft={"temperature": 0.2})
    with use_script(by_prompt):
        assert judge_practice(run.pk) == "done"
        assert judge_practice(run.pk) == "done"  # a redelivery plays nothing more
    assert PracticeGame.objects.filter(run=run).count() == 2


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"draft": {"temperature": 9}}, "draft.temperature", "Temperature"),
        ({"draft": {"temperature": "warm"}}, "draft.temperature", "Temperature"),
        ({"draft": {"system_prompt": ["x"]}}, "draft.system_prompt", "system prompt must be text"),
        ({"draft": {"max_new_tokens": True}}, "draft.max_new_tokens", "max new tokens"),
        ({"draft": {"colour": "red"}}, "draft", "cannot set colour"),
        ({"draft": "hot"}, "draft", "must map setting names"),
        ({"k": 0}, "k", "number of prompts"),
        ({"k": 17}, "k", "number of prompts"),
        ({"k": "4"}, "k", "number of prompts"),
        ({"draft": None}, "baseline", "Choose what to compare with"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    alice, scout, math, settings, changes, field, words
):
    settings.ARENA_PRACTICE_FEE = 5
    request = {"owner": alice, "agent": scout, "space": math, "k": 4, "draft": {}, **changes}
    with pytest.raises(PracticeValidationError) as caught:
        practice_request(**request)
    assert field in caught.value.errors
    assert words.lower() in str(caught.value).lower()
    assert not PracticeRun.objects.exists() and balance(alice) == 1_000


def test_a_space_without_training_prompts_is_refused(alice, scout, math):
    math.prompts.update(split=Prompt.Split.HELDOUT)  # held-out prompts never practise
    with pytest.raises(PracticeValidationError, match="no training prompts"):
        practice_request(owner=alice, agent=scout, space=math, k=2, draft={})
    assert not PracticeRun.objects.exists()


def test_only_the_owners_agents_and_revisions_play(alice, bob, scout, math, agent_factory):
    bolt = agent_factory(bob, name="bolt")
    with pytest.raises(PracticeError, match="not one of yours"):
        practice_request(owner=bob, agent=scout, space=math, k=2, draft={})
    with pytest.raises(PracticeError, match="baseline is not one of your"):
        practice_request(owner=alice, agent=scout, space=math, k=2, baseline=bolt)
    with pytest.raises(PracticeError, match="The baseline is not one of your"):
        side_from_token(owner=alice, token=f"agent:{bolt.pk}")
    with pytest.raises(PracticeError, match="Side a is not"):
        side_from_token(owner=alice, token="agent:x", what="side A")
    assert side_from_token(owner=alice, token=f"revision:{scout.pk}:1").number == 1
    assert not PracticeRun.objects.exists()


def test_the_daily_quota_and_the_fee_are_enforced(alice, scout, math, settings):
    settings.ARENA_PRACTICE_PER_DAY = 2
    for _ in range(2):
        practice_request(owner=alice, agent=scout, space=math, k=1, draft={})
    with pytest.raises(PracticeError, match="used your 2 practice runs"):
        practice_request(owner=alice, agent=scout, space=math, k=1, draft={})
    assert PracticeRun.objects.count() == 2
    settings.ARENA_PRACTICE_PER_DAY = 20
    settings.ARENA_PRACTICE_FEE = 5_000
    with pytest.raises(PracticeError, match="fee of 5000 credits cannot be paid"):
        practice_request(owner=alice, agent=scout, space=math, k=1, draft={})
    assert PracticeRun.objects.count() == 2 and balance(alice) == 1_000


def test_a_run_that_cannot_play_says_why_and_refunds_the_fee(alice, scout, math, settings):
    settings.ARENA_PRACTICE_FEE = 5

    def broken(request, index):
        raise RuntimeError("the inference server is down")

    run = practice_request(owner=alice, agent=scout, space=math, k=2, draft={})
    with use_script(broken):
        run = practice_play(run_id=run.pk)
    assert run.status == "error" and "inference server is down" in run.detail
    assert balance(alice) == 1_000 and not run.game_rows.exists()


def test_apply_makes_the_draft_the_live_configuration_once(alice, bob, scout, math):
    run = play(
        practice_request(
            owner=alice, agent=scout, space=math, k=2, draft={"system_prompt": RIGHT, "top_k": 20}
        )
    )
    with pytest.raises(PracticeError, match="Only the run's owner"):
        practice_apply(run=run, by=bob)
    agent = practice_apply(run=run, by=alice)
    assert (agent.system_prompt, agent.top_k) == (RIGHT, 20)
    latest = agent.revisions.order_by("-number").first()
    assert latest.number == 2 and latest.note == f"applied practice run #{run.pk}"
    assert latest.config == config_of(agent)
    run.refresh_from_db()
    assert run.applied_revision == latest
    with pytest.raises(PracticeError, match="applied already"):
        practice_apply(run=run, by=alice)


def test_apply_is_refused_after_the_agent_changed_or_for_an_unfinished_run(alice, scout, math):
    queued = practice_request(
        owner=alice, agent=scout, space=math, k=2, draft={"system_prompt": RIGHT}
    )
    with pytest.raises(PracticeError, match="not finished yet"):
        practice_apply(run=queued, by=alice)
    run = play(queued)
    agent_update(agent=scout, by=alice, temperature=0.3)
    with pytest.raises(PracticeError, match="changed since this run started.*r2"):
        practice_apply(run=run, by=alice)
    scout.refresh_from_db()
    assert scout.system_prompt == WRONG and scout.revisions.count() == 2


def test_two_agents_play_head_to_head(alice, scout, math, agent_factory):
    sage = agent_factory(alice, name="sage", system_prompt=RIGHT)
    run = play(practice_request(owner=alice, agent=scout, space=math, k=3, baseline=sage))
    assert (run.kind, run.wins, run.losses) == ("agents", 0, 3)
    assert run.b_config["system_prompt"] == RIGHT
    with pytest.raises(PracticeError, match="apply a draft|Only a draft"):
        practice_apply(run=run, by=alice)


def test_two_revisions_of_one_agent_play_head_to_head(alice, scout, math):
    agent_update(agent=scout, by=alice, system_prompt=RIGHT)
    first, second = AgentRevision.objects.filter(agent=scout).order_by("number")
    run = play(practice_request(owner=alice, agent=first, space=math, k=2, baseline=second))
    assert (run.kind, run.losses, run.a_revision, run.b_revision) == ("revisions", 2, first, second)
    assert run.a_config["system_prompt"] == WRONG and run.a_live is False
    view = run_overview(run)
    assert (view.a_label, view.b_label) == ("scout r1", "scout r2")
    # a revision against itself is no comparison
    with pytest.raises(PracticeValidationError, match="same configuration"):
        practice_request(owner=alice, agent=second, space=math, k=2, baseline=scout)


def test_a_fork_plays_its_parent(alice, scout, math, agent_factory):
    fork = agent_factory(alice, name="scout-2", system_prompt=RIGHT, forked_from=scout)
    run = play(practice_request(owner=alice, agent=fork, space=math, k=2, baseline=scout))
    assert (run.kind, run.wins) == ("fork", 2)


def test_a_draft_plays_on_the_real_tiny_model(alice, trainable_base, math, settings):
    from tests.arena.conftest import make_agent

    settings.ARENA_INFERENCE_BACKEND = "local"
    agent = make_agent(alice, trainable_base, "tiny", max_new_tokens=8)
    run = practice_request(owner=alice, agent=agent, space=math, k=2, draft={"temperature": 0.3})
    run = practice_play(run_id=run.pk)
    assert run.status == "done", run.detail
    assert run.games == 2 == run.wins + run.losses + run.ties
    games = list(run.game_rows.all())
    assert all(isinstance(g.a_text, str) and g.verdicts for g in games)
