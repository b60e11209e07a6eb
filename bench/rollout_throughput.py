"""Rollout throughput for issue #11: cross-match batching, and the batched path against its ceiling.

(a) cross-match: the rows of 1, 4 and 16 queued matches of N = 4 and 8 agents, one generate per
    match vs one generate of all rows (matches per minute and tokens per second both ways).
(b) ceiling: at 8, 16 and 32 rows, the project's path (``generate_batch``: one distinct adapter
    per row, per-row settings and seeds, EOS banned) vs plain transformers ``generate`` of the
    same prompts on a copy of the base model without peft (greedy, same new tokens: the ceiling
    on this stack), with the older paths beside it to show what each change bought:
    ``peft_loop`` (peft's per-adapter loop in every LoRA layer) and ``old_sampler`` (the
    row-by-row sampler, kept below as ``RowByRowSampler``).

Every variant makes exactly the same number of tokens per row; tok/s = generated tokens /
wall-clock seconds; ratios are measured side by side in one run.

    python bench/rollout_throughput.py --threads 1 [--new-tokens 32] [--skip-cross-match]
        [--random-weights --config-size 360m --device cuda] [--json]
"""

from __future__ import annotations

import argparse
import copy
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
    run_header,
    setup_django,
    timed,
)
from cross_match_batching import rows_for  # noqa: E402

VARIANTS = {
    # name: (stacked LoRA, vectorised sampler)
    "project": (True, True),
    "peft_loop": (False, True),
    "old_sampler": (True, False),
    "old_path": (False, False),
}


def row_by_row_sampler_class():
    """The sampler before vectorisation (transformers' processors row by row, rows with the same
    settings grouped), for the "old_sampler" variants only."""
    import torch
    from transformers import LogitsProcessorList
    from transformers.generation.logits_process import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    from agents.inference.local.sampling import PerRowSampler

    def warpers_for(s):
        warpers = LogitsProcessorList()
        if s.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(float(s.temperature)))
        if s.top_k != 0:
            warpers.append(TopKLogitsWarper(int(s.top_k)))
        if s.top_p < 1.0:
            warpers.append(TopPLogitsWarper(float(s.top_p)))
        return warpers

    class RowByRowSampler(PerRowSampler):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.row_penalties = [
                RepetitionPenaltyLogitsProcessor(float(s.repetition_penalty))
                if s.repetition_penalty != 1.0
                else None
                for s in self.settings
            ]
            groups: dict[tuple, list[int]] = {}
            for row, s in enumerate(self.settings):
                if not s.greedy:
                    groups.setdefault((s.temperature, s.top_k, s.top_p), []).append(row)
            self.warper_groups = [
                (rows, warpers_for(self.settings[rows[0]])) for rows in groups.values()
            ]

        def __call__(self, input_ids, scores):
            step = input_ids.shape[1] - self.prompt_length
            self.last_step = max(self.last_step, step)
            raw_logprobs = torch.log_softmax(scores.float(), dim=-1)
            warped = self.warp(input_ids, scores)
            chosen = warped.argmax(dim=-1).tolist()
            drawing = []
            for row, s in enumerate(self.settings):
                if step >= s.max_new_tokens:
                    chosen[row] = self.eos_token_id
                elif not s.greedy:
                    drawing.append(row)
            if drawing:
                probs = torch.softmax(warped[drawing], dim=-1).cpu()
                for row, row_probs in zip(drawing, probs, strict=True):
                    chosen[row] = int(
                        torch.multinomial(row_probs, 1, generator=self.generators[row])
                    )
            out = torch.full_like(scores, float("-inf"), dtype=torch.float32)
            rows = torch.arange(scores.shape[0], device=scores.device)
            chosen_ids = torch.tensor(chosen, device=scores.device)
            out[rows, chosen_ids] = 0.0
            self.step_logprobs.append(raw_logprobs[rows, chosen_ids])
            return out

        def warp(self, input_ids, scores):
            scores = scores.float().clone()
            for row, penalty in enumerate(self.row_penalties):
                if penalty is not None:
                    seen = input_ids[row : row + 1, self.pad_lengths[row] :]
                    scores[row] = penalty(seen, scores[row : row + 1])[0]
            if self.ban_ids:
                scores[:, self.ban_ids] = float("-inf")
            for rows, warpers in self.warper_groups:
                index = torch.tensor(rows, device=scores.device)
                scores[index] = warpers(input_ids[index], scores[index])
            return scores

    return RowByRowSampler


def plain_generate(loaded, plain, encoded, new_tokens: int):
    """Plain transformers ``generate`` of already-encoded rows: no adapters, greedy, EOS banned
    (exactly ``new_tokens`` each, as on the project's side)."""
    import torch

    with torch.inference_mode():
        out = plain.generate(
            **encoded,
            do_sample=False,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=loaded.tokenizer.pad_token_id,
        )
    assert out.shape[1] - encoded["input_ids"].shape[1] == new_tokens
    return out


