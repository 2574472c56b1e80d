"""Facts, not people: what the description screen looks for, as pure functions.

The screen never blocks on its own: it asks the resident to rephrase, and if they keep
their text the referent sees which checks fired. Colours, clothing and vehicles are facts
and are never flagged; origin, insults, named accusations and contact details are.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Flag(StrEnum):
    INSULT = "insult"
    DISCRIMINATION = "discrimination"
    NAMED_PERSON = "named_person"
    PHONE = "phone"
    EMAIL = "email"


def _fold(text: str) -> str:
    """Lower case without accents, so "Enculé" and "encule" match alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(*stems: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(stems) + r")", re.IGNORECASE)


INSULTS = _words(
    "connard", "connasse", "salop", "encul", "pute", "putain de", "batard", "abruti",
    "cretin", "debile", "ordure", "racaille", "sale con", "pd\\b", "tapette", "fdp",
    "ta gueule", "pourriture", "vermine", "enfoire", "merdeux",
)
DISCRIMINATION = _words(
    "bougnoul", "negro", "negre", "bicot", "youpin", "bamboula", "chinetoque", "niakou",
    "romanichel", "manouche", "gitan", "\\brom\\b", "\\broms\\b", "basane", "maghrebin",
    "arabe", "africain", "type de l.est", "gens du voyage", "migrant", "clandestin",
    "etranger", "musulman", "juif", "noir de peau", "de couleur\\b",
)
NAMED_PERSON = re.compile(
    r"\b(?:M\.|Mr|Mme|Mlle|[Mm]onsieur|[Mm]adame)\s+[A-ZÀ-Ý][a-zà-ÿ]+"
    r"|\bc'est\s+(?:le|la|les)\s+(?:fils|fille|voisin|voisine|neveu|gamin)s?\s+(?:de|du|des)\s+"
    r"|\bc'est\s+[A-ZÀ-Ý][a-zà-ÿ]+\s+qui\b"
    r"|\bla\s+famille\s+[A-ZÀ-Ý][a-zà-ÿ]+"
)
PHONE = re.compile(r"(?:\+|00)\d{2}[\s.-]?\d(?:[\s.-]?\d{2}){4}|\b0\d(?:[\s.-]?\d{2}){4}\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
EMERGENCY = _words(
    "en cours", "arme", "agression", "agresse", "incendie", "feu\\b", "blesse", "couteau",
    "fusil", "pistolet", "au secours", "coups de feu", "frappe", "sang\\b", "ca brule",
)
# French SIV (AB-123-CD), older FNI (1234 AB 56) and Belgian (1-ABC-123) number plates.
PLATE = re.compile(
    r"\b([A-Z]{2})[\s-]?(\d{3})[\s-]?([A-Z]{2})\b"
    r"|\b(\d{1,4})[\s-]?([A-Z]{2,3})[\s-]?(\d{2}|2[AB])\b"
    r"|\b(\d)[\s-]?([A-Z]{3})[\s-]?(\d{3})\b",
    re.IGNORECASE,
)


def screen(text: str) -> list[Flag]:
    """Which checks a description trips, in a stable order."""
    folded = _fold(text)
    flags = []
    if INSULTS.search(folded):
        flags.append(Flag.INSULT)
    if DISCRIMINATION.search(folded):
        flags.append(Flag.DISCRIMINATION)
    if NAMED_PERSON.search(text):
        flags.append(Flag.NAMED_PERSON)
    if PHONE.search(text):
        flags.append(Flag.PHONE)
    if EMAIL.search(text):
        flags.append(Flag.EMAIL)
    return flags


def sounds_like_emergency(text: str) -> bool:
    return EMERGENCY.search(_fold(text)) is not None


def plate_in(text: str) -> str | None:
    """A number plate mentioned in the text, normalised (AB123CD), for grouping only."""
    match = PLATE.search(text)
    if match is None:
        return None
    return "".join(part for part in match.groups() if part).upper()


def _terms(text: str) -> set[str]:
    return {word for word in re.findall(r"\w+", _fold(text)) if len(word) > 3}


def similar(a: str, b: str, threshold: float = 0.4) -> bool:
    """Two descriptions sharing enough words to be the same event told twice."""
    first, second = _terms(a), _terms(b)
    if not first or not second:
        return False
    return len(first & second) / len(first | second) >= threshold
