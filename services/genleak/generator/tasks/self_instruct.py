"""Scenario B's generation: the Self-Instruct loop of Wang et al. 2023 over seed tasks (docs/paper.md, scenario B).

The paper's own script is not public, so genleak follows Wang et al.'s official code
(github yizhongw/self-instruct); the numbers below are theirs unless marked as genleak's.

Each round makes three batched engine calls (vLLM batches each one):
1. instructions (bootstrap_instructions.py): `prompts_per_round` numbered lists, each of 8 in-context
   instructions (6 seed + 2 machine-written, seeds filling in while fewer exist, shuffled), sampled at
   temperature 0.7, top-p 0.5, presence penalty 2, frequency penalty 0, up to 1024 tokens, stopping at
   a blank line or where item 16 begins. New items are filtered: 3 words or fewer or more than 150,
   blacklisted keywords, a "Write a program" start, a first character that is punctuation or not
   ASCII, ROUGE-L F > 0.7 against any seed or machine instruction (self_instruct_filters).
2. classification (identify_clf_or_not.py): each surviving instruction is asked, few-shot, whether it
   is a classification task with finite output labels; greedy, 3 tokens, stop at a newline or "Task".
   Seed tasks that carry `is_classification` are the demonstrations (their labels are trusted);
   without any, a built-in set written for genleak stands in (self_instruct_demos).
3. instances (generate_instances.py): classification tasks output-first (a class label, then an input
   that fits it), the others input-first; greedy (temperature 0) with presence penalty 1.5, up to 300
   tokens when the call holds a classification task and 350 otherwise, stopping at the next "Task:".
   Instances with an empty output, input equal to output, or input or output ending in ":" are
   dropped (prepare_for_finetuning.py).
The loop stops at `n_instructions` accepted records or after `max_rounds`.

Deliberate deviations (each field's description says so too):
- One instance per instruction, not up to five: a record is (instruction, input, output), and
  `n_instructions` counts records. A completion cut off by the token limit loses that instance unless a
  following instance had begun (Wang et al. drop the last instance of a cut-off completion).
- Instance demonstrations are `instance_icl` seed tasks (classification seeds, or built-in ones, for
  output-first prompts) instead of Wang et al.'s fixed hand-written lists; the prompts are in
  genleak's words, in their structure (self_instruct_prompts).
- Chat generators (prompt_format chat/auto) get each prompt as one user turn with an explicit request
  appended, and instruction lists do not stop at a blank line (a chat reply puts one after its
  preamble): small chat models answer rather than continue a bare list. Their classification and
  instance replies are started with the answer's marker ("Classification:", "Input:", "Class
  label:"), which a plain prompt ends with anyway: a 135M chat model then keeps the format.
- A cut-off instruction list loses only its last item (Wang et al. drop the whole list); the items
  before it are complete.
- Instructions get their first letter upper-cased; Wang et al.'s str.capitalize() also lower-cases the
  rest, which would mangle the names and acronyms this privacy audit tracks.
- ROUGE-L is compared in exact arithmetic (F = 0.7 exactly passes), and genleak may cap output words.
- An instruction joins the ROUGE pool and the in-context pool once it passes the filters, even if its
  instance is dropped later (as Wang et al., whose instances are generated in a separate pass).

Every random choice is seeded from `seed` (per round and stage), so the same seed and the same
engine outputs give the same dataset.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from typing import Any, Literal

from pydantic import Field, model_validator

from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.core.specs import Spec
from genleak.engines.base import GenerationEngine, SamplingConfig
from genleak.generator.tasks.registry import register_task
from genleak.generator.tasks.self_instruct_demos import CLASSIFICATION_TASKS, CLASSIFY_DEMOS
from genleak.generator.tasks.self_instruct_filters import (
    INSTANCE_REASONS, INSTRUCTION_REASONS, WANG_BLACKLIST, InstructionRules, RougePool, instance_rejection,
)
from genleak.generator.tasks.self_instruct_prompts import (
    CLASSIFY_MARKER, CLASSIFY_STOP, INPUT_MARKER, INSTANCE_STOP, LABEL_MARKER, ParsedInstance, classify_prompt,
    clf_instance_prompt, fit_prompt, instance_prompt, instruction_prompt, list_stops, parse_classification,
    parse_clf_instance, parse_instance, parse_instructions,
)
from genleak.generator.tasks.self_instruct_seeds import (  # noqa: F401  (load_seed_tasks: re-exported)
    SeedExample, SeedTask, load_seed_tasks, normalize_seed_tasks,
)
from genleak.generator.tasks.self_instruct_text import TextTools, text_tools

log = logging.getLogger(__name__)

STAGE = "self_instruct"
SOURCE = "self_instruct"
# Every way a candidate instruction can be dropped, in pipeline order (all appear in stats, zeros too).
DROP_REASONS = ("truncated",) + INSTRUCTION_REASONS + ("rouge", "prompt_too_long", "instance_unparsed",
                                                       "instance_truncated") + INSTANCE_REASONS
Stage = Literal["instructions", "classify", "instances"]


class SelfInstructConfig(Spec):
    """Knobs of the loop; defaults are Wang et al.'s. Sampling fields carry the generator service's flat
    sampling names (temperature, top_k, top_p, max_new_tokens, n, seed: the instruction stage's)."""

    n_instructions: int = Field(100, ge=1, description="Stop once this many instructions (with instances) are accepted")
    max_rounds: int = Field(50, ge=1, description="Stop after this many rounds even if short of n_instructions")
    prompts_per_round: int = Field(8, ge=1, description="Instruction-generation prompts per round (one batched call)")
    icl_seed: int = Field(6, ge=0, description="Seed instructions shown per prompt (Wang et al.: 6)")
    icl_generated: int = Field(2, ge=0, description="Machine-written instructions shown per prompt; seeds fill in "
                                                    "while fewer exist (Wang et al.: 2)")
    instance_icl: int = Field(2, ge=0, description="Demonstration tasks (instruction + one worked example) per "
                              "instance prompt, sampled from the seeds (classification seeds, else built-in ones, "
                              "for output-first prompts). genleak's choice: Wang et al. use fixed hand-written lists")
    rouge_threshold: float | None = Field(0.7, gt=0.0, le=1.0, description="Drop candidates whose ROUGE-L F is "
                                          "strictly above this against any seed or machine instruction (Wang et "
                                          "al.: > 0.7); None = off")
    min_instruction_words: int = Field(4, ge=0, description="Drop instructions with fewer words than this; 4 drops "
                                       "those of 3 words or fewer, as Wang et al. (len(inst.split()) <= 3)")
    max_instruction_words: int = Field(150, ge=1, description="Drop instructions with more words (Wang et al.: "
                                       "150)")
    blacklist: tuple[str, ...] = Field(WANG_BLACKLIST, description="Drop instructions containing any of these "
                                       "whole words, any case (Wang et al.'s list: tasks a text model cannot do). "
                                       "Stanford Alpaca adds video, audio, music, flowchart, diagram: list them "
                                       "here to opt in; empty = off")
    drop_write_program: bool = Field(True, description="Drop instructions starting with \"Write a program\" (Wang "
                                     "et al.: the model tacks it onto other tasks)")
    drop_bad_start: bool = Field(True, description="Drop instructions whose first character is ASCII punctuation "
                                 "or not ASCII (Wang et al.)")
    max_output_words: int | None = Field(400, ge=1, description="Drop instances whose output has more words "
                                         "(genleak's own cap; Wang et al. have none); None = off")
    drop_truncated: bool = Field(True, description="Drop a list's last instruction, and an instance not followed "
                                 "by another, when the completion used all its new tokens (it was cut off). Wang et "
                                 "al. drop the whole list; every item before the last is complete, so genleak "
                                 "keeps them")
    lenient_instances: bool = Field(False, description="Take an input-first completion without 'Output:' whole as "
                                    "the output of a no-input task (for small generators that do not keep the "
                                    "format; genleak's own)")
    prompt_format: Literal["auto", "chat", "plain"] = Field("auto", description="chat = wrap each prompt in the "
                                                            "generator's chat template, with an explicit request "
                                                            "appended and classification/instance replies started "
                                                            "with their marker (a deviation: small chat models answer "
                                                            "rather than continue a bare list); auto = chat if it "
                                                            "has one")
    system_prompt: str | None = Field(None, description="System message for chat prompts; None = none")
    max_prompt_tokens: int | None = Field(None, ge=8, description="Prompt token budget (demonstrations are trimmed "
                                          "to fit); None = the generator's context minus the completion's room")
    # ---- instruction stage (Wang et al.'s bootstrap_instructions.py)
    temperature: float = Field(0.7, ge=0.0, description="Instruction-stage temperature (Wang et al.: 0.7); 0 = "
                               "greedy")
    top_k: int = Field(-1, ge=-1, description="Top-k of the instruction and instance stages; -1 or 0 = off (Wang "
                       "et al.: off)")
    top_p: float = Field(0.5, ge=0.0, le=1.0, description="Instruction-stage nucleus mass (Wang et al.: 0.5); 1.0 "
                         "= off, 0 = greedy (OpenAI semantics)")
    presence_penalty: float = Field(2.0, ge=-2.0, le=2.0, description="Instruction-stage presence penalty over the "
                                    "completion's own tokens (Wang et al.: 2)")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Instruction-stage frequency penalty (Wang "
                                     "et al.: 0)")
    max_new_tokens: int = Field(1024, ge=1, description="New tokens per instruction list (Wang et al.: 1024)")
    list_stop_item: int | None = Field(16, ge=3, description="Stop a list where this item number begins (Wang et "
                                       "al.'s stop sequences '\\n16', '16.', '16 .' after 8 shown items: up to 7 new "
                                       "ones); plain prompts also stop at a blank line; None = no item stop")
    # ---- classification stage (Wang et al.'s identify_clf_or_not.py; greedy, stop at "\n" or "Task")
    classify: bool = Field(True, description="Ask the generator whether each new instruction is a classification "
                           "task and write those output-first (Wang et al.); false = every instance input-first "
                           "and records carry is_classification null (a deviation)")
    classify_icl: int = Field(16, ge=0, description="Demonstrations of the classification question, half yes and "
                              "half no where possible, chosen once per run: seed tasks labelled is_classification, "
                              "else a built-in set (Wang et al. use a fixed list of 31)")
    classify_max_new_tokens: int = Field(3, ge=1, description="New tokens of a classification answer (Wang et al.: 3)")
    # ---- instance stage (Wang et al.'s generate_instances.py)
    instance_temperature: float | None = Field(0.0, ge=0.0, description="Instance-stage temperature (Wang et al.: "
                                               "0, greedy); None = temperature")
    instance_top_p: float = Field(1.0, ge=0.0, le=1.0, description="Instance-stage nucleus mass; 0 = greedy. Wang "
                                  "et al. pass 0 with temperature 0, which is greedy decoding either way; 1.0 (off) "
                                  "leaves a sampled instance stage (instance_temperature > 0) untruncated")
    instance_presence_penalty: float = Field(1.5, ge=-2.0, le=2.0, description="Instance-stage presence penalty "
                                             "(Wang et al.: 1.5)")
    instance_frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Instance-stage frequency penalty "
                                              "(Wang et al.: 0)")
    instance_max_new_tokens: int = Field(350, ge=1, description="New tokens per instance completion (Wang et al.: "
                                         "350)")
    clf_instance_max_new_tokens: int | None = Field(300, ge=1, description="New tokens per instance completion in "
                                                    "a round holding a classification task, never more than "
                                                    "instance_max_new_tokens (Wang et al.: 300, for their longer "
                                                    "output-first prompt); None = instance_max_new_tokens")
    n: int = Field(1, ge=1, le=1, description="Completions per prompt: always 1 (rounds provide the diversity)")
    seed: int = Field(0, description="Seed of demonstration sampling and of every round's sampling")
    limit: int | None = Field(None, ge=1, description="Use only the first N seed tasks; None = all")

    @model_validator(mode="after")
    def _consistent(self) -> "SelfInstructConfig":
        shown = self.icl_seed + self.icl_generated
        if shown < 1:
            raise ValueError("icl_seed + icl_generated must be at least 1")
        if self.min_instruction_words > self.max_instruction_words:
            raise ValueError("min_instruction_words exceeds max_instruction_words")
        if self.list_stop_item is not None and self.list_stop_item < shown + 2:
            raise ValueError(f"list_stop_item must be at least icl_seed + icl_generated + 2 = {shown + 2} (the "
                             "prompt ends at item icl_seed + icl_generated + 1)")
        return self

    def sampling(self, stage: Stage, round_no: int, chat: bool = False, classification: bool = False) -> SamplingConfig:
        """The engine sampling of one stage's call in round `round_no` (`classification`: the call holds one)."""
        seed = derive_seed(self.seed, stage, round_no)
        if stage == "classify":
            return SamplingConfig(temperature=0.0, max_new_tokens=self.classify_max_new_tokens, n=1, seed=seed,
                                  stop=CLASSIFY_STOP)
        if stage == "instructions":
            return _sampling(self.temperature, self.top_k, self.top_p, self.max_new_tokens, seed,
                             self.presence_penalty, self.frequency_penalty, list_stops(self.list_stop_item, chat))
        temperature = self.temperature if self.instance_temperature is None else self.instance_temperature
        max_new_tokens = self.instance_max_new_tokens
        if classification and self.clf_instance_max_new_tokens is not None:
            max_new_tokens = min(max_new_tokens, self.clf_instance_max_new_tokens)
        return _sampling(temperature, self.top_k, self.instance_top_p, max_new_tokens, seed,
                         self.instance_presence_penalty, self.instance_frequency_penalty, INSTANCE_STOP)


