"""Builds tiny random-init causal LMs (+ a trained BPE tokenizer): the probe model `genleak doctor`
checks vLLM-vs-transformers numerics on, and the models tests and smoke runs use.

No download is possible here, so tests need a real model folder built locally
(docs/platform.md): ~0.5M parameters, ~2 MB of safetensors, built in about a second.
hidden 128 / 4 heads: vLLM's CPU attention has no kernel for head_dim 16.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

_WORDS = (
    "the email address of is from to meeting please send report enron energy gas price "
    "contract deal market call today tomorrow thanks regards original message mailto com org net"
).split()
_NAMES = "john mary carole michael suzanne jeff kate louise vince sara".split()


def _corpus(n_lines: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        first, last = rng.sample(_NAMES, 2)
        words = " ".join(rng.choices(_WORDS, k=rng.randint(4, 12)))
        lines.append(f"{words} {first.title()} {last.title()} [mailto: {first}.{last}@enron.com")
    return lines


def _tokenizer(corpus: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
    )


def _model_config(arch: str, max_positions: int, init_std: float | None) -> Any:
    import transformers

    common = dict(
        vocab_size=1024,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=max_positions,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )
    if init_std is not None:
        common["initializer_range"] = init_std
    if arch == "llama":
        return transformers.LlamaConfig(num_key_value_heads=2, intermediate_size=256, **common)
    if arch == "gpt_neox":
        return transformers.GPTNeoXConfig(intermediate_size=512, rotary_pct=0.25, **common)
    raise ValueError(f"unknown tiny architecture {arch!r}; use 'llama' or 'gpt_neox'")


def build_tiny_model(out_dir: Path, arch: str = "llama", seed: int = 0, max_positions: int = 512,
                     init_std: float | None = None) -> Path:
    """Write a tiny `arch` model + tokenizer to `out_dir` (safetensors) and return the folder.

    `init_std` (default: the architecture's 0.02) sets the weights' scale; 0.2 gives peaked next-token
    distributions, so numeric errors show in log-probs (near-uniform ones hide them)."""
    import torch
    import transformers

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    config = _model_config(arch, max_positions, init_std)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    _tokenizer(_corpus(2000, seed)).save_pretrained(out_dir)
    return out_dir
