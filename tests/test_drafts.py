"""Typed drafts survive JSON (the persistence's format) and old or broken ones are dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum

from core import drafts


class Colour(StrEnum):
    WHITE = "white"


@drafts.draft("test_note")
@dataclass
class Note:
    text: str
    colour: Colour = Colour.WHITE
    tags: list[str] = field(default_factory=list)


def roundtrip(value: object) -> object:
    return drafts.decode(json.loads(json.dumps(drafts.encode(value))))


def test_a_draft_comes_back_typed() -> None:
    back = roundtrip({"test_note": Note("camionnette", tags=["a"]), "other": 3})
    assert back == {"test_note": Note("camionnette", Colour.WHITE, ["a"]), "other": 3}
    assert isinstance(back["test_note"], Note)  # type: ignore[index]


def test_a_draft_of_a_removed_kind_is_dropped() -> None:
    stored = {"gone": {drafts.TAG: "no_such_kind", "x": 1}, "kept": 1}
    assert drafts.decode(stored) == {"kept": 1}


def test_a_draft_that_no_longer_fits_its_class_is_dropped() -> None:
    stored = {"test_note": {drafts.TAG: "test_note"}}  # `text` is required
    assert drafts.decode(stored) == {}


def test_unknown_fields_are_ignored() -> None:
    stored = {"n": {drafts.TAG: "test_note", "text": "t", "removed_field": 1}}
    assert drafts.decode(stored) == {"n": Note("t")}
