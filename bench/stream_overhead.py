"""Benchmark: what streaming costs a match's batched generate (``on_progress``, issue #10).

The same rows (``batched_inference.requests_for``: mixed adapters and settings, EOS banned so
every row makes exactly its tokens) go through the local backend's ``generate_batch`` without
and with a progress callback (``streaming.BatchProgressStreamer``: a list append per row per
step, a decode of every row every ``--every`` steps). Runs alternate, best of ``--repeats``
kept per side; ratio = streamed seconds / plain seconds (1.00 = free). The answers must be the
same token for token: the streamer only watches.

    python bench/stream_overhead.py                           # default model, CPU
    python bench/stream_overhead.py --random-weights --n 2 8 --every 1 8 --new-tokens 32
    python bench/stream_overhead.py --random-weights --config-size 1.7b --device cuda
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batched_inference import (  # noqa: E402 - the sibling bench's helpers, after the path
    CONFIG_SIZES,
    load_model,
    make_adapters,
    requests_for,
    setup_django,
    timed,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2, 8], help="agents per match")
    parser.add_argument("--every", type=int, nargs="+", default=[1, 8], help="steps per report")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens generated per row")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (best kept)")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank of the adapters")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--config-size", choices=sorted(CONFIG_SIZES), default="135m")
    parser.add_argument("--tokenizer-dir", help="tokenizer (+config.json) dir")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    args = parser.parse_args()

    setup_django(cache_size=max(args.n) + 1)
    import torch

    from agents.inference.local.backend import generate_batch
    from agents.inference.local.cache import ensure_adapters

    loaded, device, params = load_model(args)
    refs = make_adapters(loaded.path, max(args.n), args.rank, Path(tempfile.mkdtemp()))
    ensure_adapters(loaded, refs)
    generate_batch(loaded, requests_for(2, refs, 2), ignore_eos=True)  # warm-up

    rows = []
    for n in args.n:
        requests = requests_for(n, refs, args.new_tokens)
        for every in args.every:
            calls: list = []
            best_plain = best_streamed = float("inf")
            for _ in range(args.repeats):
                plain, seconds = timed(
                    lambda r=requests: generate_batch(loaded, r, ignore_eos=True)
                )
                best_plain = min(best_plain, seconds)
                calls.clear()
                streamed, seconds = timed(
                    lambda r=requests, e=every, c=calls: generate_batch(
                        loaded,
                        r,
                        ignore_eos=True,
                        on_progress=c.append,
                        every=e,
                    )
                )
                best_streamed = min(best_streamed, seconds)
                assert [x.token_ids for x in plain] == [x.token_ids for x in streamed]
            rows.append(
                {
                    "n": n,
                    "every": every,
                    "tokens": sum(r.completion_tokens for r in plain),
                    "progress_calls": len(calls),
                    "plain_s": round(best_plain, 3),
                    "streamed_s": round(best_streamed, 3),
                    "ratio": round(best_streamed / best_plain, 3),
                }
            )
    report = {
        "device": device,
        "dtype": str(loaded.base.dtype).removeprefix("torch."),
        "parameters": params,
        "random_weights": args.random_weights,
        "new_tokens": args.new_tokens,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{device} {report['dtype']}, {params / 1e6:.0f}M parameters, "
        f"{args.new_tokens} new tokens per row, best of {args.repeats}"
    )
    print(f"{'n':>3} {'every':>5} {'calls':>5} {'plain s':>8} {'streamed s':>10} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['n']:>3} {row['every']:>5} {row['progress_calls']:>5} {row['plain_s']:>8} "
            f"{row['streamed_s']:>10} {row['ratio']:>6}"
        )


if __name__ == "__main__":
    main()
