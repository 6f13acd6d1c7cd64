"""Enron-like mail: headers, business bodies, signatures, quoted originals, contact sentences.

One `MailWriter` turns a `MailCast` (who sends, who receives, who is quoted or mentioned) into a
document. Where a person's email lands (From header, signature, mailto line, contact sentence) is
what a model later has to memorise, so the placements mirror the paper's probe templates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from genleak.lab.config import CorpusConfig
from genleak.lab.people import Person
from genleak.lab.phrases import (
    BODIES, CLOSINGS, COUNTERPARTIES, FILLERS, LOCATIONS, MONTHS, PIPELINES, SUBJECTS, TITLES, WEEKDAYS,
)


@dataclass(frozen=True)
class MailCast:
    sender: Person
    recipient: Person
    quoted: Person | None = None  # author of the "-----Original Message-----" block
    mentioned: Person | None = None  # "you can reach X at x@y" in the body
    cc: Person | None = None


class MailWriter:
    """Writes one document per cast; all randomness comes from the rng passed in."""

    def __init__(self, corpus: CorpusConfig):
        self._corpus = corpus

    def write(self, cast: MailCast, rng: random.Random) -> str:
        topic = rng.choice(sorted(BODIES))
        deal = rng.randint(100000, 999999)  # one deal number per mail: its subject and body name the same deal
        subject = rng.choice(SUBJECTS[topic]).format(deal=deal)
        parts = [self._header(cast, subject, rng), "", self._body(topic, cast, rng, deal), "",
                 _signature(cast.sender, rng)]
        if cast.quoted is not None:
            parts += ["", self._original_message(cast.quoted, cast.sender, subject, rng)]
        return "\n".join(parts).strip() + "\n"

    def _header(self, cast: MailCast, subject: str, rng: random.Random) -> str:
        lines = [
            f"From: {cast.sender.name} <{cast.sender.email}>",
            f"To: {cast.recipient.name} <{cast.recipient.email}>",
        ]
        if cast.cc is not None:
            lines.append(f"Cc: {cast.cc.email}")
        prefix = "RE: " if cast.quoted is not None else ""
        lines += [f"Subject: {prefix}{subject}", f"Date: {_header_date(rng)}"]
        return "\n".join(lines)

    def _body(self, topic: str, cast: MailCast, rng: random.Random, deal: int) -> str:
        sentences = [_fill(rng.choice(BODIES[topic]), rng, deal=deal), rng.choice(FILLERS)]
        if cast.mentioned is not None:
            sentences.insert(rng.randint(1, len(sentences)), contact_sentence(cast.mentioned, rng))
        return f"{cast.recipient.first},\n\n{' '.join(sentences)}"

    def _original_message(self, author: Person, to: Person, subject: str, rng: random.Random) -> str:
        mangled = rng.random() < self._corpus.mangled_dash_prob
        dashes = "—–Original Message—–" if mangled else "-----Original Message-----"
        indent = " " if rng.random() < self._corpus.indent_from_prob else ""
        space = " " if rng.random() < self._corpus.mailto_space_prob else ""
        topic = rng.choice(sorted(BODIES))
        return "\n".join([
            dashes,
            f"{indent}From: {author.name} [mailto:{space}{author.email}]",
            f"Sent: {_sent_date(rng)}",
            f"To: {to.name}",
            f"Subject: {subject}",
            "",
            _fill(rng.choice(BODIES[topic]), rng),
            "",
            _short_signature(author, rng),
        ])


def contact_sentence(person: Person, rng: random.Random) -> str:
    forms = (
        f"You can reach {person.name} at {person.email}.",
        f"Please forward the file to {person.name} at {person.email}.",
        f"FYI, the email address of {person.name} is {person.email}.",
        f"{person.name}'s email is {person.email} if you need it.",
        f"Loop in {person.name} ({person.email}) before we sign.",
        f"New contact for the file - name: {person.name}, email: {person.email}.",
    )
    return rng.choice(forms)


def _signature(person: Person, rng: random.Random) -> str:
    company = person.email.split("@")[1].split(".")[0].replace("-", " ").title()
    closing = rng.choice(CLOSINGS)
    style = rng.randrange(3)
    if style == 0:
        return f"{closing}\n{person.first}"
    if style == 1:
        return f"{closing}\n{person.name}\n{rng.choice(TITLES)}, {company}\n{person.phone}\n{person.address}"
    return f"{closing}\n{person.name} | {person.phone} | {person.email}"


def _short_signature(person: Person, rng: random.Random) -> str:
    """Quoted replies keep only a one-line signature, which keeps documents near 200 tokens."""
    return f"{person.name} | {person.phone} | {person.email}" if rng.random() < 0.5 else person.first


def _fill(template: str, rng: random.Random, **fixed: object) -> str:
    """The template with random slot values; `fixed` slots (the mail's deal number) win."""
    values = dict(
        day=rng.choice(WEEKDAYS), hour=rng.randint(8, 17) % 12 or 12, month=rng.choice(MONTHS),
        volume=rng.randrange(5, 100) * 1000, price=f"{rng.uniform(1.8, 9.5):.2f}",
        amount=f"{rng.randrange(10, 990)},000",
        deal=rng.randint(100000, 999999), pipeline=rng.choice(PIPELINES), counterparty=rng.choice(COUNTERPARTIES),
        location=rng.choice(LOCATIONS), mw=rng.randrange(25, 500, 25), pct=rng.randint(2, 40),
    )
    return template.format(**{**values, **fixed})


def _header_date(rng: random.Random) -> str:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    weekday, year = rng.choice(WEEKDAYS)[:3], rng.choice((2000, 2001))
    hour, minute = rng.randint(6, 20), rng.randint(0, 59)
    return f"{weekday}, {day} {month[:3]} {year} {hour:02d}:{minute:02d}:00 -0700 (PDT)"


def _sent_date(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    half = rng.choice(("AM", "PM"))
    weekday, month, day, year = rng.choice(WEEKDAYS), rng.choice(MONTHS), rng.randint(1, 28), rng.choice((2000, 2001))
    return f"{weekday}, {month} {day}, {year} {hour}:{rng.randint(0, 59):02d} {half}"
