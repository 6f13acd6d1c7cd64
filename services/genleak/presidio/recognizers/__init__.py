"""Recognizers Presidio lacks that the lab's data needs, behind one registry."""

from genleak.presidio.recognizers.registry import create_recognizer, recognizer_names, register_recognizer
from genleak.presidio.recognizers.us_address import US_STREET_ADDRESS, us_street_address_recognizer

register_recognizer(US_STREET_ADDRESS, us_street_address_recognizer)

__all__ = ["US_STREET_ADDRESS", "create_recognizer", "recognizer_names", "register_recognizer",
           "us_street_address_recognizer"]
