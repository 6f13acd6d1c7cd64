"""US street addresses, which Presidio has no recognizer for (it reports only cities as LOCATION).

Two patterns, case-sensitive (addresses are written in title case; case-folding would turn
"at 12 on the river" into an address):
  * full: `48764 Howard Forge Apt. 421, Vanessaside, VT 79393` - number, name words, a USPS
    street suffix, optional unit, then city, state code and ZIP, on one line or wrapped after the
    street line. Score 0.85.
  * street line only: `59179 Bruce Gardens Apt. 413`. Score 0.45, raised by context words.
The suffixes are USPS Publication 28's (Appendix C1) street types and their standard
abbreviations, minus abbreviations that are common words or state codes (Is, Un, Pr, Ky, ...).
This covers every suffix Faker's en_US provider, and so the lab's people, can produce.
"""

from __future__ import annotations

from typing import Any

US_STREET_ADDRESS = "us_street_address"
ENTITY = "STREET_ADDRESS"
FULL_SCORE = 0.85
STREET_SCORE = 0.45
CONTEXT = ["address", "street", "located", "live", "lives", "office", "mail", "ship", "deliver", "residence"]

SUFFIXES = (
    "Alley Annex Arcade Avenue Bayou Beach Bend Bluff Bluffs Bottom Boulevard Branch Bridge Brook Brooks Burg "
    "Burgs Bypass Camp Canyon Cape Causeway Center Centers Circle Circles Cliff Cliffs Club Common Commons "
    "Corner Corners Course Court Courts Cove Coves Creek Crescent Crest Crossing Crossroad Crossroads Curve Dale "
    "Dam Divide Drive Drives Estate Estates Expressway Extension Extensions Fall Falls Ferry Field Fields Flat "
    "Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway Garden Gardens Gateway Glen Glens Green Greens "
    "Grove Groves Harbor Harbors Haven Heights Highway Hill Hills Hollow Inlet Island Islands Isle Junction "
    "Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane Light Lights Loaf Lock Locks Lodge Loop Mall "
    "Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval "
    "Overpass Park Parks Parkway Parkways Pass Passage Path Pike Pine Pines Place Plain Plains Plaza Point Points "
    "Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Roads Route Row Rue Run Shoal "
    "Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Squares Station Stravenue Stream Street Streets "
    "Summit Terrace Throughway Trace Track Trafficway Trail Tunnel Turnpike Underpass Union Unions Valley Valleys "
    "Via Viaduct View Views Village Villages Ville Vista Walk Walks Wall Way Ways Well Wells"
).split()
ABBREVIATIONS = (
    "Aly Anx Arc Ave Byu Bch Bnd Blf Blfs Btm Blvd Br Brg Brk Brks Byp Cyn Cpe Cswy Ctr Ctrs Cir Cirs Clf Clfs "
    "Clb Cmn Cmns Cor Cors Crse Ct Cts Cv Cvs Crk Cres Crst Xing Xrd Xrds Curv Dr Drs Est Ests Expy Ext Exts Fls "
    "Fry Fld Flds Flt Flts Frd Frds Frst Frg Frgs Frk Frks Ft Fwy Gdn Gdns Gtwy Gln Glns Grn Grns Grv Grvs Hbr "
    "Hbrs Hvn Hts Hwy Hl Hls Holw Inlt Jct Jcts Knl Knls Lk Lks Lndg Ln Lgt Lgts Lck Lcks Ldg Mnr Mnrs Mdw Mdws "
    "Mls Msn Mtwy Mt Mtn Mtns Nck Orch Opas Pkwy Pkwys Psge Pne Pnes Pl Pln Plns Plz Pt Pts Prt Prts Radl Rnch "
    "Rpd Rpds Rst Rdg Rdgs Riv Rd Rds Rte Shl Shls Shr Shrs Skwy Spg Spgs Sq Sqs Sta Stra Strm St Sts Smt Ter "
    "Trwy Trce Trak Trfy Trl Tunl Tpke Upas Vly Vlys Vdct Vw Vws Vlg Vlgs Wy"
).split()
# USPS state codes, territories, freely associated states (Faker writes FM, MH, PW too) and military.
STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI FM MH PW AA AE AP"
).split()

_SUFFIX = "(?:" + "|".join(sorted(set(SUFFIXES + ABBREVIATIONS), key=lambda s: (-len(s), s))) + r")\b\.?"
_NUMBER = r"\b\d{1,6}[A-Z]?"
_NAME_WORD = r"(?:[A-Z][A-Za-z'\-]*\.?|\d{1,3}(?:st|nd|rd|th))"
_DIRECTION = r"(?: (?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
_UNIT = r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|Bldg|#)\.? ?#?[A-Za-z0-9\-]{1,6}\b)?"
STREET_REGEX = rf"{_NUMBER}(?: {_NAME_WORD}){{1,4}}? {_SUFFIX}{_DIRECTION}{_UNIT}"
_BREAK = r"(?:,[ \t]*\r?\n?[ \t]*|[ \t]*\r?\n[ \t]*)"
_CITY = r"[A-Z][A-Za-z'\-.]*(?: [A-Z][A-Za-z'\-.]*){0,3}"
_STATE = "(?:" + "|".join(STATES) + ")"
FULL_REGEX = rf"{STREET_REGEX}{_BREAK}{_CITY},? {_STATE} \d{{5}}(?:-\d{{4}})?\b"


def us_street_address_recognizer(language: str) -> Any:
    import re

    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(
        supported_entity=ENTITY,
        name="UsStreetAddressRecognizer",
        supported_language=language,
        patterns=[Pattern("US address (street, city, state, ZIP)", FULL_REGEX, FULL_SCORE),
                  Pattern("US street line", STREET_REGEX, STREET_SCORE)],
        context=CONTEXT,
        global_regex_flags=re.MULTILINE,  # no IGNORECASE: capitals carry the signal
    )
