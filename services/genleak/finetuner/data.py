"""Records -> token ids -> length-grouped, dynamically padded batches.

Padding is per batch (to the longest sequence in it), never to max_length: with short
generated texts, pad-to-max spends most compute on padding. Loss is masked on padding
positions only, by position, so a real EOS still gets trained even when pad id == eos id.

With `train_on_prompt=False` the prompt part of each text (everything before the response)
gets no loss either. Each record says where its response starts as a character offset into
its text; tokenising the whole text and counting the tokens that end at or before that offset
gives the token boundary. (Tokenising the prompt alone, as Stanford Alpaca does, can disagree
with the full text's tokens where BPE merges across the boundary.)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from genleak.compute.batching import IGNORE_INDEX as IGNORE_INDEX  # re-exported: the loop and tests read it here
from genleak.compute.batching import causal_lm_batch, chunks, length_grouped
from genleak.core.errors import InvalidSpec
from genleak.contracts.finetune import DataFormat

log = logging.getLogger(__name__)


# Stanford Alpaca's templates (tatsu-lab/stanford_alpaca), with the "\n" after "### Response:" that
# Alpaca-LoRA and LLaMA-Factory use; the output follows directly.
ALPACA_PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
NO_INPUT = "<noinput>"  # self-instruct's marker for an empty input


@dataclass(frozen=True)
class TrainText:
    """One training text; `text[:prompt_chars]` is its prompt part (None: not locatable, chat only)."""

    text: str
    prompt_chars: int | None = 0


class TokenIds(tuple):
    """Token ids of one training sequence; its first `n_prompt` tokens get no loss in `collate`.

    A tuple, so batching passes it around unchanged and it compares equal to plain tuples.
    """

    n_prompt: int = 0


def token_ids(ids: Iterable[int], n_prompt: int = 0) -> TokenIds:
    seq = TokenIds(ids)
    seq.n_prompt = min(max(n_prompt, 0), len(seq))
    return seq


@dataclass(frozen=True)
class EncodedDataset:
    ids: tuple[tuple[int, ...], ...]
    n_truncated: int

    @property
    def lengths(self) -> list[int]:
        return [len(seq) for seq in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def select_records(records: Sequence[dict[str, Any]], last_n: int | None) -> Sequence[dict[str, Any]]:
    """The paper trains on the LAST rows of the file (the first rows are the attack's targets)."""
    return records if last_n is None else records[-last_n:]


def record_texts(records: Sequence[dict[str, Any]], fmt: DataFormat, tokenizer: Any = None) -> list[str]:
    """The training texts of `records` (format=chat needs the tokenizer for its chat template)."""
    return [example.text for example in record_examples(records, fmt, tokenizer)]


def record_examples(records: Sequence[dict[str, Any]], fmt: DataFormat, tokenizer: Any = None) -> list[TrainText]:
    """Training texts plus where each one's response starts (for `train_on_prompt=False`)."""
    if not records:
        raise InvalidSpec("no training records", field="records")
    if fmt.format == "text":
        return [TrainText(_field(rec, fmt.text_field, i)) for i, rec in enumerate(records)]
    if fmt.format == "prompt_continuation":
        examples = []
        for i, rec in enumerate(records):
            prompt = _field(rec, fmt.prompt_field, i)
            examples.append(TrainText(prompt + _field(rec, fmt.continuation_field, i), len(prompt)))
        return examples
    if fmt.format == "alpaca":
        return [_alpaca(rec, fmt, i) for i, rec in enumerate(records)]
    _check_chat_template(tokenizer)
    return [_chat(rec, fmt, i, tokenizer) for i, rec in enumerate(records)]


def _alpaca(record: dict[str, Any], fmt: DataFormat, index: int) -> TrainText:
    instruction = _field(record, fmt.instruction_field, index)
    extra = _optional_input(record, fmt.input_field, index)
    if extra:
        prompt = ALPACA_PROMPT_INPUT.format(instruction=instruction, input=extra)
    else:
        prompt = ALPACA_PROMPT_NO_INPUT.format(instruction=instruction)
    return TrainText(prompt + _field(record, fmt.output_field, index), len(prompt))


def _chat(record: dict[str, Any], fmt: DataFormat, index: int, tokenizer: Any) -> TrainText:
    instruction = _field(record, fmt.instruction_field, index)
    extra = _optional_input(record, fmt.input_field, index)
    output = _field(record, fmt.output_field, index)
    user = {"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction}
    where = f"records[{index}]"
    text = _render_chat(tokenizer, [user, {"role": "assistant", "content": output}], False, where)
    prompt = _render_chat(tokenizer, [user], True, where)
    if text.startswith(prompt):
        return TrainText(text, len(prompt))
    # Templates that render the history differently once an answer follows: the response is
    # the last occurrence of the output text.
    at = text.rfind(output) if output else -1
    return TrainText(text, at if at >= 0 else None)


def _check_chat_template(tokenizer: Any) -> None:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise InvalidSpec(
            "format 'chat' needs a tokenizer with a chat template (tokenizer.chat_template); this model's "
            "tokenizer has none: use format 'alpaca' or 'text', or a model that ships a chat template",
            field="data.format",
        )


def _render_chat(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool, where: str) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    except Exception as exc:  # jinja errors: a template that rejects these messages
        raise InvalidSpec(f"the tokenizer's chat template failed: {exc}", field=where) from None


def _optional_input(record: dict[str, Any], name: str, index: int) -> str:
    value = record.get(name) if isinstance(record, dict) else None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSpec(
            f"expected a string field {name!r} (or none), got {type(value).__name__}", field=f"records[{index}].{name}"
        )
    return "" if value.strip() in ("", NO_INPUT) else value


def _field(record: dict[str, Any], name: str, index: int) -> str:
    value = record.get(name) if isinstance(record, dict) else None
    if not isinstance(value, str):
        raise InvalidSpec(
            f"expected a string field {name!r}, got {type(value).__name__}", field=f"records[{index}].{name}"
        )
    return value


def encode_examples(tokenizer: Any, examples: Sequence[TrainText], fmt: DataFormat, max_length: int) -> EncodedDataset:
    """`encode_texts` for `record_examples`: masks prompts unless `fmt.train_on_prompt`.

    Chat texts already hold the template's special tokens (BOS, turn markers), so the
    tokenizer adds none of its own there.
    """
    return encode_texts(
        tokenizer,
        [example.text for example in examples],
        max_length,
        prompt_chars=None if fmt.train_on_prompt else [example.prompt_chars for example in examples],
        add_special_tokens=fmt.format != "chat",
    )


def encode_texts(
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    prompt_chars: Sequence[int | None] | None = None,
    add_special_tokens: bool = True,
) -> EncodedDataset:
    """Tokenise with the model's usual special tokens, append EOS, then truncate (as the paper does).

    `prompt_chars[i]`: the first characters of `texts[i]` that get no loss; a token gets no loss
    when it ends inside them (one that straddles the boundary predicts response text: trained).
    """
    eos = tokenizer.eos_token_id
    n_prompt = [0] * len(texts)
    if prompt_chars is None:
        encoded = tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
    else:
        encoded, n_prompt = _encode_with_prompt_tokens(tokenizer, texts, prompt_chars, add_special_tokens)
    full = [list(ids) + [eos] for ids in encoded]
    truncated = sum(len(ids) > max_length for ids in full)
    ids = tuple(token_ids(seq[:max_length], n) for seq, n in zip(full, n_prompt))
    no_target = sum(seq.n_prompt >= len(seq) for seq in ids) if prompt_chars is not None else 0
    if no_target:
        log.warning("%d of %d examples are all prompt after truncation to %d tokens: they train nothing",
                    no_target, len(ids), max_length)
    return EncodedDataset(ids=ids, n_truncated=truncated)


def _encode_with_prompt_tokens(
    tokenizer: Any, texts: list[str], prompt_chars: Sequence[int | None], add_special_tokens: bool
) -> tuple[list[list[int]], list[int]]:
    missing = [i for i, chars in enumerate(prompt_chars) if chars is None]
    if missing:
        raise InvalidSpec(
            f"cannot find where the response starts in the chat template's text of record {missing[0]}; "
            "use train_on_prompt=true with this tokenizer",
            field="data.train_on_prompt",
        )
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(texts, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        n_prompt = [_leading_tokens_within(spans, chars) for spans, chars in zip(offsets, prompt_chars)]
        return enc["input_ids"], n_prompt
    # Slow tokenizers have no offsets: count the prompt's own tokens (Stanford Alpaca's way).
    encoded = tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
    prompts = [text[:chars] for text, chars in zip(texts, prompt_chars)]
    prompt_ids = tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"]
    return encoded, [len(ids) if chars else 0 for ids, chars in zip(prompt_ids, prompt_chars)]


def _leading_tokens_within(offsets: Sequence[tuple[int, int]], chars: int) -> int:
    """How many leading tokens end within the first `chars` characters (added special tokens
    such as BOS have offsets (0, 0): leading ones count as prompt, trailing ones do not)."""
    if not chars:
        return 0
    for k, (_, end) in enumerate(offsets):
        if end > chars:
            return k
    return len(offsets)


def batch_order(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
    megabatch: int = 50,
) -> list[list[int]]:
    """Indices per batch for one epoch, reproducible from (seed, epoch) alone so a resumed run matches.

    With grouping: shuffle, cut into mega-batches of `megabatch` batches, sort each by length,
    cut into batches, then shuffle the batch order so length does not follow the LR schedule.
    """
    rng = random.Random(f"genleak-finetune:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return chunks(order, batch_size)
    batches = length_grouped(order, lengths, batch_size, megabatch)
    rng.shuffle(batches)
    return batches


def collate(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence in the batch; labels are -100 on the padding and on
    the first `n_prompt` tokens of a `TokenIds` sequence (train_on_prompt=False)."""
    prompts = [getattr(seq, "n_prompt", 0) for seq in sequences]  # plain sequences: loss on every token
    return causal_lm_batch(sequences, pad_id, no_loss_prefix=prompts)
