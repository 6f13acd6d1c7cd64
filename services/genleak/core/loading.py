"""One model construction at a time per process.

transformers and accelerate build models inside context managers that patch process-global state
(accelerate's `init_empty_weights` patches `torch.nn.Module.register_parameter`; transformers toggles
module-level init flags). Two threads loading at once can restore each other's patches out of order
and leave every later model in the process with parameters on the meta device ("Cannot copy out of
meta tensor"). Seen here: the attacker's load test (concurrent ScoreTexts and MIA jobs, each loading
a model) followed by a GGUF conversion in the same process. Loading is seconds; computing is not
serialised by this lock, only the construction.
"""

from __future__ import annotations

import threading

MODEL_LOAD_LOCK = threading.RLock()
