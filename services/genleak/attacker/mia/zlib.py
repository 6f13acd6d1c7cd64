"""zlib attack (Carlini et al. 2021): loss normalised by the text's zlib-compressed size.

MIMIR scores loss / zlib_entropy with lower = member; we return its negation,
-(avg NLL) / len(zlib.compress(text)), so that higher = member like every other attack.
"""

from __future__ import annotations

import zlib
from typing import Mapping

from genleak.core.specs import Spec
from genleak.attacker.mia.logprobs import TokenLogProbs
from genleak.attacker.mia.registry import register_attack


class ZlibConfig(Spec):
    """The zlib attack has no knobs (default zlib compression level, as in MIMIR)."""


def zlib_score(target: TokenLogProbs, extras: Mapping[str, TokenLogProbs], config: ZlibConfig) -> float:
    entropy = len(zlib.compress(target.text.encode("utf-8")))
    return target.mean_logprob / entropy


register_attack("zlib", ZlibConfig, zlib_score)
