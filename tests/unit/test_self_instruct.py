"""Self-instruct (scenario B): parsing, Wang et al.'s filters and decoding, the classification step and
output-first instances, the loop over a scripted engine, chat prompts, the lab's seed tasks, and one
end-to-end run through GeneratorCore with the hf engine on a tiny model."""

from __future__ import annotations

import json
import random
import re
import threading
from fractions import Fraction
from pathlib import Path

import pytest

from genleak.core.errors import Cancelled, InvalidSpec, NotReady
from genleak.core.progress import Reporter
from genleak.core.specs import parse_spec
from genleak.generator.tasks import get_task
from genleak.generator.tasks.self_instruct import (
    DROP_REASONS, SelfInstructConfig, classify_demos, generate_self_instruct,
)
from genleak.generator.tasks.self_instruct_demos import CLASSIFICATION_TASKS, CLASSIFY_DEMOS
from genleak.generator.tasks.self_instruct_filters import (
    ALPACA_BLACKLIST, BLACKLIST, WANG_BLACKLIST, InstructionRules, RougePool, instance_rejection,
)
from genleak.generator.tasks.self_instruct_prompts import (
    CLASSIFY_HEADER, CLASSIFY_STOP, CLF_INSTANCE_HEADER, INSTANCE_HEADER, INSTANCE_STOP, INSTRUCTION_HEADER,
    classify_prompt, clf_instance_prompt, instance_prompt, instruction_prompt, list_stops, parse_classification,
    parse_clf_instance, parse_instance, parse_instructions,
)
from genleak.generator.tasks.self_instruct_seeds import SeedExample
from genleak.generator.tasks.self_instruct_seeds import load_seed_tasks, normalize_seed_tasks

SEEDS = [
    {"instruction": "Summarize the following e-mail in one sentence.",
     "examples": [{"input": "Can we move the meeting to Friday?", "output": "The sender asks to move the meeting."}]},
    {"instruction": "Identify the sender of this message and their role.",
     "examples": [{"input": "From: Ann Lee, Senior Analyst", "output": "Ann Lee, a senior analyst."}]},
    {"instruction": "Give three tips for writing a clear business letter.",
     "examples": [{"input": "<noinput>", "output": "Be brief. Be specific. Be polite."}]},
    {"instruction": "Classify the urgency of this note as high, medium or low.",
     "examples": [{"input": "Pipeline force majeure today.", "output": "High"},
                  {"input": "Lunch on Friday?", "output": "Low"}]},
    {"instruction": "Extract every dollar amount mentioned in the text.", "input": "It costs $5.", "output": "$5"},
    {"instruction": "Explain the difference between on-peak and off-peak power.", "input": "",
     "output": "On-peak hours have the highest demand."},
    {"instruction": "Draft a polite reply declining the invitation.",
     "examples": [{"input": "Join us Saturday?", "output": "Thank you, but I cannot make it."}]},
    {"instruction": "Translate the key request of the e-mail into an action item.",
     "examples": [{"input": "Please send the report.", "output": "- Send the report."}]},
]
VERBS = ("Explain", "Describe", "Compare", "Summarize", "Outline", "Evaluate", "Critique", "Rank")


def words(text: str) -> int:
    return len(text.split())


def fresh_instruction(rng: random.Random) -> str:
    """Random words from a big vocabulary: pairs have a tiny ROUGE-L overlap."""
    return f"{rng.choice(VERBS)} " + " ".join(f"{rng.choice('bdfklmprstvz')}{rng.randrange(10**6)}" for _ in range(6))


def kind(prompt: str) -> str:
    if CLASSIFY_HEADER in prompt:
        return "classify"
    if CLF_INSTANCE_HEADER in prompt:
        return "clf_instance"
    return "instance" if INSTANCE_HEADER in prompt else "list"


class ScriptedEngine:
    """Answers instruction prompts with numbered lists, the classification question with " No" (or " Yes" for
    instructions starting with one of `clf_words`), input-first instance prompts with Input/Output pairs and
    output-first ones with Class label/Input pairs.

    Answers depend only on (sampling seed, prompt index), like a seeded engine; `lists`, `instances` and
    `clf_instances` override them with fixed scripts (one entry per call, cycling the last).
    """

    def __init__(self, per_list: int = 3, lists: list[list[str]] | None = None,
                 instances: list[list[str]] | None = None, clf_words: tuple[str, ...] = (),
                 clf_instances: list[list[str]] | None = None):
        self.per_list = per_list
        self.lists, self.instances, self.clf_instances, self.clf_words = lists, instances, clf_instances, clf_words
        self.calls: list[tuple[list[str], object]] = []

    def generate(self, prompts, sampling, reporter=None):
        self.calls.append((list(prompts), sampling))
        what = kind(prompts[0])
        assert all(kind(p) in ({"instance", "clf_instance"} if what.endswith("instance") else {what}) for p in prompts)
        if what == "classify":
            return [[" Yes" if self.clf_words and self._asked(p).startswith(self.clf_words) else " No"]
                    for p in prompts]
        if what == "list":
            return self._answer(self.lists, "list", prompts, self._list, sampling)
        out = []
        for i, prompt in enumerate(prompts):
            clf = kind(prompt) == "clf_instance"
            out += self._answer(self.clf_instances if clf else self.instances, kind(prompt), [prompt],
                                lambda s, _: self._clf_instance(s, i) if clf else self._instance(s, i), sampling,
                                index=i)
        return out

    def _answer(self, script, what, prompts, default, sampling, index=None):
        if script is not None:
            n_calls = sum(1 for p, _ in self.calls if any(kind(x) == what for x in p))
            answers = script[min(n_calls, len(script)) - 1]
            return [[answers[(i if index is None else index) % len(answers)]] for i in range(len(prompts))]
        return [[default(sampling, i)] for i in range(len(prompts))]

    @staticmethod
    def _asked(prompt: str) -> str:
        return prompt.rsplit("Task: ", 1)[1]

    def _list(self, sampling, index: int) -> str:
        rng = random.Random(f"{sampling.seed}-{index}")
        items = [fresh_instruction(rng) for _ in range(self.per_list)]
        # The first item continues the prompt's "N+1."; the rest carry their own numbers.
        return " " + items[0] + "".join(f"\n{k}. {item}" for k, item in enumerate(items[1:], 10))

    @staticmethod
    def _instance(sampling, index: int) -> str:
        return " <noinput>\nOutput: answer number %d of round seed %d.\n\nInstruction: junk" % (index, sampling.seed)

    @staticmethod
    def _clf_instance(sampling, index: int) -> str:
        return " Label%d\nInput: an input written for label %d, seed %d.\nClass label: next" % (index, index,
                                                                                                 sampling.seed)

    def close(self) -> None:
        pass

    def instruction_calls(self):
        return [(p, s) for p, s in self.calls if kind(p[0]) == "list"]

    def calls_of(self, what: str):
        return [(p, s) for p, s in self.calls if kind(p[0]) == what or (what == "instance" and
                                                                           kind(p[0]) == "clf_instance")]


