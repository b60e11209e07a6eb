"""In-process inference with transformers + peft: one batched generate per match.

All rows of a match go through ONE ``generate`` call, each row with its own LoRA adapter (peft
mixed-adapter batches: ``adapter_names=[...]``, ``"__base__"`` for a row without adapter), its own
sampling settings and seed (``PerRowSampler``), left-padded prompts built with the chat template.
Rows on different base models (rare) get one generate per base model.
"""

from __future__ import annotations

import time
from collections import defaultdict

from agents.inference.base import (
    GenerationRequest,
    GenerationResult,
    InferenceBackend,
    InferenceError,
)
from agents.inference.local import cache
from agents.inference.local.sampling import PerRowSampler


class LocalBackend(InferenceBackend):
    name = "local"

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        groups: dict[str, list[int]] = defaultdict(list)
        for index, request in enumerate(requests):
            groups[cache.resolve_base_path(request.base_model)].append(index)
        results: list[GenerationResult | None] = [None] * len(requests)
        for path, indexes in groups.items():
            with cache.model_lock:
                batch = generate_batch(cache.get_model(path), [requests[i] for i in indexes])
            for index, result in zip(indexes, batch, strict=True):
                results[index] = result
        return results


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
    loaded: cache.LoadedModel, requests: list[GenerationRequest], *, ignore_eos: bool = False
) -> list[GenerationResult]:
    """One generate for all ``requests`` (same base model). ``ignore_eos`` (benchmarks) makes
    every row produce exactly its max_new_tokens."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    started = time.perf_counter()
    adapter_names = cache.ensure_adapters(loaded, [r.adapter for r in requests])
    encoded = encode_prompts(loaded, [r.messages for r in requests])
    attention = encoded["attention_mask"]
    prompt_length = encoded["input_ids"].shape[1]
    pad_lengths = (prompt_length - attention.sum(dim=1)).tolist()
    eos_ids = _eos_ids(loaded)
    sampler = PerRowSampler(
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
    if loaded.peft is not None:
        kwargs["adapter_names"] = adapter_names
    with torch.inference_mode():
        output = loaded.model.generate(
            **encoded,
            generation_config=config,
            logits_processor=LogitsProcessorList([sampler]),
            **kwargs,
        )
    latency_ms = int((time.perf_counter() - started) * 1000)
    results = []
    for row, request in enumerate(requests):
        generated = output[row, prompt_length:].tolist()
        stop_at = next((i for i, tok in enumerate(generated) if tok in eos_ids), None)
        tokens = generated if stop_at is None else generated[:stop_at]
        tokens = tokens[: request.settings.max_new_tokens]
        finish = sampler.finish_reason(row, stop_at)
        results.append(
            GenerationResult(
                text=loaded.tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                prompt_tokens=int(attention[row].sum()),
                completion_tokens=len(tokens),
                finish_reason=finish,
                latency_ms=latency_ms,  # one generate serves the whole batch
            )
        )
    return results


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
        kwargs = {"adapter_names": names} if loaded.peft is not None else {}
        # Left padding puts every row's last prompt token at position -1; only that position's
        # vocabulary logits are needed (logits_to_keep=1 skips the others, as generate does).
        output = loaded.model(**encoded, **kwargs, logits_to_keep=1)
        logits = output.logits[:, -1].float()
    chosen = logits[:, torch.tensor(first_tokens, device=logits.device)]
    return torch.softmax(chosen, dim=-1).tolist()