def cross_match(loaded, plain, refs, args, generate_batch, encode_prompts) -> list[dict]:
    """One generate of every queued match's rows against one generate per match, on the
    project's path; and the same two ways with plain ``generate``, which bounds what batching
    can buy on this machine (``plain_ratio``)."""
    results = []
    for n in args.n:
        for matches in args.matches:
            queued = rows_for(matches, n, refs, args.new_tokens)
            flat = [row for match in queued for row in match]
            encoded_flat = encode_prompts(loaded, [r.messages for r in flat])
            encoded_each = [encode_prompts(loaded, [r.messages for r in m]) for m in queued]
            ways = {
                "together": lambda f=flat: generate_batch(loaded, f, ignore_eos=True),
                "apart": lambda q=queued: [
                    r for match in q for r in generate_batch(loaded, match, ignore_eos=True)
                ],
                "plain_together": lambda e=encoded_flat: plain_generate(
                    loaded, plain, e, args.new_tokens
                ),
                "plain_apart": lambda es=encoded_each: [
                    plain_generate(loaded, plain, e, args.new_tokens) for e in es
                ],
            }
            tokens = matches * n * args.new_tokens
            best: dict[str, float] = {}
            # Interleaved, best of --repeats: a busy machine slows every way alike.
            for _ in range(args.repeats):
                for name, run in ways.items():
                    out, seconds = timed(run)
                    if name in ("together", "apart"):
                        assert sum(r.completion_tokens for r in out) == tokens
                    best[name] = min(best.get(name, seconds), seconds)
            s_together, s_apart = best["together"], best["apart"]
            p_together, p_apart = best["plain_together"], best["plain_apart"]
            results.append(
                {
                    "n": n,
                    "matches": matches,
                    "rows": matches * n,
                    "one_generate_tok_s": round(tokens / s_together, 1),
                    "per_match_tok_s": round(tokens / s_apart, 1),
                    "matches_per_min_one_generate": round(60 * matches / s_together, 1),
                    "matches_per_min_per_match": round(60 * matches / s_apart, 1),
                    "ratio": round(s_apart / s_together, 2),
                    "plain_one_generate_tok_s": round(tokens / p_together, 1),
                    "plain_per_match_tok_s": round(tokens / p_apart, 1),
                    "plain_ratio": round(p_apart / p_together, 2),
                }
            )
            if not args.json:
                print(json.dumps(results[-1]), flush=True)
    return results


def ceiling(loaded, plain, refs, args, generate_batch, encode_prompts) -> list[dict]:

    old_sampler = row_by_row_sampler_class()
    results = []
    for rows in args.rows:
        requests = requests_for(rows, refs, args.new_tokens)
        tokens = rows * args.new_tokens
        entry = {"rows": rows}
        encoded = encode_prompts(loaded, [r.messages for r in requests])
        best = {}
        # Repeats interleave the variants (best time kept): a busy machine slows them alike.
        for _ in range(args.repeats):
            for name in args.variants:
                stacked, vectorised = VARIANTS[name]
                sampler_class = {} if vectorised else {"sampler_class": old_sampler}
                out, seconds = timed(
                    lambda r=requests, s=stacked, c=sampler_class: generate_batch(
                        loaded, r, ignore_eos=True, stacked=s, **c
                    )
                )
                assert sum(r.completion_tokens for r in out) == tokens
                best[name] = min(best.get(name, seconds), seconds)
            _, seconds = timed(lambda e=encoded: plain_generate(loaded, plain, e, args.new_tokens))
            best["plain"] = min(best.get("plain", seconds), seconds)
        for name, seconds in best.items():
            entry[f"{name}_tok_s"] = round(tokens / seconds, 1)
        for name in args.variants:
            entry[f"{name}_vs_plain"] = round(entry[f"{name}_tok_s"] / entry["plain_tok_s"], 3)
        results.append(entry)
        if not args.json:
            print(json.dumps(entry), flush=True)
    return results


def profile(loaded, refs, args, generate_batch) -> None:
    """Where one generate's time goes: torch's profiler around the largest cross-match batch,
    the top operators by their own CPU time (printed to stderr)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    queued = rows_for(max(args.matches), max(args.n), refs, args.new_tokens)
    flat = [row for match in queued for row in match]
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        generate_batch(loaded, flat, ignore_eos=True)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)
    print(f"profile of one generate of {len(flat)} rows:\n{table}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--n", type=int, nargs="+", default=[4, 8], help="agents per match")
    parser.add_argument("--rows", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each way (best kept)")
    parser.add_argument("--adapters", type=int, default=32, help="distinct adapters in play")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-cross-match", action="store_true")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="profile the largest batch (stderr) and stop"
    )
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--config-size", choices=sorted(CONFIG_SIZES), default="135m")
    parser.add_argument("--tokenizer-dir")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    args = parser.parse_args()

    setup_django(cache_size=args.adapters + 1)
    import torch

    from agents.inference.local.backend import encode_prompts, generate_batch
    from agents.inference.local.cache import ensure_adapters

    torch.set_num_threads(args.threads)
    loaded, device, params = load_model(args)
    plain = copy.deepcopy(loaded.base)  # before peft wraps the base's layers: no LoRA at all
    refs = make_adapters(loaded.path, args.adapters, args.rank, Path(tempfile.mkdtemp()))
    ensure_adapters(loaded, refs)  # loading adapters is not what we measure
    warm = requests_for(2, refs, 2)
    generate_batch(loaded, warm, ignore_eos=True)  # warm-up (also builds the stacks)
    generate_batch(loaded, warm, ignore_eos=True, stacked=False)
    report = run_header(args, loaded, device, params)
    if args.profile:
        profile(loaded, refs, args, generate_batch)
        return
    if not args.json:
        print(json.dumps(report), flush=True)
    if not args.skip_ceiling:
        report["ceiling"] = ceiling(loaded, plain, refs, args, generate_batch, encode_prompts)
    if not args.skip_cross_match:
        report["cross_match"] = cross_match(
            loaded, plain, refs, args, generate_batch, encode_prompts
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
