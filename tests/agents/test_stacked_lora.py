"""Stacked LoRA (``agents.inference.local.stacked_lora``) against peft's own mixed batch."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from agents.inference import GenerationRequest, GenerationSettings
from agents.inference.local import cache, stacked_lora
from agents.inference.local.backend import generate_batch
from agents.services import adapter_version_create, agent_create
from tests.agents.conftest import perturb_adapter

# Three adapters of different ranks, scalings (one rsLoRA) and target modules: "c" leaves
# k_proj/v_proj/o_proj alone, so those layers give it the zero slot.
ADAPTERS = {
    "a": LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]),
    "b": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
    "c": LoraConfig(r=8, lora_alpha=8, use_rslora=True, target_modules=["q_proj", "down_proj"]),
}
ROWS = ["a", cache.BASE_ADAPTER, "c", "b", "a", cache.BASE_ADAPTER]


def _tiny_model_with_adapters() -> cache.LoadedModel:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    base = LlamaForCausalLM(config).eval()
    names = list(ADAPTERS)
    peft_model = get_peft_model(base, ADAPTERS[names[0]], adapter_name=names[0])
    for name in names[1:]:
        peft_model.add_adapter(name, ADAPTERS[name])
    with torch.no_grad():  # a fresh adapter's B is zero: give every adapter a real effect
        for parameter_name, parameter in peft_model.named_parameters():
            if "lora_B" in parameter_name:
                parameter.normal_(0, 0.5)
    peft_model.eval()
    return cache.LoadedModel(
        path="tiny",
        tokenizer=None,
        base=base,
        peft=peft_model,
        adapters=OrderedDict((name, name) for name in names),
    )


def _batch(rows: int):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 96, (rows, 7), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0  # left padding in one row
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _logits(loaded, names, *, stacked):
    with (
        torch.inference_mode(),
        stacked_lora.per_row_adapters(loaded, names, stacked=stacked) as (model, kwargs),
    ):
        return model(**_batch(len(names)), **kwargs).logits


def test_stacked_logits_equal_peft_mixed_batch_for_adapters_of_different_ranks():
    loaded = _tiny_model_with_adapters()
    assert stacked_lora.stacks_for(loaded) is not None  # the stacked path does run
    expected = _logits(loaded, ROWS, stacked=False)  # peft's loop over the adapters
    stacked = _logits(loaded, ROWS, stacked=True)
    torch.testing.assert_close(stacked, expected, rtol=1e-5, atol=1e-5)
    # Every adapter changes its rows (so the comparison is not base against base).
    bare = _logits(loaded, [cache.BASE_ADAPTER] * len(ROWS), stacked=True)
    for row, name in enumerate(ROWS):
        differs = not torch.allclose(stacked[row], bare[row], atol=1e-3)
        assert differs == (name != cache.BASE_ADAPTER), (row, name)
    # After the block the layers are peft's again: peft's own path gives the same as before.
    torch.testing.assert_close(_logits(loaded, ROWS, stacked=False), expected, rtol=0, atol=0)


def test_stacks_follow_the_loaded_adapters():
    loaded = _tiny_model_with_adapters()
    first = stacked_lora.stacks_for(loaded)
    assert stacked_lora.stacks_for(loaded) is first  # unchanged set: no rebuild
    # Evict "b" as the cache does (peft deletes it, the version moves on).
    loaded.peft.delete_adapter("b")
    del loaded.adapters["b"]
    loaded.adapters_version += 1
    rows = ["c", "a", cache.BASE_ADAPTER]
    assert stacked_lora.stacks_for(loaded) is not first
    torch.testing.assert_close(
        _logits(loaded, rows, stacked=True),
        _logits(loaded, rows, stacked=False),
        rtol=1e-5,
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="not loaded"):
        _logits(loaded, ["b"], stacked=True)


QUESTION = [{"role": "user", "content": "Name a colour of the sky."}]


def _trained_ref(owner, name, seed, tmp_path):
    agent = agent_create(owner=owner, name=name, seed=seed, target_modules=["q_proj", "v_proj"])
    out = perturb_adapter(agent.current_adapter.directory, tmp_path / name, seed=seed, scale=0.3)
    adapter_version_create(agent=agent, source_dir=out, created_by="test")
    agent.refresh_from_db()
    return agent.adapter_ref()


@pytest.mark.model
def test_a_rows_tokens_do_not_depend_on_its_neighbours(alice, bob, default_base, tmp_path):
    one = _trained_ref(alice, "n1", 1, tmp_path)
    two = _trained_ref(bob, "n2", 2, tmp_path)
    three = _trained_ref(alice, "n3", 3, tmp_path)
    sampled = GenerationSettings(
        temperature=0.9, top_k=40, top_p=0.9, repetition_penalty=1.2, max_new_tokens=16
    )
    row = GenerationRequest(messages=QUESTION, adapter=two, settings=sampled, seed=42)
    other = [{"role": "user", "content": "Write a long sentence about trains and boats."}]
    greedy = GenerationSettings(temperature=0.0, max_new_tokens=10)
    neighbours = [
        [],
        [GenerationRequest(messages=other, adapter=one, settings=greedy)],
        [
            GenerationRequest(messages=other, settings=sampled, seed=7),
            GenerationRequest(messages=QUESTION, adapter=three, settings=sampled, seed=42),
            GenerationRequest(messages=other, adapter=one, settings=sampled, seed=42),
        ],
    ]
    loaded = cache.get_model(None)
    with cache.model_lock:
        results = [
            generate_batch(loaded, [*before, row, *before[:1]])[len(before)]
            for before in neighbours
        ]
        assert stacked_lora.stacks_for(loaded) is not None  # the stacked path served them
    assert results[0].token_ids, "the row generated nothing"
    for result in results[1:]:
        assert result.token_ids == results[0].token_ids
        assert result.token_logprobs == pytest.approx(results[0].token_logprobs, abs=1e-4)
