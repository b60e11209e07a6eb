"""What a download would hold, before it is made: the row count and the manifest for the
export page's filters. Counts come from the same selectors the export reads; the Merkle root and
the file hashes exist only once the archive is written, so the preview says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preferences import formats
from preferences.card import ExportCounts, manifest
from preferences.export_spec import ExportSpec
from preferences.selectors import export_matches, export_pairs, gate_of

ROOT_LATER = "computed while the archive is written"


@dataclass(frozen=True)
class ExportPreview:
    rows: int  # data rows of the data file
    items: int  # pairs (pair formats) or battles
    item_name: str  # "pairs" or "battles"
    manifest: dict[str, Any]


def export_preview(spec: ExportSpec) -> ExportPreview:
    if spec.pair_format:
        items = export_pairs(spec).count()
        rows = items * (2 if spec.fmt == "kto" else 1)  # kto: a desirable and an undesirable row
    else:
        # A battle per pair of seats the agent filter keeps: counted as the export builds them.
        items = sum(
            len(formats.battle_rows(m, include_system_prompt=False, agents=spec.filters.agents))
            for m in export_matches(spec).iterator(chunk_size=500)
        )
        rows = items
    counts = ExportCounts(rows=rows, items=items, merkle_root=ROOT_LATER)
    document = manifest(spec, counts, [], gate_of(space=spec.space))
    document.pop("created", None)  # stamped when the archive is made
    document["files"] = ROOT_LATER
    return ExportPreview(
        rows=rows,
        items=items,
        item_name="pairs" if spec.pair_format else "battles",
        manifest=document,
    )
