"""Consistent surrogates: every real value maps to one Faker value, the same everywhere it occurs.

Consistency is per person, not per string: "Megan Chang", a later "Megan" or "Ms. Chang" and her
address megan.chang@corp.com become "Laura Diaz", "Laura", "Ms. Diaz" and laura.diaz@corp.com.
A full name is the unit: its surrogate is drawn from a Faker seeded by sha256(seed, type,
normalised value), so the mapping depends on the value and the seed only (not on the order the
data arrives in) and two runs agree. Single name tokens reuse the surrogate of a full name they
belong to; an e-mail whose local part spells a known name is rewritten with the surrogate's name
in the same pattern (first.last, flast, last_first, ...) and keeps its domain unless asked not to.

No surrogate reuses a real name token or value seen in the data (a surrogate that happens to be
another real person's name would look like a leak of that person later).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from faker import Faker

from genleak.core.pii_mask import EMAIL, PERSON, PHONE, STREET_ADDRESS, normalize_pii

LOCATION = "LOCATION"
_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\u2019\-]*")
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam"}
_MAX_DRAWS = 50


@dataclass(frozen=True)
class PersonName:
    first: str
    last: str
    middle: tuple[str, ...] = ()

    @property
    def full(self) -> str:
        return " ".join((self.first, *self.middle, self.last)) if self.last else self.first


@dataclass
class SurrogateBook:
    """Real value -> surrogate, per entity type. `learn_names` first (full names before single
    tokens), then `surrogate` for each detected value."""

    seed: int = 0
    locale: str = "en_US"
    email_domain: str = "keep"  # keep | fake
    _faker: Faker = field(init=False, repr=False)
    _people: dict[str, PersonName] = field(default_factory=dict)  # normalised real full name -> surrogate
    _tokens: dict[str, str] = field(default_factory=dict)  # real name token (casefolded) -> surrogate token
    _real_tokens: set[str] = field(default_factory=set)
    _values: dict[tuple[str, str], str] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.email_domain not in ("keep", "fake"):
            raise ValueError("email_domain is keep or fake")
        self._faker = Faker(self.locale)

    # ---- names -------------------------------------------------------------------------------------

    def learn_names(self, names: Iterable[str]) -> None:
        """Register real names (PERSON detections) so surrogates avoid them and single tokens map
        through full names. Multi-token names are assigned first, in sorted order."""
        parsed = {_person_key(tokens): tokens for tokens in map(_name_tokens, names) if tokens}
        for tokens in parsed.values():
            self._real_tokens.update(t.casefold() for t in tokens)
        for key in sorted(k for k, tokens in parsed.items() if len(tokens) >= 2):
            self._person(key, parsed[key])

    def surrogate_name(self, value: str) -> str:
        tokens = _name_tokens(value)
        if not tokens:
            return self._fallback(PERSON, value)
        key = _person_key(tokens)
        if len(tokens) >= 2:
            surrogate = self._person(key, tokens)
            return _respell(value, tokens, [surrogate.first, *surrogate.middle, surrogate.last])
        token = tokens[0]
        mapped = self._tokens.get(token.casefold())
        if mapped is None:
            mapped = self._tokens[token.casefold()] = self._draw(("token", token.casefold()), self._first_name)
        return _respell(value, tokens, [mapped])

    def _person(self, key: str, tokens: list[str]) -> PersonName:
        person = self._people.get(key)
        if person is None:
            person = self._people[key] = self._draw_person(key, len(tokens))
            real = [t.casefold() for t in tokens]
            fake = [person.first, *person.middle, person.last]
            for r, f in zip(real, fake):
                self._tokens.setdefault(r, f)
        return person

    def _draw_person(self, key: str, n_tokens: int) -> PersonName:
        first = self._draw((PERSON, key, "first"), self._first_name)
        last = self._draw((PERSON, key, "last"), self._last_name)
        middle = tuple(self._draw((PERSON, key, f"middle{i}"), self._first_name) for i in range(n_tokens - 2))
        return PersonName(first, last, middle)

    def _first_name(self) -> str:
        return self._faker.first_name()

    def _last_name(self) -> str:
        return self._faker.last_name()

    # ---- other types -----------------------------------------------------------------------------

    def surrogate(self, entity_type: str, value: str) -> str:
        """The surrogate of one detected value (names go through `surrogate_name`)."""
        if entity_type == PERSON:
            return self.surrogate_name(value)
        key = (entity_type, normalize_pii(entity_type, value))
        known = self._values.get(key)
        if known is None:
            known = self._values[key] = self._new_value(entity_type, value)
        return known

    def _new_value(self, entity_type: str, value: str) -> str:
        if entity_type == EMAIL:
            return self._email(value)
        if entity_type == PHONE:
            return self._draw((PHONE, value), lambda: _redigit(value, self._faker))
        provider = _PROVIDERS.get(entity_type)
        if provider is None:
            return f"<{entity_type}>"
        return self._draw((entity_type, value), lambda: provider(self._faker))

    def _email(self, value: str) -> str:
        local, _, domain = value.strip().rpartition("@")
        rewritten = self._rewrite_local(local)
        if rewritten is None:
            rewritten = self._draw((EMAIL, value.lower()), lambda: self._faker.user_name())
        if self.email_domain == "fake" or not domain:
            domain = self._draw((EMAIL, "domain", domain.lower()), lambda: self._faker.domain_name())
        return f"{rewritten}@{domain}"

    def _rewrite_local(self, local: str) -> str | None:
        """`megan.chang` -> `laura.diaz`, `mchang` -> `ldiaz`, `changm` -> `diazl` when Megan Chang is
        known; None when no known person's name is in it. Digits and separators stay."""
        lower = local.lower()
        best = None
        for key in sorted(self._people):
            real = [_local_part(t) for t in key.split()]
            first, last = real[0], real[-1]
            has_last, has_first = len(last) >= 3 and last in lower, len(first) >= 3 and first in lower
            rank = 2 * has_last + has_first
            if rank and (best is None or rank > best[0]):
                best = (rank, first, last, self._people[key])
        if best is None:
            return None
        _, first, last, fake = best
        fake_first, fake_last = _local_part(fake.first), _local_part(fake.last)
        out = lower.replace(last, "\x01") if len(last) >= 3 else lower
        if first in out and len(first) >= 3:
            out = out.replace(first, "\x02")
        elif "\x01" in out:  # flast or lastf: the first initial sits next to the last name
            out = re.sub(rf"^{re.escape(first[:1])}(?=\x01)|(?<=\x01){re.escape(first[:1])}(?=\d|$)", "\x03", out,
                         count=1)
        if "\x01" not in out:  # firstl42: the last initial follows the first name
            out = re.sub(rf"(?<=\x02){re.escape(last[:1])}(?=\d|$)", "\x04", out, count=1)
        return (out.replace("\x01", fake_last).replace("\x02", fake_first)
                .replace("\x03", fake_first[:1]).replace("\x04", fake_last[:1]))

    # ---- drawing ---------------------------------------------------------------------------------

    def _draw(self, key: tuple, make: Callable[[], str]) -> str:
        """A value seeded by (seed, key) that is neither a real token nor already handed out."""
        for attempt in range(_MAX_DRAWS):
            material = "\x00".join(map(str, (self.seed, attempt, *key)))
            self._faker.seed_instance(int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big"))
            candidate = make()
            lowered = candidate.casefold()
            if lowered not in self._real_tokens and lowered not in self._used:
                self._used.add(lowered)
                return candidate
        return candidate  # Faker's pools are large; reaching here means a tiny locale pool

    def _fallback(self, entity_type: str, value: str) -> str:
        return f"<{entity_type}>"

    def stats(self) -> dict[str, int]:
        return {"people": len(self._people), "name_tokens": len(self._tokens), "other_values": len(self._values)}


def _person_key(tokens: list[str]) -> str:
    """Titles, punctuation and case aside, the same tokens are the same person."""
    return " ".join(tokens).casefold()


def _name_tokens(value: str) -> list[str]:
    tokens = [re.sub(r"['\u2019]s$", "", t) for t in _NAME_TOKEN.findall(value)]  # "Chang's" names Chang
    return [t for t in tokens if t and t.casefold() not in _TITLES]


def _respell(value: str, tokens: list[str], replacements: list[str]) -> str:
    """Replace each name token in place (titles, punctuation and a possessive 's stay);
    upper-case tokens stay upper-case."""
    if len(replacements) < len(tokens):  # e.g. "Megan Chang Lee" learned as two tokens elsewhere
        replacements = replacements + replacements[-1:] * (len(tokens) - len(replacements))
    out, pos = [], 0
    for token, fake in zip(tokens, replacements):
        at = value.index(token, pos)
        out.append(value[pos:at])
        out.append(fake.upper() if token.isupper() and len(token) > 1 else fake)
        pos = at + len(token)
    out.append(value[pos:])
    return "".join(out)


def _local_part(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _redigit(value: str, faker: Faker) -> str:
    """Same layout, new digits; the first digit of each group never 0 or 1 (a dialable-looking number)."""
    out, prev_digit = [], False
    for c in value:
        if c.isdigit():
            out.append(str(faker.random_int(0 if prev_digit else 2, 9)))
            prev_digit = True
        else:
            out.append(c)
            prev_digit = False
    return "".join(out)


_PROVIDERS: dict[str, Callable[[Faker], str]] = {
    STREET_ADDRESS: lambda f: f.street_address(),
    LOCATION: lambda f: f.city(),
    "URL": lambda f: f.url(),
    "IP_ADDRESS": lambda f: f.ipv4(),
    "CREDIT_CARD": lambda f: f.credit_card_number(),
    "US_SSN": lambda f: f.ssn(),
    "IBAN_CODE": lambda f: f.iban(),
    "DATE_TIME": lambda f: f.date(),
    "NRP": lambda f: f.country(),
}


def surrogate_types() -> list[str]:
    """Entity types replaced by a realistic value (others become `<TYPE>`)."""
    return sorted({PERSON, EMAIL, PHONE, *_PROVIDERS})
