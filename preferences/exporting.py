"""Writing an export, row by row: into a folder (the ``export_preferences`` command) or as a zip
streamed to a client (web and API downloads). Rows come from the database through
``.iterator(chunk_size)`` and go out as they are made; what is kept meanwhile is a file's sha256
state, the counters and the Merkle root's O(log n) nodes, never the export itself.

A folder holds the data file (``data.jsonl``, ``data.parquet``, or for ``hf`` the files of
``Dataset.save_to_disk``), ``pairs.jsonl`` (pair formats: each pair's provenance, in data
order), ``README.md`` (the dataset card) and ``manifest.json`` (every other file's sha256, the
row count, the filters and the Merkle root). It is built in a hidden folder next to ``--out``
and renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from preferences import formats
from preferences.card import (
    CARD,
    DATA_FILES,
    MANIFEST,
    PROVENANCE_FILE,
    ExportCounts,
    ExportedFile,
    dataset_card,
    manifest,
)
from preferences.errors import PreferenceError
from preferences.export_spec import STREAMED_FORMATS, ExportSpec
from preferences.provenance import MerkleRoot, content_sha256
from preferences.selectors import export_matches, export_pairs, gate_of

CHUNK_ROWS = 500  # rows fetched from the database per round trip
PARQUET_BATCH = 1_000  # rows per parquet row group write
ZIP_FLUSH_BYTES = 64 * 1024
ZIP_COMPRESSION = zipfile.ZIP_DEFLATED  # zlib keeps a bounded window, never the whole entry
COPY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Record:
    """What one pair (or one match, for battles) adds to an export."""

    rows: list[dict[str, Any]]
    provenance: dict[str, Any] | None
    leaves: list[str]


def records(spec: ExportSpec, counts: ExportCounts) -> Iterator[Record]:
    """The export's records in order; ``counts`` is updated as they go (a pair whose stored hash
    does not match what it stores is left out and counted)."""
    include_system = spec.filters.include_system_prompt
    if spec.pair_format:
        pairs = export_pairs(spec).select_related("match").iterator(chunk_size=CHUNK_ROWS)
        for pair in pairs:
            if not pair.verify():
                counts.skipped_unverified += 1
                continue
            counts.items += 1
            yield Record(
                rows=formats.pair_rows(pair, spec.fmt, include_system_prompt=include_system),
                provenance=formats.provenance_row(pair, pair.match.finished_at),
                leaves=[pair.content_sha256],
            )
        return
    for match in export_matches(spec).iterator(chunk_size=CHUNK_ROWS):
        rows = formats.battle_rows(
            match, include_system_prompt=include_system, agents=spec.filters.agents
        )
        counts.items += len(rows)
        yield Record(rows=rows, provenance=None, leaves=[content_sha256(r) for r in rows])


def jsonl(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


class HashingWriter:
    """Writes through to ``target``, keeping the sha256, size and line count of what passed."""

    def __init__(self, target: BinaryIO, path: str):
        self.target = target
        self.path = path
        self.digest = hashlib.sha256()
        self.size = 0
        self.rows = 0

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def row(self, row: dict[str, Any]) -> None:
        self.write(jsonl(row))
        self.rows += 1

    def exported(self, *, rows: bool = True) -> ExportedFile:
        return ExportedFile(
            self.path, self.digest.hexdigest(), self.size, self.rows if rows else None
        )


def file_entry(path: Path, name: str, rows: int | None = None) -> ExportedFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(COPY_BYTES):
            digest.update(block)
    return ExportedFile(name, digest.hexdigest(), path.stat().st_size, rows)


# --- a folder ---------------------------------------------------------------------------------


def check_out_path(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PreferenceError(f"{out} already exists and is not an empty folder")
    if not out.parent.is_dir():
        raise PreferenceError(f"the folder {out.parent} does not exist")


def _write_parquet(spec: ExportSpec, counts: ExportCounts, root: MerkleRoot, work: Path):
    import pyarrow as pa  # imported here: only the parquet and hf formats need it
    import pyarrow.parquet as pq

    schema = pa.schema([(name, pa.string()) for name in ("prompt", "chosen", "rejected")])
    path = work / DATA_FILES["parquet"]
    with (
        pq.ParquetWriter(path, schema) as writer,
        (work / PROVENANCE_FILE).open("wb") as prov_file,
    ):
        provenance = HashingWriter(prov_file, PROVENANCE_FILE)
        batch: list[dict] = []
        for record in records(spec, counts):
            batch.extend(record.rows)
            provenance.row(record.provenance)
            for leaf in record.leaves:
                root.add(leaf)
            if len(batch) >= PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                counts.rows += len(batch)
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            counts.rows += len(batch)
    return [file_entry(path, DATA_FILES["parquet"], counts.rows), provenance.exported()]


def _write_record(record, *, data: HashingWriter, provenance, root: MerkleRoot) -> None:
    """One pair's rows to the data file, its provenance line, and its hash into the root."""
    for row in record.rows:
        data.row(row)
    if provenance is not None:
        provenance.row(record.provenance)
    for leaf in record.leaves:
        root.add(leaf)