def config(**kw) -> SelfInstructConfig:
    base = dict(n_instructions=6, max_rounds=5, prompts_per_round=2, max_new_tokens=64, instance_max_new_tokens=64,
                clf_instance_max_new_tokens=64)
    return SelfInstructConfig(**{**base, **kw})


def run(engine, cfg, counter=words, reporter=None, seeds=SEEDS):
    return generate_self_instruct(engine, counter, seeds, cfg, reporter)


def assert_accounted(stats):
    # Every parsed candidate ends up accepted, dropped for one named reason, or unused past the quota.
    assert stats["n_candidates"] == stats["n_accepted"] + stats["n_unused"] + sum(stats["dropped"].values())


# ---- parsing

def test_parse_numbered_list_continuation_and_chat_reply():
    completion = " Write a haiku about gas prices.\n10. List two risks of a long position\n11) Explain hedging\n\n"
    assert parse_instructions(completion, 8, chat=False) == [
        "Write a haiku about gas prices.", "List two risks of a long position", "Explain hedging"]
    reply = ("Sure! Here are more tasks:\n\n9. Draft a memo   about\n   storage levels.\n10. Rank the desks"
             "\n\nHope it helps")
    assert parse_instructions(reply, 8, chat=True) == ["Draft a memo about storage levels.", "Rank the desks"]
    # An item ends at a blank line; an empty item is kept so the empty filter counts it.
    assert parse_instructions(" Name a pipeline:\n\nsome chatter\n10. \n", 8, chat=False) == ["Name a pipeline", ""]
    assert parse_instructions("no list at all", 3, chat=True) == []
    assert instruction_prompt(["a task:", "b  task"], chat=False) == f"{INSTRUCTION_HEADER}\n1. a task\n2. b task\n3."


def test_parse_instance_forms():
    plain = parse_instance(" From: Bo\nOutput: Bo sent it.\nInstruction: next task", chat=False)
    assert (plain.input, plain.output, plain.complete) == ("From: Bo", "Bo sent it.", True)
    alone = parse_instance(" <noinput>\nOutput: Three tips.", chat=False)
    assert (alone.input, alone.complete) == ("", False)
    chat = parse_instance("Here you go.\nInput: <noinput>\nOutput: Hello\nthere\n\nInput: more", chat=True)
    assert (chat.input, chat.output) == ("", "Hello\nthere")
    assert parse_instance("Sure.\nOutput: only output", chat=True).input == ""
    assert parse_instance(" x\nOutput: y\n\nTask: another", chat=False).output == "y"
    repeated = parse_instance(" Input: From: Bo\nOutput: Bo.", chat=False)  # a started reply repeating "Input:"
    assert (repeated.input, repeated.output) == ("From: Bo", "Bo.")
    # As Wang et al.'s parser: an output ends at a further "Output:" or "Input:", numbered or not.
    twice = parse_instance(" a memo\nOutput: Urgent\nOutput: Urgent again", chat=False)
    assert (twice.input, twice.output, twice.complete) == ("a memo", "Urgent", True)
    numbered = parse_instance(" x\nOutput 1: first Input 2: y", chat=False)
    assert (numbered.input, numbered.output) == ("x", "first")
    assert parse_instance(" no marker here", chat=False) is None
    lenient = parse_instance(" just some text", chat=False, lenient=True)
    assert (lenient.input, lenient.output, lenient.has_marker) == ("", "just some text", False)


# ---- filters (Wang et al.'s bootstrap_instructions.py and prepare_for_finetuning.py)

def test_instruction_rules_name_each_rejection():
    rules = InstructionRules(min_words=4, max_words=8, blacklist=BLACKLIST)
    assert rules.rejection("") == "empty"
    assert rules.rejection("Explain gas") == "too_short"
    assert rules.rejection("Explain " + "gas " * 8) == "too_long"
    assert rules.rejection("Draw a picture of the desk") == "blacklist"
    assert rules.rejection("Please go to the trading floor") == "blacklist"  # multi-word entry
    assert rules.rejection("Update the user profile settings") is None  # whole words only: "profile" is fine
    assert rules.rejection("Write a program that adds two numbers") == "write_program"
    assert rules.rejection("- List three risks here") == "bad_start"
    assert rules.rejection("¿Cuál es el precio hoy?") == "bad_start"
    assert rules.rejection("Écris un courriel poli maintenant") == "bad_start"
    assert rules.rejection("Write a polite e-mail today") is None
    relaxed = InstructionRules(min_words=0, max_words=8, blacklist=(), drop_write_program=False, drop_bad_start=False)
    assert relaxed.rejection("- draw a map") is None and relaxed.rejection("Write a program now please") is None
    assert instance_rejection("", "  ", 5) == "empty_output"
    assert instance_rejection("", "one two three", 2) == "output_too_long"
    assert instance_rejection("", "one two", None) is None


