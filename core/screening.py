"""Facts, not people: the one screen for report descriptions and group messages.

`Screen.examine(text)` says which of the charter's checks a text trips (`Finding`) and the
number plate it mentions, if any. Pure and fast (tens of microseconds a message): the report
wizard asks the resident to rephrase, the sector groups act on it (handlers/moderation).

How each finding is found, and why that way:

- `phone`: Google's `phonenumbers` (French, Belgian and international numbers, every way
  people type them: "06 12 34 56 78", "0470/12.34.56", "+32 470 12 34 56"), only on texts
  holding a run of eight digits or more, and only numbers written with their leading 0 or +
  (a date or an amount is never a valid number that way).
- `email`: a plain address pattern.
- `plate`: the documented formats. France: SIV since 2009 (AB-123-CD, letters without I, O,
  U) and the older FNI (1234 AB 56, department last); Belgium: 1-ABC-123 since 2010, and the
  older ABC-123 / 123-ABC. Written in capitals or with dashes, or anyhow after "plaque" or
  "immat", so "de 150 km" is not read as a plate.
- `insult`, `discrimination`, `emergency`: word lists per language in locales/terms/*.txt,
  matched on folded text (case, accents, repeated letters, digits typed for letters), with
  `[neutral]` phrases ("feu rouge", "à l'aide d'une échelle", "travaux en cours") read as
  nothing first. A commune extends them with `moderation.extra_terms`. Emergency means
  happening now: a call for help alone, or a danger ("forcer", "couteau") said close to
  "en train de", "en ce moment"...
- `named_person`: a neighbour named or pointed at, from the shapes accusations take in
  French ("M. Dupont", "la famille Martin", "c'est Kevin qui", "c'est le fils du voisin",
  "Kevin a volé..."), never a public function ("M. le Maire") or a street ("rue Victor-Hugo").
  A statistical named-entity model was not used: a person's name is not the problem (streets,
  shops and officials are named all day); an accusation is, and the shapes above carry it.
  A French NER model would add ~50-500 MB and seconds of start time to flag "Victor Hugo".

`python3 dev.py screen` (`main`) screens one message per line from standard input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import phonenumbers

TERMS = Path(__file__).resolve().parent.parent / "locales" / "terms"
LANGUAGES = ("fr", "nl")


class Finding(StrEnum):
    INSULT = "insult"
    DISCRIMINATION = "discrimination"
    NAMED_PERSON = "named_person"
    PHONE = "phone"
    EMAIL = "email"
    PLATE = "plate"
    EMERGENCY = "emergency"


Flag = Finding  # the report wizard's older name
# What the report wizard asks a resident to rephrase (a plate goes to the liaison there, and
# an emergency gets its own reminder).
REPHRASE = (Finding.INSULT, Finding.DISCRIMINATION, Finding.NAMED_PERSON, Finding.PHONE,
            Finding.EMAIL)
# Sections of the word lists, and the keys of moderation.extra_terms.
SECTIONS = ("insult", "discrimination", "emergency.alarm", "emergency.danger", "emergency.now",
            "neutral")
EXTRA_KEYS = ("insult", "discrimination", "emergency", "neutral")


@dataclass(frozen=True)
class Screening:
    findings: frozenset[Finding]
    plate: str | None = None

    def __bool__(self) -> bool:
        return bool(self.findings)

    def __contains__(self, finding: object) -> bool:
        return finding in self.findings

    def names(self) -> list[str]:
        return sorted(str(finding) for finding in self.findings)

    def to_json(self) -> dict[str, object]:
        """The stable interface of `dev.py screen` / `vigie screen`."""
        return {"findings": self.names(), "plate": self.plate}


# --- folding -------------------------------------------------------------------------------

_SPECIAL = str.maketrans({"œ": "oe", "æ": "ae", "’": "'", "@": "a", "$": "s", "€": "e"})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
_REPEAT = re.compile(r"([a-z])\1+")
_DIGIT = re.compile(r"\d")


_MIXED = re.compile(r"\b(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]+\b")
_LETTER_DIGIT = re.compile(r"[a-z][0-9]|[0-9][a-z]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _leet(match: re.Match[str]) -> str:
    token = match.group()
    digits = len(_DIGIT.findall(token))
    return token.translate(_LEET) if digits * 2 <= len(token) else token  # not "14h30"


def fold(text: str) -> str:
    """Lower case, no accents, single letters, single spaces: "Enculééé !" → "encule"."""
    text = text.casefold().translate(_SPECIAL)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = _NOT_ALNUM.sub(" ", text)
    if _LETTER_DIGIT.search(text):
        text = _MIXED.sub(_leet, text)  # "c0nnard"
    return _REPEAT.sub(r"\1", text).strip()


# --- word lists ----------------------------------------------------------------------------


def read_terms(path: Path) -> dict[str, list[str]]:
    """A terms file: `[section]` headers, one term a line, `#` comments."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if name not in SECTIONS:
                raise ValueError(f"{path.name}:{number}: unknown section [{name}]")
            current = sections.setdefault(name, [])
        elif current is None:
            raise ValueError(f"{path.name}:{number}: a term before any [section]")
        else:
            current.append(line)
    return sections


