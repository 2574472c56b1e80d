"""Streets: a name folded into a matching key, and a typed street matched to the sectors'
lists.

`street_key` is pure and total: case, accents, punctuation and house numbers go, French and
Belgian abbreviations are spelled out ("av." → "avenue", "Kerkstr." → "kerkstraat"), so
"12, av. Foch" and "Avenue Foch" share one key. The key is what `sector_streets.key` holds
(UNIQUE: a street belongs to one sector).

`match_street` compares a typed street with every stored key (rapidfuzz, imported when a
resident first types one: it is not needed to start). It never decides: it proposes the
best street when it is clearly better than any street of another sector, and says
"ambiguous" or "unknown" otherwise; the resident confirms with a button.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Whole-word abbreviations (already folded: no accent, no dot, lower case).
ABBREVIATIONS = {
    "av": "avenue", "ave": "avenue", "avn": "avenue",
    "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard", "boul": "boulevard",
    "bvd": "boulevard",
    "r": "rue",
    "pl": "place",
    "all": "allee",
    "imp": "impasse",
    "ch": "chemin", "chem": "chemin",
    "rte": "route",
    "sq": "square",
    "fg": "faubourg", "fbg": "faubourg",
    "st": "saint", "ste": "sainte",
    "crs": "cours",
    "pte": "porte",
    "qu": "quai",
    "res": "residence",
    "lot": "lotissement",
    "chee": "chaussee", "chss": "chaussee",
    "sent": "sentier",
    "pass": "passage",
    "prom": "promenade",
    "gde": "grande", "gd": "grand",
    "gal": "general", "gen": "general", "mal": "marechal", "pdt": "president",
    # Dutch (Flanders, Brussels)
    "str": "straat",
    "ln": "laan",
    "stwg": "steenweg", "stw": "steenweg",
    "pln": "plein",
    "dk": "dijk",
}
# Dutch street names are one word: "Kerkstr." is "Kerkstraat", "Stationsln" "Stationslaan".
SUFFIXES = (("stwg", "steenweg"), ("str", "straat"), ("ln", "laan"))
# A house number: 12, 12b, 12bis, 3ter; with a Belgian box ("bte 4", "bus 2") after it.
_NUMBER = re.compile(r"^\d{1,4}[a-z]?$|^\d{1,4}(bis|ter|quater)$")
_NUMBER_WORDS = {"bis", "ter", "quater", "bte", "boite", "bus", "b", "n", "no", "nr"}
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")


def _expand(word: str) -> str:
    if word in ABBREVIATIONS:
        return ABBREVIATIONS[word]
    for short, full in SUFFIXES:
        if word.endswith(short) and len(word) > len(short) + 2:
            return word[: -len(short)] + full
    return word


def _is_number(word: str) -> bool:
    return bool(_NUMBER.match(word)) or word in _NUMBER_WORDS


def street_key(name: str) -> str:
    """The street's name folded for matching: "12, Av. de l'Église" → "avenue de l eglise"."""
    words = [w for w in _NOT_WORD.split(_fold(name)) if w]
    # House numbers come first in France ("12 rue…"), last in Belgium ("Kerkstraat 12 bus 3").
    while words and _is_number(words[0]):
        words.pop(0)
    while words and _is_number(words[-1]) and not re.fullmatch(r"\d{4}", words[-1]):
        words.pop()
    return " ".join(_expand(w) for w in words)


# What a street is (its first word once folded) and the articles after it: a resident who
# types "Victor Hugo" or "lilas" is compared with the names without them.
TYPES = {"rue", "avenue", "boulevard", "place", "allee", "impasse", "chemin", "route",
         "square", "faubourg", "cours", "quai", "passage", "sentier", "promenade", "chaussee",
         "residence", "lotissement", "porte", "voie", "ruelle", "venelle", "esplanade",
         "rond", "parvis", "clos", "hameau", "lieu", "cite", "drève", "dreve", "grand",
         "grande", "petite", "petit"}
