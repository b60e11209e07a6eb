"""Mixed-adapter LoRA batches with one gather and batched matmuls per layer, not peft's loop.

Why hand-written: peft's mixed-adapter batch (``adapter_names=[...]``) loops, in every LoRA
layer and at every decoding step, over the distinct adapters of the batch (index the rows, two
small matmuls, write back): with one adapter per row that is a few Python-level ops per row per
layer per step. vLLM's LoRA kernels (punica's shrink/expand) instead keep the loaded adapters'
A and B stacked per layer and index them by row inside one batched matmul; none of the
libraries installable here does that on the CPU, so this module does it with plain torch ops.

How: per LoRA ``Linear`` layer, ``A`` is stacked as ``[slots, in, r_max]`` and ``B`` as
``[slots, r_max, out]`` (ranks padded to the layer's largest with zeros, which add nothing;
peft's ``scaling`` folded into ``B``). Slot 0 is all zeros: rows on ``BASE_ADAPTER``, and
adapters that do not target this layer. The stacks are rebuilt only when the cache's set of
loaded adapters changes (``LoadedModel.adapters_version``). For one batched call, each layer's
stacks are gathered by row once (``[rows, in, r]``, ``[rows, r, out]``; the rows' adapters do
not change during a generate, so the gather is per call, not per step), and the layer computes
``base(x) + (x @ A_row) @ B_row`` with two ``torch.bmm`` over the whole batch. Dropout is off
at inference (peft's layers are in eval mode), as in peft's mixed batch.

Semantics follow peft 0.21's ``lora.Linear._mixed_batch_forward`` for vanilla LoRA: x is cast
to the adapter weights' dtype, the LoRA output to the base output's dtype before the add. A
model with anything else (DoRA or another variant, a LoRA bias, merged weights, LoRA on
embeddings or convolutions) is not stacked: ``per_row_adapters`` falls back to peft's loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from agents.inference.local import cache


@dataclass
class LayerStack:
    module: torch.nn.Module  # a peft lora.Linear
    a: torch.Tensor  # [slots, in, r_max]
    b: torch.Tensor  # [slots, r_max, out], scaling folded in


@dataclass
class Stacks:
    version: int  # the LoadedModel.adapters_version they were built from
    slots: dict[str, int]  # adapter name -> slot (0: no adapter)
    layers: list[LayerStack]


def stacks_for(loaded: cache.LoadedModel) -> Stacks | None:
    """The current stacks of ``loaded``'s adapters (rebuilt if the loaded set changed), or None
    when the model has no adapters or one this module does not handle (then: peft's loop)."""
    if loaded.peft is None:
        return None
    current = loaded.lora_stacks
    if current is None or current.version != loaded.adapters_version:
        current = _build(loaded)
        loaded.lora_stacks = current
    return current or None


def _build(loaded: cache.LoadedModel) -> Stacks | bool:
    """The stacks, or False (cached as "not stackable" for this version)."""
    from peft.tuners.lora import LoraLayer
    from peft.tuners.lora.layer import Linear as LoraLinear

    names = list(loaded.adapters)
    slots = {name: index + 1 for index, name in enumerate(names)}
    layers = []
    for module in loaded.base.modules():
        if not isinstance(module, LoraLayer):
            continue
        present = [name for name in names if name in module.lora_A]
        if not present:
            continue
        if type(module) is not LoraLinear or module.merged:
            return False
        if any(n in module.lora_variant or module.lora_B[n].bias is not None for n in present):
            return False
        a_weights = {name: module.lora_A[name].weight for name in present}  # [r, in]
        b_weights = {name: module.lora_B[name].weight for name in present}  # [out, r]
        first = a_weights[present[0]]
        rank = max(w.shape[0] for w in a_weights.values())
        fan_in, fan_out = first.shape[1], b_weights[present[0]].shape[0]
        a = torch.zeros(len(slots) + 1, fan_in, rank, dtype=first.dtype, device=first.device)
        b = torch.zeros(len(slots) + 1, rank, fan_out, dtype=first.dtype, device=first.device)
        with torch.no_grad():
            for name in present:
                r = a_weights[name].shape[0]
                a[slots[name], :, :r] = a_weights[name].T
                b[slots[name], :r, :] = b_weights[name].T * module.scaling[name]
        layers.append(LayerStack(module=module, a=a, b=b))
    return Stacks(version=loaded.adapters_version, slots=slots, layers=layers)


@contextmanager
def per_row_adapters(
    loaded: cache.LoadedModel, adapter_names: list[str], *, stacked: bool = True
) -> Iterator[tuple[torch.nn.Module, dict]]:
    """Within the block, the yielded ``(model, kwargs)`` runs row ``i`` of a batch of
    ``len(adapter_names)`` rows with adapter ``adapter_names[i]`` (``BASE_ADAPTER``: none):
    call ``model(..., **kwargs)`` or ``model.generate(..., **kwargs)``. Stacked matmuls when
    possible; peft's own mixed batch when ``stacked`` is False (benchmarks) or the adapters are
    not stackable. Hold ``cache.model_lock`` around it (the layers are patched meanwhile)."""
    stacks = stacks_for(loaded) if stacked else None
    if loaded.peft is None:
        yield loaded.base, {}
        return
    if stacks is None:
        yield loaded.peft, {"adapter_names": adapter_names}
        return
    if all(name == cache.BASE_ADAPTER for name in adapter_names):
        per_layer = [None] * len(stacks.layers)
    else:
        missing = {n for n in adapter_names if n != cache.BASE_ADAPTER} - set(stacks.slots)
        if missing:
            raise ValueError(f"adapters not loaded: {sorted(missing)}")
        index = torch.tensor(
            [stacks.slots.get(name, 0) for name in adapter_names], device=loaded.device
        )
        # The per-call gather: [rows, in, r] and [rows, r, out] per layer.
        per_layer = [(layer.a[index], layer.b[index]) for layer in stacks.layers]
    patched = []
    try:
        for layer, rows in zip(stacks.layers, per_layer, strict=True):
            module = layer.module
            # An instance attribute shadows the class's forward (nn.Module.__call__ reads
            # self.forward); whatever was there before (e.g. an accelerate hook) comes back after.
            patched.append((module, module.__dict__.get("forward")))
            module.forward = _stacked_forward(module.base_layer, rows)
        yield loaded.base, {}
    finally:
        for module, previous in patched:
            if previous is None:
                del module.forward
            else:
                module.forward = previous


def _stacked_forward(base_layer: torch.nn.Module, rows: tuple[torch.Tensor, torch.Tensor] | None):
    def forward(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        result = base_layer(x, *args, **kwargs)
        if rows is None:
            return result
        a, b = rows
        if x.shape[0] != a.shape[0]:
            raise ValueError(f"batch of {x.shape[0]} rows, adapters given for {a.shape[0]}")
        flat = x.reshape(x.shape[0], -1, x.shape[-1]).to(a.dtype)
        delta = torch.bmm(torch.bmm(flat, a), b)
        return result.add_(delta.view(result.shape).to(result.dtype))

    return forward