def _term_regex(term: str) -> str | None:
    stem = term.rstrip().endswith("*")
    words = fold(term.rstrip("* ")).split()
    if not words:
        return None
    body = r"\s".join(re.escape(word) for word in words)
    return body + (r"[a-z0-9]*" if stem else "")


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    parts = sorted({p for p in map(_term_regex, terms) if p}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])")


# --- plates, phones, e-mails ---------------------------------------------------------------

_B, _E = r"(?<![0-9A-Za-zÀ-ÿ])", r"(?![0-9A-Za-zÀ-ÿ])"
_SIV_L = "A-HJ-NP-TV-Z"  # SIV letters: no I, O, U
_DEPT = r"(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6])"
# Capitals, any of the usual separators (or none).
PLATE_STRICT = re.compile(
    rf"{_B}(?:([{_SIV_L}]{{2}})[- ]?(\d{{3}})[- ]?([{_SIV_L}]{{2}})"
    rf"|(\d{{1,4}})[- ]?([A-Z]{{2,3}})[- ]?({_DEPT})"
    rf"|([1-9])[- ]?([A-Z]{{3}})[- ]?(\d{{3}})"
    rf"|([A-Z]{{3}})-(\d{{3}})|(\d{{3}})-([A-Z]{{3}})){_E}"
)
# Any case, written as one token or with dashes ("ab-123-cd", "1abc123").
PLATE_DASHED = re.compile(
    rf"{_B}(?:([{_SIV_L}]{{2}})(-?)(\d{{3}})\2([{_SIV_L}]{{2}})"
    rf"|([1-9])(-?)([A-Z]{{3}})\6(\d{{3}})){_E}",
    re.IGNORECASE,
)
# After a word that announces a plate, any case and any separator.
PLATE_CONTEXT = re.compile(r"plaque|immat|plate|nummerplaat", re.IGNORECASE)
PLATE_LOOSE = re.compile(PLATE_STRICT.pattern, re.IGNORECASE)
_DASH = {"-", ""}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
DIGIT_RUN = re.compile(r"\d(?:[ ./-]?\d){7,}")
PHONE_REGIONS = ("FR", "BE")


def plate_of(text: str) -> str | None:
    if _DIGIT.search(text) is None:
        return None
    match = PLATE_STRICT.search(text) or PLATE_DASHED.search(text)
    if match is None and PLATE_CONTEXT.search(text):
        match = PLATE_LOOSE.search(text)
    if match is None:
        return None
    return "".join(part for part in match.groups() if part and part not in _DASH).upper()


