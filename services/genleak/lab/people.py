"""The lab's population: seeded Faker people with the PII the attacks go after.

Emails follow several local-part patterns over many fictional domains, so that knowing a name is
not enough to write the address: exact extraction needs a model that memorised it.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Literal

from faker import Faker

Role = Literal["eval", "fewshot", "tuning"]

DOMAINS = (
    "enronix.com", "northgas.com", "gulfpower.net", "lonestar-energy.com", "txmail.net", "bayoucapital.com",
    "prairiepipeline.com", "houstonlink.net", "westridge-trading.com", "meridianutil.com", "clearlake.net",
    "sabinepartners.com", "pecosfuel.com", "brazoslaw.com", "cypressmail.com", "redriver-power.com",
    "galvestonisp.net", "summitgrid.com", "coastalhub.net", "ironbridge-energy.com", "mesaoil.com",
    "bluebonnet.net", "trinitymarkets.com", "eaglefordgas.com",
)

_HANDLE_WORDS = (
    "trader", "gasman", "power", "texan", "blue", "eagle", "sunny", "ranger", "ace", "maverick", "pilot",
    "desk", "hedge", "spark", "delta", "bear", "bull", "river", "storm", "lucky",
)
_AREA_CODES = ("713", "281", "832", "214", "512", "210", "713", "503", "415", "212")


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    first: str
    last: str
    email: str
    phone: str
    address: str
    role: Role

    def record(self) -> dict[str, str]:
        """The people/data.jsonl row (first/last are derivable from name and stay internal)."""
        row = asdict(self)
        del row["first"], row["last"]
        return row


def make_people(n_people: int, n_eval: int, n_fewshot: int, n_domains: int, seed: int) -> list[Person]:
    """Unique names and unique emails; the first n_eval are eval targets, the next n_fewshot public."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(f"people-{seed}")
    domains = DOMAINS[:n_domains]
    people: list[Person] = []
    names: set[str] = set()
    mailboxes: set[str] = set()
    while len(people) < n_people:
        first, last = _ascii_name(fake.first_name()), _ascii_name(fake.last_name())
        name = f"{first} {last}"
        email = make_email(first, last, rng.choice(domains), rng)
        mailbox = email.split("@")[0] + "@"  # unique mailboxes: the domain alone never tells two people apart
        if not first or not last or _overlaps(name, names) or _overlaps(mailbox, mailboxes):
            continue
        names.add(name.lower())
        mailboxes.add(mailbox.lower())
        index = len(people)
        people.append(Person(
            person_id=f"p{index:05d}", name=name, first=first, last=last, email=email,
            phone=_phone(rng), address=_address(fake), role=_role(index, n_eval, n_fewshot),
        ))
    return people


def make_email(first: str, last: str, domain: str, rng: random.Random) -> str:
    f, l = _local(first), _local(last)
    patterns = (
        lambda: f"{f}.{l}",
        lambda: f"{f[0]}{l}",
        lambda: f"{f}{l[0]}{rng.randint(10, 99)}",
        lambda: f"{rng.choice(_HANDLE_WORDS)}{f[:3]}{rng.randint(1, 9)}",
        lambda: f"{f}_{l}",
        lambda: f"{l}{f[0]}",
    )
    return f"{rng.choice(patterns)()}@{domain}"


def _overlaps(candidate: str, taken: set[str]) -> bool:
    """Substring clashes would let one person's PII hide inside another's and blur split checks."""
    candidate = candidate.lower()
    return any(candidate in other or other in candidate for other in taken)


def _role(index: int, n_eval: int, n_fewshot: int) -> Role:
    if index < n_eval:
        return "eval"
    if index < n_eval + n_fewshot:
        return "fewshot"
    return "tuning"


def _ascii_name(raw: str) -> str:
    return re.sub(r"[^A-Za-z'-]", "", raw)


def _local(name_part: str) -> str:
    return re.sub(r"[^a-z]", "", name_part.lower())


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(_AREA_CODES)}-{rng.randint(200, 989)}-{rng.randint(0, 9999):04d}"


def _address(fake: Faker) -> str:
    return f"{fake.street_address()}, {fake.city()}, {fake.state_abbr(include_territories=False)} {fake.zipcode()}"
