"""The DPO training engine (agents.training): settings, data order, refusals, and, with the real
default model, what a run produces (a changed adapter, per-step metrics, deterministic hashes,
checkpoints), that its reference is the base model, that the policy really moves toward the
chosen answers, and that replaying a segment reproduces the next checkpoint while a tampered
checkpoint or a different data order does not."""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from pathlib import Path

import numpy
import pytest
import torch
from safetensors.torch import load_file, save_file

from agents.adapters import validate_adapter_dir
from agents.inference.base import ADAPTER_WEIGHTS, file_sha256
from agents.models import Agent
from agents.training import (
    TrainingError,
    TrainSettings,
    adapter_distance,
    checkpoint_sha256,
    choose_precision,
    planned_order,
    replay_segment,
    train_dpo,
)
from tests.agents.conftest import perturb_adapter

# Short prompts under a short system prompt (SmolLM2's template otherwise adds a long default
# one): every step costs a forward and backward of the 135M model on the CPU.
SYSTEM = "Answer in one word."
PAIRS = [
    {"system": SYSTEM, "prompt": "Capital of France?", "chosen": "Paris", "rejected": "London"},
    {"system": SYSTEM, "prompt": "Capital of Japan?", "chosen": "Tokyo", "rejected": "Beijing"},
]
# Two epochs of two pairs, one pair a step: 4 steps.
BASE_SETTINGS = dict(
    rank=4,
    alpha=8,
    dropout=0.1,  # on: replays must restore the RNG states to match
    target_modules=("q_proj", "v_proj"),
    load_in_4bit=True,  # no CUDA here: the run must say it fell back to full precision
    learning_rate=2e-3,
    beta=0.1,
    epochs=2,
    batch_size=1,
    max_length=96,
)
# Honest replays on the machine that trained are bit-identical; anything tampered is far off.
TOLERANCE = 1e-6


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread():
    """One intra-op thread: on a shared 2-core machine two OpenMP threads spin-wait on each
    other (a training step measured 13 s with two threads, 0.7 s with one). The tests check
    behaviour, not speed, and every run and replay here uses the same thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def settings(**changes) -> TrainSettings:
    return TrainSettings(**{"seed": 11, **BASE_SETTINGS, **changes})


# --- settings, order, refusals (no model) -----------------------------------------------------


def test_settings_from_an_agent_read_its_qlora_fields():
    agent = Agent(
        lora_rank=16,
        lora_alpha=32,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj"],
        load_in_4bit=False,
        learning_rate=1e-4,
        dpo_beta=0.2,
        epochs=3,
        batch_size=8,
    )
    s = TrainSettings.from_agent(agent, seed=5, checkpoint_every=10, max_steps=100)
    assert (s.rank, s.alpha, s.dropout, s.target_modules) == (16, 32, 0.0, ("q_proj", "k_proj"))
    assert (s.load_in_4bit, s.learning_rate, s.beta, s.epochs, s.batch_size) == (
        False,
        1e-4,
        0.2,
        3,
        8,
    )
    assert (s.seed, s.checkpoint_every, s.max_steps) == (5, 10, 100)
    assert s.as_dict()["target_modules"] == ["q_proj", "k_proj"]
    with pytest.raises(TrainingError, match="unknown training settings: warmup"):
        TrainSettings.from_agent(agent, seed=5, warmup=3)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"rank": 0}, "rank"),
        ({"rank": 257}, "rank"),
        ({"rank": 4.5}, "rank"),
        ({"rank": True}, "rank"),
        ({"alpha": 0}, "alpha"),
        ({"dropout": 0.6}, "dropout"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": 0.02}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"beta": 0}, "beta"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 65}, "batch_size"),
        ({"target_modules": ()}, "target_modules"),
        ({"target_modules": ("lm_head",)}, "target modules"),
        ({"target_modules": ("q_proj", "q_proj")}, "twice"),
        ({"load_in_4bit": "yes"}, "load_in_4bit"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_length": 8}, "max_length"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
    ],
)
def test_settings_out_of_range_are_refused(change, field):
    with pytest.raises(TrainingError, match=field):
        settings(**change)


def test_the_data_order_is_a_seeded_permutation_per_epoch_anyone_can_recompute():
    s = TrainSettings(seed=7, epochs=3, batch_size=2)
    order = planned_order(5, s)
    assert len(order) == 15
    for epoch in range(3):
        chunk = order[epoch * 5 : (epoch + 1) * 5]
        assert sorted(chunk) == list(range(5))
        # The documented rule, recomputed here without the library.
        assert chunk == sorted(
            range(5),
            key=lambda i, e=epoch: hashlib.sha256(f"arena-dpo-order:7:{e}:{i}".encode()).digest(),
        )
    assert planned_order(5, s) == order
    assert planned_order(5, s.with_changes(seed=8)) != order
    # max_steps cuts the order where the run stops: 2 steps of 2 pairs.
    assert planned_order(5, s.with_changes(max_steps=2)) == order[:4]


def test_precision_is_nf4_only_with_4bit_asked_and_a_cuda_device():
    asked = settings(load_in_4bit=True)
    cpu = choose_precision(asked, cuda=False)
    assert (cpu.quantization, cpu.device) == ("none", "cpu")
    assert "CUDA" in cpu.reason
    gpu = choose_precision(asked, cuda=True, bitsandbytes=True)
    assert (gpu.quantization, gpu.device, gpu.bf16) == ("nf4", "cuda", True)
    no_bnb = choose_precision(asked, cuda=True, bitsandbytes=False)
    assert no_bnb.quantization == "none" and "bitsandbytes" in no_bnb.reason
    off = choose_precision(settings(load_in_4bit=False), cuda=True, bitsandbytes=True)
    assert off.quantization == "none" and "load_in_4bit off" in off.reason


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([], "at least one"),
        ("not a list", "at least one"),
        (["a string"], "pair 0 is not a mapping"),
        ([{"prompt": "q", "chosen": "a"}], "pair 0: rejected"),
        ([{"prompt": " ", "chosen": "a", "rejected": "b"}], "pair 0: prompt"),
        ([PAIRS[0], {"prompt": "q", "chosen": "", "rejected": "b"}], "pair 1: chosen"),
        ([{"prompt": "q", "chosen": 3, "rejected": "b"}], "pair 0: chosen"),
        ([{"prompt": "q", "chosen": "same ", "rejected": "same"}], "the same answer"),
        ([{"prompt": "q", "chosen": "a", "rejected": "b", "system": 1}], "system"),
    ],
)
def test_bad_pairs_are_refused_before_anything_is_written(tmp_path, pairs, message):
    out = tmp_path / "out"
    with pytest.raises(TrainingError, match=message):
        train_dpo(
            base_model_path=tmp_path,
            parent_adapter_dir=None,
            pairs=pairs,
            settings=settings(),
            out_dir=out,
        )
    assert not out.exists()


def test_a_missing_base_model_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="no base model"):
        train_dpo(
            base_model_path=tmp_path / "nowhere",
            parent_adapter_dir=None,
            pairs=PAIRS,
            settings=settings(),
            out_dir=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()


def write_adapter_file(directory: Path, tensors: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / ADAPTER_WEIGHTS))
    return directory


def test_adapter_distance_is_the_largest_relative_change_of_any_tensor(tmp_path):
    b = {"x.lora_A.weight": torch.ones(2, 2), "x.lora_B.weight": torch.full((2, 2), 2.0)}
    a = {"x.lora_A.weight": torch.ones(2, 2), "x.lora_B.weight": torch.full((2, 2), 2.2)}
    dir_a = write_adapter_file(tmp_path / "a", a)
    dir_b = write_adapter_file(tmp_path / "b", b)
    assert adapter_distance(dir_b, dir_b) == 0.0
    assert adapter_distance(dir_a, dir_b) == pytest.approx(0.1)
    other = write_adapter_file(tmp_path / "c", {"y.lora_A.weight": torch.ones(2, 2)})
    with pytest.raises(TrainingError, match="different tensors"):
        adapter_distance(other, dir_b)
    with pytest.raises(TrainingError, match="cannot read"):
        adapter_distance(tmp_path / "missing", dir_b)


# --- real runs with the default model --------------------------------------------------------


def chat(pair: dict) -> list[dict]:
    return [
        {"role": "system", "content": pair["system"]},
        {"role": "user", "content": pair["prompt"]},
    ]


def answer_logprob(model, tokenizer, pair: dict, answer: str) -> float:
    """log p(answer | prompt) under ``model``, summed over the answer's tokens (its end-of-turn
    token included), measured directly: one forward pass, no TRL."""
    prompt_ids = tokenizer.apply_chat_template(
        chat(pair), add_generation_prompt=True, tokenize=True, return_dict=False
    )
    full_ids = tokenizer.apply_chat_template(
        [*chat(pair), {"role": "assistant", "content": answer}], tokenize=True, return_dict=False
    )
    assert full_ids[: len(prompt_ids)] == prompt_ids
    ids = torch.tensor([full_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logps = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return logps[len(prompt_ids) - 1 :].sum().item()


def margin(model, tokenizer, pair: dict) -> float:
    return answer_logprob(model, tokenizer, pair, pair["chosen"]) - answer_logprob(
        model, tokenizer, pair, pair["rejected"]
    )


@pytest.fixture(scope="module")
def runs(model_dir, tmp_path_factory):
    """Every training run the model tests look at, made once:

    - ``a``: seed 11, a checkpoint every step (steps 0..4);
    - ``b``: seed 11 again, a checkpoint every 2 steps;
    - ``c``: seed 12, one step;
    - ``d``: from a parent adapter (not fresh), dropout off, two steps."""
    root = tmp_path_factory.mktemp("training")
    base = str(model_dir)
    calls = []
    a = train_dpo(
        base_model_path=base,
        parent_adapter_dir=None,
        pairs=PAIRS,
        settings=settings(checkpoint_every=1),
        out_dir=root / "a",
        on_step=lambda step, metrics: calls.append((step, metrics)),
    )
    b = train_dpo(
        base_model_path=base,
        parent_adapter_dir=None,
        pairs=PAIRS,
        settings=settings(checkpoint_every=2),
        out_dir=root / "b",
    )
    c = train_dpo(
        base_model_path=base,
        parent_adapter_dir=None,
        pairs=PAIRS,
        settings=settings(seed=12, max_steps=1),
        out_dir=root / "c",
    )
    parent = perturb_adapter(a.adapter_dir.parent / "initial-adapter", root / "parent", seed=5)
    d = train_dpo(
        base_model_path=base,
        parent_adapter_dir=parent,
        pairs=PAIRS,
        settings=settings(dropout=0.0, max_steps=2, checkpoint_every=1),
        out_dir=root / "d",
    )
    return {"a": a, "b": b, "c": c, "d": d, "calls": calls, "parent": parent, "root": root}


@pytest.mark.model
def test_a_run_changes_the_adapter_and_reports_how_it_ran(runs):
    a = runs["a"]
    assert a.steps == 4 and len(a.data_order) == 4
    assert a.adapter_sha256 == validate_adapter_dir(a.adapter_dir)
    assert a.adapter_sha256 != a.parent_sha256
    assert adapter_distance(a.adapter_dir, a.adapter_dir.parent / "initial-adapter") > 0.01
    assert (a.quantization, a.device) == ("none", "cpu")
    assert "CUDA" in a.quantization_reason
    assert set(a.library_versions) >= {"torch", "transformers", "peft", "trl", "bitsandbytes"}
    assert a.library_versions["trl"]
    assert a.hyperparameters["reference"] == "base model with the adapter disabled"
    assert a.hyperparameters["total_steps"] == 4
    json.dumps(a.as_dict())  # storable as it is
    assert not (a.adapter_dir.parent / ".trainer").exists()


@pytest.mark.model
def test_loss_and_reward_metrics_are_reported_every_step(runs):
    a, calls = runs["a"], runs["calls"]
    assert [step for step, _ in calls] == [1, 2, 3, 4]
    assert [m["step"] for m in a.metrics] == [1, 2, 3, 4]
    for (_, metrics), recorded in zip(calls, a.metrics, strict=True):
        for key in ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen"):
            assert math.isfinite(metrics[key])
            assert recorded[key] == metrics[key]
    # A fresh adapter (LoRA B = 0) is the base model: at the first step policy = reference.
    assert a.metrics[0]["rewards/margins"] == 0.0
    assert a.metrics[0]["loss"] == pytest.approx(math.log(2))
    assert a.final_metrics["rewards/margins"] == a.metrics[-1]["rewards/margins"]
    assert "train_loss" in a.final_metrics


@pytest.mark.model
def test_the_same_seed_gives_the_same_adapter_and_another_seed_another(runs):
    a, b, c = runs["a"], runs["b"], runs["c"]
    # b saved fewer checkpoints: saving them does not disturb training.
    assert b.adapter_sha256 == a.adapter_sha256
    assert b.data_order == a.data_order
    assert [m["loss"] for m in b.metrics] == [m["loss"] for m in a.metrics]
    # c: seed 12, one step; a's state after one step is its step-1 checkpoint.
    step_1 = a.checkpoints[1]["path"] / ADAPTER_WEIGHTS
    assert c.steps == 1
    assert c.adapter_sha256 != file_sha256(step_1)
    assert c.parent_sha256 != a.parent_sha256


@pytest.mark.model
def test_checkpoints_every_k_steps_with_stable_hashes(runs):
    a, b = runs["a"], runs["b"]
    assert [c["step"] for c in a.checkpoints] == [0, 1, 2, 3, 4]
    assert [c["step"] for c in b.checkpoints] == [0, 2, 4]
    for checkpoint in a.checkpoints + b.checkpoints:
        path = checkpoint["path"]
        assert checkpoint["sha256"] == checkpoint_sha256(path)
        names = sorted(p.name for p in path.iterdir())
        assert {"adapter_model.safetensors", "optimizer.safetensors", "scheduler.json"} <= set(
            names
        )
        assert {"rng.safetensors", "rng.json", "meta.json", "manifest.json"} <= set(names)
    # The same state hashes the same in another run.
    by_step = {c["step"]: c["sha256"] for c in a.checkpoints}
    assert all(by_step[c["step"]] == c["sha256"] for c in b.checkpoints)
    assert len(set(by_step.values())) == 5
    # Step 0 holds the adapter training started from, the last one the final adapter.
    first = load_file(str(a.checkpoints[0]["path"] / ADAPTER_WEIGHTS))
    initial = load_file(str(a.adapter_dir.parent / "initial-adapter" / ADAPTER_WEIGHTS))
    assert all(torch.equal(first[k], initial[k]) for k in initial)
    assert file_sha256(a.checkpoints[-1]["path"] / ADAPTER_WEIGHTS) == a.adapter_sha256
    # Any change to a checkpoint's files changes its hash.
    copy = shutil.copytree(a.checkpoints[2]["path"], runs["root"] / "edited")
    (copy / "scheduler.json").write_text((copy / "scheduler.json").read_text() + " ")
    assert checkpoint_sha256(copy) != a.checkpoints[2]["sha256"]


@pytest.mark.model
def test_a_parent_adapter_is_trained_against_the_base_model_as_reference(runs, model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, parent = runs["d"], runs["parent"]
    assert d.parent_sha256 == file_sha256(parent / ADAPTER_WEIGHTS)
    assert d.steps == 2 and d.data_order == runs["a"].data_order[:2]
    first = load_file(str(d.checkpoints[0]["path"] / ADAPTER_WEIGHTS))
    given = load_file(str(parent / ADAPTER_WEIGHTS))
    assert all(torch.equal(first[k], given[k]) for k in given)
    assert adapter_distance(d.adapter_dir, parent) > 0
    # Step 1's rewards are measured before any update, with the policy = the parent. Had the
    # reference been the parent (TRL's choice when handed a PeftModel), they would be 0.
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(parent)).eval()
    pair = PAIRS[d.data_order[0]]
    policy = answer_logprob(model, tokenizer, pair, pair["chosen"])
    with model.disable_adapter():
        reference = answer_logprob(model, tokenizer, pair, pair["chosen"])
    expected = 0.1 * (policy - reference)
    assert abs(expected) > 1e-3
    assert d.metrics[0]["rewards/chosen"] == pytest.approx(expected, rel=1e-3, abs=1e-5)


@pytest.mark.model
def test_training_raises_the_policys_margin_for_the_right_answers(runs, model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    a = runs["a"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(
        base, str(a.adapter_dir.parent / "initial-adapter"), adapter_name="before"
    )
    model.load_adapter(str(a.adapter_dir), adapter_name="after")
    model.eval()
    for pair in PAIRS:
        model.set_adapter("before")
        before = margin(model, tokenizer, pair)
        model.set_adapter("after")
        after = margin(model, tokenizer, pair)
        assert after > before + 0.5, (pair["prompt"], before, after)


@pytest.mark.model
def test_an_honest_replay_matches_the_next_checkpoint_and_a_tampered_one_does_not(
    runs, model_dir, tmp_path
):
    a = runs["a"]
    start, end = a.checkpoints[1], a.checkpoints[3]
    replayed = replay_segment(
        base_model_path=str(model_dir),
        checkpoint_dir=start["path"],
        pairs=PAIRS,
        data_order=a.data_order,
        settings=settings(checkpoint_every=1),
        start_step=1,
        end_step=3,
        out_dir=tmp_path / "replay",
    )
    honest = adapter_distance(replayed, end["path"])
    assert honest <= TOLERANCE
    # The segment did move the weights: the check is not vacuous.
    assert adapter_distance(start["path"], end["path"]) > 1000 * max(honest, TOLERANCE)
    # A checkpoint whose weights were edited (1% noise on LoRA B) no longer matches.
    tampered = shutil.copytree(end["path"], tmp_path / "tampered")
    tensors = load_file(str(tampered / ADAPTER_WEIGHTS))
    generator = torch.Generator().manual_seed(0)
    for key, value in tensors.items():
        if "lora_B" in key:
            tensors[key] = value + 0.01 * value.norm() / value.numel() ** 0.5 * torch.randn(
                value.shape, generator=generator
            )
    save_file(tensors, str(tampered / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    assert checkpoint_sha256(tampered) != end["sha256"]
    assert adapter_distance(replayed, tampered) > 1000 * TOLERANCE


@pytest.mark.model
def test_a_replay_with_another_data_order_does_not_match(runs, model_dir, tmp_path):
    a = runs["a"]
    order = list(a.data_order)
    order[1] = order[2] = 1 - order[1]  # steps 2 and 3 see the other pair
    replayed = replay_segment(
        base_model_path=str(model_dir),
        checkpoint_dir=a.checkpoints[1]["path"],
        pairs=PAIRS,
        data_order=order,
        settings=settings(checkpoint_every=1),
        start_step=1,
        end_step=3,
        out_dir=tmp_path / "replay",
    )
    assert adapter_distance(replayed, a.checkpoints[3]["path"]) > 1000 * TOLERANCE


@pytest.mark.model
def test_replays_that_do_not_fit_the_checkpoint_are_refused(runs, model_dir):
    a = runs["a"]
    common = dict(base_model_path=str(model_dir), pairs=PAIRS, settings=settings())
    checkpoint = a.checkpoints[1]["path"]
    with pytest.raises(TrainingError, match="at step 1, not 2"):
        replay_segment(
            **common, checkpoint_dir=checkpoint, data_order=a.data_order, start_step=2, end_step=3
        )
    with pytest.raises(TrainingError, match="end_step"):
        replay_segment(
            **common, checkpoint_dir=checkpoint, data_order=a.data_order, start_step=1, end_step=5
        )
    with pytest.raises(TrainingError, match="run of 4 steps"):
        replay_segment(
            **common,
            checkpoint_dir=checkpoint,
            data_order=a.data_order[:2],
            start_step=1,
            end_step=2,
        )
    with pytest.raises(TrainingError, match="outside"):
        replay_segment(
            **common, checkpoint_dir=checkpoint, data_order=[0, 1, 2, 0], start_step=1, end_step=2
        )
    with pytest.raises(TrainingError, match="not a training checkpoint"):
        replay_segment(
            **common,
            checkpoint_dir=a.adapter_dir,
            data_order=a.data_order,
            start_step=1,
            end_step=2,
        )


@pytest.mark.model
def test_inputs_that_do_not_fit_the_model_are_refused_before_writing(runs, model_dir, tmp_path):
    out = tmp_path / "out"
    common = dict(base_model_path=str(model_dir), pairs=PAIRS, out_dir=out)
    # A parent adapter of another shape than the settings say.
    with pytest.raises(TrainingError, match="rank 4 \\(settings: 8\\)"):
        train_dpo(**common, parent_adapter_dir=runs["parent"], settings=settings(rank=8))
    # A prompt that leaves the answer no room.
    with pytest.raises(TrainingError, match="pair 0: the prompt is .* tokens; max_length 16"):
        train_dpo(**common, parent_adapter_dir=None, settings=settings(max_length=16))
    assert not out.exists()
    # An output directory that already holds something.
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(TrainingError, match="not empty"):
        train_dpo(**common, parent_adapter_dir=None, settings=settings())
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.model
def test_an_exception_from_on_step_stops_the_run_removes_its_files_and_restores_rng(
    model_dir, tmp_path
):
    out = tmp_path / "out"

    class Cancelled(Exception):
        pass

    def cancel(step, metrics):
        raise Cancelled("job cancelled")

    def draws():
        return torch.rand(2).tolist(), random.random(), numpy.random.rand()

    torch.manual_seed(3), random.seed(3), numpy.random.seed(3)
    expected = draws()
    torch.manual_seed(3), random.seed(3), numpy.random.seed(3)
    with pytest.raises(Cancelled, match="job cancelled"):
        train_dpo(
            base_model_path=str(model_dir),
            parent_adapter_dir=None,
            pairs=PAIRS[:1],
            settings=settings(epochs=1, checkpoint_every=1),
            out_dir=out,
            on_step=cancel,
        )
    assert not out.exists()
    # The trainer seeds the global RNGs; the caller gets its own states back.
    assert draws() == expected