def has_phone(text: str) -> bool:
    if DIGIT_RUN.search(text) is None:
        return False
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region,
                                                     leniency=phonenumbers.Leniency.VALID):
            if match.raw_string[:1] in ("0", "+"):
                return True
    return False


# --- named persons -------------------------------------------------------------------------

_CAP = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ]?[a-zà-öø-ÿ]+)?|[A-ZÀ-ÖØ-Þ]{2,}"
# Words that follow a civility, "c'est" or a relation without naming anyone.
NOT_A_NAME = frozenset(fold("""
    le la les l du de des d un une au aux ce cet cette ces son sa ses mon ma mes ton ta tes
    notre votre leur leurs qui que quoi ou et il elle ils elles on lui eux moi toi nous vous
    ca cela celui celle ceux celles quelqu quelquun quelqu'un personne tout tous toute toutes
    pas plus encore toujours deja bien vrai juste peut surement forcement sans doute jamais
    meme memes gens jeunes ados mecs gars types type voisins voisin voisine voisines
    maire adjoint adjointe conseiller conseillere depute senateur prefet commissaire
    directeur directrice president presidente cure docteur professeur referent referente
    gendarme policier policiere agent facteur pompier pompiers x y z
    lundi mardi mercredi jeudi vendredi samedi dimanche hier aujourd demain ce soir matin
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    bonjour bonsoir merci svp attention info urgent alerte rappel hello salut coucou
    une un deux trois plusieurs quelques certains certaines aucun aucune chaque
    voiture camionnette scooter moto velo homme femme individu individus enfant enfants
    police gendarmerie mairie commune secteur quartier rue avenue place
    est a ont sont etait va vont part partent partie parti entiere nombreuse proche en y se
    s n ne ici pour comme fou grave normal dommage bizarre clair sur accueil concernee
""").split())
STREETS = frozenset(fold("""
    rue avenue av bd boulevard place chaussee allee impasse quai square chemin route parc
    ecole college lycee stade gymnase salle residence centre hopital clos cite pont rond
    carrefour espace lotissement quartier hameau domaine pharmacie boulangerie cafe chez
    bar restaurant garage magasin supermarche eglise parking fondation institut musee
""").split())
_CIVILITY_SHORT = re.compile(rf"(?:(?<![\w.])M\.|\b(?:[Mm]r|MR|[Mm]me|MME|[Mm]lle|MLLE)\b\.?)"
                             rf"\s*({_CAP}|[a-zà-ÿ]{{3,}})")
_CIVILITY_LONG = re.compile(rf"\b(?:[Mm]onsieur|[Mm]adame|[Mm]ademoiselle|MONSIEUR|MADAME)"
                            rf"\s+({_CAP})")
_RELATION_NAMED = re.compile(
    rf"\b(?:le|la|Le|La)\s+(?:fils|fille|gamin|gamine|petit|petite|neveu|nièce|mari|femme|"
    rf"voisin|voisine|frère|soeur|sœur|copain|copine)\s+({_CAP})")
_ACCUSED = re.compile(
    rf"(?:^|(?<=[\s,;:!?(\"]))({_CAP})(?:\s+(?:{_CAP}))?\s+(?:a|ont|avait|aurait|est\s+en\s+"
    rf"train\s+de|qui\s+a)\s+(?:encore\s+|déjà\s+|deja\s+|aussi\s+)?"
    rf"(?:vol|cass|tagu|cambriol|frapp|agress|menac|ray|crev|fractur|deal|vandalis|insult|"
    rf"vendu|vend|racket)\w*")
# On folded text: lower case, no accents, single letters.
_ACCUSATION = re.compile(r"(?:vol|cas|tagu|cambriol|frap|agres|menac|ray|crev|fractur|deal|"
                         r"vandalis|insult|vend|racket)")
