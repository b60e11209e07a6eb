"""The two files that describe an export: ``manifest.json`` (what was exported, checkable) and
the dataset card ``README.md`` in the Hugging Face style (a YAML header the Hub reads: license,
task categories, size; then prose)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from django.utils import timezone

from preferences.export_spec import ExportSpec
from preferences.formats import FIELDS, PROVENANCE_FIELDS
from preferences.models import PairGate
from preferences.provenance import EMPTY_ROOT

DATA_FILES = {
    "trl": "data.jsonl",
    "trl-chat": "data.jsonl",
    "kto": "data.jsonl",
    "battles": "data.jsonl",
    "parquet": "data.parquet",
}
PROVENANCE_FILE = "pairs.jsonl"
MANIFEST = "manifest.json"
CARD = "README.md"

# The Hub's size buckets (size_categories).
SIZES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
]


@dataclass
class ExportedFile:
    path: str
    sha256: str
    bytes: int
    rows: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}
        if self.rows is not None:
            out["rows"] = self.rows
        return out


@dataclass
class ExportCounts:
    rows: int = 0  # data rows
    items: int = 0  # pairs (pair formats) or battles
    skipped_unverified: int = 0  # pairs whose stored hash no longer matched: left out
    merkle_root: str = EMPTY_ROOT


def size_category(rows: int) -> str:
    for limit, name in SIZES:
        if rows < limit:
            return name
    return "n>10M"


def merkle_description(spec: ExportSpec) -> dict[str, str]:
    leaf = (
        f"the content_sha256 of each exported pair, in {PROVENANCE_FILE} order"
        if spec.pair_format
        else f"sha256 of each row's canonical JSON, in {DATA_FILES[spec.fmt]} order"
    )
    return {
        "leaf": leaf + " (the 32 bytes of the hex digest)",
        "node": "sha256(left || right)",
        "odd": "an odd last node is promoted unchanged to the next level",
        "empty": f"sha256 of nothing: {EMPTY_ROOT}",
        "canonical_json": "keys sorted, separators ',' and ':', UTF-8, non-ASCII unescaped",
    }


def gate_summary(gate: PairGate) -> dict[str, Any]:
    return {
        "min_margin_exclusive": gate.min_margin,
        "min_agreement": gate.min_agreement,
        "drop_duplicates": gate.drop_duplicates,
        "uninformative_judge_kinds": list(gate.uninformative_judge_kinds or []),
    }


def manifest(
    spec: ExportSpec, counts: ExportCounts, files: list[ExportedFile], gate: PairGate
) -> dict[str, Any]:
    return {
        "dataset": f"{spec.space.slug}-{spec.fmt}",
        "format": spec.fmt,
        "space": {"id": spec.space.pk, "slug": spec.space.slug, "title": spec.space.title},
        "created": timezone.now().isoformat(),
        "rows": counts.rows,
        ("pairs" if spec.pair_format else "battles"): counts.items,
        "skipped_unverified": counts.skipped_unverified,
        "filters": {
            **spec.filters.as_dict(),
            "status": "kept" if spec.pair_format else "settled matches",
            "prompt_split": "train",
        },
        "gate": gate_summary(gate),
        "merkle_root": counts.merkle_root,
        "merkle": merkle_description(spec),
        "files": [f.as_dict() for f in files],
    }


def _table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| field | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {meaning} |" for name, kind, meaning in rows]
    return "\n".join(lines)


def dataset_card(spec: ExportSpec, counts: ExportCounts, gate: PairGate) -> str:
    space = spec.space
    header: dict[str, Any] = {
        "license": "other",
        "license_name": "arena-space-terms",
        "pretty_name": f"{space.title}: {spec.fmt} export",
        "task_categories": ["text-classification" if spec.fmt == "battles" else "text-generation"],
        "tags": ["arena", "preference", "rlaif", "kto" if spec.fmt == "kto" else "dpo"],
        "size_categories": [size_category(counts.rows)],
    }
    if spec.fmt in DATA_FILES:
        header["configs"] = [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": DATA_FILES[spec.fmt]}],
            }
        ]
    front = yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
    what = (
        f"{counts.items} preference pairs ({counts.rows} rows)"
        if spec.pair_format
        else f"{counts.rows} judged battles"
    )
    load = (
        "`datasets.load_from_disk(path)`"
        if spec.fmt == "hf"
        else f'`datasets.load_dataset("{"parquet" if spec.fmt == "parquet" else "json"}", '
        f'data_files="{DATA_FILES[spec.fmt]}")`'
    )
    filters = spec.filters.as_dict()
    filter_lines = "\n".join(
        f"- `{k}`: {v if v not in (None, []) else 'any'}" for k, v in filters.items()
    )
    gate_lines = "\n".join(f"- `{k}`: {v}" for k, v in gate_summary(gate).items())
    provenance = (
        f"`{PROVENANCE_FILE}` holds, line by line, each exported pair's provenance:\n\n"
        + _table(PROVENANCE_FIELDS)
        + "\n\nRecompute a pair's hash as sha256 of its `payload` in canonical JSON"
        if spec.pair_format
        else "Each row's hash is sha256 of the row in canonical JSON"
    )
    exported = (
        "Only kept pairs are exported; "
        f"{counts.skipped_unverified} pair(s) whose stored hash no longer matched were left out."
        if spec.pair_format
        else "Battles list every two answers of each match, ties included, whatever the gate."
    )
    return f"""---
{front}---

# {space.title}: {spec.fmt} export

## Dataset description

{what} from the arena space `{space.slug}`: agents (a base model, an adapter, a system prompt
and generation settings) answered the same prompt in a match and the space's judge panel ranked
the answers. Load it with {load}.

## Fields

{_table(FIELDS[spec.fmt])}

## Provenance

{provenance} (keys sorted, no whitespace, UTF-8). `{MANIFEST}` lists every file with its sha256
and row count, and the Merkle root of the hashes in export order: a binary sha256 tree whose
parent is sha256(left || right) of the 32-byte digests, an odd last node promoted unchanged.
Merkle root: `{counts.merkle_root}`.

## How it was made

Every settled match on a train prompt yields, for every two answers whose weighted panel totals
differ, one pair: the better answer chosen, the worse rejected (ties make none; an answer that
broke the space's content limits is never chosen; held-out prompts are never used). The margin
is the difference of the two totals over the panel's total weight, in (0, 1]; the agreement
counts the judges, and each order of a pairwise judge, that preferred the chosen answer. The
space's gate keeps or holds back each pair (when it is made, and again when the gate changes):

{gate_lines}

{exported}

## Filters

{filter_lines}
"""
