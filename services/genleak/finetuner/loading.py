"""Load a base model and tokenizer safely, and export a merged model as a plain HF folder.

Safety: weights only from safetensors (a pickle checkpoint can run code when loaded), no
hub access, and remote code only when the spec opts in. On a GPU the weights load straight onto it
(`load_placement`); on a CPU they load on the host, where training runs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from genleak.core.errors import InvalidSpec, UnsafeArtifact
from genleak.core.loading import MODEL_LOAD_LOCK
from genleak.core.models import PICKLE_SUFFIXES

log = logging.getLogger(__name__)

TOKENIZER_FILE_PATTERNS = (
    "tokenizer*.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
    "chat_template.*",
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_tokenizer(model_dir: Path, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        str(model_dir), trust_remote_code=trust_remote_code, local_files_only=True
    )
    if tokenizer.eos_token_id is None:
        raise InvalidSpec(
            f"the tokenizer in {model_dir} has no EOS token; every training text must end with one", "model_dir"
        )
    return tokenizer


def pad_token_id(tokenizer: Any) -> int:
    # the pad id only fills positions that the attention mask and labels already ignore
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def load_base_model(model_dir: Path, dtype: str, trust_remote_code: bool,
                    device: str | torch.device = "cpu") -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    from genleak.compute.device import load_placement

    with MODEL_LOAD_LOCK:
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            dtype=DTYPES[dtype],
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            local_files_only=True,
            **load_placement(device),
        )
    model = model.to(device)
    log.info("loaded %s from %s (%.2fM params, %s, on %s)", type(model).__name__, model_dir, _millions(model), dtype,
             device)
    return model


def save_merged(model: torch.nn.Module, tokenizer_src: Path, dest: Path,
                state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """A plain HF folder (safetensors + config + tokenizer) that transformers and vLLM load as-is; a sharded
    model's weights come in `state_dict`, gathered in full."""
    model.save_pretrained(str(dest), state_dict=state_dict)
    copy_tokenizer_files(tokenizer_src, dest)
    pickles = [p.name for p in dest.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles:  # pragma: no cover - transformers only writes safetensors; guard against a regression
        raise UnsafeArtifact(f"merged model at {dest} contains pickle files {pickles}")


def copy_tokenizer_files(src: Path, dest: Path) -> list[str]:
    copied = []
    for pattern in TOKENIZER_FILE_PATTERNS:
        for path in sorted(src.glob(pattern)):
            if path.is_file():
                shutil.copy2(path, dest / path.name)
                copied.append(path.name)
    return copied


def _millions(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6
