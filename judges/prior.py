"""A pairwise judge's position prior in a space, estimated from that space's recent verdicts.

Every model-decided pair of a ``pairwise-llm`` verdict stores its own position bias
(``bias = (l_ab + l_ba) / 2``, see ``judges.kinds.pairwise_llm``). The prior of a judge in a
space is the mean bias of the pairs in its most recent verdicts there (``RECENT_VERDICTS``),
counting only verdicts of the same kind, version, model and instructions (``PriorKey``): a change
of any of them changes the bias. With fewer than ``MIN_PAIRS`` such pairs there is no estimate,
and the judge probes the model with a content-free pair instead.

Read-only: verdicts are written by ``arena`` when a match is judged.
"""

from __future__ import annotations

import math
from statistics import fmean

from judges.kinds.base import PriorKey, PriorLookup, StoredPrior
from judges.models import Verdict

RECENT_VERDICTS = 50
MIN_PAIRS = 20


def stored_position_prior(*, space_id: int, key: PriorKey) -> StoredPrior | None:
    """The mean stored pair bias of this judge in this space, or None with too few pairs."""
    rows = (
        Verdict.objects.filter(
            match__space_id=space_id,
            judge_kind=key.kind,
            data__version=key.version,
            data__details__model=key.model,
            data__details__instructions_sha256=key.instructions_sha256,
        )
        .order_by("-id")
        .values_list("data", flat=True)[:RECENT_VERDICTS]
    )
    biases = [
        float(pair["bias"])
        for data in rows
        for pair in data["details"].get("pairs", [])
        if isinstance(pair, dict)
        and isinstance(pair.get("bias"), int | float)
        and math.isfinite(pair["bias"])
    ]
    if len(biases) < MIN_PAIRS:
        return None
    return StoredPrior(log_odds=fmean(biases), pairs=len(biases))


def prior_lookup(space_id: int | None) -> PriorLookup | None:
    """The lookup a judge context carries for a match in this space (None: space unknown)."""
    if space_id is None:
        return None
    return lambda key: stored_position_prior(space_id=space_id, key=key)
