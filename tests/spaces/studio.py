"""POST data for the space editor (the creator's studio), built from a space's stored values the
way the editor shows them: tests change one field and post the rest as they were."""

from __future__ import annotations

from decimal import Decimal

from spaces.forms import PLACES, percent, share_field_name
from spaces.models import BPS, Space
from spaces.validation import DEFAULT_RULES


def rule_fields(rules: dict) -> dict[str, str]:
    rules = {**DEFAULT_RULES, **rules}
    return {
        "answer_format": rules["answer_format"],
        "max_new_tokens_cap": str(rules["max_new_tokens_cap"]),
        "max_chars": str(rules["max_chars"]),
        "banned_substrings": "\n".join(rules["banned_substrings"]),
        "injection_policy": rules["injection_policy"],
    }


def share_fields(shares: list[str]) -> dict[str, str]:
    """Percentages by place, as typed: ["0.7", "0.3"] -> 70, 30 and the other places empty."""
    data = {share_field_name(place): "" for place in range(1, PLACES + 1)}
    for place, share in enumerate(shares, start=1):
        data[share_field_name(place)] = percent(Decimal(share))
    return data


def economics_fields(
    *, shares: list[str], creator_rake_bps: int, platform_rake_bps: int, subsidy: int
) -> dict[str, str]:
    return {
        **share_fields(shares),
        "creator_rake": percent(Decimal(creator_rake_bps) / BPS),
        "platform_rake": percent(Decimal(platform_rake_bps) / BPS),
        "subsidy": str(subsidy),
    }


def tier_fields(space: Space | None, extra: list[tuple[str, int]] = ()) -> dict[str, str]:
    tiers = list(space.fee_tiers.order_by("pk")) if space is not None and space.pk else []
    data = {
        "fee_tiers-TOTAL_FORMS": str(len(tiers) + len(extra)),
        "fee_tiers-INITIAL_FORMS": str(len(tiers)),
        "fee_tiers-MIN_NUM_FORMS": "0",
        "fee_tiers-MAX_NUM_FORMS": "1000",
    }
    for i, tier in enumerate(tiers):
        data.update(
            {
                f"fee_tiers-{i}-id": str(tier.pk),
                f"fee_tiers-{i}-space": str(space.pk),
                f"fee_tiers-{i}-name": tier.name,
                f"fee_tiers-{i}-fee": str(tier.fee),
            }
        )
    for j, (name, fee) in enumerate(extra, start=len(tiers)):
        data.update({f"fee_tiers-{j}-name": name, f"fee_tiers-{j}-fee": str(fee)})
    return data


def panel_fields(panel: list[dict]) -> dict[str, str]:
    """The judge panel as the editor's rows post it (the panel builder's field names)."""
    from judges.panel_form import panel_post_data  # the builder belongs to the judges app

    return panel_post_data(panel)


def editor_data(space: Space, **overrides) -> dict[str, str]:
    """What the editor posts for ``space`` left as it is, with ``overrides`` on top."""
    data = {
        "slug": space.slug,
        "title": space.title,
        "description": space.description,
        "task_kind": space.task_kind,
        "agents_per_match": str(space.agents_per_match),
        "heldout_fraction": str(space.heldout_fraction),
        **rule_fields(space.rules),
        **economics_fields(
            shares=space.payout_shares,
            creator_rake_bps=space.creator_rake_bps,
            platform_rake_bps=space.platform_rake_bps,
            subsidy=space.subsidy,
        ),
        **panel_fields(space.judge_panel),
        **tier_fields(space),
    }
    data.update(overrides)
    return data
