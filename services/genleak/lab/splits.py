"""The paper's split design over the lab's people and mail.

- members: pretraining documents. Every PII-eval person is featured in min..max_docs_per_eval_person
  of them, with their email, so the pretrained models can memorise name -> email (more often for
  some people than others, as in real mail).
- prompts: member documents cast only with tuning people, cut into prompt + continuation. They are
  the generation prompts and the "original" fine-tuning data, so fine-tuning never shows an eval
  person's name or email (any extraction gain must come from re-activated pretraining memory).
- nonmembers: the same mixture of casts, never trained on (membership-inference negatives).
- few_shot: the public demonstration pairs; pii_targets: the eval people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from genleak.lab.config import LabConfig, eval_doc_counts
from genleak.lab.corpus import MailCast, MailWriter
from genleak.lab.people import Person

# Quoted first: every featured person gets at least one "From: Name [mailto:email]" block,
# the form the extraction templates C and D probe.
_PLACEMENT_CYCLE = ("quoted", "sender", "mentioned", "quoted", "sender", "recipient", "quoted", "mentioned")


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    cast: MailCast


@dataclass(frozen=True)
class LabSplits:
    people: list[Person]
    members: list[Document]
    nonmembers: list[Document]
    prompt_docs: list[Document]


def build_splits(config: LabConfig, people: list[Person]) -> LabSplits:
    writer = MailWriter(config.corpus)
    tuning = [p for p in people if p.role == "tuning"]
    member_casts = _member_casts(config, people, tuning, random.Random(f"members-{config.seed}"))
    members = _write_documents("m", member_casts, writer, random.Random(f"member-text-{config.seed}"))
    nonmembers = _nonmember_documents(config, people, tuning, writer, {d.text for d in members})
    prompt_docs = _pick_prompt_docs(members, config.n_prompt_docs, random.Random(f"prompts-{config.seed}"))
    return LabSplits(people=people, members=members, nonmembers=nonmembers, prompt_docs=prompt_docs)


def split_prompt(text: str, ratio: float) -> tuple[str, str]:
    """Cut at a line boundary so that prompt + continuation == text."""
    lines = text.splitlines(keepends=True)
    cut = min(len(lines) - 1, max(1, round(len(lines) * ratio)))
    return "".join(lines[:cut]), "".join(lines[cut:])


def is_tuning_only(cast: MailCast) -> bool:
    cast_people = (cast.sender, cast.recipient, cast.quoted, cast.mentioned, cast.cc)
    return all(p is None or p.role == "tuning" for p in cast_people)


def featured_doc_counts(config: LabConfig, people: list[Person]) -> dict[str, int]:
    """person_id -> member documents featuring them; eval counts are shuffled over the eval people."""
    eval_counts = eval_doc_counts(config.n_eval_people, config.corpus)
    random.Random(f"eval-counts-{config.seed}").shuffle(eval_counts)
    eval_ids = [p.person_id for p in people if p.role == "eval"]
    counts = {p.person_id: config.corpus.docs_per_fewshot_person for p in people if p.role == "fewshot"}
    return {**counts, **dict(zip(eval_ids, eval_counts))}


def _member_casts(config: LabConfig, people: list[Person], tuning: list[Person], rng: random.Random) -> list[MailCast]:
    casts: list[MailCast] = []
    counts = featured_doc_counts(config, people)
    for person in people:
        n_docs = counts.get(person.person_id, 0)
        placements = [_PLACEMENT_CYCLE[i % len(_PLACEMENT_CYCLE)] for i in range(n_docs)]
        casts += [_featured_cast(person, placement, tuning, rng) for placement in placements]
    casts += [tuning_cast(tuning, rng) for _ in range(config.emails - len(casts))]
    rng.shuffle(casts)
    return casts


def _nonmember_documents(
    config: LabConfig, people: list[Person], tuning: list[Person], writer: MailWriter, member_texts: set[str],
) -> list[Document]:
    """Same cast mixture as the members (featured share included), drawn from its own rng stream."""
    rng = random.Random(f"nonmembers-{config.seed}")
    counts = featured_doc_counts(config, people)
    featured = [p for p in people for _ in range(counts.get(p.person_id, 0))]
    featured_share = len(featured) / config.emails
    documents: list[Document] = []
    while len(documents) < config.n_nonmember_emails:
        if rng.random() < featured_share:
            cast = _featured_cast(rng.choice(featured), rng.choice(_PLACEMENT_CYCLE), tuning, rng)
        else:
            cast = tuning_cast(tuning, rng)
        text = writer.write(cast, rng)
        if text not in member_texts:
            documents.append(Document(doc_id=f"n-{len(documents):06d}", text=text, cast=cast))
    return documents


def _featured_cast(person: Person, placement: str, tuning: list[Person], rng: random.Random) -> MailCast:
    a, b = rng.sample(tuning, 2)
    if placement == "sender":
        return MailCast(sender=person, recipient=a)
    if placement == "recipient":
        return MailCast(sender=a, recipient=person)
    if placement == "quoted":
        return MailCast(sender=a, recipient=b, quoted=person)
    return MailCast(sender=a, recipient=b, mentioned=person)


def tuning_cast(tuning: list[Person], rng: random.Random) -> MailCast:
    """A mail among tuning people only (no PII-eval or few-shot person)."""
    sender, recipient, other, cc = rng.sample(tuning, 4)
    roll = rng.random()
    return MailCast(
        sender=sender,
        recipient=recipient,
        quoted=other if roll < 0.4 else None,
        mentioned=other if 0.4 <= roll < 0.55 else None,
        cc=cc if rng.random() < 0.2 else None,
    )


def _write_documents(prefix: str, casts: list[MailCast], writer: MailWriter, rng: random.Random) -> list[Document]:
    return [Document(f"{prefix}-{i:06d}", writer.write(cast, rng), cast) for i, cast in enumerate(casts)]


def _pick_prompt_docs(members: list[Document], n_prompts: int, rng: random.Random) -> list[Document]:
    candidates = [d for d in members if is_tuning_only(d.cast)]
    if len(candidates) < n_prompts:
        raise ValueError(f"only {len(candidates)} tuning-only member documents for {n_prompts} prompts")
    return sorted(rng.sample(candidates, n_prompts), key=lambda d: d.doc_id)
