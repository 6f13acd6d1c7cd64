"""genleak: privacy-leakage audits for language models fine-tuned on generated data."""

__version__ = "0.1.0"
