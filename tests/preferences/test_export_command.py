"""``manage.py export_preferences``: every format loads with ``datasets``; the manifest's
hashes, row counts and Merkle root check out; bad input is refused and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from preferences.models import PreferencePair
from preferences.provenance import content_sha256
from tests.preferences.helpers import merkle, read_jsonl, sha256_file

pytestmark = pytest.mark.django_db

PAIR_ROWS = {"trl": 4, "trl-chat": 4, "kto": 8, "parquet": 4, "hf": 4, "battles": 6}


def export(space, fmt: str, out: Path, *args: str) -> dict:
    call_command(
        "export_preferences", "--space", space.slug, "--format", fmt, "--out", str(out), *args
    )
    return json.loads((out / "manifest.json").read_text())


def load(fmt: str, out: Path, cache: Path):
    import datasets

    if fmt == "hf":
        return datasets.load_from_disk(str(out))
    kind, name = ("parquet", "data.parquet") if fmt == "parquet" else ("json", "data.jsonl")
    return datasets.load_dataset(
        kind, data_files=str(out / name), split="train", cache_dir=str(cache)
    )


def check_manifest(manifest: dict, out: Path, *, pair_format: bool) -> None:
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.name for p in out.iterdir()} - {"manifest.json"}
    assert listed == on_disk
    for entry in manifest["files"]:
        assert sha256_file(out / entry["path"]) == entry["sha256"]
        assert (out / entry["path"]).stat().st_size == entry["bytes"]
        if entry["path"].endswith(".jsonl"):
            assert len(read_jsonl(out / entry["path"])) == entry["rows"]
    if pair_format:
        provenance = read_jsonl(out / "pairs.jsonl")
        assert len(provenance) == manifest["pairs"]
        for row in provenance:
            assert content_sha256(row["payload"]) == row["content_sha256"]
            stored = PreferencePair.objects.get(pk=row["pair"])
            assert stored.content_sha256 == row["content_sha256"] and stored.verify()
        leaves = [row["content_sha256"] for row in provenance]
    else:
        leaves = [content_sha256(row) for row in read_jsonl(out / "data.jsonl")]
    assert manifest["merkle_root"] == merkle(leaves)


def card_header(out: Path) -> dict:
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    for section in (
        "## Dataset description",
        "## Fields",
        "## Provenance",
        "## How it was made",
        "## Filters",
    ):
        assert section in text
    return header


@pytest.mark.parametrize("fmt", list(PAIR_ROWS))
def test_every_format_exports_loads_and_checks_out(pairs_space, fmt, tmp_path):
    out = tmp_path / "export"
    manifest = export(pairs_space, fmt, out)
    assert manifest["format"] == fmt and manifest["rows"] == PAIR_ROWS[fmt]
    assert manifest["space"]["slug"] == "trio"
    check_manifest(manifest, out, pair_format=fmt != "battles")

    dataset = load(fmt, out, tmp_path / "cache")
    assert dataset.num_rows == PAIR_ROWS[fmt]
    header = card_header(out)
    assert header["license"] == "other"
    assert header["size_categories"] == ["n<1K"]
    assert header["task_categories"] == (
        ["text-classification"] if fmt == "battles" else ["text-generation"]
    )


def test_trl_rows_are_prompt_chosen_rejected_strings(pairs_space, tmp_path):
    export(pairs_space, "trl", tmp_path / "out")
    rows = read_jsonl(tmp_path / "out" / "data.jsonl")
    pairs = list(PreferencePair.objects.filter(space=pairs_space).order_by("pk"))
    assert rows == [
        {"prompt": p.prompt_text, "chosen": p.chosen_text, "rejected": p.rejected_text}
        for p in pairs
    ]


def test_trl_chat_keeps_the_system_prompt_out_unless_asked(pairs_space, tmp_path):
    export(pairs_space, "trl-chat", tmp_path / "plain")
    row = read_jsonl(tmp_path / "plain" / "data.jsonl")[0]
    assert [m["role"] for m in row["prompt"]] == ["user"]
    assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"

    export(pairs_space, "trl-chat", tmp_path / "system", "--include-system-prompt")
    row = read_jsonl(tmp_path / "system" / "data.jsonl")[0]
    assert row["prompt"][0] == {"role": "system", "content": "Answer with a number only."}


def test_kto_gives_a_desirable_and_an_undesirable_row_per_pair(pairs_space, tmp_path):
    export(pairs_space, "kto", tmp_path / "out")
    rows = read_jsonl(tmp_path / "out" / "data.jsonl")
    first = PreferencePair.objects.filter(space=pairs_space).order_by("pk").first()
    assert rows[:2] == [
        {"prompt": first.prompt_text, "completion": first.chosen_text, "label": True},
        {"prompt": first.prompt_text, "completion": first.rejected_text, "label": False},
    ]


def test_battles_follow_the_chatbot_arena_layout(pairs_space, tmp_path):
    export(pairs_space, "battles", tmp_path / "out")
    rows = read_jsonl(tmp_path / "out" / "data.jsonl")
    assert set(rows[0]) == {
        "question_id",
        "model_a",
        "model_b",
        "winner",
        "judge",
        "conversation_a",
        "conversation_b",
        "turn",
        "anony",
        "language",
        "tstamp",
    }
    assert [r["winner"] for r in rows] == ["model_a", "model_a", "tie (bothbad)"] * 2
    assert rows[0]["model_a"].startswith(f"scout#{pairs_space.scout.pk}@")
    assert rows[0]["judge"] == "arena-panel:verifier"
    assert [m["role"] for m in rows[0]["conversation_a"]] == ["user", "assistant"]
    assert isinstance(rows[0]["tstamp"], float) and rows[0]["turn"] == 1


def test_filters_by_agent_margin_agreement_and_date(pairs_space, tmp_path, agent_factory, bob):
    def nothing(*args):
        with pytest.raises(CommandError, match="nothing written"):
            export(pairs_space, "trl", tmp_path / "none", *args)

    nothing("--agent", str(agent_factory(bob, name="idle").pk))
    only = export(pairs_space, "trl", tmp_path / "b", "--agent", str(pairs_space.scout.pk))
    assert only["rows"] == 4 and only["filters"]["agents"] == [pairs_space.scout.pk]
    assert export(pairs_space, "trl", tmp_path / "c", "--min-margin", "1")["rows"] == 4
    assert export(pairs_space, "trl", tmp_path / "d", "--min-agreement", "1.0")["rows"] == 4
    nothing("--since", "2999-01-01")
    nothing("--until", "2000-01-01")
    today = export(pairs_space, "battles", tmp_path / "g", "--since", "2000-01-01T00:00:00Z")
    assert today["rows"] == 6 and today["filters"]["since"].startswith("2000-01-01T00:00:00")


def test_held_back_and_tampered_pairs_are_not_exported(pairs_space, tmp_path):
    pairs = list(PreferencePair.objects.filter(space=pairs_space).order_by("pk"))
    PreferencePair.objects.filter(pk=pairs[0].pk).update(
        status="held_back", held_back_reason="test"
    )
    PreferencePair.objects.filter(pk=pairs[1].pk).update(rejected_text="edited")
    manifest = export(pairs_space, "trl", tmp_path / "out")
    assert (manifest["rows"], manifest["skipped_unverified"]) == (2, 1)
    assert [r["pair"] for r in read_jsonl(tmp_path / "out" / "pairs.jsonl")] == [
        pairs[2].pk,
        pairs[3].pk,
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "nope", "--format", "trl"], "no space 'nope'"),
        (["--space", "trio", "--format", "csv"], "unknown format 'csv'"),
        (["--space", "trio", "--format", "trl", "--since", "yesterday"], "is not a date"),
        (["--space", "trio", "--format", "trl", "--until", "2026-02-30"], "is not a date"),
        (
            ["--space", "trio", "--format", "trl"]
            + ["--since", "2026-02-01", "--until", "2026-01-01"],
            "since must be before until",
        ),
        (["--space", "trio", "--format", "trl", "--min-margin", "2"], "between 0 and 1"),
        (["--space", "trio", "--format", "trl", "--min-agreement", "x"], "is not a number"),
        (["--space", "trio", "--format", "trl", "--agent", "999999"], "no agent with id 999999"),
        (["--space", "trio", "--format", "battles", "--min-margin", "0.5"], "pair formats only"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_writes_nothing(
    pairs_space, tmp_path, args, message
):
    out = tmp_path / "out"
    with pytest.raises(CommandError, match=message):
        call_command("export_preferences", *args, "--out", str(out))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_written_into(pairs_space, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder"):
        export(pairs_space, "trl", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(CommandError, match="does not exist"):
        export(pairs_space, "trl", tmp_path / "missing" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_json_option_prints_the_manifest(pairs_space, tmp_path, capsys):
    call_command(
        "export_preferences",
        "--space",
        "trio",
        "--format",
        "kto",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "out" / "manifest.json").read_text())


@pytest.mark.parametrize("fmt", list(PAIR_ROWS))
def test_an_export_without_rows_is_refused_and_writes_nothing(space, fmt, tmp_path):
    with pytest.raises(CommandError, match="match these filters: nothing written"):
        export(space, fmt, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []
