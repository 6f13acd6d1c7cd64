"""Prompts of the self-instruct loop and the parsers of what the generator answers.

Two stages, as Wang et al. 2023 (Self-Instruct):
- instructions: a numbered list of in-context tasks ending at "N+1.", so a base model continues
  the list; a chat model gets the same list plus an explicit request (it answers, not continues).
- instances: demonstrations "Instruction / Input / Output", then the new instruction; the model
  writes its input (or <noinput>) and output.
The parsers accept both the continuation of a plain prompt and a chat reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from genleak.generator.tasks.self_instruct_seeds import NO_INPUT, SeedExample, normalize_input

INSTRUCTION_HEADER = "Come up with a series of tasks:"
INSTANCE_HEADER = ("Come up with an input and the correct output for the last instruction. "
                   f"If the instruction needs no input, write \"{NO_INPUT}\" as the input.")

# A list item starts a line: "12. ", "12) " or "12." (Wang et al. split on "\n\d+\s?\. ").
_ITEM = re.compile(r"^[ \t]*\d{1,3}[ \t]?[.)][ \t]*", re.MULTILINE)
_OUTPUT = re.compile(r"Output\s*:", re.IGNORECASE)
_INPUT = re.compile(r"Input\s*:", re.IGNORECASE)
# A model that keeps writing after its output starts the next demonstration.
_NEXT_BLOCK = re.compile(r"\n\s*(?:Instruction|Input|Task)\s*:", re.IGNORECASE)


def one_line(text: str) -> str:
    """Instructions are single paragraphs: whitespace runs collapse, trailing ':' goes (as Wang et al.)."""
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip()


def instruction_prompt(instructions: Sequence[str], chat: bool) -> str:
    lines = [INSTRUCTION_HEADER] + [f"{i}. {one_line(text)}" for i, text in enumerate(instructions, 1)]
    next_number = len(instructions) + 1
    if chat:
        lines += ["", f"Continue the list with new, diverse tasks, starting at {next_number}. "
                      "Write one task per line as a numbered list and nothing else."]
        return "\n".join(lines)
    return "\n".join(lines) + f"\n{next_number}."


def instance_prompt(demos: Sequence[tuple[str, SeedExample]], instruction: str, chat: bool) -> str:
    blocks = [INSTANCE_HEADER]
    blocks += [f"Instruction: {one_line(task)}\nInput: {ex.input or NO_INPUT}\nOutput: {ex.output}"
               for task, ex in demos]
    if chat:
        blocks.append(f"Instruction: {instruction}\n\nReply in exactly this form:\nInput: ...\nOutput: ...")
    else:
        blocks.append(f"Instruction: {instruction}\nInput:")
    return "\n\n".join(blocks)


def parse_instructions(completion: str, n_shown: int, chat: bool) -> list[str]:
    """New instructions in a completion, in order (empty strings kept, so the empty filter counts them).

    A plain prompt ends at "N+1.", so the completion's first line is item N+1 without its number.
    Text before the first item of a chat reply is a preamble ("Here are some tasks:") and is dropped.
    Each item ends at the next item or at a blank line (what follows a blank line is not the task).
    """
    text = completion if chat else f"{n_shown + 1}.{completion}"
    starts = list(_ITEM.finditer(text))
    items = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[match.end():end].lstrip()
        items.append(one_line(body.split("\n\n", 1)[0]))
    return items


@dataclass(frozen=True)
class ParsedInstance:
    input: str  # "" = no input
    output: str
    has_marker: bool  # False: no "Output:" in the completion (lenient mode took it whole)


def parse_instance(completion: str, chat: bool, lenient: bool = False) -> ParsedInstance | None:
    """(input, output) of an instance completion; None when it has no "Output:" (unless lenient).

    A plain prompt ends at "Input:", so the completion starts with the input. Lenient mode takes a
    completion without "Output:" whole as the output of a no-input task: small base models seldom
    keep the format, and without it they would yield no data at all.
    """
    text = completion if chat else f"Input:{completion}"
    found_input = _INPUT.search(text)
    after_input = found_input.end() if found_input else 0
    found_output = _OUTPUT.search(text, after_input)
    if found_output is None:
        if not lenient:
            return None
        return ParsedInstance(input="", output=_cut_output(text[after_input:]), has_marker=False)
    raw_input = text[after_input:found_output.start()] if found_input else ""
    return ParsedInstance(input=normalize_input(raw_input), output=_cut_output(text[found_output.end():]),
                          has_marker=True)


def _cut_output(text: str) -> str:
    following = _NEXT_BLOCK.search(text)
    return (text[:following.start()] if following else text).strip()


def chat_renderer(tokenizer: Any, system_prompt: str | None) -> Callable[[str], str]:
    """Wraps a prompt as one user turn with the generator's chat template (engines take raw strings)."""

    def render(content: str) -> str:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": content})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render


def fit_prompt(build: Callable[[int], str], k: int, fits: Callable[[str], bool]) -> tuple[str, int] | None:
    """The prompt with the most in-context items (at most k) that fits the token budget, and that count.

    Long seed inputs (whole e-mails) can overflow a small generator's context; fewer demonstrations
    beat an engine error. None when even the prompt without demonstrations is too long.
    """
    for used in range(k, -1, -1):
        prompt = build(used)
        if fits(prompt):
            return prompt, used
    return None
