"""The fine-tuning job's contract: its params (method, method hyper-parameters, training, data
format) and its result (training metrics). The finetuner validates `method` and `method_config`
against its method registry (genleak.finetuner.spec); everything else is checked here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from genleak.contracts.compute import ComputeRecord
from genleak.core.specs import Spec


class TrainConfig(Spec):
    """Optimisation settings. Defaults follow the paper (section 3) except where noted."""

    epochs: int = Field(
        4, ge=1, le=1000, description="Passes over the training rows; a checkpoint is written per epoch"
    )
    learning_rate: float = Field(
        2e-6, gt=0.0, le=1.0, description="Peak AdamW learning rate (paper: 2e-6; tiny test models need ~1e-3)"
    )
    batch_size: int = Field(8, ge=1, le=4096, description="Sequences per forward pass at most (micro-batch)")
    grad_accum: int = Field(
        1, ge=1, le=1024,
        description="Micro-batches per optimizer step, counted over all processes: every step sees batch_size x "
        "grad_accum sequences whatever the number of GPUs, which only share them out, so results do not depend on "
        "the GPU count (the paper's per-device 1 x accumulation 8 x 4 GPUs is batch_size 1, grad_accum 32)",
    )
    max_length: int = Field(
        2048,
        ge=2,
        le=1 << 20,
        description="Truncate each example to this many tokens (no pad-to-max: padding is dynamic)",
    )
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="AdamW decoupled weight decay")
    adam_beta1: float = Field(0.9, ge=0.0, lt=1.0, description="AdamW beta1")
    adam_beta2: float = Field(0.999, ge=0.0, lt=1.0, description="AdamW beta2")
    adam_epsilon: float = Field(1e-8, gt=0.0, le=1e-2, description="AdamW epsilon")
    max_grad_norm: float | None = Field(
        1.0, gt=0.0, description="Clip the global gradient norm to this (HF Trainer default 1.0); None = no clipping"
    )
    warmup_ratio: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of optimizer steps spent warming up linearly"
    )
    scheduler: Literal["linear", "constant", "cosine"] = Field(
        "linear", description="Learning-rate decay after warmup (paper: linear to zero)"
    )
    seed: int = Field(3407, ge=0, description="Seeds data order, adapter init and dropout (paper: 3407)")
    save_every_epoch: bool = Field(True, description="Write a checkpoint after every epoch; False = only the last one")
    save_merged: bool = Field(True, description="Also write a merged plain HF model per checkpoint (vLLM/MIA-ready)")
    save_train_state: bool = Field(
        True, description="Keep trainable weights + optimizer state per checkpoint so an interrupted run can resume"
    )
    last_n: int | None = Field(
        None, ge=1, description="Train on the last N records only (the paper uses the last 2,220); None = all"
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32",
        description="Dtype the base model is loaded in (transformers' torch_dtype); adapters train in float32 over a "
        "bfloat16/float16 base, full fine-tuning trains the weights in this dtype (float16 is refused there: "
        "float16 weights without float32 master copies lose small updates; use mixed_precision fp16)",
    )
    mixed_precision: Literal["no", "fp16", "bf16"] = Field(
        "no",
        description="Autocast the forward pass to float16 (with dynamic loss scaling, the paper's fp16=True) or "
        "bfloat16 while the trained weights stay in `dtype`; fp16 needs a GPU, bf16 runs on GPUs and CPUs",
    )
    sharding: Literal["none", "fsdp"] = Field(
        "none",
        description="How data-parallel processes hold the model: none = a full replica each (DDP); fsdp = weights, "
        "gradients and AdamW state sharded over the processes (FSDP2), for full fine-tuning of a model whose training "
        "state does not fit one GPU. The math is the same either way; one process ignores it",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass instead of keeping them (less memory for a "
        "long max_length or a large model, about a third more compute; the same gradients)"
    )
    group_by_length: bool = Field(
        True, description="Batch sequences of similar length together (less padding, same examples per epoch)"
    )
    length_group_megabatch: int = Field(
        50, ge=1, le=10_000, description="Batches per shuffled mega-batch that is sorted by length (HF uses 50)"
    )
    num_threads: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="torch intra-op threads; None = the CPUs this process may run on (affinity and cgroup quota)",
    )


class DataFormat(Spec):
    """Which record fields make a training text. Every text is followed by the tokenizer's EOS."""

    format: Literal["text", "prompt_continuation", "alpaca", "chat"] = Field(
        "text",
        description="text: one field holds the text; prompt_continuation: prompt + continuation "
        "(the paper's 'original' baseline); alpaca: instruction/input/output in the Stanford Alpaca "
        "prompt template; chat: the same fields as a user/assistant turn in the tokenizer's chat template",
    )
    text_field: str = Field("text", min_length=1, description="Record field holding the text (format=text)")
    prompt_field: str = Field(
        "prompt", min_length=1, description="Record field holding the prompt (format=prompt_continuation)"
    )
    continuation_field: str = Field(
        "continuation", min_length=1, description="Record field holding the continuation (format=prompt_continuation)"
    )
    instruction_field: str = Field(
        "instruction", min_length=1, description="Record field holding the instruction (format=alpaca/chat)"
    )
    input_field: str = Field(
        "input",
        min_length=1,
        description="Record field holding the optional input (format=alpaca/chat); missing, empty or "
        "'<noinput>' means no input",
    )
    output_field: str = Field(
        "output", min_length=1, description="Record field holding the response (format=alpaca/chat)"
    )
    train_on_prompt: bool = Field(
        True,
        description="Loss on every token (the paper's setup); False = no loss on the prompt part (the prompt of "
        "prompt_continuation, the template up to the response of alpaca/chat), only on the response and EOS",
    )


