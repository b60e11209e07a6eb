"""The local backend on the real default model (slow: marked ``model``; the model loads once
per test session, in the backend's process-wide cache)."""

from __future__ import annotations

import pytest

from agents.inference import GenerationRequest, GenerationSettings, get_backend
from agents.inference.local import cache, label_probabilities, label_probabilities_batch
from agents.services import adapter_version_create, agent_create
from tests.agents.conftest import perturb_adapter

pytestmark = pytest.mark.model

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=12)
QUESTION = [{"role": "user", "content": "Name a colour of the sky."}]


def _trained_agent(owner, name, seed, tmp_path):
    """An agent whose adapter really changes the output (random B, unlike a fresh adapter)."""
    agent = agent_create(owner=owner, name=name, seed=seed, target_modules=["q_proj", "v_proj"])
    out = perturb_adapter(agent.current_adapter.directory, tmp_path / name, seed=seed, scale=0.3)
    adapter_version_create(agent=agent, source_dir=out, created_by="test")
    agent.refresh_from_db()
    return agent


def test_it_generates_text_with_the_default_model(default_base):
    result = get_backend("local").generate([GenerationRequest(messages=QUESTION, settings=GREEDY)])[
        0
    ]
    assert result.text.strip()
    assert 0 < result.completion_tokens <= 12
    assert result.prompt_tokens > 5
    assert result.finish_reason in ("stop", "length")
    assert result.latency_ms > 0


def test_it_runs_mixed_adapters_in_one_batch_like_one_at_a_time(
    alice, bob, default_base, tmp_path, monkeypatch
):
    one = _trained_agent(alice, "one", 1, tmp_path)
    two = _trained_agent(bob, "two", 2, tmp_path)
    rows = [
        GenerationRequest(messages=QUESTION, adapter=one.adapter_ref(), settings=GREEDY),
        GenerationRequest(
            messages=[{"role": "user", "content": "Write one word."}], settings=GREEDY
        ),
        GenerationRequest(messages=QUESTION, adapter=two.adapter_ref(), settings=GREEDY),
    ]
    backend = get_backend("local")
    alone = [backend.generate([row])[0] for row in rows]
    # Count the transformers model's generate calls (a spy around the real method, which still
    # runs; peft's generate, when used, ends there too).
    loaded = cache.get_model(None)
    real_generate, calls = loaded.base.generate, []

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(loaded.base, "generate", counting_generate)
    batched = backend.generate(rows)
    assert calls == [3], "all rows must go through one generate"
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]
    # The adapters matter: the same prompt gives different answers under the two adapters.
    assert batched[0].text != batched[2].text
    base = backend.generate([GenerationRequest(messages=QUESTION, settings=GREEDY)])[0]
    assert base.text not in (batched[0].text, batched[2].text)


def test_it_gives_each_row_its_own_token_limit_and_seed(default_base):
    sampled = GenerationSettings(temperature=1.0, top_p=0.9, top_k=50, max_new_tokens=20)
    long_row = GenerationRequest(messages=QUESTION, settings=sampled, seed=11)
    rows = [
        GenerationRequest(
            messages=QUESTION, settings=GenerationSettings(temperature=0.0, max_new_tokens=3)
        ),
        long_row,
        GenerationRequest(messages=QUESTION, settings=sampled, seed=12),
    ]
    backend = get_backend("local")
    results = backend.generate(rows)
    assert results[0].completion_tokens == 3 and results[0].finish_reason == "length"
    assert results[1].completion_tokens <= 20
    # A row's sample depends on its own seed, not on its neighbours in the batch.
    assert backend.generate([long_row])[0].text == results[1].text


def test_it_keeps_adapters_in_a_bounded_cache(alice, default_base, tmp_path, settings):
    settings.ARENA_ADAPTER_CACHE_SIZE = 1
    one = _trained_agent(alice, "c1", 3, tmp_path)
    two = _trained_agent(alice, "c2", 4, tmp_path)
    backend = get_backend("local")
    loaded = cache.get_model(None)
    tiny = GenerationSettings(temperature=0.0, max_new_tokens=2)
    backend.generate(
        [GenerationRequest(messages=QUESTION, adapter=one.adapter_ref(), settings=tiny)]
    )
    backend.generate(
        [GenerationRequest(messages=QUESTION, adapter=two.adapter_ref(), settings=tiny)]
    )
    assert list(loaded.adapters) == [two.adapter_ref().name]
    loads = loaded.loads
    backend.generate(
        [GenerationRequest(messages=QUESTION, adapter=two.adapter_ref(), settings=tiny)]
    )
    assert loaded.loads == loads


def test_it_refuses_an_adapter_whose_file_does_not_match_its_hash(alice, default_base):
    from agents.inference import AdapterRef, InferenceError

    agent = agent_create(owner=alice, name="tampered", seed=9)
    ref = AdapterRef(path=agent.adapter_ref().path, sha256="0" * 64)
    with pytest.raises(InferenceError, match="sha256"):
        get_backend("local").generate([GenerationRequest(messages=QUESTION, adapter=ref)])


