"""Prompts of the self-instruct loop and the parsers of what the generator answers.

Three stages, in the structure of Wang et al. 2023's prompts (Self-Instruct, github
yizhongw/self-instruct); the wording is genleak's own:
- instructions: a numbered list of in-context tasks ending at "N+1.", so a base model continues the
  list (their `encode_prompt`); a chat model gets the same list plus an explicit request (it answers
  rather than continues; a 135M chat model ignores a bare list).
  For the two later stages a plain prompt ends with the answer's marker ("Classification:", "Input:",
  "Class label:") and a chat prompt gets the same marker as the start of the assistant's turn
  (CLASSIFY_MARKER, INPUT_MARKER, LABEL_MARKER, appended after the chat template by the loop), so the
  completion of either format starts right after the marker: a 135M chat model keeps the format far
  more often when its reply is started for it (genleak's choice; Wang et al. prompt a base model only).
- classification: few-shot "Task: ... / Classification: Yes|No" lines, then the new task (their
  clf_task_template.py asks "Is it classification?"); the answer's first word decides.
- instances: demonstrations in "Task: / Input: / Output:" blocks, then the new task (input-first,
  their input_first_template_for_gen); classification tasks get "Task: / Class label: / Input:"
  blocks instead, so the model picks a label first and then writes an input that fits it
  (output-first, their output_first_template_for_clf: input-first generation skews labels).
  genleak asks for ONE instance per task (Wang et al. allow up to five) and parses the first.
The parsers accept both the continuation of a plain prompt and a chat reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from genleak.generator.tasks.self_instruct_seeds import NO_INPUT, SeedExample, normalize_input

INSTRUCTION_HEADER = "Come up with a series of tasks:"
CLASSIFY_HEADER = ("For each task, say whether it is a classification task: one whose answer is a label taken "
                   "from a small, fixed set (such as yes/no, positive/negative, or options A to D).")
INSTANCE_HEADER = ("Come up with an input and the correct output for the last task. "
                   f"If the task needs no input, write \"{NO_INPUT}\" as the input.")
CLF_INSTANCE_HEADER = ("Each task below sorts its input into one of a fixed set of class labels. For the last "
                       "task, first choose one of its class labels, then write an input that belongs to that "
                       f"label. If the task needs no input, write \"{NO_INPUT}\" as the input.")

# Wang et al.'s stop sequences: instruction lists end at a blank line or where item 16 begins (after 8
# shown items); the classification answer at a newline or "Task"; instances at the next "Task:".
CLASSIFY_STOP = ("\n", "Task")
INSTANCE_STOP = ("Task:",)
CLASSIFY_MARKER, INPUT_MARKER, LABEL_MARKER = "Classification:", "Input:", "Class label:"

# A list item starts a line: "12. ", "12) " or "12." (Wang et al. split on "\n\d+\s?\. ").
_ITEM = re.compile(r"^[ \t]*\d{1,3}[ \t]?[.)][ \t]*", re.MULTILINE)
# Markers as Wang et al.'s prepare_for_finetuning.py reads them ("Output 2:" too).
_OUTPUT = re.compile(r"Output\s*\d*\s*:", re.IGNORECASE)
_INPUT = re.compile(r"Input\s*\d*\s*:", re.IGNORECASE)
_LABEL = re.compile(r"Class\s+label\s*:", re.IGNORECASE)
_CLASSIFICATION = re.compile(r"Classification\s*:", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")
# A model that keeps writing after its instance starts the next one (or the next demonstration). As Wang
# et al., an output ends at any further "Input:"/"Output:" and a label's block at the next "Class label:".
_NEXT_BLOCK = re.compile(r"(?:Input|Output)\s*\d*\s*:|\n\s*(?:Instruction|Task)\s*:", re.IGNORECASE)
_NEXT_CLF_BLOCK = re.compile(r"Class\s+label\s*:|\n\s*(?:Instruction|Task)\s*:", re.IGNORECASE)


def one_line(text: str) -> str:
    """Instructions are single paragraphs: whitespace runs collapse, trailing ':' goes (as Wang et al.)."""
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip()


# ---- stage 1: instructions

def instruction_prompt(instructions: Sequence[str], chat: bool) -> str:
    lines = [INSTRUCTION_HEADER] + [f"{i}. {one_line(text)}" for i, text in enumerate(instructions, 1)]
    next_number = len(instructions) + 1
    if chat:
        lines += ["", f"Continue the list with new, diverse tasks, starting at {next_number}. "
                      "Write one task per line as a numbered list and nothing else."]
        return "\n".join(lines)
    return "\n".join(lines) + f"\n{next_number}."


def list_stops(stop_item: int | None, chat: bool) -> tuple[str, ...]:
    """Stop sequences of an instruction list: Wang et al.'s "\n\n", "\nN", "N.", "N ." (N = 16).

    A chat reply keeps going past a blank line: chat models put one after a preamble ("Here are more
    tasks:"), so the blank-line stop would end the reply before its list; the parser still ends each
    item at a blank line.
    """
    stops = () if chat else ("\n\n",)
    if stop_item is not None:
        stops += (f"\n{stop_item}", f"{stop_item}.", f"{stop_item} .")
    return stops


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


# ---- stage 2: is it a classification task?

def classify_prompt(demos: Sequence[tuple[str, bool]], instruction: str, chat: bool) -> str:
    lines = [CLASSIFY_HEADER, ""]
    for task, is_classification in demos:
        lines += [f"Task: {one_line(task)}", f"Classification: {'Yes' if is_classification else 'No'}", ""]
    lines.append(f"Task: {instruction}")
    if chat:
        lines += ["", "Is this last task a classification task? Answer Yes or No."]
    else:
        lines.append(CLASSIFY_MARKER)
    return "\n".join(lines)


def parse_classification(completion: str) -> bool | None:
    """True for a "Yes", False for a "No" (the answer's first word, any case); None when it is neither.

    The completion follows "Classification:" (a plain prompt's end or a started chat reply); a reply
    that repeats the marker is read past it.
    """
    word = _WORD.search(_drop_marker(completion, _CLASSIFICATION))
    answer = word.group(0).lower() if word else ""
    return True if answer == "yes" else False if answer == "no" else None


# ---- stage 3: instances

def instance_prompt(demos: Sequence[tuple[str, SeedExample]], instruction: str, chat: bool) -> str:
    """Input-first: the model writes an input (or <noinput>) and then its output."""
    blocks = [INSTANCE_HEADER]
    blocks += [f"Task: {one_line(task)}\nInput: {ex.input or NO_INPUT}\nOutput: {ex.output}" for task, ex in demos]
    if chat:
        blocks.append(f"Task: {instruction}\n\nReply in exactly this form:\nInput: ...\nOutput: ...")
    else:
        blocks.append(f"Task: {instruction}\n{INPUT_MARKER}")
    return "\n\n".join(blocks)


def clf_instance_prompt(demos: Sequence[tuple[str, SeedExample]], instruction: str, chat: bool) -> str:
    """Output-first, for classification tasks: the model picks a class label, then writes a fitting input."""
    blocks = [CLF_INSTANCE_HEADER]
    blocks += [f"Task: {one_line(task)}\nClass label: {one_line(ex.output)}\nInput: {ex.input or NO_INPUT}"
               for task, ex in demos]
    if chat:
        blocks.append(f"Task: {instruction}\n\nReply in exactly this form:\nClass label: ...\nInput: ...")
    else:
        blocks.append(f"Task: {instruction}\n{LABEL_MARKER}")
    return "\n\n".join(blocks)


@dataclass(frozen=True)
class ParsedInstance:
    input: str  # "" = no input
    output: str  # the class label, for an output-first instance
    has_marker: bool  # False: the completion lacked the expected marker (lenient mode took it whole)
    complete: bool = False  # a following block started after it: it ended before the completion did


def parse_instance(completion: str, chat: bool, lenient: bool = False) -> ParsedInstance | None:
    """(input, output) of an input-first completion; None when it has no "Output:" (unless lenient).

    chat=False: the completion follows an "Input:" (a plain prompt's end, or a chat reply started with
    it), so it starts with the input; a repeated "Input:" is dropped. chat=True: a free reply. Lenient
    mode takes a completion without "Output:" whole as the output of a no-input task: small models
    seldom keep the format, and without it they would yield no data at all.
    """
    text = completion if chat else INPUT_MARKER + _drop_marker(completion, _INPUT)
    found_input = _INPUT.search(text)
    after_input = found_input.end() if found_input else 0
    found_output = _OUTPUT.search(text, after_input)
    if found_output is None:
        if not lenient:
            return None
        output, complete = _cut_block(text[after_input:], _NEXT_BLOCK)
        return ParsedInstance(input="", output=output, has_marker=False, complete=complete)
    raw_input = text[after_input:found_output.start()] if found_input else ""
    output, complete = _cut_block(text[found_output.end():], _NEXT_BLOCK)
    return ParsedInstance(input=normalize_input(raw_input), output=output, has_marker=True, complete=complete)


def parse_clf_instance(completion: str, chat: bool, lenient: bool = False) -> ParsedInstance | None:
    """(input, class label) of an output-first completion; None when it has no "Class label:" (unless lenient).

    chat=False: the completion follows a "Class label:" (a plain prompt's end, or a chat reply started
    with it), so it starts with the label; chat=True: a free reply. The label runs to "Input:"; without
    that marker its first line is the label and the rest the input (Wang et al.'s split). Lenient mode
    reads a free reply without "Class label:" as if it began with one.
    """
    text = completion if chat else LABEL_MARKER + _drop_marker(completion, _LABEL)
    found = _LABEL.search(text)
    if found is None and not lenient:
        return None
    body, complete = _cut_block(text[found.end() if found else 0:], _NEXT_CLF_BLOCK)
    found_input = _INPUT.search(body)
    if found_input is not None:
        label, raw_input = body[:found_input.start()], body[found_input.end():]
    else:
        label, _, raw_input = body.partition("\n")
    return ParsedInstance(input=normalize_input(raw_input), output=" ".join(label.split()),
                          has_marker=found is not None, complete=complete)


def _drop_marker(completion: str, marker: re.Pattern) -> str:
    """A completion that repeats the marker it follows ("Input: Input: ...") loses the repeat."""
    found = marker.match(completion.lstrip())
    return completion.lstrip()[found.end():] if found else completion


def _cut_block(text: str, following: re.Pattern) -> tuple[str, bool]:
    found = following.search(text)
    return (text[:found.start()] if found else text).strip(), found is not None


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
