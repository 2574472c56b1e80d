"""The street matcher (core/streets.py) measured: right answers and time per query.

    python3 dev.py bench streets

1. Precision and recall on the labelled corpus (tests/data/streets_labelled.tsv against the
   lists of tests/data/streets_commune.tsv): a proposal is right when it names the expected
   sector; a line labelled "-" must get no proposal (unknown, or close streets in two
   sectors). Also for nearby thresholds and for WRatio, which is how THRESHOLD was chosen.
2. Time per query against 2,000 generated streets in 8 sectors (a large commune), for typed
   variants with a typo, an abbreviation or a house number, against the plain baseline:
   one exact dict lookup of the folded key. Prints both and their ratio, and how many
   variants found their street's sector.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from core import streets

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
KINDS = ["Rue", "Avenue", "Boulevard", "Place", "Allée", "Impasse", "Chemin", "Route",
         "Square", "Faubourg", "Rue Saint", "Kerkstraat", "Steenweg"]
SHORT = {"Rue": "r.", "Avenue": "av.", "Boulevard": "bd", "Place": "pl.", "Allée": "all.",
         "Impasse": "imp.", "Chemin": "ch.", "Route": "rte", "Square": "sq",
         "Faubourg": "fg", "Rue Saint": "rue st"}
NAMES = ["des Lilas", "Foch", "Victor Hugo", "Gambetta", "Jean Jaurès", "Pasteur", "de la Gare",
         "du Moulin", "des Écoles", "de l'Église", "des Vignes", "de Lyon", "Voltaire",
         "Jean Moulin", "de la République", "des Tilleuls", "du Château", "des Peupliers",
         "de la Fontaine", "du Stade", "des Acacias", "de Verdun", "du Marché", "des Roses",
         "Émile Zola", "Louis Pasteur", "de la Paix", "des Cerisiers", "du Lavoir", "Carnot"]
QUERIES = 500


def load(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def corpus_scores(scorer_name: str, threshold: float) -> tuple[float, float, int]:
    from rapidfuzz import fuzz

    ids: dict[str, int] = {}
    known = [(ids.setdefault(sector, len(ids)), street, streets.street_key(street))
             for sector, street in load("streets_commune.tsv")]
    scorer = getattr(fuzz, scorer_name)
    right = wrong = missed = 0
    for typed, expected in load("streets_labelled.tsv"):
        found = _match(typed, known, scorer, threshold)
        want = None if expected == "-" else ids[expected]
        if found is not None and found == want:
            right += 1
        elif found is not None:
            wrong += 1
        elif want is not None:
            missed += 1
    precision = right / (right + wrong) if right + wrong else 1.0
    recall = right / (right + missed) if right + missed else 1.0
    return precision, recall, wrong + missed


def _match(typed: str, known: list[streets.StreetRow], scorer: object, threshold: float
           ) -> int | None:
    found = streets.match_street(typed, known, threshold, scorer=scorer)
    return found.sector_id if found.verdict is streets.Verdict.MATCH else None


def generated(count: int, rng: random.Random) -> list[streets.StreetRow]:
    rows: list[streets.StreetRow] = []
    seen: set[str] = set()
    number = 1
    while len(rows) < count:
        kind, name = rng.choice(KINDS), rng.choice(NAMES)
        street = f"{kind} {name}" if kind not in ("Kerkstraat", "Steenweg") else \
            f"{name.split()[-1]}{kind.lower()}"
        street = f"{street} {number}e" if rng.random() < 0.8 else street
        number += 1
        key = streets.street_key(street)
        if key and key not in seen:
            seen.add(key)
            rows.append((len(rows) % 8, street, key))
    return rows


def variant(street: str, rng: random.Random) -> str:
    """What a resident might type for it: an abbreviation, a typo, a house number."""
    for long, short in SHORT.items():
        if street.startswith(long + " ") and rng.random() < 0.5:
            street = short + street[len(long):]
            break
    letters = list(street)
    spot = rng.randrange(len(letters))
    if letters[spot].isalpha():
        letters[spot] = letters[spot] * 2 if rng.random() < 0.5 else ""
    typed = "".join(letters)
    return f"{rng.randint(1, 120)} {typed.lower()}" if rng.random() < 0.3 else typed


def timings(known: list[streets.StreetRow], queries: list[str]) -> tuple[list[float], list[float]]:
    lookup = {key: sector for sector, _, key in known}
    fuzzy, exact = [], []
    streets.match_street("warm up", known)  # the first call imports rapidfuzz
    for typed in queries:
        began = time.perf_counter()
        streets.match_street(typed, known)
        fuzzy.append(time.perf_counter() - began)
        began = time.perf_counter()
        lookup.get(streets.street_key(typed))
        exact.append(time.perf_counter() - began)
    return fuzzy, exact


async def main() -> None:
    print("Street matcher (core/streets.py): token_sort_ratio on folded keys, "
          f"threshold {streets.THRESHOLD:g}, margin {streets.MARGIN:g}")
    precision, recall, errors = corpus_scores("token_sort_ratio", streets.THRESHOLD)
    corpus = load("streets_labelled.tsv")
    print(f"  labelled corpus: {len(corpus)} typed streets, precision {precision:.3f}, "
          f"recall {recall:.3f}, {errors} wrong")
    for scorer in ("token_sort_ratio", "WRatio"):
        cells = []
        for threshold in (80, 84, 86, 88, 90, 94, 96):
            p, r, _ = corpus_scores(scorer, threshold)
            cells.append(f"{threshold}: P {p:.2f} R {r:.2f}")
        print(f"  {scorer:>16}  " + " | ".join(cells))

    rng = random.Random(15)
    known = generated(2_000, rng)
    picks = [rng.randrange(len(known)) for _ in range(QUERIES)]
    queries = [variant(known[i][1], rng) for i in picks]
    fuzzy, exact = timings(known, queries)
    found = sum(1 for i, typed in zip(picks, queries, strict=True)
                if streets.match_street(typed, known).sector_id == known[i][0])
    exact_hits = sum(1 for i, typed in zip(picks, queries, strict=True)
                     if {k: s for s, _, k in known}.get(streets.street_key(typed)) == known[i][0])

    def ms(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q < 100 else \
            max(values) * 1000

    print(f"  2,000 streets, {QUERIES} typed variants (typo, abbreviation, house number):")
    print(f"    fuzzy match  p50 {ms(fuzzy, 50):.3f} ms, p99 {ms(fuzzy, 99):.3f} ms, "
          f"max {ms(fuzzy, 100):.3f} ms; right sector proposed for {found}/{QUERIES}")
    print(f"    exact lookup p50 {ms(exact, 50):.4f} ms, p99 {ms(exact, 99):.4f} ms; "
          f"right sector for {exact_hits}/{QUERIES}")
    print(f"    ratio (fuzzy / exact, medians): {ms(fuzzy, 50) / ms(exact, 50):.0f}x")
