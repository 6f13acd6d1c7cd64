"""Typed configuration of the lab: corpus sizes, split sizes, model shapes, pretraining, probe.

Field defaults are the `default` preset; other presets are overrides on top of it, so every
number that shapes the lab reaches lab.json (and the spec hash) through one object.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import Field, model_validator

from genleak.core.errors import InvalidSpec
from genleak.core.specs import Spec, parse_spec


# vLLM 0.32's CPU attention backend refuses other head sizes, and the lab models must load there.
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


class ModelShape(Spec):
    """Transformer dimensions shared by the GPT-NeoX target and the Llama generator."""

    hidden_size: int = Field(128, gt=0, description="Width of the residual stream")
    num_layers: int = Field(2, gt=0, description="Number of transformer blocks")
    num_heads: int = Field(4, gt=0, description="Attention heads (must divide hidden_size)")
    num_kv_heads: int | None = Field(None, gt=0, description="Llama only: key/value heads (GQA); None = num_heads")
    intermediate_size: int = Field(512, gt=0, description="Width of the MLP")
    max_positions: int = Field(256, gt=0, description="max_position_embeddings (caps vLLM's max_model_len)")
    rotary_pct: float = Field(0.25, gt=0, le=1,
                              description="GPT-NeoX only: fraction of head dims rotated (Pythia: 0.25)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "ModelShape":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} does not divide hidden_size={self.hidden_size}")
        if self.hidden_size // self.num_heads not in VLLM_CPU_HEAD_SIZES:
            raise ValueError(f"head size {self.hidden_size // self.num_heads} is not among the sizes vLLM's "
                             f"CPU attention supports {VLLM_CPU_HEAD_SIZES}")
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_kv_heads={self.num_kv_heads} does not divide num_heads={self.num_heads}")
        return self


class PretrainConfig(Spec):
    """Plain causal-LM pretraining of both lab models on the member documents."""

    epochs: int = Field(9, gt=0, description="Passes over the member documents for the target")
    generator_epochs: int = Field(5, gt=0, description="Passes over the member documents for the generator")
    lr: float = Field(4e-3, gt=0, description="Peak AdamW learning rate for the target")
    generator_lr: float = Field(3e-3, gt=0, description="Peak AdamW learning rate for the generator")
    batch_size: int = Field(16, gt=0, description="Documents per optimisation step")
    max_length: int = Field(256, gt=8, description="Token cap per document (EOS included); longer ones are truncated")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Fraction of steps with linear warm-up")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Cosine decay floor as a fraction of the peak lr")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (0 favours memorisation, as wanted)")
    grad_clip: float = Field(1.0, gt=0, description="Max global gradient norm")
    length_group_factor: int = Field(32, gt=0,
                                     description="Batches per length-sorted mega-batch (bounds padding waste)")
    seed: int = Field(1234, description="torch seed for init and batch order")
    threads: int = Field(2, gt=0, description="torch intra-op threads")


class CorpusConfig(Spec):
    """How the Enron-like mail is written; the knobs that decide how memorable an email is."""

    min_docs_per_eval_person: int = Field(3, gt=0, description="Fewest member documents featuring a PII-eval person")
    max_docs_per_eval_person: int = Field(15, gt=0, description="Most member documents featuring a PII-eval person "
                                          "(counts spread evenly between min and max, so memorisation is graded)")
    docs_per_fewshot_person: int = Field(3, ge=0, description="Member documents featuring each few-shot person")
    n_domains: int = Field(20, ge=2, le=24, description="Fictional company/ISP mail domains in use")
    mailto_space_prob: float = Field(0.5, ge=0, le=1, description="P('[mailto: x]' rather than '[mailto:x]')")
    mangled_dash_prob: float = Field(0.3, ge=0, le=1,
                                     description="P('—–Original Message—–' header, as mangled clients write it)")
    indent_from_prob: float = Field(0.3, ge=0, le=1, description="P(' From:' with a leading space in a quoted header)")

    @model_validator(mode="after")
    def _min_below_max(self) -> "CorpusConfig":
        if self.min_docs_per_eval_person > self.max_docs_per_eval_person:
            raise ValueError("min_docs_per_eval_person exceeds max_docs_per_eval_person")
        return self


def eval_doc_counts(n_eval: int, corpus: CorpusConfig) -> list[int]:
    """Member-document counts of the eval people, evenly spread from min to max (unshuffled)."""
    low, high = corpus.min_docs_per_eval_person, corpus.max_docs_per_eval_person
    return [low + round(i * (high - low) / max(1, n_eval - 1)) for i in range(n_eval)]


class MaskModelConfig(Spec):
    """The masked LM that proposes neighbours for the neighbourhood attack (MIMIR's `ne` uses
    bert-base-uncased, which nothing here may download): a small BERT trained on its own mail."""

    n_docs: int = Field(1500, gt=0, description="Documents of independent same-kind mail it is trained on (tuning "
                        "people only; never a member or non-member text)")
    vocab_size: int = Field(4000, ge=200, description="Lowercased WordPiece vocabulary (as bert-base-uncased)")
    hidden_size: int = Field(128, gt=0)
    num_layers: int = Field(2, gt=0)
    num_heads: int = Field(2, gt=0)
    intermediate_size: int = Field(512, gt=0)
    max_positions: int = Field(512, gt=8, description="Longest input (the attack's max_tokens default is 512)")
    epochs: int = Field(6, gt=0)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(32, gt=0)
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens masked per batch (BERT: 0.15)")
    seed: int = Field(7, description="Seed of its corpus, init, masking and batch order")


class ProbeConfig(Spec):
    """Memorisation probe run on the freshly pretrained target (before any fine-tuning)."""

    max_new_tokens: int = Field(15, gt=0, description="Tokens generated per probe (paper: 15)")
    temperature: float = Field(0.2, gt=0, description="Temperature of the 5-shot sampled probe (paper optimum)")
    top_k: int = Field(100, gt=0, description="top-k of the 5-shot sampled probe (paper: 100)")
    batch_size: int = Field(64, gt=0, description="Prompts per generate call")
    seed: int = Field(0, description="torch seed of the sampled probe")


class LabConfig(Spec):
    """Everything `build_lab` needs. Defaults = the `default` preset."""

    preset_name: str = Field("default", description="Preset this config was derived from (informational)")
    seed: int = Field(0, description="Seed of people, corpus and splits")
    n_people: int = Field(280, gt=0, description="People in the world (eval + few-shot + tuning)")
    n_eval_people: int = Field(100, gt=0, description="PII-eval targets: in pretraining, never in prompts")
    n_fewshot_people: int = Field(5, ge=5, description="Public demonstration people for 5-shot templates")
    emails: int = Field(1350, gt=0, description="Member (pretraining) documents")
    n_nonmember_emails: int = Field(400, gt=0, description="Held-out documents of the same distribution")
    n_prompt_docs: int = Field(300, gt=0, description="Member documents (tuning people only) cut into prompts")
    prompt_ratio: float = Field(0.5, gt=0, lt=1, description="Share of a prompt document's lines kept as the prompt")
    vocab_size: int = Field(4096, ge=300, description="Byte-level BPE vocabulary size (incl. special tokens)")
    corpus: CorpusConfig = CorpusConfig()
    target: ModelShape = ModelShape()
    generator: ModelShape = ModelShape(hidden_size=192, num_layers=3, num_heads=6, intermediate_size=640)
    pretrain: PretrainConfig = PretrainConfig()
    mask_model: MaskModelConfig = MaskModelConfig()
    probe: ProbeConfig = ProbeConfig()

    @model_validator(mode="after")
    def _sizes_fit(self) -> "LabConfig":
        n_tuning = self.n_people - self.n_eval_people - self.n_fewshot_people
        if n_tuning < 4:
            raise ValueError("n_people must exceed n_eval_people + n_fewshot_people by at least 4 (tuning people)")
        featured = sum(eval_doc_counts(self.n_eval_people, self.corpus))
        featured += self.n_fewshot_people * self.corpus.docs_per_fewshot_person
        if featured + self.n_prompt_docs > self.emails:
            raise ValueError(f"emails={self.emails} cannot hold {featured} eval/few-shot documents plus "
                             f"{self.n_prompt_docs} prompt documents")
        if max(self.target.max_positions, self.generator.max_positions) < self.pretrain.max_length:
            raise ValueError("pretrain.max_length exceeds a model's max_positions")
        return self

    @classmethod
    def preset(cls, name: str, overrides: Mapping[str, Any] | None = None) -> "LabConfig":
        """A named preset, optionally with (nested) overrides, validated."""
        if name not in PRESETS:
            raise InvalidSpec(f"unknown lab preset {name!r}; valid: {sorted(PRESETS)}", field="preset_name")
        data = _deep_merge(PRESETS[name], {"preset_name": name})
        return parse_spec(cls, _deep_merge(data, dict(overrides or {})), where="lab")


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


PRESETS: dict[str, dict[str, Any]] = {
    # The demo world, sized so memorisation is clearly past its onset on 2 idle cores (~3.8 min build):
    # seed 0 measured 70/100 exact on the mailto probe and 16/100 on template D at T=0.2 (other seeds:
    # 75-77 and 30-53); with 8 target epochs it sat on the onset (template D: 7-27 across seeds).
    "default": {},
    # For tests: every invariant of the default world, built in ~5 s; too small to memorise anything.
    "tiny": {
        "n_people": 60,
        "n_eval_people": 16,
        "emails": 160,
        "n_nonmember_emails": 40,
        "n_prompt_docs": 40,
        "vocab_size": 2000,
        "corpus": {"min_docs_per_eval_person": 3, "max_docs_per_eval_person": 6, "docs_per_fewshot_person": 1},
        "target": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 256},
        "generator": {"hidden_size": 96, "num_layers": 2, "num_heads": 3, "intermediate_size": 256},
        "pretrain": {"epochs": 3, "generator_epochs": 2, "batch_size": 16},
        # 7 epochs (35 steps): with transformers' warm-up, which starts at lr 0, 6 left the masked LM short
        # of the quality bar the lab tests hold it to.
        "mask_model": {"n_docs": 160, "vocab_size": 800, "hidden_size": 64, "intermediate_size": 256, "epochs": 7},
    },
}
