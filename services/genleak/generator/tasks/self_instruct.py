"""Scenario B's generation: the Self-Instruct loop (Wang et al. 2023) over seed tasks (docs/paper.md, scenario B).

Each round: a batch of prompts, each listing `icl_seed` seed instructions and `icl_generated` already
accepted ones, goes to the generator in ONE engine call (vLLM batches it); new numbered instructions
are parsed out and filtered (length, blacklist, first character, ROUGE-L >= 0.7 against every seed
and accepted instruction); then one more batched call writes an input/output instance for each
surviving instruction, and instances with no or overlong output are dropped. The loop stops at
`n_instructions` accepted or after `max_rounds`. The paper's own script is not public, so the
defaults are Wang et al.'s (6 seed + 2 generated demonstrations, ROUGE-L 0.7, 3..150 words).

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
from genleak.generator.tasks.self_instruct_filters import (
    BLACKLIST, INSTRUCTION_REASONS, OUTPUT_REASONS, InstructionRules, RougePool, output_rejection,
)
from genleak.generator.tasks.self_instruct_prompts import (
    fit_prompt, instance_prompt, instruction_prompt, parse_instance, parse_instructions,
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
                                                       "instance_truncated") + OUTPUT_REASONS


class SelfInstructConfig(Spec):
    """Knobs of the loop. Sampling fields carry the generator service's flat sampling names."""

    n_instructions: int = Field(100, ge=1, description="Stop once this many instructions (with instances) are accepted")
    max_rounds: int = Field(50, ge=1, description="Stop after this many rounds even if short of n_instructions")
    prompts_per_round: int = Field(8, ge=1, description="Instruction-generation prompts per round (one batched call)")
    icl_seed: int = Field(6, ge=0, description="Seed instructions shown per prompt (Wang et al.: 6)")
    icl_generated: int = Field(2, ge=0, description="Accepted instructions shown per prompt; seeds fill in while "
                                                    "fewer exist (Wang et al.: 2)")
    instance_icl: int = Field(2, ge=0, description="Seed demonstrations (instruction, input, output) per instance "
                                                   "prompt")
    rouge_threshold: float | None = Field(0.7, gt=0.0, le=1.0, description="Drop candidates with ROUGE-L F >= this "
                                          "against any seed or accepted instruction; None = off")
    min_instruction_words: int = Field(3, ge=0, description="Drop instructions with fewer words")
    max_instruction_words: int = Field(150, ge=1, description="Drop instructions with more words")
    blacklist: tuple[str, ...] = Field(BLACKLIST, description="Drop instructions containing any of these whole "
                                       "words (tasks a text model cannot do); empty = off")
    require_letter_start: bool = Field(True, description="Drop instructions not starting with an ASCII letter")
    max_output_words: int | None = Field(400, ge=1, description="Drop instances whose output has more words; "
                                         "None = off")
    drop_truncated: bool = Field(True, description="Drop a list's last instruction and any instance whose "
                                 "completion used all its new tokens (it was cut off mid-text)")
    lenient_instances: bool = Field(False, description="Take a completion without 'Output:' whole as the output "
                                    "of a no-input task (for small base generators that do not keep the format)")
    prompt_format: Literal["auto", "chat", "plain"] = Field("auto", description="chat = wrap each prompt in the "
                                                            "generator's chat template; auto = chat if it has one")
    system_prompt: str | None = Field(None, description="System message for chat prompts; None = none")
    max_prompt_tokens: int | None = Field(None, ge=8, description="Prompt token budget (demonstrations are trimmed "
                                          "to fit); None = the generator's context minus the completion's room")
    temperature: float = Field(0.7, ge=0.0, description="Sampling temperature; 0 = greedy")
    top_k: int = Field(-1, ge=-1, description="Top-k sampling; -1 or 0 = off")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling mass; 1.0 = off")
    max_new_tokens: int = Field(512, ge=1, description="New tokens per instruction-generation completion")
    instance_temperature: float | None = Field(None, ge=0.0, description="Temperature of the instance stage; "
                                               "None = temperature")
    instance_max_new_tokens: int = Field(512, ge=1, description="New tokens per instance completion")
    n: int = Field(1, ge=1, le=1, description="Completions per prompt: always 1 (rounds provide the diversity)")
    seed: int = Field(0, description="Seed of demonstration sampling and of every round's sampling")
    limit: int | None = Field(None, ge=1, description="Use only the first N seed tasks; None = all")

    @model_validator(mode="after")
    def _consistent(self) -> "SelfInstructConfig":
        if self.icl_seed + self.icl_generated < 1:
            raise ValueError("icl_seed + icl_generated must be at least 1")
        if self.min_instruction_words > self.max_instruction_words:
            raise ValueError("min_instruction_words exceeds max_instruction_words")
        return self

    def sampling(self, stage: Literal["instructions", "instances"], round_no: int) -> SamplingConfig:
        instances = stage == "instances"
        temperature = self.instance_temperature if instances and self.instance_temperature is not None else None
        return SamplingConfig(
            temperature=self.temperature if temperature is None else temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            max_new_tokens=self.instance_max_new_tokens if instances else self.max_new_tokens,
            n=1,
            seed=derive_seed(self.seed, stage, round_no),
        )


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