def test_filter_boundaries_are_wang_et_al_s():
    rules = InstructionRules(*_default_rules())
    # len(inst.split()) <= 3 or > 150 is dropped.
    assert rules.rejection("Explain gas prices") == "too_short"
    assert rules.rejection("Explain the gas prices") is None
    assert rules.rejection("Explain " + "gas " * 149) is None  # 150 words
    assert rules.rejection("Explain " + "gas " * 150) == "too_long"  # 151 words
    # Their keyword list, as whole words in any case; Alpaca's additions only when asked for.
    assert WANG_BLACKLIST == ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map",
                              "maps", "draw", "plot", "go to")
    for word in WANG_BLACKLIST:
        assert rules.rejection(f"Please handle the {word.upper()} for me") == "blacklist", word
    assert rules.rejection("Describe the music of the baroque period") is None
    alpaca = InstructionRules(4, 150, ALPACA_BLACKLIST)
    assert alpaca.rejection("Describe the music of the baroque period") == "blacklist"
    # "Write a program" start (their check runs after capitalize(), so any case); elsewhere it is fine.
    assert rules.rejection("Write a program to sort a list") == "write_program"
    assert rules.rejection("Write A Program to sort a list") == "write_program"
    assert rules.rejection("Explain how to write a program well") is None
    # First character: ASCII punctuation or non-ASCII is dropped; a digit is not (their rule).
    assert rules.rejection('"Quote the contract clause verbatim') == "bad_start"
    assert rules.rejection("3 ways to cut gas costs at home") is None
    # Instances: empty output, input == output, a trailing colon (a cut-off generation).
    assert instance_rejection("same text", "same text", None) == "same_input_output"
    assert instance_rejection("Dear team:", "Thanks", None) == "colon_end"
    assert instance_rejection("A note", "Here are the steps:", None) == "colon_end"
    assert instance_rejection("A note", "Fine.", None) is None


def _default_rules():
    cfg = SelfInstructConfig()
    assert (cfg.min_instruction_words, cfg.max_instruction_words, cfg.blacklist) == (4, 150, WANG_BLACKLIST)
    assert cfg.drop_write_program and cfg.drop_bad_start and cfg.rouge_threshold == 0.7
    return cfg.min_instruction_words, cfg.max_instruction_words, cfg.blacklist


def test_rouge_pool_flags_near_duplicates_and_its_bound_is_exact():
    from rouge_score import rouge_scorer

    pool = RougePool(0.7, [s["instruction"] for s in SEEDS])
    assert pool.near_duplicate("Summarize the following e-mail in one short sentence.") is not None
    assert pool.near_duplicate("Summarize the e-mail in one sentence.") is not None  # F = 2*6/(7+6) = 0.92
    assert pool.near_duplicate("Write a limerick about natural gas storage.") is None
    # The overlap bound only skips pairs that cannot exceed the threshold: same decisions as scoring all
    # with rouge_score (Wang et al.'s scorer), away from exact ties.
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(0)
    vocab = "the gas price deal meeting report send please review contract power desk".split()
    texts = [" ".join(rng.choices(vocab, k=rng.randint(3, 9))) for _ in range(120)]
    small = RougePool(0.7, texts[:60])
    for text in texts[60:]:
        scores = [scorer.score(t, text)["rougeL"].fmeasure for t in texts[:60]]
        if any(abs(f - 0.7) < 1e-9 for f in scores):
            continue
        assert (small.near_duplicate(text) is not None) == any(f > 0.7 for f in scores)
        assert all(abs(float(small.fmeasure(t, text)) - f) < 1e-12 for t, f in zip(texts[:60], scores))
    assert 0 < small.exact_scores < 60 * 60


def test_rouge_threshold_is_strictly_greater_than_0_7():
    ten = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    pool = RougePool(0.7, [ten])
    tie = "alpha bravo charlie delta echo foxtrot golf xray yankee zulu"  # LCS 7 of 10 + 10: F = 0.7 exactly
    assert pool.fmeasure(ten, tie) == Fraction(7, 10)
    assert pool.near_duplicate(tie) is None  # Wang et al. drop max(rouge) > 0.7: a tie passes
    above = "alpha bravo charlie delta echo foxtrot golf hotel yankee zulu"  # F = 0.8
    assert pool.near_duplicate(above) == ten
    just_above = "alpha bravo charlie delta echo foxtrot golf zulu yankee"  # 2*7/19 = 0.737
    assert pool.fmeasure(ten, just_above) > Fraction(7, 10) and pool.near_duplicate(just_above) == ten
    assert RougePool(0.8, [ten]).near_duplicate(above) is None  # 0.8 is not above 0.8


# ---- the classification step and output-first instances (identify_clf_or_not.py, generate_instances.py)

def test_classification_question_prompt_and_parse():
    demos = [("Tell whether the e-mail is spam.", True), ("Write a haiku about gas.", False)]
    plain = classify_prompt(demos, "Label the tone of the letter as formal or casual.", chat=False)
    assert plain.startswith(CLASSIFY_HEADER) and plain.endswith(
        "Task: Label the tone of the letter as formal or casual.\nClassification:")
    assert "Task: Tell whether the e-mail is spam.\nClassification: Yes\n" in plain
    assert "Task: Write a haiku about gas.\nClassification: No\n" in plain
    chat = classify_prompt(demos, "Label the tone.", chat=True)
    assert chat.endswith("Task: Label the tone.\n\nIs this last task a classification task? Answer Yes or No.")
    for text, expected in ((" Yes", True), ("yes.", True), ("**YES**", True), (" No", False), ("no, it", False),
                           (" Maybe", None), ("", None), (" 42", None), ("Classification: Yes", True)):
        assert parse_classification(text) is expected, text
    assert CLASSIFY_STOP == ("\n", "Task")


def test_classification_demonstrations_prefer_trusted_seed_labels():
    unlabelled = normalize_seed_tasks(SEEDS)
    demos, source = classify_demos(unlabelled, 8, seed=0)
    assert source == "builtin" and len(demos) == 8 and sum(label for _, label in demos) == 4
    assert set(demos) <= set(CLASSIFY_DEMOS)
    labelled = normalize_seed_tasks([{**s, "is_classification": "Classify" in s["instruction"]} for s in SEEDS])
    demos, source = classify_demos(labelled, 16, seed=0)
    assert source == "seeds" and len(demos) == len(SEEDS)  # fewer seeds than asked: all of them
    assert ("Classify the urgency of this note as high, medium or low.", True) in demos
    only_no = normalize_seed_tasks([{**s, "is_classification": False} for s in SEEDS[:3]])
    demos, source = classify_demos(only_no, 6, seed=0)
    assert source == "seeds+builtin" and sum(label for _, label in demos) == 3
    assert classify_demos(labelled, 6, seed=0) == classify_demos(labelled, 6, seed=0)
    assert classify_demos(labelled, 6, seed=0) != classify_demos(labelled, 6, seed=1)


