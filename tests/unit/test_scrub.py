"""Scrubbing (the generated-scrubbed condition): consistent Faker surrogates per person, through
Presidio detection and presidio-anonymizer, measured on lab mail."""

from __future__ import annotations

import random
import re

import pytest

from genleak.core.errors import InvalidSpec
from genleak.core.specs import parse_spec
from genleak.contracts.pii import ScrubConfig
from genleak.presidio.scrub import scrub_records, scrub_texts
from genleak.presidio.surrogates import SurrogateBook

NAMES = ["Megan Chang", "Bryan Sellers", "John O'Neil"]


def _book(seed: int = 1, names=NAMES, **kwargs) -> SurrogateBook:
    book = SurrogateBook(seed=seed, **kwargs)
    book.learn_names(names)
    return book


# ---- surrogates (no Presidio) -----------------------------------------------------------------------

def test_a_person_keeps_one_surrogate_across_mentions_and_email_patterns():
    book = _book()
    full = book.surrogate_name("Megan Chang")
    first, last = full.split()
    assert book.surrogate_name("Megan") == first
    assert book.surrogate_name("Ms. Chang") == f"Ms. {last}"
    assert book.surrogate_name("Dr. Megan Chang") == f"Dr. {full}"
    assert book.surrogate_name("Megan Chang's") == f"{full}'s"
    assert book.surrogate_name("MEGAN CHANG") == f"{first.upper()} {last.upper()}"
    f, l = first.lower(), last.lower()
    assert book.surrogate("EMAIL_ADDRESS", "megan.chang@corp.com") == f"{f}.{l}@corp.com"
    assert book.surrogate("EMAIL_ADDRESS", "mchang@corp.com") == f"{f[0]}{l}@corp.com"
    assert book.surrogate("EMAIL_ADDRESS", "changm@corp.com") == f"{l}{f[0]}@corp.com"
    assert book.surrogate("EMAIL_ADDRESS", "megan_chang@corp.com") == f"{f}_{l}@corp.com"
    assert book.surrogate("EMAIL_ADDRESS", "meganc42@corp.com") == f"{f}{l[0]}42@corp.com"
    assert book.surrogate("EMAIL_ADDRESS", "Megan.Chang@corp.com") == book.surrogate("EMAIL_ADDRESS",
                                                                                     "megan.chang@corp.com")


def test_surrogates_depend_on_seed_and_value_not_on_order():
    forward, backward = _book(names=NAMES), _book(names=list(reversed(NAMES)))
    assert [forward.surrogate_name(n) for n in NAMES] == [backward.surrogate_name(n) for n in NAMES]
    assert _book(seed=2).surrogate_name("Megan Chang") != forward.surrogate_name("Megan Chang")


def test_surrogates_never_reuse_a_real_name_token_and_never_collide():
    real = [f"{first} {last}" for first in ("James", "Mary", "John", "Linda", "Robert", "Maria")
            for last in ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia")]
    book = _book(names=real)
    surrogates = [book.surrogate_name(n) for n in real]
    real_tokens = {t for n in real for t in n.split()}
    assert not {t for s in surrogates for t in s.split()} & real_tokens
    assert len(set(surrogates)) == len(real)


def test_unknown_mailbox_phone_and_domains():
    book = _book()
    unknown = book.surrogate("EMAIL_ADDRESS", "zzq7@foo.org")
    assert unknown.endswith("@foo.org") and not unknown.startswith("zzq7")
    fake_domain = _book(email_domain="fake").surrogate("EMAIL_ADDRESS", "megan.chang@corp.com")
    assert not fake_domain.endswith("@corp.com")
    phone = book.surrogate("PHONE_NUMBER", "(212) 778-0167")
    assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", phone) and phone != "(212) 778-0167"
    assert book.surrogate("PHONE_NUMBER", "212 778 0167") == phone  # the same number, however it is spelled
    assert book.surrogate("US_BANK_NUMBER", "123") == "<US_BANK_NUMBER>"


def test_scrub_config_is_validated_at_the_edge():
    with pytest.raises(InvalidSpec, match="email_domain"):
        parse_spec(ScrubConfig, {"email_domain": "drop"})
    with pytest.raises(InvalidSpec, match="analyzer.nlp_engine"):
        parse_spec(ScrubConfig, {"analyzer": {"nlp_engine": "no_op"}})  # names need NER
    with pytest.raises(InvalidSpec, match="fields"):
        parse_spec(ScrubConfig, {"fields": ["examples[]."]})
    config = parse_spec(ScrubConfig, {"entities": ["PHONE_NUMBER"], "analyzer": {"nlp_engine": "no_op"}})
    assert "PHONE_NUMBER" in config.analyzer_config().entities


# ---- scrubbing with the real analyzer ---------------------------------------------------------------

def _lab_mail(n_docs: int = 40, seed: int = 0) -> tuple[list[str], list]:
    from genleak.lab.config import CorpusConfig
    from genleak.lab.corpus import MailCast, MailWriter
    from genleak.lab.people import make_people

    people = make_people(30, 8, 5, 10, seed)
    rng = random.Random(seed)
    writer = MailWriter(CorpusConfig())
    docs = []
    for _ in range(n_docs):
        a, b, c, d = rng.sample(people, 4)
        docs.append(writer.write(MailCast(sender=a, recipient=b, quoted=c if rng.random() < 0.5 else None,
                                          mentioned=d if rng.random() < 0.5 else None), rng))
    return docs, people


def test_scrubbing_lab_mail_replaces_every_email_and_almost_every_name():
    docs, people = _lab_mail()
    scrubbed, stats = scrub_texts(docs, ScrubConfig())
    emails = [p.email for p in people if any(p.email in d for d in docs)]
    assert emails and not [e for e in emails if any(e in s for s in scrubbed)]
    names = [p.name for p in people if any(p.name in d for d in docs)]
    left = [n for n in names if any(n in s for s in scrubbed)]
    assert len(left) <= 0.1 * len(names), left  # spaCy's small NER misses a few
    assert stats["texts_changed"] == len(docs) and stats["replaced"]["EMAIL_ADDRESS"] >= len(emails)
    # The same person reads the same everywhere: a sender's surrogate header has a matching address.
    for doc in scrubbed:
        header = re.match(r"From: ([^<\n]+) <([^@>]+)@", doc)
        if header and "." in header.group(2):
            first, last = header.group(1).lower().split()[0], header.group(1).lower().split()[-1]
            local = header.group(2)
            assert re.sub(r"[^a-z]", "", first) in local or re.sub(r"[^a-z]", "", last) in local


def test_scrub_records_walks_nested_fields_and_leaves_the_input_alone():
    records = [{"instruction": "Find Megan Chang's e-mail.", "examples": [
        {"input": "Reach Megan Chang at megan.chang@corp.com.", "output": "megan.chang@corp.com"}]},
        {"instruction": "Summarise.", "input": "Bryan Sellers called."}]
    fields = ("instruction", "input", "examples[].input", "examples[].output")
    out, stats = scrub_records(records, ScrubConfig(), fields)
    assert records[0]["examples"][0]["output"] == "megan.chang@corp.com"  # copies, not in place
    assert "megan.chang@corp.com" not in str(out) and "Megan Chang" not in str(out) and "Sellers" not in str(out)
    assert out[0]["examples"][0]["output"] in out[0]["examples"][0]["input"]  # one surrogate per value
    assert stats["fields"] == list(fields)
    with pytest.raises(InvalidSpec, match="scrub.fields"):
        scrub_records(records, ScrubConfig(), ("nothing_here",))
