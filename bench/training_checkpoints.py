"""Benchmark: what checkpoints cost a DPO run, and what replaying segments costs a verifier.

Same pairs, settings and seed, side by side in one process (runs alternate, best of
``--repeats`` kept):

1. **training without checkpoints** (``checkpoint_every=0``) and **with a checkpoint every k
   steps**: wall time of ``train_dpo`` (model load included) and time per step (from the
   ``on_step`` timestamps, steps 2..N, so the first step's warm-up is out); ratio with / without.
2. **replay verification**: every segment between two checkpoints replayed with
   ``replay_segment`` and compared with the next checkpoint (``adapter_distance``). It prints the
   time per segment, all segments together, and ``--replay Q`` segments (what ``verify_pol
   --replay Q`` would spend) against the training time.

The pairs are synthetic sums ("What is 17 + 25?"), chosen = the right number, rejected = off by
one to nine. The model is the default one (SmolLM2-135M-Instruct) in full precision on the CPU,
or on CUDA when there is one (4-bit NF4 there with ``--load-in-4bit``).

    python bench/training_checkpoints.py                      # 8 pairs, 2 epochs, batch 2, k=2
    python bench/training_checkpoints.py --pairs 16 --every 4 --threads 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")


def make_pairs(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        wrong = a + b + rng.choice([-1, 1]) * rng.randint(1, 9)
        pairs.append(
            {
                "system": "Answer with the number only.",
                "prompt": f"What is {a} + {b}?",
                "chosen": str(a + b),
                "rejected": str(wrong),
            }
        )
    return pairs


def timed_run(*, base: str, pairs: list[dict], settings, out_dir: Path) -> dict:
    from agents.training import train_dpo

    stamps: list[float] = []
    started = time.perf_counter()
    result = train_dpo(
        base_model_path=base,
        parent_adapter_dir=None,
        pairs=pairs,
        settings=settings,
        out_dir=out_dir,
        on_step=lambda step, metrics: stamps.append(time.perf_counter()),
    )
    wall = time.perf_counter() - started
    per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else wall
    return {"result": result, "wall_s": wall, "step_s": per_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--every", type=int, default=2, help="checkpoint every k steps")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side (best kept)")
    parser.add_argument("--replay", type=int, default=2, help="Q segments a verifier replays")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (0 = torch's default); on a shared machine 1 avoids "
        "OpenMP threads spin-waiting on each other",
    )
    parser.add_argument("--load-in-4bit", action="store_true", help="NF4 where CUDA allows")
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    args = parser.parse_args()

    import django

    django.setup()
    import torch

    from agents.model_store import DEFAULT_MODEL_NAME, default_model_dir
    from agents.training import TrainSettings, adapter_distance, replay_segment

    if args.threads:
        torch.set_num_threads(args.threads)
    base = str(default_model_dir())
    pairs = make_pairs(args.pairs, seed=0)
    plain = TrainSettings(
        seed=1,
        rank=args.rank,
        alpha=2 * args.rank,
        dropout=0.05,
        target_modules=("q_proj", "v_proj"),
        load_in_4bit=args.load_in_4bit,
        learning_rate=1e-3,
        beta=0.1,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
    )
    checkpointed = plain.with_changes(checkpoint_every=args.every)
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    try:
        # Warm-up (imports, first allocations): not measured.
        timed_run(
            base=base, pairs=pairs, settings=plain.with_changes(max_steps=1), out_dir=work / "w"
        )
        best = {"none": None, "every_k": None}
        for r in range(args.repeats):
            for side, s in (("none", plain), ("every_k", checkpointed)):
                run = timed_run(base=base, pairs=pairs, settings=s, out_dir=work / f"{side}-{r}")
                if best[side] is None or run["wall_s"] < best[side]["wall_s"]:
                    best[side] = run
        none, every = best["none"], best["every_k"]
        result = every["result"]
        assert result.adapter_sha256 == none["result"].adapter_sha256  # checkpoints change nothing

        segments = []
        points = result.checkpoints
        for start, end in zip(points, points[1:], strict=False):
            started = time.perf_counter()
            replayed = replay_segment(
                base_model_path=base,
                checkpoint_dir=start["path"],
                pairs=pairs,
                data_order=result.data_order,
                settings=checkpointed,
                start_step=start["step"],
                end_step=end["step"],
                out_dir=work / f"replay-{start['step']}",
            )
            seconds = time.perf_counter() - started
            segments.append(
                {
                    "from": start["step"],
                    "to": end["step"],
                    "seconds": round(seconds, 3),
                    "distance": adapter_distance(replayed, end["path"]),
                }
            )
        checkpoint_bytes = sum(f.stat().st_size for f in points[-1]["path"].iterdir())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    all_replays = sum(s["seconds"] for s in segments)
    per_segment = all_replays / len(segments)
    q = min(args.replay, len(segments))
    report = {
        "device": result.device
        + ("" if result.device == "cuda" else f" ({torch.get_num_threads()} threads)"),
        "model": DEFAULT_MODEL_NAME,
        "quantization": result.quantization,
        "pairs": args.pairs,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "steps": result.steps,
        "checkpoint_every": args.every,
        "checkpoints": len(result.checkpoints),
        "checkpoint_bytes": checkpoint_bytes,
        "lora_rank": args.rank,
        "train_none_s": round(none["wall_s"], 3),
        "train_every_k_s": round(every["wall_s"], 3),
        "ratio_every_k_vs_none": round(every["wall_s"] / none["wall_s"], 3),
        "step_none_s": round(none["step_s"], 3),
        "step_every_k_s": round(every["step_s"], 3),
        "step_ratio": round(every["step_s"] / none["step_s"], 3),
        "replay_segments": segments,
        "replay_all_s": round(all_replays, 3),
        "replay_all_vs_train": round(all_replays / every["wall_s"], 3),
        "replay_q": q,
        "replay_q_s": round(per_segment * q, 3),
        "replay_q_vs_train": round(per_segment * q / every["wall_s"], 3),
        "max_replay_distance": max(s["distance"] for s in segments),
        "library_versions": result.library_versions,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{report['model']} on {report['device']}, quantization {report['quantization']}: "
        f"{args.pairs} pairs x {args.epochs} epochs, batch {args.batch_size} = "
        f"{result.steps} steps, LoRA rank {args.rank}; {len(result.checkpoints)} checkpoints "
        f"of {checkpoint_bytes / 1e6:.1f} MB"
    )
    print(f"{'':28} {'no checkpoints':>15} {f'every {args.every} steps':>15} {'ratio':>7}")
    print(
        f"{'train_dpo wall (s)':28} {report['train_none_s']:>15} "
        f"{report['train_every_k_s']:>15} {report['ratio_every_k_vs_none']:>6}x"
    )
    print(
        f"{'per step, steps 2..N (s)':28} {report['step_none_s']:>15} "
        f"{report['step_every_k_s']:>15} {report['step_ratio']:>6}x"
    )
    print(
        f"replay: {len(segments)} segments of {args.every} steps, {per_segment:.2f} s each "
        f"(model load included); all {all_replays:.1f} s = "
        f"{report['replay_all_vs_train']}x training; Q={q}: {report['replay_q_s']} s = "
        f"{report['replay_q_vs_train']}x training; "
        f"largest distance to the next checkpoint {report['max_replay_distance']:.3g}"
    )


if __name__ == "__main__":
    main()