def test_output_first_prompt_and_parse_round_trip():
    demos = [(task.instruction, task.examples[0]) for task in CLASSIFICATION_TASKS[:2]]
    plain = clf_instance_prompt(demos, "Tell whether the review is positive or negative.", chat=False)
    assert plain.startswith(CLF_INSTANCE_HEADER)
    assert plain.endswith("\n\nTask: Tell whether the review is positive or negative.\nClass label:")
    first = CLASSIFICATION_TASKS[0]
    assert (f"Task: {first.instruction}\nClass label: {first.examples[0].output}\nInput: "
            f"{first.examples[0].input}") in plain  # label first, then the input
    parsed = parse_clf_instance(" Negative\nInput: The delivery was late again.\n\nTask: junk", chat=False)
    assert (parsed.output, parsed.input, parsed.complete, parsed.has_marker) == (
        "Negative", "The delivery was late again.", True, True)
    # Round trip: what a demonstration shows parses back to its own label and input.
    shown = plain.split("\n\n")[1]
    back = parse_clf_instance(shown.split("\n", 1)[1], chat=True)
    assert (back.output, back.input) == (first.examples[0].output, first.examples[0].input)
    no_input = clf_instance_prompt([("Is it true?", SeedExample("", "True"))], "Is it false?", chat=False)
    assert "Class label: True\nInput: <noinput>" in no_input
    assert parse_clf_instance(" True\nInput: <noinput>", chat=False).input == ""
    assert parse_clf_instance("Class label: Yes\nInput: Is it?", chat=False).output == "Yes"  # repeated marker
    # Without "Input:" the first line is the label and the rest the input (Wang et al.'s split).
    split = parse_clf_instance(" Positive\nGreat service today.", chat=False)
    assert (split.output, split.input, split.complete) == ("Positive", "Great service today.", False)
    chat = clf_instance_prompt(demos, "Is it spam?", chat=True)
    assert chat.endswith("Task: Is it spam?\n\nReply in exactly this form:\nClass label: ...\nInput: ...")
    reply = parse_clf_instance("Sure!\nClass label: Spam\nInput: Win a free cruise now", chat=True)
    assert (reply.output, reply.input) == ("Spam", "Win a free cruise now")
    assert parse_clf_instance("Spam, I think", chat=True) is None
    assert parse_clf_instance("Spam, I think", chat=True, lenient=True).has_marker is False
    assert INSTANCE_STOP == ("Task:",)
    input_first = instance_prompt(demos, "Summarize the memo.", chat=False)
    assert input_first.startswith(INSTANCE_HEADER) and input_first.endswith("Task: Summarize the memo.\nInput:")


def test_decoding_defaults_are_wang_et_al_s():
    cfg = SelfInstructConfig()
    instructions = cfg.sampling("instructions", 1)
    assert (instructions.temperature, instructions.top_p, instructions.top_k, instructions.max_new_tokens) == (
        0.7, 0.5, -1, 1024)
    assert (instructions.presence_penalty, instructions.frequency_penalty) == (2.0, 0.0)
    assert instructions.stop == ("\n\n", "\n16", "16.", "16 .")
    assert cfg.sampling("instructions", 1, chat=True).stop == ("\n16", "16.", "16 .")  # chat: no blank-line stop
    assert (cfg.icl_seed, cfg.icl_generated, cfg.n_instructions) == (6, 2, 100)
    classify = cfg.sampling("classify", 1)
    assert classify.greedy and (classify.max_new_tokens, classify.stop, classify.presence_penalty) == (
        3, ("\n", "Task"), 0.0)
    generation, clf = cfg.sampling("instances", 1), cfg.sampling("instances", 1, classification=True)
    assert generation.greedy and clf.greedy and (generation.max_new_tokens, clf.max_new_tokens) == (350, 300)
    assert (generation.presence_penalty, generation.frequency_penalty, generation.stop) == (1.5, 0.0, ("Task:",))
    # top_p 0 is greedy (OpenAI semantics), whatever the temperature.
    assert SelfInstructConfig(top_p=0.0).sampling("instructions", 1).greedy
    sampled = SelfInstructConfig(instance_temperature=0.7).sampling("instances", 1)
    assert (sampled.temperature, sampled.top_p) == (0.7, 1.0)
    lowered = SelfInstructConfig(instance_max_new_tokens=200)  # a lower cap holds for classification rounds too
    assert lowered.sampling("instances", 1, classification=True).max_new_tokens == 200
    unset = SelfInstructConfig(clf_instance_max_new_tokens=None)
    assert unset.sampling("instances", 1, classification=True).max_new_tokens == 350
    assert list_stops(None, chat=False) == ("\n\n",) and list_stops(12, chat=True) == ("\n12", "12.", "12 .")
    with pytest.raises(InvalidSpec, match="list_stop_item"):
        parse_spec(SelfInstructConfig, {"icl_seed": 12, "icl_generated": 4})  # the prompt ends at "17."
    assert parse_spec(SelfInstructConfig, {"icl_seed": 12, "icl_generated": 4, "list_stop_item": None})
    assert parse_spec(SelfInstructConfig, {"icl_seed": 12, "icl_generated": 2})  # items 15 only


# ---- the loop over a scripted engine

def test_loop_stops_at_n_instructions_with_the_record_schema():
    engine = ScriptedEngine(per_list=3)
    events = []
    out, stats = run(engine, config(n_instructions=7), reporter=Reporter(lambda *e: events.append(e)))
    assert len(out) == stats["n_accepted"] == 7 and stats["stopped"] == "n_instructions"
    for record in out:
        assert set(record) == {"instruction", "input", "output", "is_classification", "source", "round"}
        assert record["source"] == "self_instruct" and record["input"] == "" and record["output"].startswith("answer")
        assert record["is_classification"] is False
    # 2 prompts x 3 items = 6 per round: round 1 gives 6, round 2 the last 1 (5 left unused).
    assert [r["round"] for r in out] == [1] * 6 + [2]
    assert stats["n_rounds"] == 2 and stats["accepted_per_round"] == [6, 1] and stats["n_unused"] == 5
    assert_accounted(stats)
    # One batched engine call per stage per round (instructions, classification, instances), each with its own seed.
    assert [len(p) for p, _ in engine.calls] == [2, 6, 6, 2, 1, 1]
    assert [kind(p[0]) for p, _ in engine.calls] == ["list", "classify", "instance"] * 2
    seeds = {s.seed for _, s in engine.calls}
    assert len(seeds) == 6
    progress = [e for e in events if e[0] == "self_instruct"]
    assert [(e[1], e[2]) for e in progress] == [(6, 7), (7, 7)]
    assert set(stats["dropped"]) == set(DROP_REASONS) and stats["n_seed"] == len(SEEDS)
    assert stats["n_seed_examples"] == len(SEEDS) + 1 and stats["prompt_format"] == "plain"
    assert stats["n_classify_prompts"] == 7 and stats["classify_demos"] == "builtin"
    assert stats["n_classification"] == 0 and stats["n_machine_instructions"] == 7


