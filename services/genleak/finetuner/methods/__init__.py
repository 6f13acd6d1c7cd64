"""Fine-tune methods. Importing this package registers every built-in method.

It also imports the model zoo: the fine-tuner's spec imports this package, and its base model
may be a `zoo:<name>` reference, which resolves only once the zoo has registered its scheme.
"""

import genleak.zoo  # noqa: F401  (registers the "zoo" model-reference scheme)
from genleak.finetuner.methods import dora, full, lora, pissa  # noqa: F401  (registration side effects)
from genleak.finetuner.methods.registry import (
    FineTuneMethod,
    MethodPlugin,
    get_method,
    method_names,
    register_method,
)

__all__ = ["FineTuneMethod", "MethodPlugin", "get_method", "method_names", "register_method"]
