"""Every rule of a space refuses bad values, with a message, and saves nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from spaces import hooks
from spaces.economics import PLATFORM
from spaces.errors import SpaceError
from spaces.models import FeeTier, Space
from spaces.services import fee_tier_create, prompt_create, space_update
from tests.spaces.conftest import LLM_PANEL, MATH_PANEL, make_space

pytestmark = pytest.mark.django_db


def test_it_creates_a_space_with_defaults_filled_in(carol):
    space = make_space(carol, rules={"answer_format": "number"})
    assert space.status == "draft"
    assert space.creator == carol
    assert space.rules == {
        "answer_format": "number",
        "max_new_tokens_cap": 256,
        "max_chars": 4000,
        "banned_substrings": [],
        "injection_policy": "penalty",
    }
    assert space.payout_share_decimals() == [Decimal("0.6"), Decimal("0.3"), Decimal("0.1")]
    assert sorted(space.fee_tiers.values_list("name", "fee")) == [("free", 0), ("pro", 100)]
    assert space.channel_group == "space_math"


BAD_FIELDS = [
    # rules
    ("rules", {"answer_format": "essay"}, "answer_format"),
    ("rules", {"max_new_tokens_cap": 0}, "max_new_tokens_cap"),
    ("rules", {"max_new_tokens_cap": 1025}, "max_new_tokens_cap"),
    ("rules", {"max_new_tokens_cap": "64"}, "max_new_tokens_cap"),
    ("rules", {"max_new_tokens_cap": True}, "max_new_tokens_cap"),
    ("rules", {"max_chars": 0}, "max_chars"),
    ("rules", {"max_chars": 10**9}, "max_chars"),
    ("rules", {"banned_substrings": "spam"}, "banned_substrings"),
    ("rules", {"banned_substrings": ["ok", 3]}, "banned_substrings"),
    ("rules", {"banned_substrings": ["  "]}, "empty"),
    ("rules", {"temperature": 2}, "unknown rule"),
    ("rules", {"injection_policy": "ban"}, "injection_policy must be one of review, penalty"),
    ("rules", ["answer_format"], "JSON object"),
    # agents per match
    ("agents_per_match", 1, "agents_per_match"),
    ("agents_per_match", 9, "agents_per_match"),
    # payout shares
    ("payout_shares", [], "non-empty"),
    ("payout_shares", "1", "non-empty"),
    ("payout_shares", ["0.5", "0.4"], "sum to exactly 1"),
    ("payout_shares", ["0.7", "0.4", "-0.1"], "between 0 and 1"),
    ("payout_shares", [0.5, 0.5], "decimal string"),
    ("payout_shares", ["half", "0.5"], "not a decimal"),
    ("payout_shares", ["NaN", "1"], "finite"),
    ("payout_shares", ["0.3", "0.7"], "must not increase"),
    ("payout_shares", ["0.2", "0.2", "0.2", "0.2", "0.2"], "at most 4"),
    # rakes
    ("creator_rake_bps", 10_001, "creator_rake_bps"),
    ("creator_rake_bps", -1, "creator_rake_bps"),
    ("platform_rake_bps", 10_001, "platform_rake_bps"),
    ("creator_rake_bps", 4_600, "at most 5000 bps"),
    # subsidy
    ("subsidy", -5, "subsidy"),
    # held-out fraction
    ("heldout_fraction", Decimal("0.6"), "heldout_fraction"),
    # judge panel: the schema and its messages are the judges app's (tests/judges/test_config.py);
    # here, that a space is saved through it, and the panel's fit with the space's task kind.
    ("judge_panel", [{"kind": "oracle"}], "judge_panel[0]: unknown judge kind 'oracle'"),
    ("judge_panel", LLM_PANEL, "needs a verifier"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS)
def test_it_refuses_a_bad_value_and_saves_nothing(carol, field, value, message):
    with pytest.raises(SpaceError) as caught:
        make_space(carol, **{field: value})
    assert message in str(caught.value)
    assert not Space.objects.exists()
    assert not FeeTier.objects.exists()


def test_it_refuses_a_verifier_in_an_open_space(carol):
    with pytest.raises(SpaceError, match="need reference answers"):
        make_space(carol, task_kind="open", judge_panel=MATH_PANEL)


def test_it_refuses_a_duplicate_slug(carol, dave):
    make_space(carol, "math")
    with pytest.raises(SpaceError, match="slug"):
        make_space(dave, "math")
    assert Space.objects.count() == 1


def test_it_refuses_a_bad_fee_tier_and_keeps_no_half_made_space(carol):
    with pytest.raises(SpaceError, match="fee"):
        make_space(carol, fee_tiers=[("free", 0), ("vip", -10)])
    with pytest.raises(SpaceError, match="already exists"):
        make_space(carol, fee_tiers=[("free", 0), ("free", 5)])
    assert not Space.objects.exists()
    assert not FeeTier.objects.exists()


def test_it_normalizes_judge_configs(carol):
    space = make_space(
        carol,
        judge_panel=[
            {"kind": "verifier", "mode": "numeric"},
            {"kind": "verifier", "mode": "regex", "pattern": r"^\d+$", "weight": 2},
        ],
    )
    assert space.judge_panel == [
        {"kind": "verifier", "mode": "numeric", "tolerance": "0"},
        {"kind": "verifier", "mode": "regex", "pattern": r"^\d+$", "weight": 2},
    ]


def test_it_updates_a_space_and_refuses_a_bad_update_without_change(math_space):
    space_update(space=math_space, title="Mental arithmetic", subsidy=50, actor=PLATFORM)
    math_space.refresh_from_db()
    assert (math_space.title, math_space.subsidy) == ("Mental arithmetic", 50)

    with pytest.raises(SpaceError, match="sum to exactly 1"):
        space_update(space=math_space, title="Changed", payout_shares=["0.9"], actor=PLATFORM)
    with pytest.raises(SpaceError, match="cannot change slug"):
        space_update(space=math_space, slug="other", actor=PLATFORM)
    math_space.refresh_from_db()
    assert math_space.title == "Mental arithmetic"
    assert math_space.payout_shares == ["0.6", "0.3", "0.1"]


def test_it_refuses_to_make_stored_prompts_misfit(writing_space):
    prompt_create(space=writing_space, text="Write a haiku about rain", reference="")
    with pytest.raises(SpaceError, match="needs a reference answer"):
        space_update(
            space=writing_space, task_kind="verifiable", judge_panel=MATH_PANEL, actor=PLATFORM
        )
    writing_space.refresh_from_db()
    assert writing_space.task_kind == "open"


def test_it_refuses_a_number_format_over_non_numeric_references(math_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42")
    space_update(space=math_space, rules={"answer_format": "free"}, actor=PLATFORM)
    prompt_create(space=math_space, text="Name a prime", reference="seven")
    with pytest.raises(SpaceError, match="not a number|is not"):
        space_update(space=math_space, rules={"answer_format": "number"}, actor=PLATFORM)
    math_space.refresh_from_db()
    assert math_space.rule("answer_format") == "free"


@pytest.mark.parametrize(
    "change",
    [
        {"agents_per_match": 9},
        {"agents_per_match": 1},
        {"creator_rake_bps": 4_600},  # + the platform's 500 is over the 5000 bps cap
        {"platform_rake_bps": 10_001},
        {"status": "deleted"},
        {"task_kind": "vibes"},
        {"heldout_fraction": Decimal("0.9")},
    ],
)
def test_it_enforces_the_rules_in_the_database_too(math_space, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        Space.objects.filter(pk=math_space.pk).update(**change)


def test_it_enforces_unique_fee_tier_names_in_the_database(math_space):
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeTier.objects.create(space=math_space, name="free", fee=1)


def test_it_creates_fee_tiers_through_the_service(math_space):
    tier = fee_tier_create(space=math_space, name="high roller", fee=10_000, actor=PLATFORM)
    assert str(tier) == "high roller (10000 credits)"
    with pytest.raises(SpaceError, match="whole number"):
        fee_tier_create(space=math_space, name="odd", fee=1.5, actor=PLATFORM)
    with pytest.raises(SpaceError, match="name"):
        fee_tier_create(space=math_space, name="<script>", fee=1, actor=PLATFORM)


# --- prompts with tests (verifier mode tests) ---------------------------------------------------

TESTS_PANEL = [{"kind": "verifier", "mode": "tests"}]


def code_space(carol, slug="code", **overrides):
    fields = dict(rules={"answer_format": "free"}, judge_panel=TESTS_PANEL, payout_shares=["1"])
    return make_space(carol, slug, **{**fields, **overrides})


def test_it_creates_a_tests_space_and_takes_prompts_with_tests_and_no_reference(carol):
    space = code_space(carol)
    assert space.judge_panel == [{"kind": "verifier", "mode": "tests", "timeout_s": 2}]
    prompt = prompt_create(
        space=space,
        text="Write add(a, b).",
        tests=["assert add(2, 3) == 5", "    x = add(1, 1)\n    assert x == 2\n"],
    )
    prompt.refresh_from_db()
    assert prompt.reference == ""
    assert prompt.tests == ["assert add(2, 3) == 5", "x = add(1, 1)\nassert x == 2"]  # dedented


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        ("assert True", "tests must be a list"),
        ({"a": "assert True"}, "tests must be a list"),
        (["assert True"] * 21, "at most 20"),
        (["assert True", "  \n "], "tests[1] is empty"),
        ([3], "tests[0] must be a string"),
        (["x = 1\n" * 400], "2399 characters; at most 2000"),
        (["assert add(2, 3) ==="], "tests[0] is not valid Python"),
        (["def f(:\n    pass"], "line 1"),
        (["assert 1\x00"], "not valid Python"),
        ([], "every prompt needs tests"),
        (None, "every prompt needs tests"),
    ],
)
def test_it_refuses_bad_tests_with_a_clear_error_and_saves_nothing(carol, tests, message):
    space = code_space(carol)
    with pytest.raises(SpaceError) as caught:
        prompt_create(space=space, text="Write add(a, b).", tests=tests)
    assert message in str(caught.value)
    assert "tests" in caught.value.field_errors
    assert not space.prompts.exists()


def test_it_still_needs_a_reference_where_a_reference_verifier_judges(math_space):
    # tests stand in for the reference only where the panel runs them.
    with pytest.raises(SpaceError, match="mode numeric: every prompt needs a reference answer"):
        prompt_create(space=math_space, text="What is 2 + 2?", tests=["assert True"])
    space = math_space
    space_update(space=space, judge_panel=[*MATH_PANEL, *TESTS_PANEL], rules={}, actor=PLATFORM)
    with pytest.raises(SpaceError, match="needs tests"):
        prompt_create(space=space, text="What is 2 + 2?", reference="4")
    prompt_create(space=space, text="What is 2 + 2?", reference="4", tests=["assert True"])
    assert not math_space.prompts.filter(reference="").exists()


def test_it_refuses_to_run_tests_over_prompts_without_tests(math_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42")
    with pytest.raises(SpaceError, match=r"prompt #\d+ does not fit: .*needs tests"):
        space_update(space=math_space, judge_panel=TESTS_PANEL, rules={}, actor=PLATFORM)
    math_space.refresh_from_db()
    assert math_space.judge_panel == [{**MATH_PANEL[0]}]


def test_it_refuses_a_tests_verifier_with_a_number_answer_format_or_in_an_open_space(carol):
    with pytest.raises(SpaceError, match="use answer_format free"):
        code_space(carol, rules={"answer_format": "number"})
    with pytest.raises(SpaceError, match="need reference answers"):
        code_space(carol, task_kind="open")
    assert not Space.objects.exists()


# --- the judge panel: checked by the judges app's one checker ---------------------------------


def test_it_names_each_bad_judge_and_field_and_saves_nothing(carol):
    panel = [
        MATH_PANEL[0],
        {"kind": "verifier", "mode": "numeric", "tolerance": "-1"},
        {"kind": "verifier", "mode": "exact", "weight": 0},
    ]
    with pytest.raises(SpaceError) as caught:
        make_space(carol, judge_panel=panel)
    assert caught.value.field_errors["judge_panel"] == [
        "judge_panel[1]: tolerance must be >= 0, not -1",
        "judge_panel[2]: weight must be an integer from 1 to 100, not 0",
    ]
    assert not Space.objects.exists()


def test_it_refuses_loudly_when_no_judge_panel_checker_is_registered(carol, monkeypatch):
    monkeypatch.setattr(hooks, "_judge_panel_checker", None)
    with pytest.raises(ImproperlyConfigured, match="no judge panel checker"):
        make_space(carol)
    assert not Space.objects.exists()


# Where spaces' own copy of the judge checks disagreed with the judges, the judges' rules (those
# run_panel applies) now hold when a space is saved.


def test_it_stores_a_relative_tolerance(carol):
    panel = [{"kind": "verifier", "mode": "numeric", "rel_tolerance": "0.01"}]
    space = make_space(carol, judge_panel=panel)
    space.refresh_from_db()
    assert space.judge_panel == [
        {"kind": "verifier", "mode": "numeric", "tolerance": "0", "rel_tolerance": "0.01"}
    ]


def test_it_stores_a_regex_match_mode_and_refuses_an_unknown_one(carol):
    regex = {"kind": "verifier", "mode": "regex", "pattern": r"\b{reference}\b"}
    space = make_space(carol, judge_panel=[{**regex, "match": "search"}], rules={})
    assert space.judge_panel == [{**regex, "match": "search"}]
    with pytest.raises(SpaceError, match="match must be one of fullmatch, search, not 'prefix'"):
        make_space(carol, "other", judge_panel=[{**regex, "match": "prefix"}], rules={})


def test_it_checks_a_pattern_with_the_engine_the_judge_runs(carol):
    # \p{L} (any letter) is the regex module's, which the verifier runs; Python's re refuses it.
    panel = [{"kind": "verifier", "mode": "regex", "pattern": r"\p{L}+"}]
    assert make_space(carol, judge_panel=panel, rules={}).judge_panel == panel


def test_it_stores_a_pairwise_answer_limit_and_refuses_one_out_of_range(writing_space, carol):
    panel = [{"kind": "pairwise-llm", "max_answer_chars": 500}]
    space_update(space=writing_space, judge_panel=panel, actor=PLATFORM)
    writing_space.refresh_from_db()
    assert writing_space.judge_panel == panel
    with pytest.raises(SpaceError, match="max_answer_chars must be an integer from 100 to 20000"):
        space_update(
            space=writing_space,
            judge_panel=[{"kind": "pairwise-llm", "max_answer_chars": 50}],
            actor=PLATFORM,
        )
    writing_space.refresh_from_db()
    assert writing_space.judge_panel == panel


def test_it_refuses_blank_pairwise_instructions(writing_space):
    for blank in ("", "  \n"):
        with pytest.raises(SpaceError, match="instructions must be a non-empty string"):
            space_update(
                space=writing_space,
                judge_panel=[{"kind": "pairwise-llm", "instructions": blank}],
                actor=PLATFORM,
            )
    writing_space.refresh_from_db()
    assert writing_space.judge_panel == LLM_PANEL
