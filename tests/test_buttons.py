"""Typed buttons: what a class packs, its pattern matches and it parses back; nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import pytest

import core.runtime.application  # noqa: F401 - imports every flow, so every button registers
from core.buttons import Button, ButtonError


class Verdict(StrEnum):
    YES = "yes"
    NO = "no"


def make_sample() -> type[Button]:
    @dataclass(frozen=True)
    class Sample(Button, prefix="test_sample"):
        item_id: int
        verdict: Verdict
        page: int | None = None
        lang: Literal["fr", "nl"] = "fr"

    return Sample


@pytest.fixture
def sample() -> Iterator[Any]:
    """A button kind for these tests only: out of the registry afterwards, so the
    permission matrix and the fuzz never meet it."""
    yield make_sample()
    Button.kinds.pop("test_sample", None)


def test_pack_parse_roundtrip(sample: Any) -> None:
    Sample = sample
    button = Sample(12, Verdict.NO, None, "nl")
    assert button.pack() == "test_sample:12:no::nl"
    assert Sample.parse(button.pack()) == button
    assert Sample.pattern().match(button.pack())


@pytest.mark.parametrize("forged", [
    "", "test_sample", "test_sample:12:maybe::fr", "test_sample:x:yes::fr",
    "test_sample:12:yes::de", "test_sample:12:yes::fr:extra", "other:12:yes::fr",
    "test_sample:99999999999999999:yes::fr",
])
def test_forged_data_is_refused(sample: Any, forged: str) -> None:
    Sample = sample
    assert not Sample.pattern().match(forged)
    with pytest.raises(ButtonError):
        Sample.parse(forged)


def test_a_prefix_is_owned_by_one_class(sample: Any) -> None:
    with pytest.raises(TypeError):
        @dataclass(frozen=True)
        class Twin(Button, prefix="test_sample"):
            item_id: int


def test_every_button_of_the_bot_fits_telegram_and_reads_back() -> None:
    kinds = {prefix: kind for prefix, kind in Button.kinds.items()
             if not prefix.startswith("test_")}
    assert len(kinds) >= 20  # every flow's buttons registered
    for kind in kinds.values():
        for values in kind.example_values():
            widest = {name: (10**15 - 1 if value == 1 else value)
                      for name, value in values.items()}
            data = kind(**widest).pack()  # raises past 64 bytes
            assert kind.parse(data) == kind(**widest)
            others = [k for k in kinds.values() if k is not kind and k.pattern().match(data)]
            assert others == [], f"{data!r} also matches {others}"