def test_classification_tasks_get_output_first_instances():
    lists = [[" Classify the tone of the memo as formal or casual\n10. Compose a haiku for the risk desk\n"
              "11. Classify the e-mail as spam or not spam"]]
    clf_instances = [[" Formal\nInput: Please find the signed agreement attached.", "(prompt 1 is input-first)",
                      " Spam\nInput: Win a cruise now!\nClass label: Not spam\nInput: Lunch at noon?"]]
    engine = ScriptedEngine(lists=lists, clf_words=("Classify",), clf_instances=clf_instances)
    out, stats = run(engine, config(max_rounds=1, prompts_per_round=1))
    by_instruction = {r["instruction"]: r for r in out}
    tone = by_instruction["Classify the tone of the memo as formal or casual"]
    assert (tone["is_classification"], tone["output"], tone["input"]) == (
        True, "Formal", "Please find the signed agreement attached.")
    spam = by_instruction["Classify the e-mail as spam or not spam"]
    assert (spam["output"], spam["input"]) == ("Spam", "Win a cruise now!")  # the first instance only
    haiku = by_instruction["Compose a haiku for the risk desk"]
    assert haiku["is_classification"] is False and haiku["output"].startswith("answer")
    assert stats["n_classification"] == 2 and stats["n_accepted"] == 3
    classify_call, instance_call = engine.calls_of("classify")[0], engine.calls_of("instance")[0]
    assert classify_call[1].greedy and classify_call[1].stop == ("\n", "Task")
    assert all(p.count("\nClassification: ") >= 8 for p in classify_call[0])  # few-shot (built-in demonstrations)
    prompts = instance_call[0]
    assert [kind(p) for p in prompts] == ["clf_instance", "instance", "clf_instance"]
    # Seeds carry no labels here, so output-first demonstrations come from the built-in classification tasks.
    assert any(task.instruction in prompts[0] for task in CLASSIFICATION_TASKS)
    assert instance_call[1].max_new_tokens == 64 and instance_call[1].stop == ("Task:",)
    assert instance_call[1].presence_penalty == 1.5 and instance_call[1].greedy


def test_labelled_seeds_are_trusted_demonstrations():
    labelled = [{**s, "is_classification": s["instruction"].startswith("Classify")} for s in SEEDS]
    engine = ScriptedEngine(lists=[[" Classify the memo as urgent or routine please"]], clf_words=("Classify",))
    out, stats = run(engine, config(max_rounds=1, prompts_per_round=1, instance_icl=1, classify_icl=4,
                                    clf_instance_max_new_tokens=40), seeds=labelled)
    assert stats["classify_demos"] == "seeds" and out[0]["is_classification"] is True
    assert out[0]["output"] == "Label0"
    classify_prompt_text = engine.calls_of("classify")[0][0][0]
    urgency = "Task: Classify the urgency of this note as high, medium or low."
    assert f"{urgency}\nClassification: Yes" in classify_prompt_text
    assert classify_prompt_text.count("\nClassification:") == 5  # 4 demonstrations + the question
    instance_prompt_text = engine.calls_of("instance")[0][0][0]
    assert "Task: Classify the urgency of this note as high, medium or low.\nClass label: " in instance_prompt_text
    assert engine.calls_of("instance")[0][1].max_new_tokens == 40  # the round held a classification task
    # Switched off: no classification call, every instance input-first, the label unknown.
    off_engine = ScriptedEngine(lists=[[" Classify the memo as urgent or routine please"]], clf_words=("Classify",))
    out, stats = run(off_engine, config(max_rounds=1, prompts_per_round=1, classify=False), seeds=labelled)
    assert out[0]["is_classification"] is None and not off_engine.calls_of("classify")
    assert stats["classify_demos"] is None and stats["n_classify_prompts"] == 0


def test_icl_mixes_seed_and_generated_instructions():
    engine = ScriptedEngine(per_list=3)
    out, _ = run(engine, config(n_instructions=12, icl_seed=3, icl_generated=2))
    seed_set = {s["instruction"] for s in SEEDS}
    first, second = engine.instruction_calls()[0][0], engine.instruction_calls()[1][0]

    def shown(prompt: str) -> list[str]:
        return [line.split(". ", 1)[1] for line in prompt.splitlines()[1:] if ". " in line]

    # Round 1: nothing generated yet, so seeds fill all 5 places; later rounds show 2 generated ones.
    assert all(len(shown(p)) == 5 and set(shown(p)) <= seed_set for p in first)
    accepted_round1 = {r["instruction"] for r in out if r["round"] == 1}
    for prompt in second:
        items = shown(prompt)
        assert len(items) == 5 and len(set(items) & accepted_round1) == 2 and len(set(items) & seed_set) == 3
        assert prompt.endswith("\n6.")


