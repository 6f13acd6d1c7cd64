"""HF model configs built from `ModelShape`: a Pythia-like GPT-NeoX target and a Llama generator.

The generator is a Llama because vLLM runs it natively (GPT-NeoX goes through vLLM's slower
Transformers backend); the target mirrors Pythia (parallel residual, 25% rotary, untied head).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from genleak.lab.config import ModelShape


def new_target(shape: ModelShape, tokenizer: PreTrainedTokenizerFast, seed: int) -> GPTNeoXForCausalLM:
    config = GPTNeoXConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_positions,
        rotary_pct=shape.rotary_pct,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        **_special_ids(tokenizer),
    )
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(config)


def new_generator(shape: ModelShape, tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads or shape.num_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=False,
        **_special_ids(tokenizer),
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save_model_folder(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    """config.json, model.safetensors, generation_config.json and the tokenizer files; never pickles."""
    folder.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(**_special_ids(tokenizer))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
