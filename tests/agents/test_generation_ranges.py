"""The generation ranges are written once (``GENERATION_RANGES``): the Agent model's validators
and GenerationSettings accept and refuse the same values."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from agents.inference import GENERATION_RANGES, GenerationSettings, InferenceError
from agents.inference.base import INTEGER_SETTINGS
from agents.models import RANGES, Agent


def _edges(field):
    low, high, inclusive = GENERATION_RANGES[field]
    step = 1 if field in INTEGER_SETTINGS else 0.01
    good = [high, low if inclusive else low + step]
    bad = [high + step, low - step if inclusive else low]
    return good, bad


def _agent_accepts(field, value) -> bool:
    try:
        Agent._meta.get_field(field).run_validators(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("field", list(GENERATION_RANGES))
def test_the_agent_and_the_inference_layer_share_each_range(field):
    assert RANGES[field] == GENERATION_RANGES[field]
    good, bad = _edges(field)
    for value in good:
        assert _agent_accepts(field, value), (field, value)
        assert getattr(GenerationSettings(**{field: value}), field) == value
    for value in bad:
        assert not _agent_accepts(field, value), (field, value)
        with pytest.raises(InferenceError, match=field):
            GenerationSettings(**{field: value})


def test_every_range_is_a_database_constraint_too():
    names = {c.name for c in Agent._meta.constraints}
    assert {f"agents_agent_{field}_range" for field in GENERATION_RANGES} <= names


def test_generation_settings_refuse_values_of_the_wrong_kind():
    for bad in [{"top_k": 2.5}, {"max_new_tokens": "9"}, {"temperature": None}, {"top_p": True}]:
        with pytest.raises(InferenceError, match="must be"):
            GenerationSettings(**bad)
