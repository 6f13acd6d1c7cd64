"""The lab's self-instruct seed tasks: e-mail and business tasks over its own mail (docs/paper.md, scenario B).

The paper seeds its self-instruct loop with 64 legal tasks on court-opinion excerpts, the first ~14 of
them person-identification tasks ("identify the appellant"...). The lab does the same over its
Enron-like mail: 10 person-identification tasks first, then e-mail/business tasks and a few no-input
tasks, one or two worked examples each, in the `{instruction, examples: [{input, output}]}` format.

Inputs are the lab's generation-prompt documents, whose casts hold tuning people only: a PII-eval
person must never reach anything the fine-tuning data can be generated from (`_check_tuning_only`
re-checks the final records). Outputs are computed from each document's cast and text, so they are
correct by construction; the choice of documents is seeded from the lab seed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Callable

from genleak.lab.people import Person
from genleak.lab.phrases import COUNTERPARTIES, LOCATIONS, PIPELINES, TITLES, WEEKDAYS, subject_topic
from genleak.lab.splits import Document, LabSplits, is_tuning_only


@dataclass(frozen=True)
class Mail:
    """A lab document cut into its parts (the layout MailWriter writes)."""

    doc: Document
    header: dict[str, str]
    body: str  # the sentences after the greeting
    signature: str
    quoted: str | None  # the "-----Original Message-----" block

    @property
    def text(self) -> str:
        return self.doc.text.strip()

    @property
    def subject(self) -> str:
        return self.header.get("Subject", "").removeprefix("RE: ")

    @property
    def topic(self) -> str | None:
        return subject_topic(self.subject)

    @property
    def sentences(self) -> list[str]:
        return re.split(r"(?<=[.?!])\s+(?=[A-Z])", self.body)

    @property
    def lead(self) -> str:
        """The topic sentence: MailWriter puts contact sentences and fillers after it."""
        return self.sentences[0]

    @property
    def letter(self) -> str:
        """Greeting and body only, for tasks that must not see the headers."""
        return f"{self.doc.cast.recipient.first},\n\n{self.body}"


def parse_mail(doc: Document) -> Mail:
    parts = doc.text.strip().split("\n\n")
    header = dict(line.split(": ", 1) for line in parts[0].splitlines() if ": " in line)
    quoted = "\n\n".join(parts[4:]) or None
    return Mail(doc=doc, header=header, body=parts[2], signature=parts[3], quoted=quoted)


Output = Callable[[Mail], "str | None"]  # None: this mail does not fit the task


@dataclass(frozen=True)
class Template:
    instruction: str
    output: Output
    input: Callable[[Mail], str] = lambda mail: mail.text
    examples: int = 1
    is_classification: bool = False  # a small, fixed set of answers (Wang et al. generate these output-first)


# ---- person identification (the paper's legal seeds start with ~14 of these)

def _sender_role(mail: Mail) -> str | None:
    title = next((t for t in TITLES if f"\n{t}, " in mail.signature), None)
    sender = mail.doc.cast.sender
    return None if title is None else f"The sender is {sender.name}, {title} at {_company(sender)}."


def _contract_approver(mail: Mail) -> str | None:
    if mail.topic != "contract":
        return None
    cast = mail.doc.cast
    return (f"{cast.recipient.name} ({cast.recipient.email}), the recipient, is asked to review and sign off; "
            f"{cast.sender.name} sent the request.")


def _quoted_author(mail: Mail) -> str | None:
    quoted = mail.doc.cast.quoted
    return None if quoted is None else f"{quoted.name}, {quoted.email}"


def _mentioned_contact(mail: Mail) -> str | None:
    mentioned = mail.doc.cast.mentioned
    return None if mentioned is None else f"{mentioned.name}, at {mentioned.email}."


def _copied(mail: Mail) -> str | None:
    cc = mail.doc.cast.cc
    return None if cc is None else f"{cc.email} is copied; the header gives only the address, not a name."


def _sender_contact(mail: Mail) -> str | None:
    sender = mail.doc.cast.sender
    if sender.address not in mail.signature:
        return None
    return f"Phone: {sender.phone}\nAddress: {sender.address}"


def _everyone(mail: Mail) -> str:
    cast = mail.doc.cast
    parts = [(cast.sender, "sender"), (cast.recipient, "recipient"), (cast.quoted, "author of the quoted message"),
             (cast.mentioned, "contact mentioned in the body")]
    lines = [f"- {person.name}: {role}" for person, role in parts if person is not None]
    if cast.cc is not None:
        lines.append(f"- {cast.cc.email} (no name given): copied")
    return "\n".join(lines)


PERSON_TASKS = (
    Template("Identify the sender of this message and their role.", _sender_role),
    Template("Who is the recipient of this e-mail? Give their name and e-mail address.",
             lambda m: f"{m.doc.cast.recipient.name} <{m.doc.cast.recipient.email}>"),
    Template("Who is asked to approve the contract?", _contract_approver),
    Template("Who wrote the original message quoted in this e-mail, and what is their e-mail address?",
             _quoted_author),
    Template("Which colleague does the sender suggest contacting, and how can they be reached?",
             _mentioned_contact),
    Template("Who is copied on this e-mail?", _copied),
    Template("Find the sender's phone number and postal address in their signature.", _sender_contact),
    Template("Name every person who appears in this e-mail and their part in it.", _everyone),
    Template("Which company does the sender work for, judging by their e-mail address?",
             lambda m: _company(m.doc.cast.sender)),
    Template("Who sent this e-mail, and when?",
             lambda m: f"{m.doc.cast.sender.name} sent it on {m.header['Date']}."),
)


# ---- e-mail and business tasks

_REPLIES = {
    "meeting": "Works for me; I will be there and bring what you asked for.",
    "deal": "Thanks, I will check the numbers on my side and confirm today.",
    "gas": "Got it. I will update our nominations and let you know if anything changes.",
    "power": "Thanks for the heads-up; I will review the schedule this afternoon.",
    "contract": "Thanks, I will review the draft and send my comments before the deadline.",
    "hr": "Thanks, I will take care of it this week.",
    "schedule": "Thanks for letting me know; I will plan around it.",
}
_URGENT = ("force majeure", "curtailed", "short ", "needs a confirmation", "due ", "ready for signature", "buy back")
_ACTION = re.compile(r"\b(please|send|review|check|finish|bring|call me|let me know|loop in)\b|\?", re.IGNORECASE)


def _summary(mail: Mail) -> str:
    cast = mail.doc.cast
    return f"{cast.sender.name} writes to {cast.recipient.name} about {mail.subject.lower()}: {mail.lead}"


def _subject(mail: Mail) -> str | None:
    return mail.subject


def _reply(mail: Mail) -> str | None:
    cast = mail.doc.cast
    line = _REPLIES.get(mail.topic or "")
    return None if line is None else f"{cast.sender.first},\n\n{line}\n\nThanks,\n{cast.recipient.first}"


def _urgency(mail: Mail) -> str:
    cue = next((cue.strip() for cue in _URGENT if cue in mail.body), None)
    if cue is not None:
        return f"High: the e-mail mentions \"{cue}\", which needs action soon."
    if mail.topic in ("meeting", "contract", "deal"):
        return f"Medium: a {mail.topic} item that needs attention but no deadline is at risk."
    return "Low: an update for information."


def _meeting(mail: Mail) -> str | None:
    lead = mail.lead
    day = next((d for d in WEEKDAYS if d in lead), None)
    time = re.search(r"\b\d{1,2}:00\b", lead)
    place = next((p for p in LOCATIONS if p in lead), None)
    if mail.topic not in ("meeting", "hr", "schedule") or day is None or (time is None and place is None):
        return None
    return f"Day: {day}\nTime: {time.group(0) if time else 'not given'}\nPlace: {place or 'not given'}"


def _emails(mail: Mail) -> str:
    found = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", mail.text)
    return "\n".join(dict.fromkeys(found))


def _amounts(mail: Mail) -> str | None:
    found = re.findall(r"\$\d[\d,]*(?:\.\d+)?(?:/MMBtu)?", mail.body)
    return ", ".join(found) or None


def _first_of(names: tuple[str, ...], text: str) -> str | None:
    # Longest first: "El Paso Merchant" must win over "El Paso".
    return next((name for name in sorted(names, key=len, reverse=True) if name in text), None)


def _pipeline(mail: Mail) -> str | None:
    pipeline = _first_of(PIPELINES, mail.lead) if mail.topic == "gas" else None
    return None if pipeline is None else f"{pipeline}: {mail.lead}"


def _volume(mail: Mail) -> str | None:
    found = re.findall(r"\b\d[\d,]* (?:MMBtu(?:/d)?|MW)\b", mail.lead)
    return ", ".join(found) or None


def _deal(mail: Mail) -> str | None:
    found = re.search(r"\bdeal (\d{6})\b", mail.lead)
    return None if found is None else f"Deal {found.group(1)}: {mail.lead}"


def _bullets(mail: Mail) -> str:
    return "\n".join(f"- {sentence}" for sentence in mail.sentences)


def _actions(mail: Mail) -> str:
    items = [f"- {s}" for s in mail.sentences if _ACTION.search(s)]
    return "\n".join(items) or "- None; the e-mail is for information only."


def _quoted_summary(mail: Mail) -> str | None:
    quoted = mail.doc.cast.quoted
    if quoted is None or mail.quoted is None:
        return None
    body = mail.quoted.split("\n\n")[1]
    return f"In the original message, {quoted.name} wrote to {mail.doc.cast.sender.first}: {body}"


def _recipients(mail: Mail) -> str:
    cast = mail.doc.cast
    if cast.cc is None:
        return f"One: {cast.recipient.name} (To)."
    return f"Two: {cast.recipient.name} (To) and {cast.cc.email} (Cc)."


EMAIL_TASKS = (
    Template("Summarize this e-mail in one sentence.", _summary),
    Template("Suggest a subject line for this e-mail.", _subject, input=lambda m: m.letter),
    Template("Draft a short, polite reply to this e-mail.", _reply),
    Template("Classify the urgency of this e-mail as high, medium or low, and give a one-line reason.", _urgency,
             examples=2, is_classification=True),
    Template("Which category does this e-mail belong to: meeting, deal, gas, power, contract, hr or schedule?",
             lambda m: m.topic, examples=2, is_classification=True),
    Template("When was this e-mail sent?", lambda m: m.header.get("Date")),
    Template("Extract the day, time and place of the meeting or appointment in this e-mail.", _meeting),
    Template("List every e-mail address that appears in this message.", _emails),
    Template("Extract the dollar amounts mentioned in this e-mail.", _amounts),
    Template("Which trading counterparty does this e-mail mention?", lambda m: _first_of(COUNTERPARTIES, m.lead)),
    Template("Which pipeline is this e-mail about, and what is happening on it?", _pipeline),
    Template("What volume of gas or power does this e-mail mention?", _volume),
    Template("Find the deal number in this e-mail and say what it is about.", _deal),
    Template("Rewrite the body of this e-mail as a bullet-point list.", _bullets, input=lambda m: m.letter),
    Template("List the action items for the recipient of this e-mail.", _actions),
    Template("Is this e-mail a reply to an earlier message? Answer yes or no.",
             lambda m: "Yes" if m.quoted else "No", examples=2, is_classification=True),
    Template("Summarize the quoted original message at the bottom of this e-mail.", _quoted_summary),
    Template("Does the sender ask to keep anything confidential? Answer yes or no.",
             lambda m: "Yes" if "confidential" in m.body else "No", examples=2, is_classification=True),
    Template("How many recipients does this e-mail have, counting To and Cc?", _recipients),
)

NO_INPUT_TASKS = (
    ("Write a short out-of-office auto-reply for a gas scheduler who is away until Monday.",
     "Thank you for your message. I am out of the office until Monday with limited access to e-mail. For "
     "nominations and scheduling questions, please contact the scheduling desk; I will reply when I am back."),
    ("Explain what a force majeure notice from a pipeline means for a gas trading desk.",
     "The pipeline is telling shippers that an event outside its control, such as an outage or a storm, stops it "
     "from moving all scheduled gas. The desk should expect cuts to its nominations, check which points are "
     "affected, and line up replacement supply or buy back the shortfall."),
    ("List three checks to make before sending a deal confirmation to a counterparty.",
     "1. Price, volume and delivery period match the deal ticket.\n2. The delivery point and pipeline are "
     "correct.\n3. The counterparty's legal name and credit terms match the master agreement."),
    ("Write a two-sentence e-mail asking a colleague to move a meeting to Friday afternoon.",
     "Hi,\n\nCould we move our meeting to Friday afternoon? Something came up on my side, and any time after "
     "2:00 works for me.\n\nThanks"),
    ("Give three tips for writing a clear business e-mail.",
     "1. Put the main point or request in the first sentence.\n2. Keep to one topic per e-mail.\n3. Use a "
     "specific subject line so the reader knows what it is about before opening it."),
    ("Explain the difference between on-peak and off-peak power.",
     "On-peak power covers the hours of highest demand, usually 6 a.m. to 10 p.m. on weekdays, and trades at "
     "higher prices; off-peak power covers nights, weekends and holidays, when demand and prices are lower."),
)


def build_seed_tasks(splits: LabSplits, seed: int) -> list[dict]:
    """The seed-task records, deterministic from the lab seed; documents are spread over tasks."""
    mails = [parse_mail(doc) for doc in splits.prompt_docs if is_tuning_only(doc.cast)]
    rng = random.Random(f"seed-tasks-{seed}")
    used: set[str] = set()
    records = []
    for template in PERSON_TASKS + EMAIL_TASKS:
        examples = _examples(template, mails, used, rng)
        if examples:  # a small lab may have no mail that fits (e.g. no Cc)
            records.append({"instruction": template.instruction, "examples": examples,
                            "is_classification": template.is_classification})
    records += [{"instruction": instruction, "examples": [{"input": "", "output": output}], "is_classification": False}
                for instruction, output in NO_INPUT_TASKS]
    _check_tuning_only(records, splits.people)
    return records


def _examples(template: Template, mails: list[Mail], used: set[str], rng: random.Random) -> list[dict]:
    """Worked examples on mails that fit the task, preferring mails no other task used yet and, for
    classification tasks with two examples, two different answers (two "Low"s teach nothing)."""
    fitting = [m for m in mails if template.output(m) is not None]
    fresh = [m for m in fitting if m.doc.doc_id not in used]
    source = fresh if len(fresh) >= template.examples else fitting
    pool = rng.sample(source, len(source))  # a seeded shuffle
    chosen: list[Mail] = []
    for mail in pool:  # first pass: distinct answers
        if len(chosen) < template.examples and template.output(mail) not in {template.output(c) for c in chosen}:
            chosen.append(mail)
    ids = {m.doc.doc_id for m in chosen}
    chosen += [m for m in pool if m.doc.doc_id not in ids][: template.examples - len(chosen)]
    used.update(m.doc.doc_id for m in chosen)
    return [{"input": template.input(m), "output": template.output(m)} for m in chosen]


def _check_tuning_only(records: list[dict], people: list[Person]) -> None:
    """Defence in depth: no eval or few-shot person's name or mailbox may appear in a seed task."""
    text = json.dumps(records, ensure_ascii=False)
    for person in people:
        if person.role != "tuning" and (person.name in text or person.email.split("@")[0] + "@" in text):
            raise ValueError(f"seed tasks mention non-tuning person {person.person_id} ({person.role})")


def _company(person: Person) -> str:
    return person.email.split("@")[1].split(".")[0].replace("-", " ").title()
