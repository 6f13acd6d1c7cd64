"""Fine-tune methods. Importing this package registers every built-in method."""

from genleak.finetuner.methods import dora, full, lora, pissa  # noqa: F401  (registration side effects)
from genleak.finetuner.methods.registry import (
    FineTuneMethod,
    MethodPlugin,
    get_method,
    method_names,
    register_method,
)

__all__ = ["FineTuneMethod", "MethodPlugin", "get_method", "method_names", "register_method"]