def test_every_filter_is_counted():
    seed_copy = "Summarize the following e-mail in one short sentence."  # near-duplicate of a seed
    good = "Write a limerick about natural gas storage in winter."
    lists = [[
        " " + "\n".join([seed_copy, "9. Draw a picture of the trading floor", "10. Explain gas prices",
                         "11. " + "very " * 20 + "long", "12. - starts with a dash and more words",
                         "13. " + good, "14. Write a limerick about natural gas storage in the winter.",
                         "15. Compose a haiku for the risk desk", "16. Name two ISDA sections briefly",
                         "17. List the pipelines with outages today", "18. ",
                         "19. Write a program that totals the gas bill", "20. Rank the desks by monthly volume",
                         "21. Describe how a storage field injects gas"]),
    ]]
    instances = [[" <noinput>\nOutput: fine answer", " x\nOutput:   ", " y\nOutput: " + "w " * 30,
                  " no output marker at all", " same words\nOutput: same words", " Dear desk:\nOutput: Noted"]]
    engine = ScriptedEngine(lists=lists, instances=instances)
    out, stats = run(engine, config(n_instructions=50, max_rounds=1, prompts_per_round=1, max_output_words=20,
                                    max_instruction_words=12, max_new_tokens=200))
    dropped = stats["dropped"]
    assert dropped["rouge"] == 2  # the seed copy and the in-round copy of `good`
    assert (dropped["blacklist"], dropped["too_short"], dropped["too_long"], dropped["bad_start"]) == (1, 1, 1, 1)
    assert (dropped["empty"], dropped["write_program"]) == (1, 1)
    assert (dropped["empty_output"], dropped["output_too_long"], dropped["instance_unparsed"]) == (1, 1, 1)
    assert (dropped["same_input_output"], dropped["colon_end"]) == (1, 1)
    assert [r["instruction"] for r in out] == [good] and out[0]["output"] == "fine answer"
    assert stats["n_candidates"] == 14 and stats["n_instance_prompts"] == 6
    # Instructions whose instance failed still joined the pool (Wang et al.'s machine instructions).
    assert stats["n_machine_instructions"] == 6
    assert_accounted(stats)


def test_rouge_filter_also_drops_repeats_of_accepted_instructions_across_rounds():
    same = [[" Compose a haiku for the risk desk today"]]
    out, stats = run(ScriptedEngine(lists=same), config(n_instructions=5, max_rounds=3, prompts_per_round=1))
    assert len(out) == 1 and stats["dropped"]["rouge"] == 2 and stats["stopped"] == "max_rounds"
    off, stats = run(ScriptedEngine(lists=same), config(n_instructions=5, max_rounds=3, prompts_per_round=1,
                                                        rouge_threshold=None))
    assert len(off) == 3 and stats["dropped"]["rouge"] == 0
    # An instruction whose instance failed stays in the pool: its repeats are still near-duplicates.
    failed, stats = run(ScriptedEngine(lists=same, instances=[[" no marker"]]),
                        config(n_instructions=5, max_rounds=3, prompts_per_round=1))
    assert failed == [] and stats["dropped"]["rouge"] == 2 and stats["dropped"]["instance_unparsed"] == 1


def test_max_rounds_stops_a_loop_that_finds_nothing():
    engine = ScriptedEngine(lists=[[" - nothing useful at all"]])
    out, stats = run(engine, config(max_rounds=3))
    assert out == [] and stats["n_rounds"] == 3 and stats["stopped"] == "max_rounds"
    assert stats["dropped"]["bad_start"] == 6 and stats["n_instance_prompts"] == 0
    assert len(engine.calls) == 3  # no classification or instance call when no instruction survived


def test_truncated_completions_lose_their_last_item():
    # 16 new tokens; the counter counts words, so a 20-word completion ran out of room.
    lists = [[" Compose a haiku for the risk desk\n9. Rank the gas desks by their monthly volume and then the "
              "remaining"]]
    instances = [[" <noinput>\nOutput: " + "word " * 30]]
    short = dict(max_new_tokens=16, instance_max_new_tokens=16, max_rounds=1, prompts_per_round=1)
    out, stats = run(ScriptedEngine(lists=lists, instances=instances), config(**short))
    assert stats["dropped"]["truncated"] == 1 and stats["dropped"]["instance_truncated"] == 1 and out == []
    kept, stats = run(ScriptedEngine(lists=lists, instances=instances), config(**short, drop_truncated=False))
    assert stats["dropped"]["truncated"] == 0 and len(kept) == 2
    # A cut-off completion whose first instance ended before a second began keeps the first (Wang et al.
    # drop only the last instance of a cut-off completion).
    complete = [[" <noinput>\nOutput: a short answer\nInput: " + "word " * 30]]
    out, stats = run(ScriptedEngine(lists=lists, instances=complete), config(**short))
    assert [r["output"] for r in out] == ["a short answer"] and stats["dropped"]["instance_truncated"] == 0


def test_prompt_budget_trims_demonstrations():
    engine = ScriptedEngine(per_list=2)
    _, stats = run(engine, config(n_instructions=2, max_rounds=1, max_prompt_tokens=45))
    assert [kind(p[0]) for p, _ in engine.calls] == ["list", "classify", "instance"]
    for prompts, _ in engine.calls:
        assert all(words(p) <= 45 for p in prompts)
    assert stats["icl_trimmed_prompts"] > 0
    with pytest.raises(InvalidSpec, match="max_prompt_tokens"):
        run(ScriptedEngine(), config(max_prompt_tokens=8), counter=len)  # characters: not even the header fits


def test_lenient_instances_take_unformatted_completions():
    lists = [[" Compose a haiku for the risk desk"]]
    out, stats = run(ScriptedEngine(lists=lists, instances=[[" A quiet desk hums."]]),
                     config(max_rounds=1, prompts_per_round=1, lenient_instances=True))
    assert [(r["input"], r["output"]) for r in out] == [("", "A quiet desk hums.")]
    assert stats["n_lenient_instances"] == 1


def test_same_seed_same_dataset_other_seed_other_demonstrations():
    first_engine, again_engine, other_engine = ScriptedEngine(), ScriptedEngine(), ScriptedEngine()
    first, first_stats = run(first_engine, config(seed=3))
    again, _ = run(again_engine, config(seed=3))
    assert first == again and first_engine.calls == again_engine.calls
    other, _ = run(other_engine, config(seed=4))
    assert first_engine.calls[0][0] != other_engine.calls[0][0]  # other in-context seeds / order
    assert first_engine.calls[0][1].seed != other_engine.calls[0][1].seed
    assert first != other and first_stats["n_accepted"] == 6


def test_cancel_stops_between_rounds():
    cancel = threading.Event()

    def on_progress(stage, done, total, message):
        if stage == "self_instruct":
            cancel.set()

    engine = ScriptedEngine(per_list=1)
    with pytest.raises(Cancelled):
        run(engine, config(n_instructions=50), reporter=Reporter(on_progress, cancel))
    assert len(engine.instruction_calls()) == 1


# ---- config, seeds, registry

