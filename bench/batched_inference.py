"""Benchmark: one batched mixed-adapter generate for N agents vs N one-agent generates.

Both sides run the local backend's own code path (``generate_batch``: chat template, left
padding, stacked-LoRA mixed-adapter batch, per-row sampler), with the same prompts, the same
adapters, the same settings, and exactly the same number of new tokens per row (EOS is banned, so
no row stops early). Throughput = generated tokens / wall-clock seconds; ratio = batched /
sequential.

    python bench/batched_inference.py                      # default model, CPU
    python bench/batched_inference.py --new-tokens 16 --n 2 4
    python bench/batched_inference.py --random-weights --config-size 1.7b --device cuda

``--random-weights`` builds the model from a config with random weights (throughput does not
depend on the weights' values), for machines that have the tokenizer but not the model files;
``--tokenizer-dir`` points at a directory with the default tokenizer (and its config.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Llama-style shapes of the SmolLM2 family and a 7B, for random-weight runs.
CONFIG_SIZES = {
    "135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
    ),
    "360m": dict(
        hidden_size=960,
        intermediate_size=2560,
        num_hidden_layers=32,
        num_attention_heads=15,
        num_key_value_heads=5,
    ),
    "1.7b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=24,
        num_attention_heads=32,
        num_key_value_heads=32,
    ),
    "7b": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
    ),
}

PROMPTS = [
    "Write a tweet about the sea.",
    "What is 17 times 23? Explain briefly.",
    "Give me a haiku about autumn leaves.",
    "Describe a cat in two sentences.",
    "Name three uses of a paperclip.",
    "Explain gravity to a child.",
    "Write a slogan for a bakery.",
    "What makes a good debate argument?",
]


def setup_django(cache_size: int) -> None:
    """The project's settings (importing them starts nothing), with the adapter cache sized for
    the run and media in a scratch folder."""
    os.environ["ARENA_ADAPTER_CACHE_SIZE"] = str(cache_size)
    os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()


def run_header(args, loaded, device: str, params: int) -> dict:
    """What a rollout bench ran on: device, model, size, dtype, tokens per row, LoRA rank."""
    import torch

    from agents.model_store import DEFAULT_MODEL_NAME

    return {
        "device": torch.cuda.get_device_name(0)
        if device == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "model": f"random {args.config_size}" if args.random_weights else DEFAULT_MODEL_NAME,
        "params": params,
        "dtype": str(next(loaded.base.parameters()).dtype).removeprefix("torch."),
        "new_tokens_per_row": args.new_tokens,
        "lora_rank": args.rank,
    }


def load_model(args):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from agents.inference.local.cache import LoadedModel
    from agents.model_store import default_model_dir, offline

    offline()
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        args.dtype or ("bfloat16" if device == "cuda" else "float32")
    ]
    source = Path(args.tokenizer_dir) if args.tokenizer_dir else default_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model_dir = Path(tempfile.mkdtemp(prefix="bench-model-"))
    if args.random_weights:
        config = AutoConfig.from_pretrained(source)
        for key, value in CONFIG_SIZES[args.config_size].items():
            setattr(config, key, value)
        config.head_dim = config.hidden_size // config.num_attention_heads
        config.vocab_size = max(config.vocab_size, len(tokenizer))
        torch.manual_seed(0)
        with torch.device(device):  # initialise on the device: minutes saved for big configs
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        config.save_pretrained(model_dir)  # adapters are built from the config's shapes
    else:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)
        AutoConfig.from_pretrained(source).save_pretrained(model_dir)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    return LoadedModel(path=str(model_dir), tokenizer=tokenizer, base=model), device, params


def make_adapters(model_dir: str, count: int, rank: int, out: Path):
    """``count`` distinct LoRA adapters with non-zero B (a fresh adapter is a no-op)."""
    import torch
    from safetensors.torch import load_file, save_file

    from agents.adapters import init_adapter
    from agents.inference import AdapterRef
    from agents.inference.base import ADAPTER_WEIGHTS, file_sha256

    refs = []
    for i in range(count):
        directory = out / f"adapter-{i}"
        init_adapter(
            base_model_path=model_dir,
            rank=rank,
            alpha=2 * rank,
            dropout=0.0,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            seed=i,
            out_dir=directory,
        )
        tensors = load_file(str(directory / ADAPTER_WEIGHTS))
        generator = torch.Generator().manual_seed(1000 + i)
        for key, value in tensors.items():
            if "lora_B" in key:
                tensors[key] = torch.randn(value.shape, generator=generator) * 0.01
        save_file(tensors, str(directory / ADAPTER_WEIGHTS))
        refs.append(
            AdapterRef(path=str(directory), sha256=file_sha256(directory / ADAPTER_WEIGHTS))
        )
    return refs


def requests_for(n: int, refs, new_tokens: int, *, match: int | None = None):
    """``n`` rows with mixed settings, as in a real match: greedy and sampled rows side by side.
    Without ``match``, one prompt per row; with it, the rows of match number ``match``: one
    prompt for all, their own adapters and seeds (``cross_match_batching.py``)."""
    from agents.inference import GenerationRequest, GenerationSettings

    rows = []
    for i in range(n):
        settings = GenerationSettings(
            temperature=0.0 if i % 2 == 0 else 0.8,
            top_p=0.95,
            top_k=50,
            max_new_tokens=new_tokens,
            repetition_penalty=1.1,
        )
        prompt = PROMPTS[(i if match is None else match) % len(PROMPTS)]
        row = i if match is None else match * n + i
        rows.append(
            GenerationRequest(
                messages=[{"role": "user", "content": prompt}],
                adapter=refs[row % len(refs)],
                settings=settings,
                seed=i if match is None else 1000 * match + i,
            )
        )
    return rows


def timed(fn):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    results = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2, 4, 8], help="agents per match")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per row")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per side (best kept)")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank of the adapters")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--config-size", choices=sorted(CONFIG_SIZES), default="135m")
    parser.add_argument(
        "--tokenizer-dir",
        help="tokenizer (+config.json) dir; default: the provisioned default model",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    args = parser.parse_args()

    setup_django(cache_size=max(args.n) + 1)

    from agents.inference.local.backend import generate_batch
    from agents.inference.local.cache import ensure_adapters

    loaded, device, params = load_model(args)
    refs = make_adapters(loaded.path, max(args.n), args.rank, Path(tempfile.mkdtemp()))
    ensure_adapters(loaded, refs)  # loading adapters is not what we measure
    generate_batch(loaded, requests_for(2, refs, 2), ignore_eos=True)  # warm-up

    rows = []
    for n in args.n:
        requests = requests_for(n, refs, args.new_tokens)
        best_batched = best_sequential = float("inf")
        for _ in range(args.repeats):
            batched, seconds = timed(lambda r=requests: generate_batch(loaded, r, ignore_eos=True))
            best_batched = min(best_batched, seconds)
            sequential, seconds = timed(
                lambda r=requests: [generate_batch(loaded, [x], ignore_eos=True)[0] for x in r]
            )
            best_sequential = min(best_sequential, seconds)
        tokens_b = sum(r.completion_tokens for r in batched)
        tokens_s = sum(r.completion_tokens for r in sequential)
        assert tokens_b == tokens_s == n * args.new_tokens, (tokens_b, tokens_s)
        rows.append(
            {
                "n": n,
                "tokens": tokens_b,
                "batched_s": round(best_batched, 3),
                "sequential_s": round(best_sequential, 3),
                "batched_tok_s": round(tokens_b / best_batched, 1),
                "sequential_tok_s": round(tokens_s / best_sequential, 1),
                "ratio": round(best_sequential / best_batched, 2),
            }
        )
    report = {**run_header(args, loaded, device, params), "results": rows}
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{report['model']} ({params / 1e6:.0f}M params, {report['dtype']}) on {report['device']}, "
        f"{args.new_tokens} new tokens per row, LoRA rank {args.rank}, one adapter per row"
    )
    print(f"{'N':>3} {'tokens':>7} {'batched tok/s':>14} {'N x 1 tok/s':>12} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['n']:>3} {row['tokens']:>7} {row['batched_tok_s']:>14} "
            f"{row['sequential_tok_s']:>12} {row['ratio']:>5}x"
        )


if __name__ == "__main__":
    main()
