"""Text generation engines (hf, vllm) shared by the generator and attacker services.

Importing this package registers the built-in engines, and imports the model zoo so that
`zoo:<name>` model references resolve in every service that runs an engine (core resolves
model references but cannot import the zoo). torch, transformers and vLLM are imported
only when an engine is created.
"""

import genleak.zoo  # noqa: F401  (registers the "zoo" model-reference scheme)
from genleak.engines.base import EngineConfig, GenerationEngine, SamplingConfig, check_model_dir
from genleak.engines.registry import create_engine, engine_names, register_engine
from genleak.engines import hf as _hf  # noqa: F401  (registers "hf")
from genleak.engines import vllm_engine as _vllm  # noqa: F401  (registers "vllm")
from genleak.engines.cache import EngineCache

__all__ = [
    "EngineCache",
    "EngineConfig",
    "GenerationEngine",
    "SamplingConfig",
    "check_model_dir",
    "create_engine",
    "engine_names",
    "register_engine",
]