def test_config_validation_and_registry():
    task = get_task("self_instruct")
    assert task.config_type is SelfInstructConfig and task.run is generate_self_instruct
    # The generator servicer merges its sampling fields in flat; struct numbers arrive as floats/strings.
    cfg = parse_spec(SelfInstructConfig, {"temperature": 0.9, "top_k": 50, "top_p": 0.95, "max_new_tokens": 128,
                                          "n": 1, "seed": "7", "n_instructions": 20.0})
    sampling = cfg.sampling("instructions", 1)
    assert (sampling.temperature, sampling.top_k, sampling.top_p, sampling.max_new_tokens) == (0.9, 50, 0.95, 128)
    assert cfg.sampling("instances", 1).seed != sampling.seed != cfg.sampling("instructions", 2).seed
    assert SelfInstructConfig(instance_temperature=0.0).sampling("instances", 1).greedy
    assert SelfInstructConfig(instance_temperature=None, temperature=0.9).sampling("instances", 1).temperature == 0.9
    with pytest.raises(InvalidSpec) as err:
        parse_spec(SelfInstructConfig, {"n": 2})
    assert err.value.field == "n"
    with pytest.raises(InvalidSpec, match="icl_seed"):
        parse_spec(SelfInstructConfig, {"icl_seed": 0, "icl_generated": 0})
    with pytest.raises(InvalidSpec, match="bogus"):
        parse_spec(SelfInstructConfig, {"bogus": 1})


def test_load_seed_tasks_formats_and_errors(tmp_path: Path):
    as_list = tmp_path / "seeds.json"
    as_list.write_text(json.dumps(SEEDS))
    as_jsonl = tmp_path / "seeds.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(s) for s in SEEDS) + "\n")
    tasks = load_seed_tasks(as_list)
    assert tasks == load_seed_tasks(as_jsonl) and len(tasks) == len(SEEDS)
    assert tasks[2].examples[0].input == "" and len(tasks[3].examples) == 2 and tasks[4].examples[0].output == "$5"
    wang = normalize_seed_tasks([{"instruction": "Do x now", "instances": [{"input": "", "output": "done"}]}])
    assert wang[0].record() == {"instruction": "Do x now", "examples": [{"input": "", "output": "done"}]}
    assert wang[0].is_classification is None
    labelled = normalize_seed_tasks([{"instruction": "Is it spam?", "instances": [{"input": "Win!", "output": "Yes"}],
                                      "is_classification": True, "id": "seed_task_9", "name": "spam"}])
    assert labelled[0].is_classification is True and labelled[0].record()["is_classification"] is True
    bad = [
        ([{"instruction": "ok task", "examples": []}], "records[0].examples"),
        ([SEEDS[0], {"examples": [{"input": "", "output": "x"}]}], "records[1].instruction"),
        ([{"instruction": "t", "examples": [{"input": "", "output": "a"}, {"input": 3, "output": "b"}]}],
         "records[0].examples[1].input"),
        ([{"instruction": "t", "examples": [{"input": "x", "output": "  "}]}], "records[0].examples[0].output"),
        (["not an object"], "records[0]"),
        ([{"instruction": "t", "examples": [{"output": "a"}], "is_classification": "yes"}],
         "records[0].is_classification"),
        ([], "records"),
    ]
    for records, field in bad:
        with pytest.raises(InvalidSpec) as err:
            normalize_seed_tasks(records)
        assert err.value.field == field, (records, err.value)
    (tmp_path / "broken.jsonl").write_text('{"instruction": "x"}\n{oops\n')
    with pytest.raises(InvalidSpec, match="line 2"):
        load_seed_tasks(tmp_path / "broken.jsonl")


# ---- chat template

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from genleak.engines.probe_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("si") / "llama")


