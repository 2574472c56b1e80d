"""Typed drafts: what a person is writing, kept in `user_data` between the steps of a flow.

A draft is a dataclass registered with `@draft("report")`. The persistence stores it as
JSON (`encode`) and gives it back typed after a restart (`decode`), so a handler reads
`turn.draft(ReportDraft).category`, never a string key of a dict. Fields must be JSON
values (str, int, float, bool, None, lists and dicts of those, or StrEnums).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
TAG = "__draft__"
_kinds: dict[str, type[Any]] = {}
_names: dict[type[Any], str] = {}


def draft(name: str) -> Callable[[type[T]], type[T]]:
    """Register a dataclass as a draft kept in `user_data[name]`."""

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass to be a draft")
        _kinds[name] = cls
        _names[cls] = name
        return cls

    return register


def key_of(cls: type[Any]) -> str:
    """The `user_data` key a draft kind lives under."""
    return _names[cls]


def encode(value: Any) -> Any:
    """`user_data` as JSON values: each draft becomes a tagged dict."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value) in _names:
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {TAG: _names[type(value)], **encode(fields)}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of `encode`: a tagged dict of a known kind becomes its draft again. A
    draft of a kind that no longer exists (removed by an upgrade) is dropped, not half-read."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if TAG not in value:
        decoded = {key: decode(item) for key, item in value.items()}
        return {key: item for key, item in decoded.items() if item is not _GONE}
    kind = _kinds.get(value[TAG])
    if kind is None:
        return _GONE
    names = {f.name for f in dataclasses.fields(kind)}
    try:
        return kind(**{key: decode(item) for key, item in value.items() if key in names})
    except (TypeError, ValueError):
        # A draft stored by another version that no longer fits its class (a field made
        # required, a value no longer allowed): forgotten, so it cannot stop the start.
        return _GONE


_GONE = object()  # marks a draft of a removed kind while decoding
