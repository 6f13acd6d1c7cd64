"""The generation-engine contract shared by the generator and attacker services.

An engine turns prompts into completions. It knows nothing of datasets, tasks or
transport: tasks (continuation, self-instruct, PII extraction) build prompts and call
`generate`; the services keep engines warm in an `EngineCache`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from genleak.core.models import check_model_dir as check_model_folder
from genleak.core.progress import Reporter
from genleak.contracts.engine import EngineConfig, SamplingConfig

GENERATE_STAGE = "generate"
__all__ = ["EngineConfig", "GENERATE_STAGE", "GenerationEngine", "SamplingConfig", "check_model_dir"]


@runtime_checkable
class GenerationEngine(Protocol):
    """Generates `sampling.n` completions per prompt (text only, prompt excluded)."""

    def generate(
        self, prompts: list[str], sampling: SamplingConfig, reporter: Reporter | None = None
    ) -> list[list[str]]: ...

    def close(self) -> None: ...


def check_model_dir(model_dir: Path) -> Path:
    return check_model_folder(Path(model_dir), where="model")