def _sampling(temperature: float, top_k: int, top_p: float, max_new_tokens: int, seed: int, presence: float,
              frequency: float, stop: tuple[str, ...]) -> SamplingConfig:
    greedy = temperature == 0.0 or top_p == 0.0  # OpenAI: top_p 0 keeps only the most likely token
    return SamplingConfig(temperature=0.0 if greedy else temperature, top_k=top_k, top_p=1.0 if greedy else top_p,
                          max_new_tokens=max_new_tokens, n=1, seed=seed, presence_penalty=presence,
                          frequency_penalty=frequency, stop=stop)


def derive_seed(seed: int, stage: str, round_no: int) -> int:
    """A distinct, reproducible sampling seed per (seed, stage, round)."""
    return random.Random(f"self-instruct-{stage}-{seed}-{round_no}").randrange(2**31)


def generate_self_instruct(
    engine: GenerationEngine,
    tokenizer: Any,
    records: list[dict[str, Any]],
    config: SelfInstructConfig,
    reporter: Reporter | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the loop over seed-task records; returns (instruction records, stats).

    `tokenizer` is the generator's model folder (its tokenizer gives the chat template and token
    counts), a tokenizer object, or a token-counting function (plain prompts only).
    """
    started = time.perf_counter()
    seeds = normalize_seed_tasks(records if config.limit is None else records[: config.limit])
    tools = text_tools(tokenizer, config.prompt_format, config.system_prompt)
    loop = _Loop(engine, tools, seeds, config, reporter or NULL_REPORTER)
    out = loop.run()
    stats = loop.stats(time.perf_counter() - started)
    log.info("self_instruct: %s", stats)
    return out, stats


def classify_demos(seeds: list[SeedTask], k: int, seed: int) -> tuple[list[tuple[str, bool]], str]:
    """The classification question's demonstrations and where they come from (seeds / builtin / seeds+builtin).

    Seed labels are trusted. Built-in demonstrations join when the seeds lack labels of either kind;
    then up to k are taken alternately from the yes and no piles (seeded shuffles) and shuffled.
    """
    labelled = [(s.instruction, s.is_classification) for s in seeds if s.is_classification is not None]
    source = "seeds"
    if len({label for _, label in labelled}) < 2:
        source = "seeds+builtin" if labelled else "builtin"
        known = {text for text, _ in labelled}
        labelled += [demo for demo in CLASSIFY_DEMOS if demo[0] not in known]
    rng = random.Random(f"self-instruct-classify-{seed}")
    piles = [[d for d in labelled if d[1]], [d for d in labelled if not d[1]]]
    for pile in piles:
        rng.shuffle(pile)
    chosen: list[tuple[str, bool]] = []
    while len(chosen) < k and any(piles):
        for pile in piles:
            if pile and len(chosen) < k:
                chosen.append(pile.pop())
    rng.shuffle(chosen)
    return chosen, source


class _Loop:
    def __init__(self, engine: GenerationEngine, tools: TextTools, seeds: list[SeedTask],
                 config: SelfInstructConfig, reporter: Reporter):
        self.engine, self.tools, self.seeds, self.config, self.reporter = engine, tools, seeds, config, reporter
        self.rules = InstructionRules(config.min_instruction_words, config.max_instruction_words,
                                      tuple(config.blacklist), config.drop_write_program, config.drop_bad_start)
        threshold = config.rouge_threshold
        self.pool = RougePool(threshold, [s.instruction for s in seeds]) if threshold else None
        self.machine: list[str] = []  # Wang et al.'s machine instructions: every one that passed the filters
        self.accepted: list[dict[str, Any]] = []
        self.dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})
        self.counts: Counter = Counter()
        self.per_round: list[int] = []
        self.classify_demos, self.classify_source = classify_demos(seeds, config.classify_icl, config.seed)
        self.clf_tasks = [s for s in seeds if s.is_classification] or list(CLASSIFICATION_TASKS)

    def run(self) -> list[dict[str, Any]]:
        target = self.config.n_instructions
        for round_no in range(1, self.config.max_rounds + 1):
            self.reporter.check()
            new = self._round(round_no)
            self.per_round.append(len(new))
            self.accepted += new
            self.reporter.update(STAGE, len(self.accepted), target,
                                 f"round {round_no}: +{len(new)}, {len(self.accepted)}/{target} instructions")
            if len(self.accepted) >= target:
                break
        return self.accepted

    def _round(self, round_no: int) -> list[dict[str, Any]]:
        candidates = self._propose(round_no)
        instructions = self._screen(candidates, self.config.n_instructions - len(self.accepted))
        if not instructions:
            return []
        return self._instances(round_no, instructions, self._classify(round_no, instructions))

    # ---- stage 1: instructions

    def _propose(self, round_no: int) -> list[str]:
        """One batched call; returns every parsed candidate that was not cut off."""
        rng = random.Random(f"self-instruct-icl-{self.config.seed}-{round_no}")
        sampling = self.config.sampling("instructions", round_no, self.tools.chat)
        budget = self.tools.prompt_budget(sampling.max_new_tokens, self.config.max_prompt_tokens)
        fitted = [self._instruction_prompt(self._sample_icl(rng), budget) for _ in range(self.config.prompts_per_round)]
        prompts = [prompt for prompt, _ in fitted]
        self.counts["n_prompts"] += len(prompts)
        completions = self.engine.generate(prompts, sampling, self.reporter)
        room = self.tools.completion_room(sampling.max_new_tokens, max(self.tools.count(p) for p in prompts))
        candidates = []
        for (_, shown), samples in zip(fitted, completions):
            text = samples[0] if samples else ""
            items = parse_instructions(text, shown, self.tools.chat)
            self.counts["n_candidates"] += len(items)
            if items and self.config.drop_truncated and self._cut_off(text, room):
                self.dropped["truncated"] += 1
                items = items[:-1]
            candidates += items
        return candidates

    def _sample_icl(self, rng: random.Random) -> list[str]:
        """Wang et al.: up to icl_generated machine instructions, seeds for the rest, shuffled."""
        shown = rng.sample(self.machine, min(self.config.icl_generated, len(self.machine)))
        n_seed = self.config.icl_seed + self.config.icl_generated - len(shown)
        shown += rng.sample([s.instruction for s in self.seeds], min(n_seed, len(self.seeds)))
        rng.shuffle(shown)
        return shown

    def _instruction_prompt(self, icl: list[str], budget: int | None) -> tuple[str, int]:
        fitted = fit_prompt(lambda k: self.tools.render(instruction_prompt(icl[:k], self.tools.chat)), len(icl),
                            self._fits(budget))
        if fitted is None:
            raise InvalidSpec(f"even a prompt without demonstrations exceeds {budget} tokens",
                              field="max_prompt_tokens")
        if fitted[1] < len(icl):
            self.counts["icl_trimmed_prompts"] += 1
        return fitted

    def _screen(self, candidates: list[str], remaining: int) -> list[str]:
        """Rule and ROUGE-L filters, in order; candidates past the remaining quota are left unused.

        As Wang et al., a candidate is scored against the seeds and every machine instruction so far,
        including the ones passed earlier in this round (two near-copies in one round cannot both pass).
        """
        passed: list[str] = []
        for candidate in candidates:
            if len(passed) >= remaining:
                self.counts["n_unused"] += 1
                continue
            candidate = candidate[:1].upper() + candidate[1:]
            reason = self.rules.rejection(candidate)
            if reason is None and self.pool is not None and self.pool.near_duplicate(candidate) is not None:
                reason = "rouge"
            if reason is not None:
                self.dropped[reason] += 1
                continue
            if self.pool is not None:
                self.pool.add(candidate)
            self.machine.append(candidate)
            passed.append(candidate)
        return passed

    # ---- stage 2: classification tasks or not

    def _classify(self, round_no: int, instructions: list[str]) -> list[bool | None]:
        """One batched call: is each instruction a classification task? (None for all when classify is off.)"""
        if not self.config.classify:
            return [None] * len(instructions)
        sampling = self.config.sampling("classify", round_no, self.tools.chat)
        budget = self.tools.prompt_budget(sampling.max_new_tokens, self.config.max_prompt_tokens)
        demos = self.classify_demos
        jobs: list[int] = []  # indices of the instructions asked
        prompts: list[str] = []
        for i, instruction in enumerate(instructions):
            fitted = fit_prompt(lambda k: self._answer_prompt(classify_prompt(demos[:k], instruction, self.tools.chat),
                                                              CLASSIFY_MARKER), len(demos), self._fits(budget))
            if fitted is None:
                self.counts["classify_prompt_too_long"] += 1  # not asked: written input-first
                continue
            self.counts["icl_trimmed_prompts"] += fitted[1] < len(demos)
            jobs.append(i)
            prompts.append(fitted[0])
        labels: list[bool | None] = [False] * len(instructions)
        if not prompts:
            return labels
        self.counts["n_classify_prompts"] += len(prompts)
        completions = self.engine.generate(prompts, sampling, self.reporter)
        for i, samples in zip(jobs, completions):
            answer = parse_classification(samples[0] if samples else "")
            if answer is None:
                self.counts["classify_unparsed"] += 1  # Wang et al.: anything but "Yes" is not classification
            labels[i] = bool(answer)
        return labels

    # ---- stage 3: instances

    def _instances(self, round_no: int, instructions: list[str], labels: list[bool | None]) -> list[dict[str, Any]]:
        rng = random.Random(f"self-instruct-instances-{self.config.seed}-{round_no}")
        sampling = self.config.sampling("instances", round_no, self.tools.chat, classification=any(labels))
        budget = self.tools.prompt_budget(sampling.max_new_tokens, self.config.max_prompt_tokens)
        jobs: list[tuple[str, bool | None, str]] = []  # (instruction, is_classification, prompt)
        for instruction, label in zip(instructions, labels):
            build, marker = (clf_instance_prompt, LABEL_MARKER) if label else (instance_prompt, INPUT_MARKER)
            demos = self._sample_demos(rng, self.clf_tasks if label else self.seeds)
            fitted = fit_prompt(lambda k: self._answer_prompt(build(demos[:k], instruction, self.tools.chat), marker),
                                len(demos), self._fits(budget))
            if fitted is None:
                self.dropped["prompt_too_long"] += 1
                continue
            self.counts["icl_trimmed_prompts"] += fitted[1] < len(demos)
            jobs.append((instruction, label, fitted[0]))
        if not jobs:
            return []
        self.counts["n_instance_prompts"] += len(jobs)
        completions = self.engine.generate([prompt for _, _, prompt in jobs], sampling, self.reporter)
        room = self.tools.completion_room(sampling.max_new_tokens, max(self.tools.count(p) for _, _, p in jobs))
        records = []
        for (instruction, label, _), samples in zip(jobs, completions):
            record = self._instance_record(instruction, label, samples[0] if samples else "", room, round_no)
            if record is not None:
                records.append(record)
        return records

    def _sample_demos(self, rng: random.Random, tasks: list[SeedTask]) -> list[tuple[str, SeedExample]]:
        chosen = rng.sample(tasks, min(self.config.instance_icl, len(tasks)))
        return [(task.instruction, rng.choice(task.examples)) for task in chosen]

    def _instance_record(self, instruction: str, label: bool | None, text: str, room: int,
                         round_no: int) -> dict[str, Any] | None:
        # Plain prompts end with the marker and chat replies were started with it: both continue after it.
        lenient = self.config.lenient_instances
        parsed: ParsedInstance | None = (parse_clf_instance(text, False, lenient) if label
                                         else parse_instance(text, False, lenient))
        if self.config.drop_truncated and self._cut_off(text, room) and (parsed is None or not parsed.complete):
            self.dropped["instance_truncated"] += 1
            return None
        if parsed is None:
            self.dropped["instance_unparsed"] += 1
            return None
        reason = instance_rejection(parsed.input, parsed.output, self.config.max_output_words)
        if reason is not None:
            self.dropped[reason] += 1
            return None
        self.counts["lenient_instances"] += not parsed.has_marker
        return {"instruction": instruction, "input": parsed.input, "output": parsed.output,
                "is_classification": label, "source": SOURCE, "round": round_no}

    # ---- helpers

    def _answer_prompt(self, content: str, marker: str) -> str:
        """The engine prompt of a classification or instance request: a chat reply starts with its marker."""
        prompt = self.tools.render(content)
        return prompt + marker if self.tools.chat else prompt

    def _fits(self, budget: int | None):
        return lambda prompt: budget is None or self.tools.count(prompt) <= budget

    def _cut_off(self, completion: str, room: int) -> bool:
        # Engines do not report why they stopped; re-tokenising the decoded text is within a token of
        # what was generated, so a completion this long ran out of room rather than ending on EOS.
        return self.tools.count(completion) >= room - 1

    def stats(self, seconds: float) -> dict[str, Any]:
        accepted = self.accepted
        return {
            "n_seed": len(self.seeds),
            "n_seed_examples": sum(len(s.examples) for s in self.seeds),
            "prompt_format": "chat" if self.tools.chat else "plain",
            "n_rounds": len(self.per_round),
            "stopped": "n_instructions" if len(accepted) >= self.config.n_instructions else "max_rounds",
            "n_prompts": self.counts["n_prompts"],
            "n_classify_prompts": self.counts["n_classify_prompts"],
            "n_instance_prompts": self.counts["n_instance_prompts"],
            "n_candidates": self.counts["n_candidates"],
            "n_machine_instructions": len(self.machine),
            "n_accepted": len(accepted),
            "n_unused": self.counts["n_unused"],
            "dropped": dict(self.dropped),
            "accepted_per_round": list(self.per_round),
            "n_noinput": sum(1 for r in accepted if not r["input"]),
            "n_classification": sum(1 for r in accepted if r["is_classification"]),
            "classify_demos": self.classify_source if self.config.classify else None,
            "classify_unparsed": self.counts["classify_unparsed"],
            "classify_prompt_too_long": self.counts["classify_prompt_too_long"],
            "n_lenient_instances": self.counts["lenient_instances"],
            "icl_trimmed_prompts": self.counts["icl_trimmed_prompts"],
            "rouge_exact_scores": self.pool.exact_scores if self.pool else 0,
            "mean_instruction_words": _mean_words(accepted, "instruction"),
            "mean_output_words": _mean_words(accepted, "output"),
            "seconds": round(seconds, 3),
        }


def _mean_words(records: list[dict[str, Any]], key: str) -> float:
    return round(sum(len(r[key].split()) for r in records) / len(records), 1) if records else 0.0


# Seed tasks come nested (examples / Wang et al.'s instances) or flat (Alpaca); absent fields are skipped.
SEED_TEXT_FIELDS = ("instruction", "input", "output", "examples[].input", "examples[].output",
                    "instances[].input", "instances[].output")
register_task("self_instruct", SelfInstructConfig, generate_self_instruct, lambda config: SEED_TEXT_FIELDS)
