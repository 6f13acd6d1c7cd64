"""PII as reports and logs may show it: masked values and salted, stable ids.

Reports never leak what they measure. A detected or planted value is shown masked
(`j***@e***.com`, `***-***-**67`, `M*** C***`) and identified by `pii_id`: a prefix of
sha256(salt, entity type, normalised value), so the same person's e-mail gets the same id in
every report without the address itself appearing. The salt is a service setting
(GENLEAK_PII_SALT): phone numbers and names have little entropy, so without a secret salt an
id can be reversed by hashing candidates. Showing raw values is always an explicit flag
(`reveal`) at the caller, never a default here.

Normalisation is what makes two spellings the same value: e-mails case-insensitive, phones
by digits (a leading US country code dropped), names and addresses casefolded with
punctuation and spacing folded. Pure Python: no Presidio, importable anywhere.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"

ID_HEX_CHARS = 16  # 64 bits: collisions are negligible at any inventory size we handle
_STAR = "***"
_EDGE_PUNCT = " \t\r\n.,;:!?\"'()[]{}<>|"
_WS = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]+|\d+")


# ---- normalisation -------------------------------------------------------------------------------

def normalize_email(value: str) -> str:
    value = value.strip().strip(_EDGE_PUNCT)
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):].strip()
    return value.lower()


def normalize_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def normalize_name(value: str) -> str:
    value = _WS.sub(" ", value).strip(_EDGE_PUNCT)
    for suffix in ("'s", "\u2019s"):  # "Megan Chang's" names Megan Chang
        if value.lower().endswith(suffix):
            value = value[: -len(suffix)]
    return value.strip(_EDGE_PUNCT).casefold()


def normalize_address(value: str) -> str:
    return _WS.sub(" ", re.sub(r"[.,#]", " ", value)).strip(_EDGE_PUNCT).casefold()


def normalize_text(value: str) -> str:
    """Any other entity type: casefolded, spacing folded, edge punctuation dropped."""
    return _WS.sub(" ", value).strip(_EDGE_PUNCT).casefold()


_NORMALIZERS: dict[str, Callable[[str], str]] = {
    EMAIL: normalize_email, PHONE: normalize_phone, PERSON: normalize_name, STREET_ADDRESS: normalize_address,
}


def normalize_pii(entity_type: str, value: str) -> str:
    return _NORMALIZERS.get(entity_type, normalize_text)(value)


# ---- masking -------------------------------------------------------------------------------------

def mask_email(value: str) -> str:
    """`john.smith@example.com` -> `j***@e***.com`: first letters and the top-level domain."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return mask_text(value)
    labels = domain.split(".")
    tld = f".{labels[-1]}" if len(labels) > 1 else ""
    return f"{local[0]}{_STAR}@{labels[0][:1]}{_STAR}{tld}"


def mask_phone(value: str, keep_last: int = 2) -> str:
    """`713-555-0143` -> `***-***-**43`: every digit but the last `keep_last` starred, layout kept."""
    n_digits = sum(c.isdigit() for c in value)
    seen, out = 0, []
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > n_digits - keep_last else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_name(value: str) -> str:
    """`Megan Chang` -> `M*** C***`: initials only."""
    return " ".join(f"{word[0]}{_STAR}" for word in value.split()) or _STAR


def mask_text(value: str) -> str:
    """Anything else: each word keeps its first letter, every number becomes `***`, punctuation stays."""
    return _WORD.sub(lambda m: _STAR if m.group().isdigit() else f"{m.group()[0]}{_STAR}", value)


_MASKS: dict[str, Callable[[str], str]] = {EMAIL: mask_email, PHONE: mask_phone, PERSON: mask_name}


def mask_value(entity_type: str, value: str) -> str:
    """The masked form of `value` for its entity type (unknown types: `mask_text`)."""
    return _MASKS.get(entity_type, mask_text)(value)


# ---- ids -----------------------------------------------------------------------------------------

def pii_id(entity_type: str, value: str, salt: str = "") -> str:
    """Stable id of a value: sha256(salt, type, normalised value), first ID_HEX_CHARS hex digits."""
    material = "\x00".join((salt, entity_type, normalize_pii(entity_type, value)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def salt_fingerprint(salt: str) -> str:
    """Names the salt in artifacts (ids made with different salts never compare) without revealing it."""
    return hashlib.sha256(f"genleak-pii-salt\x00{salt}".encode("utf-8")).hexdigest()[:8]


def shown(entity_type: str, value: str, reveal: bool) -> str:
    """What a report or log line may print: the raw value only when `reveal` is set."""
    return value if reveal else mask_value(entity_type, value)
