"""In-process inference with transformers + peft: one batched generate per match.

All rows of a match go through ONE ``generate`` call, each row with its own LoRA adapter
(``stacked_lora``: the loaded adapters stacked per layer, one gather and batched matmuls per
layer; ``"__base__"`` for a row without adapter), its own sampling settings and seed
(``PerRowSampler``, vectorised across rows), left-padded prompts built with the chat template.
Rows on different base models (rare) get one generate per base model.

Each result also carries the sampled token ids and their raw model log-probabilities (see
``GenerationResult``), and ``recompute`` (``teacher_forced_logprobs``) reads them again for a
given completion in one forward pass: the two halves of a rollout audit (``agents.rollout_audit``).
"""

from __future__ import annotations

import time
from collections import defaultdict

from agents.inference.base import (
    AdapterRef,
    GenerationRequest,
    GenerationResult,
    InferenceBackend,
    InferenceError,
    ProgressCallback,
    Recomputed,
    RowProgress,
    stream_every,
)
from agents.inference.local import cache, stacked_lora
from agents.inference.local.sampling import PerRowSampler
from agents.inference.local.streaming import BatchProgressStreamer


class LocalBackend(InferenceBackend):
    name = "local"

    def generate(
        self, requests: list[GenerationRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[GenerationResult]:
        groups: dict[str, list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            groups[cache.resolve_base_path(request.base_model)].append(index)
        results: list[GenerationResult | None] = [None] * len(requests)
        # Rows of other base models (their own generate) report what they have so far: nothing
        # before their turn, their final text after it.
        latest = [RowProgress(text="", tokens=0) for _ in requests]
        for path, indexes in groups.items():
            group_progress = None
            if on_progress is not None:
                group_progress = _merged_progress(latest, indexes, on_progress)
            with cache.model_lock:
                batch = generate_batch(
                    cache.get_model(path),
                    [requests[i] for i in indexes],
                    on_progress=group_progress,
                )
            for index, result in zip(indexes, batch, strict=True):
                results[index] = result
        return results

    def recompute(
        self,
        *,
        messages: list[dict],
        token_ids: list[int],
        positions: list[int],
        adapter: AdapterRef | None = None,
        base_model: str | None = None,
    ) -> Recomputed:
        logprobs = teacher_forced_logprobs(
            messages=messages,
            token_ids=token_ids,
            positions=positions,
            adapter=adapter,
            base_model=base_model,
        )
        loaded = cache.get_model(base_model)
        return Recomputed(
            logprobs=logprobs,
            text=completion_text(loaded, token_ids),
            dtype=str(loaded.base.dtype).removeprefix("torch."),
        )


def _merged_progress(
    latest: list[RowProgress], indexes: list[int], on_progress: ProgressCallback
) -> ProgressCallback:
    """A group's progress, put in its rows' places among every row of the call."""

    def report(rows: list[RowProgress]) -> None:
        for index, row in zip(indexes, rows, strict=True):
            latest[index] = row
        on_progress(list(latest))

    return report


def _eos_ids(loaded: cache.LoadedModel) -> list[int]:
    eos = loaded.base.generation_config.eos_token_id
    if eos is None:
        eos = loaded.tokenizer.eos_token_id
    return list(eos) if isinstance(eos, list | tuple) else [eos]


def encode_prompts(loaded: cache.LoadedModel, conversations: list[list[dict]]):
    tokenizer = loaded.tokenizer
    texts = [
        tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        for messages in conversations
    ]
    # Left padding: every row's last prompt token sits at the same position, where decoding starts.
    encoded = tokenizer(
        texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
    )
    return encoded.to(loaded.device)


def generate_batch(
    loaded: cache.LoadedModel,
    requests: list[GenerationRequest],
    *,
    ignore_eos: bool = False,
    on_progress: ProgressCallback | None = None,
    every: int | None = None,
    stacked: bool = True,
    sampler_class: type = PerRowSampler,
) -> list[GenerationResult]:
    """One generate for all ``requests`` (same base model). ``ignore_eos`` (benchmarks) makes
    every row produce exactly its max_new_tokens. ``on_progress`` gets every row's text so far
    every ``every`` steps (default ``stream_every()``; ``streaming.BatchProgressStreamer``).
    ``stacked=False`` (peft's per-adapter loop) and ``sampler_class`` are for benchmarks that
    compare against the older paths."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    started = time.perf_counter()
    adapter_names = cache.ensure_adapters(loaded, [r.adapter for r in requests])
    encoded = encode_prompts(loaded, [r.messages for r in requests])
    attention = encoded["attention_mask"]
    prompt_length = encoded["input_ids"].shape[1]
    pad_lengths = (prompt_length - attention.sum(dim=1)).tolist()
    eos_ids = _eos_ids(loaded)
    sampler = sampler_class(
        settings=[r.settings for r in requests],
        seeds=[r.seed for r in requests],
        prompt_length=prompt_length,
        pad_lengths=pad_lengths,
        eos_token_id=eos_ids[0],
        eos_token_ids=eos_ids,
        ban_eos=ignore_eos,
    )
    config = GenerationConfig(
        do_sample=False,  # the sampler draws; generate only takes its (one-hot) choice
        max_new_tokens=max(r.settings.max_new_tokens for r in requests),
        eos_token_id=eos_ids,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    kwargs = {}
    if on_progress is not None:
        kwargs["streamer"] = BatchProgressStreamer(
            on_progress=on_progress,
            decode=lambda tokens: completion_text(loaded, tokens),
            eos_ids=eos_ids,
            limits=[r.settings.max_new_tokens for r in requests],
            every=every or stream_every(),
        )
    with (
        torch.inference_mode(),
        stacked_lora.per_row_adapters(loaded, adapter_names, stacked=stacked) as (model, extra),
    ):
        output = model.generate(
            **encoded,
            generation_config=config,
            logits_processor=LogitsProcessorList([sampler]),
            **kwargs,
            **extra,
        )
    latency_ms = int((time.perf_counter() - started) * 1000)
    step_logprobs = sampler.chosen_logprobs()
    results = []
    for row, request in enumerate(requests):
        generated = output[row, prompt_length:].tolist()
        stop_at = next((i for i, tok in enumerate(generated) if tok in eos_ids), None)
        tokens = generated if stop_at is None else generated[:stop_at]
        tokens = tokens[: request.settings.max_new_tokens]
        finish = sampler.finish_reason(row, stop_at)
        # The model's own EOS was sampled too (a forced one at the limit was not).
        sampled = tokens + [generated[stop_at]] if finish == "stop" else tokens
        results.append(
            GenerationResult(
                text=completion_text(loaded, tokens),
                prompt_tokens=int(attention[row].sum()),
                completion_tokens=len(tokens),
                finish_reason=finish,
                latency_ms=latency_ms,  # one generate serves the whole batch
                token_ids=sampled,
                token_logprobs=[stored_logprob(v) for v in step_logprobs[row][: len(sampled)]],
            )
        )
    return results


# Stored log-probabilities are rounded to 1e-6 nats: far below any audit tolerance (see
# agents.rollout_audit), and about half the digits of a float32's repr in the stored JSON.
LOGPROB_DECIMALS = 6


def stored_logprob(value: float) -> float:
    """``value`` as a rollout records it: rounded, and never -0.0 (PostgreSQL's jsonb gives
    -0.0 back as 0.0, which would change the commitment's canonical JSON)."""
    return round(value, LOGPROB_DECIMALS) + 0.0


def completion_text(loaded: cache.LoadedModel, token_ids: list[int]) -> str:
    """A completion's text as results carry it (special tokens such as EOS dropped, stripped)."""
    return loaded.tokenizer.decode(token_ids, skip_special_tokens=True).strip()


def teacher_forced_logprobs(
    *,
    messages: list[dict],
    token_ids: list[int],
    positions: list[int],
    adapter: AdapterRef | None = None,
    base_model: str | None = None,
) -> list[float]:
    """The raw log-probability of ``token_ids[p]`` for each ``p`` in ``positions``, given the
    prompt built from ``messages`` (the chat template generate uses) and the tokens before it,
    under ``base_model`` with ``adapter``: ONE forward pass over prompt + completion, one row,
    no padding. Only the asked positions go through the vocabulary projection."""
    import torch

    GenerationRequest(messages=messages)  # validates the messages
    loaded = cache.get_model(base_model)
    vocabulary = loaded.base.get_input_embeddings().num_embeddings
    if not token_ids or not all(
        isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocabulary for t in token_ids
    ):
        raise InferenceError(f"token_ids must be a non-empty list of ids in [0, {vocabulary})")
    if not positions or not all(isinstance(p, int) and 0 <= p < len(token_ids) for p in positions):
        raise InferenceError(f"positions must be a non-empty list of indexes < {len(token_ids)}")
    with cache.model_lock, torch.inference_mode():
        names = cache.ensure_adapters(loaded, [adapter])
        prompt = encode_prompts(loaded, [messages])["input_ids"]
        completion = torch.tensor([token_ids], dtype=prompt.dtype, device=prompt.device)
        input_ids = torch.cat([prompt, completion], dim=1)
        # The logits at index i predict token i + 1: token_ids[p] is predicted at prompt + p - 1.
        keep = torch.tensor([prompt.shape[1] + p - 1 for p in positions], device=prompt.device)
        with stacked_lora.per_row_adapters(loaded, names) as (model, kwargs):
            output = model(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                logits_to_keep=keep,
                **kwargs,
            )
        logprobs = torch.log_softmax(output.logits[0].float(), dim=-1)
        targets = torch.tensor([token_ids[p] for p in positions], device=logprobs.device)
        chosen = logprobs[torch.arange(len(positions), device=logprobs.device), targets]
    return chosen.cpu().tolist()


def label_probabilities(
    messages: list[dict], labels: list[str], *, base_model: str | None = None
) -> list[float]:
    """The base model's probability of each label as the assistant's next answer, renormalised
    over the labels (softmax of the next-token logits restricted to each label's first token)."""
    return label_probabilities_batch([messages], labels, base_model=base_model)[0]


def label_probabilities_batch(
    conversations: list[list[dict]], labels: list[str], *, base_model: str | None = None
) -> list[list[float]]:
    """``label_probabilities`` for several conversations in one forward pass (e.g. a pairwise
    judge asking both orders at once)."""
    import torch

    if len(labels) < 2:
        raise InferenceError("label_probabilities needs at least two labels")
    if not conversations:
        return []
    for messages in conversations:
        GenerationRequest(messages=messages)  # validates the messages
    loaded = cache.get_model(base_model)
    first_tokens = []
    for label in labels:
        ids = loaded.tokenizer.encode(label, add_special_tokens=False)
        if not ids:
            raise InferenceError(f"label {label!r} encodes to no token")
        first_tokens.append(ids[0])
    if len(set(first_tokens)) != len(first_tokens):
        raise InferenceError(f"labels {labels} share a first token; pick distinct labels")
    encoded = encode_prompts(loaded, conversations)
    with cache.model_lock, torch.inference_mode():
        # Adapters of other agents may be loaded into the shared model: the judge reads the base.
        names = [cache.BASE_ADAPTER] * len(conversations)
        # Left padding puts every row's last prompt token at position -1; only that position's
        # vocabulary logits are needed (logits_to_keep=1 skips the others, as generate does).
        with stacked_lora.per_row_adapters(loaded, names) as (model, kwargs):
            output = model(**encoded, **kwargs, logits_to_keep=1)
        logits = output.logits[:, -1].float()
    chosen = logits[:, torch.tensor(first_tokens, device=logits.device)]
    return torch.softmax(chosen, dim=-1).tolist()