def _write_jsonl(spec: ExportSpec, counts: ExportCounts, root: MerkleRoot, work: Path):
    with (work / DATA_FILES[spec.fmt]).open("wb") as data_file:
        data = HashingWriter(data_file, DATA_FILES[spec.fmt])
        prov_file = (work / PROVENANCE_FILE).open("wb") if spec.pair_format else None
        try:
            provenance = HashingWriter(prov_file, PROVENANCE_FILE) if prov_file else None
            for record in records(spec, counts):
                _write_record(record, data=data, provenance=provenance, root=root)
        finally:
            if prov_file:
                prov_file.close()
    counts.rows = data.rows
    return [data.exported()] + ([provenance.exported()] if provenance else [])


def _save_hf(stage: Path, work: Path) -> list[ExportedFile]:
    from datasets import Dataset  # imported here: loading datasets is slow and rarely needed

    # Arrow files memory-mapped from the cache, never the table in memory.
    dataset = Dataset.from_parquet(
        str(work / DATA_FILES["parquet"]), cache_dir=str(work / "cache"), keep_in_memory=False
    )
    dataset.save_to_disk(str(stage))
    shutil.move(str(work / PROVENANCE_FILE), stage / PROVENANCE_FILE)
    return [
        file_entry(path, path.name, dataset.num_rows if path.suffix == ".arrow" else None)
        for path in sorted(stage.iterdir())
        if path.is_file() and path.name != PROVENANCE_FILE
    ]


def export_to_folder(spec: ExportSpec, out: Path) -> dict[str, Any]:
    """Write the export into the new folder ``out``; returns the manifest. An export without
    rows is refused (PreferenceError) and leaves nothing behind."""
    out = Path(out)
    check_out_path(out)
    stage = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    counts, root = ExportCounts(), MerkleRoot()
    try:
        if spec.fmt in ("parquet", "hf"):
            files = _write_parquet(spec, counts, root, work)
        else:
            files = _write_jsonl(spec, counts, root, work)
        if not counts.rows:
            # datasets cannot load a file without rows: an empty export would be unusable.
            raise PreferenceError(
                f"no {'pairs' if spec.pair_format else 'battles'} of space {spec.space.slug!r} "
                "match these filters: nothing written"
            )
        if spec.fmt == "hf":
            hf_files = _save_hf(stage, work)
            files = hf_files + [f for f in files if f.path == PROVENANCE_FILE]
        else:
            stage.mkdir()
            for entry in files:
                shutil.move(str(work / entry.path), stage / entry.path)
        counts.merkle_root = root.hexdigest()
        gate = gate_of(space=spec.space)
        card = dataset_card(spec, counts, gate).encode("utf-8")
        (stage / CARD).write_bytes(card)
        files.append(ExportedFile(CARD, hashlib.sha256(card).hexdigest(), len(card)))
        document = manifest(spec, counts, files, gate)
        (stage / MANIFEST).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        if out.exists():
            out.rmdir()  # checked empty above
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return document


# --- a streamed zip ---------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream that collects what zipfile writes until it is drained
    (zipfile then writes each entry's sizes after its data, in a data descriptor)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks, self.pending = [], 0
        return out


def export_zip_chunks(spec: ExportSpec) -> Iterator[bytes]:
    """The export as a zip archive, in chunks of about ZIP_FLUSH_BYTES: the data file first,
    then the provenance (spooled to a temporary file meanwhile, on disk past 1 MiB), the card
    and the manifest."""
    if spec.fmt not in STREAMED_FORMATS:
        raise PreferenceError(
            f"{spec.fmt} exports are made with the export_preferences command; download one of "
            f"{', '.join(STREAMED_FORMATS)}"
        )
    return _zip_chunks(spec)


def _zip_chunks(spec: ExportSpec) -> Iterator[bytes]:
    counts, root, sink = ExportCounts(), MerkleRoot(), _Sink()
    spool = tempfile.SpooledTemporaryFile(max_size=COPY_BYTES) if spec.pair_format else None
    try:
        with zipfile.ZipFile(sink, "w", compression=ZIP_COMPRESSION) as archive:
            with archive.open(DATA_FILES[spec.fmt], "w", force_zip64=True) as entry:
                data = HashingWriter(entry, DATA_FILES[spec.fmt])
                provenance = HashingWriter(spool, PROVENANCE_FILE) if spool else None
                for record in records(spec, counts):
                    _write_record(record, data=data, provenance=provenance, root=root)
                    if sink.pending >= ZIP_FLUSH_BYTES:
                        yield sink.drain()
            counts.rows = data.rows
            files = [data.exported()]
            if spool is not None:
                spool.seek(0)
                with archive.open(PROVENANCE_FILE, "w", force_zip64=True) as entry:
                    while block := spool.read(COPY_BYTES):
                        entry.write(block)
                        yield sink.drain()
                files.append(provenance.exported())
            counts.merkle_root = root.hexdigest()
            gate = gate_of(space=spec.space)
            card = dataset_card(spec, counts, gate).encode("utf-8")
            archive.writestr(CARD, card)
            files.append(ExportedFile(CARD, hashlib.sha256(card).hexdigest(), len(card)))
            archive.writestr(
                MANIFEST,
                json.dumps(manifest(spec, counts, files, gate), indent=2, ensure_ascii=False),
            )
        yield sink.drain()
    finally:
        if spool is not None:
            spool.close()
