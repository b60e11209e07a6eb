"""Process-wide model cache for the local backend.

A worker process loads each base model once (keyed by its directory) and keeps it for its life;
the adapters of the agents it serves are loaded into ONE PeftModel wrapping that base, each under
its own name, so a batch can mix them (``stacked_lora``: the loaded adapters stacked per layer,
rebuilt when ``adapters_version`` moves). Adapters live in a bounded LRU
(``ARENA_ADAPTER_CACHE_SIZE``): loading one more evicts the least recently used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from agents.inference.base import ADAPTER_WEIGHTS, AdapterRef, InferenceError, file_sha256
from agents.model_store import default_model_dir, offline

BASE_ADAPTER = "__base__"  # peft's name for "no adapter" in a mixed batch (stacked_lora's too)
# One lock per process around loading, adapter eviction and generate: a thread must not evict an
# adapter another thread's batch is using. Inference is compute-bound, so serialising costs little.
model_lock = threading.RLock()
_lock = model_lock
_loaded: dict[str, LoadedModel] = {}


@dataclass
class LoadedModel:
    path: str
    tokenizer: object
    base: object  # the transformers model
    peft: object | None = None  # PeftModel wrapping ``base``, once an adapter is loaded
    adapters: OrderedDict = field(default_factory=OrderedDict)  # name -> sha256, LRU order
    loads: int = 0  # adapters loaded from disk (tests read it to see the cache work)
    # Bumped whenever an adapter is loaded or evicted: ``stacked_lora`` rebuilds its per-layer
    # stacks of the loaded adapters only when this changed since it built them.
    adapters_version: int = 0
    lora_stacks: object = None  # stacked_lora.Stacks (or False: not stackable) for a version

    @property
    def model(self):
        return self.peft if self.peft is not None else self.base

    @property
    def device(self):
        return next(self.base.parameters()).device


def device_and_dtype():
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


def resolve_base_path(path: str | None) -> str:
    if path:
        return str(Path(path).resolve())
    return str(default_model_dir().resolve())


def get_model(path: str | None = None) -> LoadedModel:
    key = resolve_base_path(path)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        offline()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device, dtype = device_and_dtype()
        tokenizer = AutoTokenizer.from_pretrained(key)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        with _outside_inference_mode():
            base = AutoModelForCausalLM.from_pretrained(key, dtype=dtype).to(device)
        base.eval()
        _loaded[key] = LoadedModel(path=key, tokenizer=tokenizer, base=base)
        return _loaded[key]


def ensure_adapters(loaded: LoadedModel, refs: list[AdapterRef | None]) -> list[str]:
    """Load the adapters a batch needs (verifying each file's sha256) and return the per-row
    adapter names for ``generate(adapter_names=...)``."""
    wanted = {ref.name: ref for ref in refs if ref is not None}
    capacity = settings.ARENA_ADAPTER_CACHE_SIZE
    if len(wanted) > capacity:
        raise InferenceError(
            f"a batch needs {len(wanted)} adapters but ARENA_ADAPTER_CACHE_SIZE is {capacity}"
        )
    with _lock, _outside_inference_mode():
        try:
            for name, ref in wanted.items():
                if name in loaded.adapters:
                    loaded.adapters.move_to_end(name)
                    continue
                _check_files(ref)
                _load_adapter(loaded, ref)
                _evict_beyond(loaded, capacity, keep=wanted)
            # Also when nothing new was loaded: the capacity may have been lowered since.
            _evict_beyond(loaded, capacity, keep=wanted)
        except InferenceError:
            raise
        except Exception as exc:
            # peft failed half way through adding or deleting an adapter: its layers and its
            # config may no longer agree (a soak saw every later batch of the process fail on
            # the name of an adapter half deleted). Forget the whole model, so that the next
            # batch loads a clean one, rather than serve from a wrapper in an unknown state.
            _forget(loaded)
            raise InferenceError(f"could not load or evict an adapter: {exc!r}") from exc
    return [ref.name if ref is not None else BASE_ADAPTER for ref in refs]


def _outside_inference_mode():
    """Adapters and base weights are made and swapped with inference mode off, wherever the
    caller stands: tensors made inside ``torch.inference_mode()`` are inference tensors, and
    peft's later add or delete of another adapter sets ``requires_grad`` on every adapter's
    weights, which torch refuses for an inference tensor outside inference mode. An adapter
    first loaded by the audit's one forward pass (inside inference mode) then broke the next
    batch that loaded or evicted one."""
    import torch

    return torch.inference_mode(False)


def _forget(loaded: LoadedModel) -> None:
    if _loaded.get(loaded.path) is loaded:
        del _loaded[loaded.path]


def _evict_beyond(loaded: LoadedModel, capacity: int, *, keep: dict) -> None:
    """Unload the least recently used adapters not in ``keep`` until at most ``capacity`` stay."""
    while len(loaded.adapters) > capacity:
        victim = next(n for n in loaded.adapters if n not in keep)
        loaded.peft.delete_adapter(victim)
        del loaded.adapters[victim]
        loaded.adapters_version += 1


def _check_files(ref: AdapterRef) -> None:
    """Refuse an adapter whose files are missing or whose weights are not the ones recorded,
    before peft sees it."""
    directory = Path(ref.path)
    weights = directory / ADAPTER_WEIGHTS
    if not weights.is_file() or not (directory / "adapter_config.json").is_file():
        raise InferenceError(f"adapter {ref.sha256[:12]}: no peft adapter files in {directory}")
    actual = file_sha256(weights)
    if actual != ref.sha256:
        # The stored hash is the adapter's identity (and what proofs commit to): never serve
        # weights that are not the ones recorded.
        raise InferenceError(
            f"adapter file {weights} has sha256 {actual[:12]}, expected {ref.sha256[:12]}"
        )


def _load_adapter(loaded: LoadedModel, ref: AdapterRef) -> None:
    from peft import PeftModel

    directory = Path(ref.path)
    if loaded.peft is None:
        loaded.peft = PeftModel.from_pretrained(
            loaded.base, str(directory), adapter_name=ref.name, is_trainable=False
        )
        loaded.peft.eval()
    else:
        loaded.peft.load_adapter(str(directory), adapter_name=ref.name, is_trainable=False)
    loaded.adapters[ref.name] = ref.sha256
    loaded.loads += 1
    loaded.adapters_version += 1


def clear() -> None:
    """Forget every loaded model (tests; a worker never needs it)."""
    with _lock:
        _loaded.clear()