def test_it_reads_label_probabilities_from_the_base_model(alice, default_base, model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.inference import InferenceError

    # Load an adapter into the shared model first: the judge must still read the bare base.
    agent = agent_create(owner=alice, name="judge-check", seed=5)
    get_backend("local").generate(
        [
            GenerationRequest(
                messages=QUESTION,
                adapter=agent.adapter_ref(),
                settings=GenerationSettings(temperature=0.0, max_new_tokens=1),
            )
        ]
    )
    messages = [
        {
            "role": "user",
            "content": "Which one is a fruit? A: apple. B: hammer. "
            "Answer with the letter A or B only.",
        }
    ]
    probs = label_probabilities(messages, ["A", "B"])
    assert len(probs) == 2 and abs(sum(probs) - 1.0) < 1e-5

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    plain = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        logits = plain(**ids).logits[0, -1]
    label_ids = [tokenizer.encode(label, add_special_tokens=False)[0] for label in ["A", "B"]]
    expected = torch.softmax(logits[label_ids], dim=-1).tolist()
    assert probs == pytest.approx(expected, abs=1e-4)
    assert probs[0] > probs[1]  # A (apple) is the fruit

    # Batched (both orders at once, as the pairwise judge asks) matches one at a time.
    swapped = [
        {
            "role": "user",
            "content": "Which one is a fruit? A: hammer. B: apple. "
            "Answer with the letter A or B only.",
        }
    ]
    both = label_probabilities_batch([messages, swapped], ["A", "B"])
    assert both[0] == pytest.approx(probs, abs=1e-4)
    assert both[1] == pytest.approx(label_probabilities(swapped, ["A", "B"]), abs=1e-4)

    with pytest.raises(InferenceError, match="share a first token"):
        label_probabilities(messages, ["Yes", "Yes!"])


def test_an_adapter_loaded_for_an_audit_does_not_break_later_loads_and_evictions(
    alice, default_base, tmp_path, settings
):
    """The audit's forward pass runs inside ``torch.inference_mode()``. An adapter it loads must
    still let later batches evict the adapter peft holds active, which makes the audited one
    active (and trainable) in its place; with its weights made as inference tensors torch
    refused that, and a soak saw every later batch of the worker fail."""
    from agents.inference.local.backend import teacher_forced_logprobs

    settings.ARENA_ADAPTER_CACHE_SIZE = 2
    first = _trained_agent(alice, "first", 6, tmp_path)
    # peft makes the first of the remaining adapters by name the active one: the audited one.
    audited, third = sorted(
        (_trained_agent(alice, name, seed, tmp_path) for name, seed in (("a", 7), ("b", 8))),
        key=lambda agent: agent.adapter_ref().name,
    )
    backend = get_backend("local")
    tiny = GenerationSettings(temperature=0.0, max_new_tokens=3)

    def row(agent):
        return GenerationRequest(messages=QUESTION, adapter=agent.adapter_ref(), settings=tiny)

    cache.clear()
    backend.generate([row(first)])  # the first adapter of the wrapper: peft's active one
    logprobs = teacher_forced_logprobs(
        messages=QUESTION, token_ids=[42, 43, 44], positions=[0, 2], adapter=audited.adapter_ref()
    )
    assert len(logprobs) == 2 and all(p < 0 for p in logprobs)
    # Loading a third evicts the first (least recently used, and active).
    texts = [backend.generate([row(agent)])[0].text for agent in (third, audited)]
    assert list(cache.get_model(None).adapters) == [
        third.adapter_ref().name,
        audited.adapter_ref().name,
    ]
    cache.clear()
    assert [backend.generate([row(agent)])[0].text for agent in (third, audited)] == texts


def test_a_failed_adapter_load_leaves_no_half_loaded_model_behind(alice, default_base, tmp_path):
    """peft failing half way through loading an adapter (here: a weights file that is not
    safetensors, read after the adapter's layers were added) is a clear InferenceError, and the
    next batch runs on a clean model, not on the half-changed wrapper."""
    import shutil

    from agents.inference import AdapterRef, InferenceError
    from agents.inference.base import file_sha256

    good = _trained_agent(alice, "good", 8, tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    source = good.current_adapter.directory
    shutil.copy(source / "adapter_config.json", broken / "adapter_config.json")
    (broken / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    bad_ref = AdapterRef(path=str(broken), sha256=file_sha256(broken / "adapter_model.safetensors"))
    backend = get_backend("local")
    tiny = GenerationSettings(temperature=0.0, max_new_tokens=3)
    row = GenerationRequest(messages=QUESTION, adapter=good.adapter_ref(), settings=tiny)
    before = backend.generate([row])[0]
    model_before = cache.get_model(None)
    with pytest.raises(InferenceError, match="could not load or evict an adapter"):
        backend.generate([GenerationRequest(messages=QUESTION, adapter=bad_ref, settings=tiny)])
    assert cache.get_model(None) is not model_before, "the broken wrapper must be dropped"
    assert backend.generate([row])[0].text == before.text