class _Loop:
    def __init__(self, engine: GenerationEngine, tools: TextTools, seeds: list[SeedTask],
                 config: SelfInstructConfig, reporter: Reporter):
        self.engine, self.tools, self.seeds, self.config, self.reporter = engine, tools, seeds, config, reporter
        self.rules = InstructionRules(config.min_instruction_words, config.max_instruction_words,
                                      tuple(config.blacklist), config.require_letter_start)
        seed_instructions = [s.instruction for s in seeds]
        self.pool = RougePool(config.rouge_threshold, seed_instructions) if config.rouge_threshold else None
        self.accepted: list[dict[str, Any]] = []
        self.dropped: Counter = Counter({reason: 0 for reason in DROP_REASONS})
        self.counts: Counter = Counter()
        self.per_round: list[int] = []

    def run(self) -> list[dict[str, Any]]:
        target = self.config.n_instructions
        for round_no in range(1, self.config.max_rounds + 1):
            self.reporter.check()
            new = self._round(round_no)
            self.per_round.append(len(new))
            self.accepted += new
            if self.pool is not None:
                for record in new:
                    self.pool.add(record["instruction"])
            self.reporter.update(STAGE, len(self.accepted), target,
                                 f"round {round_no}: +{len(new)}, {len(self.accepted)}/{target} instructions")
            if len(self.accepted) >= target:
                break
        return self.accepted

    def _round(self, round_no: int) -> list[dict[str, Any]]:
        candidates = self._propose(round_no)
        instructions = self._screen(candidates, self.config.n_instructions - len(self.accepted))
        return self._instances(round_no, instructions) if instructions else []

    # ---- stage 1: instructions

    def _propose(self, round_no: int) -> list[str]:
        """One batched call; returns every parsed candidate that was not cut off."""
        rng = random.Random(f"self-instruct-icl-{self.config.seed}-{round_no}")
        sampling = self.config.sampling("instructions", round_no)
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
        """Wang et al.: up to icl_generated accepted instructions, seeds for the rest, shuffled."""
        generated = [r["instruction"] for r in self.accepted]
        shown = rng.sample(generated, min(self.config.icl_generated, len(generated)))
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
        """Rule and ROUGE-L filters, in order; candidates past the remaining quota are left unused."""
        pending = RougePool(self.config.rouge_threshold) if self.pool is not None else None
        passed: list[str] = []
        for candidate in candidates:
            if len(passed) >= remaining:
                self.counts["n_unused"] += 1
                continue
            candidate = candidate[:1].upper() + candidate[1:]
            reason = self.rules.rejection(candidate) or self._duplicate(candidate, pending)
            if reason is not None:
                self.dropped[reason] += 1
                continue
            if pending is not None:
                pending.add(candidate)  # two near-copies in one round must not both pass
            passed.append(candidate)
        if pending is not None:
            self.counts["rouge_exact_scores"] += pending.exact_scores
        return passed

    def _duplicate(self, candidate: str, pending: RougePool | None) -> str | None:
        if self.pool is None or pending is None:
            return None
        found = self.pool.near_duplicate(candidate) or pending.near_duplicate(candidate)
        return "rouge" if found is not None else None

    # ---- stage 2: instances

    def _instances(self, round_no: int, instructions: list[str]) -> list[dict[str, Any]]:
        rng = random.Random(f"self-instruct-instances-{self.config.seed}-{round_no}")
        sampling = self.config.sampling("instances", round_no)
        budget = self.tools.prompt_budget(sampling.max_new_tokens, self.config.max_prompt_tokens)
        jobs: list[tuple[str, str]] = []  # (instruction, prompt)
        for instruction in instructions:
            demos = self._sample_demos(rng)
            fitted = fit_prompt(
                lambda k: self.tools.render(instance_prompt(demos[:k], instruction, self.tools.chat)),
                len(demos), self._fits(budget))
            if fitted is None:
                self.dropped["prompt_too_long"] += 1
                continue
            self.counts["icl_trimmed_prompts"] += fitted[1] < len(demos)
            jobs.append((instruction, fitted[0]))
        if not jobs:
            return []
        self.counts["n_instance_prompts"] += len(jobs)
        completions = self.engine.generate([prompt for _, prompt in jobs], sampling, self.reporter)
        room = self.tools.completion_room(sampling.max_new_tokens, max(self.tools.count(p) for _, p in jobs))
        records = []
        for (instruction, _), samples in zip(jobs, completions):
            record = self._instance_record(instruction, samples[0] if samples else "", room, round_no)
            if record is not None:
                records.append(record)
        return records

    def _sample_demos(self, rng: random.Random) -> list[tuple[str, SeedExample]]:
        tasks = rng.sample(self.seeds, min(self.config.instance_icl, len(self.seeds)))
        return [(task.instruction, rng.choice(task.examples)) for task in tasks]

    def _instance_record(self, instruction: str, text: str, room: int, round_no: int) -> dict[str, Any] | None:
        if self.config.drop_truncated and self._cut_off(text, room):
            self.dropped["instance_truncated"] += 1
            return None
        parsed = parse_instance(text, self.tools.chat, self.config.lenient_instances)
        if parsed is None:
            self.dropped["instance_unparsed"] += 1
            return None
        reason = output_rejection(parsed.output, self.config.max_output_words)
        if reason is not None:
            self.dropped[reason] += 1
            return None
        self.counts["lenient_instances"] += not parsed.has_marker
        return {"instruction": instruction, "input": parsed.input, "output": parsed.output, "source": SOURCE,
                "round": round_no}

    # ---- helpers

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
            "n_instance_prompts": self.counts["n_instance_prompts"],
            "n_candidates": self.counts["n_candidates"],
            "n_accepted": len(accepted),
            "n_unused": self.counts["n_unused"],
            "dropped": dict(self.dropped),
            "accepted_per_round": list(self.per_round),
            "n_noinput": sum(1 for r in accepted if not r["input"]),
            "n_lenient_instances": self.counts["lenient_instances"],
            "icl_trimmed_prompts": self.counts["icl_trimmed_prompts"],
            "rouge_exact_scores": self.counts["rouge_exact_scores"] + (self.pool.exact_scores if self.pool else 0),
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