ARTICLES = {"de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux", "dit"}


def name_part(key: str) -> str:
    """A key without its street type and articles: "rue des lilas" → "lilas"."""
    words = key.split()
    while words and words[0] in TYPES:
        words.pop(0)
    while words and words[0] in ARTICLES:
        words.pop(0)
    return " ".join(words)


class Verdict(StrEnum):
    MATCH = "match"  # one street stands out: propose it
    AMBIGUOUS = "ambiguous"  # close streets in different sectors
    UNKNOWN = "unknown"  # nothing close enough


@dataclass(frozen=True)
class StreetMatch:
    verdict: Verdict
    sector_id: int | None = None  # the best street's sector (MATCH only)
    street: str | None = None  # the best street as the staff wrote it (MATCH only)
    score: float = 0.0  # the best score (0–100)
    sectors: tuple[int, ...] = ()  # AMBIGUOUS: the sectors in contention


# Chosen on tests/data/streets_labelled.tsv (68 typed streets; `python3 dev.py bench
# streets` prints the figures): with token_sort_ratio on the folded keys (and on the names
# alone when no street type was typed), precision and recall are both 1.0 for thresholds
# 84 to 94; 88 sits inside that band. Below THRESHOLD nothing is proposed; a street of
# another sector within MARGIN of the best makes the answer ambiguous.
THRESHOLD = 88.0
MARGIN = 4.0
CANDIDATES = 8

StreetRow = tuple[int, str, str]  # (sector_id, street, key)


def match_street(typed: str, streets: Sequence[StreetRow], threshold: float = THRESHOLD,
                 margin: float = MARGIN, scorer: Any = None) -> StreetMatch:
    """The sector whose street list holds what the resident typed, if one stands out.
    (`scorer`: another rapidfuzz scorer, for the benchmark's comparison.)"""
    key = street_key(typed)
    if not key or not streets:
        return StreetMatch(Verdict.UNKNOWN)
    from rapidfuzz import fuzz, process  # lazily: not needed to start the bot

    keys = [row[2] for row in streets]
    scorer = scorer or fuzz.token_sort_ratio
    cutoff = threshold - margin
    best: dict[int, float] = {}
    for _, score, index in process.extract(key, keys, scorer=scorer, limit=CANDIDATES,
                                           score_cutoff=cutoff):
        best[index] = score
    if key.split()[0] not in TYPES:
        # "Victor Hugo", "lilas", "avenu foch": also compare the names alone
        names = [name_part(k) or k for k in keys]
        for _, score, index in process.extract(name_part(key) or key, names, scorer=scorer,
                                               limit=CANDIDATES, score_cutoff=cutoff):
            best[index] = max(score, best.get(index, 0.0))
    found = sorted(((score, index) for index, score in best.items()), reverse=True)
    if not found:
        return StreetMatch(Verdict.UNKNOWN)
    best_score, best_index = found[0]
    if best_score < threshold:
        return StreetMatch(Verdict.UNKNOWN, score=best_score)
    sector_id, street, _ = streets[best_index]
    rivals = {streets[index][0] for score, index in found[1:]
              if score >= best_score - margin and streets[index][0] != sector_id}
    if rivals:
        return StreetMatch(Verdict.AMBIGUOUS, score=best_score,
                           sectors=(sector_id, *sorted(rivals)))
    return StreetMatch(Verdict.MATCH, sector_id, street, best_score)


HEADERS = {"rue", "rues", "street", "streets", "nom", "name", "voie", "straat", "adresse"}


def parse_street_list(text: str, csv: bool = False) -> list[str]:
    """A list of streets as the staff sends it: one a line; from a CSV file, each row's
    first column. Blank lines, a header and repeated spaces are left out."""
    streets = []
    for line in text.splitlines():
        if csv:
            line = re.split(r"[;,\t]", line, maxsplit=1)[0]
        value = " ".join(line.split()).strip().strip('"').strip()
        if value and street_key(value) and street_key(value) not in HEADERS:
            streets.append(value)
    return streets
