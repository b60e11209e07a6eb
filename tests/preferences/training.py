"""One training step of TRL's trainers, as they are, on a tiny random llama (the ``tiny_base``
config with random weights) and a character-level tokenizer built here: no hub downloads."""

from __future__ import annotations

import string
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tiny_tokenizer():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    # BPE without merges over printable ASCII: one token per character (104 < the config's 128).
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", *string.printable])}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>")),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model_dir(base_path: str, out: Path) -> str:
    """The tiny_base config with random weights and the tokenizer, saved where TRL can load
    it (DPOTrainer loads its reference model from the policy's path)."""
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(base_path)
    config.pad_token_id, config.bos_token_id, config.eos_token_id = 0, 1, 2
    LlamaForCausalLM(config).save_pretrained(out)
    tiny_tokenizer().save_pretrained(out)
    return str(out)


def train_one_step(trainer: str, dataset, model_dir: str, output_dir: Path):
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    Config, Trainer = {"dpo": (DPOConfig, DPOTrainer), "kto": (KTOConfig, KTOTrainer)}[trainer]
    args = Config(
        output_dir=str(output_dir),
        max_steps=1,
        per_device_train_batch_size=min(4, len(dataset)),
        report_to=[],
        save_strategy="no",
        use_cpu=True,
    )
    result = Trainer(
        model=model_dir, args=args, train_dataset=dataset, processing_class=tiny_tokenizer()
    ).train()
    return result