@pytest.fixture(scope="module")
def chat_dir(tiny_dir: Path, tmp_path_factory) -> Path:
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("si-chat") / "llama-chat"
    shutil.copytree(tiny_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


def test_chat_template_wraps_every_prompt(chat_dir: Path, tiny_dir: Path):
    chat_list = ["Sure:\n9. Compose a haiku for the risk desk\n10. Rank the desks by volume"]
    chat_instance = ["Input: <noinput>\nOutput: A quiet desk."]
    engine = ScriptedEngine(lists=[chat_list], instances=[chat_instance], clf_words=("Rank",),
                            clf_instances=[["Class label: First\nInput: the gas desk, the power desk"]])
    out, stats = generate_self_instruct(engine, chat_dir, SEEDS, config(max_rounds=1, prompts_per_round=1,
                                                                       system_prompt="Be concise."))
    assert stats["prompt_format"] == "chat" and len(out) == 2
    assert [(r["is_classification"], r["output"]) for r in out] == [(False, "A quiet desk."), (True, "First")]
    assert [kind(p[0]) for p, _ in engine.calls] == ["list", "classify", "instance"]
    assert "\n\n" not in engine.calls[0][1].stop  # a chat reply's preamble ends in a blank line
    # Replies to the classification question and instance requests are started with their marker.
    ends = {"list": "", "classify": "Classification:", "instance": "Input:", "clf_instance": "Class label:"}
    for prompts, _ in engine.calls:
        for prompt in prompts:
            assert prompt.startswith("<|system|>\nBe concise.<|end|>\n<|user|>\n")
            assert prompt.endswith("<|end|>\n<|assistant|>\n" + ends[kind(prompt)])
    # Chat models are asked to go on (not left to continue "N+1."); the tiny tokenizer's long token
    # counts may trim a demonstration to fit the 512-token context, hence any N.
    assert re.search(r"\n\nContinue the list with new, diverse tasks, starting at \d\. ", engine.calls[0][0][0])
    # Forcing plain skips the template; a tokenizer without one cannot do chat.
    plain_engine = ScriptedEngine()
    _, stats = generate_self_instruct(plain_engine, chat_dir, SEEDS, config(prompt_format="plain", max_rounds=1))
    assert stats["prompt_format"] == "plain" and plain_engine.calls[0][0][0].startswith(INSTRUCTION_HEADER)
    _, stats = generate_self_instruct(ScriptedEngine(), tiny_dir, SEEDS, config(max_rounds=1))
    assert stats["prompt_format"] == "plain"
    with pytest.raises(InvalidSpec, match="chat_template"):
        generate_self_instruct(ScriptedEngine(), tiny_dir, SEEDS, config(prompt_format="chat"))
    with pytest.raises(InvalidSpec, match="prompt_format"):
        generate_self_instruct(ScriptedEngine(), words, SEEDS, config(prompt_format="chat"))


# ---- the lab's seed tasks

@pytest.fixture(scope="module")
def lab_splits():
    from genleak.lab import LabConfig
    from genleak.lab.people import make_people
    from genleak.lab.splits import build_splits

    def build(seed: int):
        cfg = LabConfig.preset("tiny", {"seed": seed})
        people = make_people(cfg.n_people, cfg.n_eval_people, cfg.n_fewshot_people, cfg.corpus.n_domains, cfg.seed)
        return build_splits(cfg, people)

    return build


def test_lab_seed_tasks_schema_count_and_no_protected_people(lab_splits):
    from genleak.lab.seed_tasks import PERSON_TASKS, build_seed_tasks

    splits = lab_splits(0)
    records = build_seed_tasks(splits, 0)
    assert 24 <= len(records) <= 40
    assert sum(r["instruction"] in {t.instruction for t in PERSON_TASKS} for r in records) >= 8
    tasks = normalize_seed_tasks(records)  # the generator accepts them as they are
    assert len({t.instruction for t in tasks}) == len(tasks)
    for record in records:
        assert set(record) == {"instruction", "examples", "is_classification"}
        assert all(set(ex) == {"input", "output"} and ex["output"].strip() for ex in record["examples"])
    # The category/urgency/yes-no tasks are classification tasks: the loop's trusted demonstrations.
    assert {t.is_classification for t in tasks} == {True, False}
    assert classify_demos(tasks, 16, 0)[1] == "seeds"
    clf = {t.instruction for t in tasks if t.is_classification}
    assert any(i.startswith("Which category") for i in clf) and any(i.startswith("Classify the urgency") for i in clf)
    assert sum(1 for t in tasks if all(not e.input for e in t.examples)) >= 3  # some no-input tasks
    text = json.dumps(records)
    for person in splits.people:
        if person.role != "tuning":
            for secret in (person.name, person.email, person.email.split("@")[0] + "@", person.phone):
                assert secret not in text, (person.role, secret)
    tuning_names = {p.name for p in splits.people if p.role == "tuning"}
    assert sum(name in text for name in tuning_names) >= 10  # person tasks do name (tuning) people
    assert build_seed_tasks(splits, 0) == records
    assert build_seed_tasks(lab_splits(1), 1) != records


def test_lab_seed_tasks_refuse_a_protected_person(lab_splits):
    from genleak.lab.seed_tasks import _check_tuning_only

    splits = lab_splits(0)
    eval_person = next(p for p in splits.people if p.role == "eval")
    with pytest.raises(ValueError, match=eval_person.person_id):
        _check_tuning_only([{"instruction": f"Who is {eval_person.name}?", "examples": []}], splits.people)


def test_lab_index_without_a_current_dataset_is_refused(tmp_path: Path):
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore
    from genleak.lab.publish import DATASETS, LAB_FORMAT, lab_root, load_lab_refs
    from genleak.lab import LabConfig

    assert "seed_tasks" in DATASETS
    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    root = lab_root(store, LabConfig.preset("tiny"))
    assert f"/labs/v{LAB_FORMAT}/" in root
    assert load_lab_refs(store, root) is None
    index = tmp_path / "index"
    index.mkdir()
    refs = {name: {"uri": f"{root}/datasets/{name}", "sha256": "", "kind": "dataset"} for name in DATASETS[:-1]}
    (index / "refs.json").write_text(json.dumps(refs))
    store.publish(index, f"{root}/index", kind="lab")
    with pytest.raises(NotReady, match="seed_tasks"):
        load_lab_refs(store, root)


# ---- end to end: GeneratorCore, file store, hf engine, tiny random model

def test_self_instruct_job_through_generator_core(tiny_dir: Path, lab_splits, tmp_path: Path):
    from genleak.core.datasets import load_records, publish_records
    from genleak.core.progress import Reporter as JobReporter
    from genleak.core.settings import StoreSettings
    from genleak.core.specs import ArtifactSpec, ModelSpec
    from genleak.core.store import ArtifactStore
    from genleak.engines import EngineCache, EngineConfig
    from genleak.compute.threads import torch_threads
    from genleak.generator.service import GenerationSpec, GeneratorCore
    from genleak.lab.seed_tasks import build_seed_tasks

    store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
    seeds = publish_records(store, build_seed_tasks(lab_splits(0), 0), store.uri_for("inputs", "seed_tasks"))
    # A random model keeps no format: lenient instances and kept cut-offs let its junk through the
    # pipeline, which is what this test checks (quality is the scripted tests' business).
    task_config = {"n_instructions": 3, "max_rounds": 2, "prompts_per_round": 2, "max_new_tokens": 12,
                   "instance_max_new_tokens": 12, "min_instruction_words": 1, "drop_bad_start": False,
                   "drop_truncated": False, "lenient_instances": True, "seed": 5, "temperature": 1.0, "top_k": 50}
    spec = GenerationSpec(model=ModelSpec(uri=str(tiny_dir)), engine=EngineConfig(name="hf", batch_size=4),
                          dataset=ArtifactSpec(uri=seeds.uri, sha256=seeds.sha256), task="self_instruct",
                          config=task_config)
    assert isinstance(spec.task_config(), SelfInstructConfig)
    core = GeneratorCore(store, EngineCache(max_size=1))
    events = []
    with torch_threads(1):
        output = core.run_generation(spec, JobReporter(lambda *e: events.append(e)))
    core.engines.close()
    stats = output.result
    records = load_records(store, output.artifacts["dataset"])
    assert len(records) == stats["n_accepted"] >= 1 and stats["n_seed"] >= 24
    for record in records:
        assert set(record) == {"instruction", "input", "output", "is_classification", "source", "round"}
        assert record["source"] == "self_instruct" and record["instruction"] and record["output"]
        assert isinstance(record["is_classification"], bool)
    assert stats["n_prompts"] == 2 * stats["n_rounds"] and stats["prompt_format"] == "plain"
    assert stats["n_classify_prompts"] >= 1 and stats["classify_demos"] == "seeds"
    assert_accounted(stats)
    assert {"self_instruct", "generate"} <= {e[0] for e in events}
