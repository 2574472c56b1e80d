"""The screen measured on the labelled corpus (tests/data/screening_corpus.tsv).

    python3 dev.py bench screening

Prints precision and recall per finding, the false-alarm rate on clean messages, the
messages the screen gets wrong, and throughput on one core: messages per second over the
corpus, and the time added to one group message (p50, p99, max), 4,096-character messages
included. tests/test_screening.py asserts the same figures.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.screening import Finding, Screen, default_screen

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "screening_corpus.tsv"


@dataclass(frozen=True)
class Labelled:
    line: int
    findings: frozenset[Finding]
    text: str


def read_corpus(path: Path = CORPUS) -> list[Labelled]:
    items = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        labels, _, text = raw.partition("\t")
        findings = frozenset() if labels == "-" else frozenset(
            Finding(label) for label in labels.split(","))
        items.append(Labelled(number, findings, text))
    return items


@dataclass
class Score:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positive + self.false_negative
        return self.true_positive / labelled if labelled else 1.0


@dataclass
class Evaluation:
    scores: dict[Finding, Score] = field(default_factory=lambda: {f: Score() for f in Finding})
    clean: int = 0
    false_alarms: int = 0  # clean messages with any finding
    mistakes: list[tuple[Labelled, frozenset[Finding]]] = field(default_factory=list)

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.clean if self.clean else 0.0


def evaluate(corpus: list[Labelled], screen: Screen | None = None) -> Evaluation:
    screen = screen or default_screen()
    result = Evaluation()
    for item in corpus:
        found = screen.examine(item.text).findings
        for finding in Finding:
            expected, got = finding in item.findings, finding in found
            score = result.scores[finding]
            score.true_positive += expected and got
            score.false_positive += got and not expected
            score.false_negative += expected and not got
        if not item.findings:
            result.clean += 1
            result.false_alarms += bool(found)
        if found != item.findings:
            result.mistakes.append((item, found))
    return result


@dataclass(frozen=True)
class Speed:
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def measure(corpus: list[Labelled], screen: Screen | None = None, rounds: int = 20) -> Speed:
    screen = screen or default_screen()
    texts = [item.text for item in corpus]
    # The longest messages Telegram delivers, with digits, names and a plate far in.
    texts += [("camionnette blanche rue Victor-Hugo vers 14h30, 06 12 34 56 78 ? " * 70)[:4096],
              ("M. le Maire " + "travaux en cours, feu rouge, AB-123-CD. " * 110)[:4096]]
    for text in texts:  # warm up (regex caches, phonenumbers metadata)
        screen.examine(text)
    durations = []
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            begin = time.perf_counter()
            screen.examine(text)
            durations.append(time.perf_counter() - begin)
    total = time.perf_counter() - started
    durations.sort()
    return Speed(per_second=len(durations) / total,
                 p50_ms=statistics.median(durations) * 1000,
                 p99_ms=durations[int(len(durations) * 0.99)] * 1000,
                 max_ms=durations[-1] * 1000)


def report(corpus: list[Labelled], evaluation: Evaluation, speed: Speed) -> str:
    flagged = sum(1 for item in corpus if item.findings)
    lines = [f"screening corpus: {len(corpus)} messages, {evaluation.clean} clean, "
             f"{flagged} with findings",
             f"{'finding':<16}{'labelled':>9}{'precision':>11}{'recall':>8}"]
    for finding, score in evaluation.scores.items():
        labelled = score.true_positive + score.false_negative
        lines.append(f"{finding!s:<16}{labelled:>9}{score.precision:>11.3f}"
                     f"{score.recall:>8.3f}")
    lines.append(f"false alarms on clean messages: {evaluation.false_alarms}/"
                 f"{evaluation.clean} ({evaluation.false_alarm_rate:.1%})")
    lines.append(f"throughput: {speed.per_second:,.0f} messages/s on one core; per message "
                 f"p50 {speed.p50_ms:.3f} ms, p99 {speed.p99_ms:.3f} ms, "
                 f"max {speed.max_ms:.3f} ms")
    for item, found in evaluation.mistakes:
        expected = ",".join(sorted(item.findings)) or "-"
        got = ",".join(sorted(found)) or "-"
        lines.append(f"  line {item.line}: expected {expected}, got {got}: {item.text}")
    return "\n".join(lines)


async def main() -> None:
    corpus = read_corpus()
    print(report(corpus, evaluate(corpus), measure(corpus)))


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