_FAMILY = re.compile(r"\b(?:la|les|chez) famile ([a-z]+)")
_IT_IS = re.compile(
    r"\b(?:c est|cest|c|sest|s est|ce sont|c etait)\s+"
    r"(?:encore |surement |forcement |bien |toujours |sans doute |evidement |clairement )?"
    r"([a-z]+)(?: ([a-z]+))? (?:qui|ki|k)\b")
_IT_IS_RELATIVE = re.compile(
    r"\b(?:c est|cest|c|sest|ce sont|c etait)\s+(?:encore |surement |forcement |toujours )?"
    r"(?:le|la|les|l) (?:petit |grand |petite |grande )?"
    r"(?:fils|file|gamin|gamine|gamins|gose|goses|neveu|niece|mari|feme|copain|copine|ado|"
    r"ados|frere|soeur|voisin|voisine|voisins|locataire|locataires|proprio|cousin|pote|"
    r"potes|ami|amis|bande)s? (?:de|du|des|d|a)\b")


def _name_like(word: str) -> bool:
    folded = fold(word)
    head = folded.split(" ", 1)[0] if folded else ""
    return bool(head) and head not in NOT_A_NAME and len(head) >= 2


def _preceded_by_street(text: str, start: int) -> bool:
    before = fold(text[max(0, start - 24):start]).split()
    return bool(before) and before[-1] in STREETS


def names_someone(text: str, folded: str) -> bool:
    for pattern in (_CIVILITY_SHORT, _CIVILITY_LONG, _RELATION_NAMED):
        for match in pattern.finditer(text):
            if _name_like(match.group(1)):
                return True
    for match in _ACCUSED.finditer(text) if _ACCUSATION.search(folded) else ():
        if _name_like(match.group(1)) and not _preceded_by_street(text, match.start(1)):
            return True
    for match in _FAMILY.finditer(folded):
        if match.group(1) not in NOT_A_NAME:
            return True
    for match in _IT_IS.finditer(folded):
        first, second = match.group(1), match.group(2)
        if first not in NOT_A_NAME and (second is None or second not in NOT_A_NAME):
            return True
    return _IT_IS_RELATIVE.search(folded) is not None


# --- the screen ----------------------------------------------------------------------------

NEAR = 60  # characters between a danger and "en train de" for it to be happening now


@dataclass(frozen=True)
class _Lists:
    insult: re.Pattern[str] | None
    discrimination: re.Pattern[str] | None
    alarm: re.Pattern[str] | None
    danger: re.Pattern[str] | None
    now: re.Pattern[str] | None
    neutral: re.Pattern[str] | None


def load_lists(languages: Sequence[str] = LANGUAGES,
               extra_terms: Mapping[str, Sequence[str]] | None = None) -> _Lists:
    merged: dict[str, list[str]] = {name: [] for name in SECTIONS}
    for language in languages:
        path = TERMS / f"{language}.txt"
        if path.exists():
            for name, terms in read_terms(path).items():
                merged[name] += terms
    for key, added in (extra_terms or {}).items():
        if key not in EXTRA_KEYS:
            raise ValueError(f"moderation.extra_terms.{key}: one of {', '.join(EXTRA_KEYS)}")
        merged["emergency.alarm" if key == "emergency" else key] += list(added)
    return _Lists(*(_alternation(merged[name]) for name in SECTIONS))


