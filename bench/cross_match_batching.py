"""Measurement for issue #11: what batching rows across queued matches would buy.

Today the rollout worker runs one generate per match (its N rows). With M matches queued, the
alternative is one generate of all M x N rows. Both sides here run the local backend's own code
path (``generate_batch``: chat template, left padding, stacked-LoRA mixed-adapter batch, per-row
sampler) on the same rows, each with its own adapter (one per agent, M x N distinct adapters at most
``--adapters``), settings and seed, and exactly the same number of new tokens per row (EOS
banned). Ratio = (M generates of N rows) / (one generate of M x N rows), in wall-clock seconds.

    python bench/cross_match_batching.py [--matches 1 4 16] [--n 4 8] [--new-tokens 32]
        [--adapters 16] [--random-weights --config-size 360m --device cuda]

This measures the ceiling the cross-match rollout worker can reach; the worker itself (a row
budget, matches joining at the next batch) is issue #11's to build.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batched_inference import (  # noqa: E402 - the shared bench helpers, same folder
    CONFIG_SIZES,
    load_model,
    make_adapters,
    requests_for,
    setup_django,
    timed,
)


def rows_for(matches: int, n: int, refs, new_tokens: int):
    """``matches`` matches of ``n`` rows: each match one prompt, each row its own agent."""
    return [requests_for(n, refs, new_tokens, match=m) for m in range(matches)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--n", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--adapters", type=int, default=16, help="distinct adapters in play")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--config-size", choices=sorted(CONFIG_SIZES), default="135m")
    parser.add_argument("--tokenizer-dir")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args()

    setup_django(cache_size=args.adapters + 1)
    import torch

    from agents.inference.local.backend import generate_batch
    from agents.inference.local.cache import ensure_adapters

    torch.set_num_threads(args.threads)
    loaded, device, params = load_model(args)
    refs = make_adapters(loaded.path, args.adapters, args.rank, Path(tempfile.mkdtemp()))
    ensure_adapters(loaded, refs)
    generate_batch(loaded, rows_for(1, 2, refs, 2)[0], ignore_eos=True)  # warm-up

    results = []
    for n in args.n:
        for matches in args.matches:
            queued = rows_for(matches, n, refs, args.new_tokens)
            flat = [row for match in queued for row in match]
            together, s_together = timed(lambda f=flat: generate_batch(loaded, f, ignore_eos=True))
            apart, s_apart = timed(
                lambda q=queued: [
                    r for match in q for r in generate_batch(loaded, match, ignore_eos=True)
                ]
            )
            tokens = matches * n * args.new_tokens
            assert sum(r.completion_tokens for r in together) == tokens
            assert sum(r.completion_tokens for r in apart) == tokens
            results.append(
                {
                    "n": n,
                    "matches": matches,
                    "rows": matches * n,
                    "one_generate_s": round(s_together, 2),
                    "per_match_s": round(s_apart, 2),
                    "one_generate_tok_s": round(tokens / s_together, 1),
                    "per_match_tok_s": round(tokens / s_apart, 1),
                    "matches_per_min_one_generate": round(60 * matches / s_together, 1),
                    "matches_per_min_per_match": round(60 * matches / s_apart, 1),
                    "ratio": round(s_apart / s_together, 2),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    print(
        json.dumps(
            {
                "device": device,
                "threads": args.threads,
                "params": params,
                "new_tokens_per_row": args.new_tokens,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
