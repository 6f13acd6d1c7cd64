"""Presidio, offline, shared by the services that touch PII.

analyzer.py holds the only Presidio-analyzer / spaCy imports (detection, one engine per config
per process); config.py the typed analyzer config and `Detection`; recognizers/ what Presidio
lacks (US street addresses); surrogates.py consistent Faker replacements per person; scrub.py
the scrubber (detect, then replace through presidio-anonymizer) the generator runs on prompts
before generation (the paper's `replaced_data` condition).
"""