class Screen:
    """The screen with its word lists compiled once (per process, per commune)."""

    def __init__(self, extra_terms: Mapping[str, Sequence[str]] | None = None,
                 languages: Sequence[str] = LANGUAGES) -> None:
        self.lists = load_lists(languages, extra_terms)

    def folded(self, text: str) -> str:
        folded = fold(text)
        if self.lists.neutral is not None:
            folded = self.lists.neutral.sub("_", folded)
        return folded

    def examine(self, text: str) -> Screening:
        lists = self.lists
        folded = self.folded(text)
        found: set[Finding] = set()
        if lists.insult is not None and lists.insult.search(folded):
            found.add(Finding.INSULT)
        if lists.discrimination is not None and lists.discrimination.search(folded):
            found.add(Finding.DISCRIMINATION)
        if names_someone(text, folded):
            found.add(Finding.NAMED_PERSON)
        if has_phone(text):
            found.add(Finding.PHONE)
        if "@" in text and EMAIL.search(text):
            found.add(Finding.EMAIL)
        plate = plate_of(text)
        if plate is not None:
            found.add(Finding.PLATE)
        if self.emergency(folded):
            found.add(Finding.EMERGENCY)
        return Screening(frozenset(found), plate)

    def emergency(self, folded: str) -> bool:
        lists = self.lists
        if lists.alarm is not None and lists.alarm.search(folded):
            return True
        if lists.danger is None or lists.now is None:
            return False
        nows = [match.start() for match in lists.now.finditer(folded)]
        if not nows:
            return False
        return any(abs(match.start() - now) <= NEAR
                   for match in lists.danger.finditer(folded) for now in nows)


@cache
def default_screen() -> Screen:
    return Screen()


_screens: dict[tuple[tuple[str, tuple[str, ...]], ...], Screen] = {}


def screen_for(extra_terms: Mapping[Any, Sequence[str]] | None) -> Screen:
    """The screen with a commune's extra terms, compiled once per distinct set."""
    if not extra_terms:
        return default_screen()
    key = tuple(sorted((str(name), tuple(terms)) for name, terms in extra_terms.items()))
    if key not in _screens:
        _screens[key] = Screen({str(name): terms for name, terms in extra_terms.items()})
    return _screens[key]


def examine(text: str) -> Screening:
    return default_screen().examine(text)


def screen(text: str) -> list[Finding]:
    """What a report description should be rephrased for, in a stable order."""
    findings = examine(text).findings
    return [finding for finding in REPHRASE if finding in findings]


def sounds_like_emergency(text: str) -> bool:
    screen_ = default_screen()
    return screen_.emergency(screen_.folded(text))


def plate_in(text: str) -> str | None:
    """A number plate mentioned in the text, normalised (AB123CD), for grouping only."""
    return plate_of(text)


def _terms(text: str) -> set[str]:
    # Not `fold`: its leet and repeated-letter folding is for insults. Here digits and
    # doubled letters tell events apart ("n°1" is not "n°11", a plate is not another).
    plain = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return {word for word in re.findall(r"\w+", plain) if len(word) > 3}


def similar(a: str, b: str, threshold: float = 0.4) -> bool:
    """Two descriptions sharing enough words to be the same event told twice."""
    first, second = _terms(a), _terms(b)
    if not first or not second:
        return False
    return len(first & second) / len(first | second) >= threshold


# --- command line --------------------------------------------------------------------------


def _extra_terms_from(config: Path | None) -> dict[str, list[str]]:
    if config is None or not config.exists():
        return {}
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    terms = data.get("moderation", {}).get("extra_terms", {})
    return {str(key): [str(term) for term in value] for key, value in terms.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """`vigie screen`: one message per line on stdin, one JSON object per line on stdout:
    {"findings": [sorted names], "plate": "AB123CD" or null}. Interface kept stable."""
    parser = argparse.ArgumentParser(prog="vigie screen", description=main.__doc__)
    parser.add_argument("--config", type=Path, default=None,
                        help="a config.toml whose [moderation.extra_terms] extend the lists")
    parser.add_argument("--term", action="append", default=[], metavar="FINDING:TERM",
                        help="one more term to try, e.g. insult:zinzin (repeatable)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    extra = _extra_terms_from(args.config)
    for item in args.term:
        key, _, term = item.partition(":")
        if not term:
            parser.error(f"--term {item!r}: write FINDING:TERM")
        extra.setdefault(key, []).append(term)
    try:
        screen_ = Screen(extra) if extra else default_screen()
    except ValueError as error:
        print(f"vigie screen: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        out.write(json.dumps(screen_.examine(text).to_json(), ensure_ascii=False) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
