"""Masked PII and salted ids: what reports and logs may show."""

from __future__ import annotations

import pytest

from genleak.core.pii_mask import (
    mask_email, mask_name, mask_phone, mask_text, mask_value, normalize_pii, pii_id, salt_fingerprint, shown,
)


@pytest.mark.parametrize("value, masked", [
    ("john.smith@example.com", "j***@e***.com"),
    ("megan_chang@prairiepipeline.com", "m***@p***.com"),
    ("a@b.co.uk", "a***@b***.uk"),
    ("not an email", "n*** a*** e***"),
])
def test_mask_email_keeps_first_letters_and_tld(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize("value, masked", [
    ("713-555-0143", "***-***-**43"),
    ("(415) 495-3601", "(***) ***-**01"),
    ("+1 212 778 0167", "+* *** *** **67"),
])
def test_mask_phone_keeps_layout_and_last_two_digits(value, masked):
    assert mask_phone(value) == masked


def test_mask_name_and_other_values():
    assert mask_name("Megan Chang") == "M*** C***"
    assert mask_name("") == "***"
    assert mask_text("48764 Howard Forge Apt. 421, Vanessaside, VT 79393") == "*** H*** F*** A***. ***, V***, V*** ***"
    assert mask_value("EMAIL_ADDRESS", "bob@oneil.net") == "b***@o***.net"
    assert mask_value("PHONE_NUMBER", "217-555-0143") == "***-***-**43"
    assert mask_value("PERSON", "Robert O'Neil") == "R*** O***"
    assert mask_value("US_SSN", "078-05-1120") == "***-***-***"


@pytest.mark.parametrize("entity_type, a, b", [
    ("EMAIL_ADDRESS", "Megan_Chang@PrairiePipeline.com", "megan_chang@prairiepipeline.com"),
    ("EMAIL_ADDRESS", "mailto: bob@oneil.net]", "bob@oneil.net"),
    ("PHONE_NUMBER", "(212) 778-0167", "+1 212.778.0167"),
    ("PERSON", "Megan  Chang's", "megan chang"),
    ("STREET_ADDRESS", "8714 Mann Plaza, Lisaside, IL 79561", "8714 mann plaza lisaside il 79561"),
])
def test_normalisation_makes_spellings_one_value(entity_type, a, b):
    assert normalize_pii(entity_type, a) == normalize_pii(entity_type, b)
    assert pii_id(entity_type, a, "s") == pii_id(entity_type, b, "s")


def test_ids_are_stable_salted_and_reveal_nothing():
    value = "megan_chang@prairiepipeline.com"
    first = pii_id("EMAIL_ADDRESS", value, "salt-1")
    assert first == pii_id("EMAIL_ADDRESS", value, "salt-1") and len(first) == 16
    assert first != pii_id("EMAIL_ADDRESS", value, "salt-2")  # another salt, another id space
    assert first != pii_id("PERSON", value, "salt-1")
    assert "megan" not in first and int(first, 16) >= 0
    assert salt_fingerprint("salt-1") != salt_fingerprint("salt-2") and "salt" not in salt_fingerprint("salt-1")


def test_shown_reveals_only_on_request():
    assert shown("PERSON", "Megan Chang", reveal=False) == "M*** C***"
    assert shown("PERSON", "Megan Chang", reveal=True) == "Megan Chang"