class FineTuneParams(Spec):
    """What StartFineTune takes besides the base model and the dataset."""

    method: str = Field("lora", description="Registered fine-tune method: lora | dora | pissa | full (paper: lora)")
    method_config: dict[str, Any] = Field(
        default_factory=dict,
        description="The method's hyper-parameters (r, lora_alpha, lora_dropout, target_modules, ...); validated by "
        "the method's config class, with every default filled in",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation settings")
    data: DataFormat = Field(default_factory=DataFormat, description="Which record fields make the training text")

    @model_validator(mode="after")
    def _trainable_weights_keep_full_precision(self) -> "FineTuneParams":
        # Only full fine-tuning trains the loaded weights themselves; adapters are float32 over any base.
        if self.train.sharding == "fsdp" and self.method != "full":
            raise ValueError("train.sharding fsdp shards full fine-tuning; an adapter's training state is small enough "
                             "for every process to hold it: use sharding none")
        if self.train.sharding == "fsdp" and self.train.mixed_precision == "fp16":
            raise ValueError("train.sharding fsdp takes mixed_precision bf16 or no (fp16's loss scaler is not "
                             "wired for sharded gradients)")
        if self.method == "full" and self.train.dtype == "float16":
            raise ValueError("train.dtype float16 cannot be fully fine-tuned (updates below float16's resolution are "
                             "lost); load float32 and set train.mixed_precision: fp16")
        return self


class EpochRecord(Spec):
    """One epoch of a fine-tune as the job reports it."""

    epoch: int
    steps: int
    mean_loss: float = Field(description="Token-weighted mean next-token loss over the epoch (nats)")
    step_losses: list[float]
    useful_tokens: int = Field(description="Real (non-padding) tokens fed to the model")
    padded_tokens: int = Field(description="Positions computed, padding included (batch rows x batch width)")
    train_s: float
    resumed: bool = Field(description="Loaded from an earlier run's checkpoint, not trained now")
    tokens_per_s: float


class TrainSummary(Spec):
    epochs_trained: int
    epochs_resumed: int
    final_loss: float | None
    useful_tokens: int
    padded_tokens: int
    useful_fraction: float | None
    pad_to_max_tokens: int = Field(description="What padding every example to max_length would have computed")
    useful_fraction_if_pad_to_max: float | None
    useful_tokens_per_s: float | None
    padded_tokens_per_s: float | None
    train_s: float
    wall_s: float


class FineTuneJobResult(Spec):
    """StartFineTune's result; the checkpoints are the job's artifacts (`epoch-<k>/adapter`, `epoch-<k>/merged`)."""

    summary: TrainSummary
    epochs: list[EpochRecord]
    n_examples: int
    n_truncated: int
    max_length: int
    compute: ComputeRecord | None = Field(None, description="Where the job computed: device, "
                                          "precision, peak memory, library versions")
