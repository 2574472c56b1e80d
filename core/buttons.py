"""Typed inline buttons: one small class per kind of button, in the flow that owns it.

A button class names its prefix once and declares its fields; the class alone builds the
callback data (`pack`), the handler's `pattern` and reads it back (`parse`). Nothing else
spells a callback string. Modelled on aiogram's `CallbackData`, for python-telegram-bot.

    @dataclass(frozen=True)
    class Triage(Button, prefix="triage"):
        report_id: int
        decision: TriageDecision       # a StrEnum: its values are the only ones accepted

    Triage(12, TriageDecision.FORWARD).pack()     # "triage:12:forward"
    CallbackQueryHandler(triage, pattern=Triage.pattern())
    Triage.parse(query.data)                        # Triage(report_id=12, decision=…)

Field types: `int` (optionally `int | None`, packed as an empty part), `str` (short codes
of `[a-z0-9_.]`), a `StrEnum` or `Literal[...]` (only their values match). Every packed
string fits Telegram's 64 bytes, checked when packed.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from typing import Any, ClassVar, Self, cast

MAX_BYTES = 64  # Telegram refuses callback data longer than 64 bytes
SEPARATOR = ":"
INT = r"-?\d{1,15}"
CODE = r"[a-z0-9_.]{1,32}"


class ButtonError(ValueError):
    """Callback data that no button of this kind could have produced (forged or stale)."""


def _choices(kind: Any) -> tuple[str, ...] | None:
    if isinstance(kind, type) and issubclass(kind, enum.StrEnum):
        return tuple(member.value for member in kind)
    if typing.get_origin(kind) is typing.Literal:
        return tuple(str(value) for value in typing.get_args(kind))
    return None


def _optional(kind: Any) -> tuple[Any, bool]:
    """`int | None` → (int, True); anything else → (kind, False)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return kind, False


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    kind: Any
    optional: bool
    choices: tuple[str, ...] | None

    @property
    def regex(self) -> str:
        if self.choices is not None:
            body = "|".join(re.escape(choice) for choice in self.choices)
        elif self.kind is int:
            body = INT
        else:
            body = CODE
        return f"(?:{body})?" if self.optional else f"(?:{body})"

    def dump(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, enum.Enum):
            return str(value.value)
        return str(value)

    def load(self, text: str) -> Any:
        if text == "" and self.optional:
            return None
        if isinstance(self.kind, type) and issubclass(self.kind, enum.StrEnum):
            return self.kind(text)
        if self.kind is int:
            return int(text)
        return text


class Button:
    """Base of every button kind. Subclasses are frozen dataclasses with a unique prefix."""

    prefix: ClassVar[str]
    kinds: ClassVar[dict[str, type[Button]]] = {}
    _fields: ClassVar[tuple[_Field, ...]]
    _regex: ClassVar[re.Pattern[str]]

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix:
            raise TypeError(f"{cls.__name__} needs a prefix: class {cls.__name__}(Button, "
                            "prefix='…')")
        if not re.fullmatch(r"[a-z][a-z_]{1,15}", prefix):
            raise TypeError(f"button prefix {prefix!r}: 2–16 lowercase letters")
        if prefix in Button.kinds and Button.kinds[prefix].__qualname__ != cls.__qualname__:
            raise TypeError(f"button prefix {prefix!r} is already used by "
                            f"{Button.kinds[prefix].__name__}")
        cls.prefix = prefix
        Button.kinds[prefix] = cls

    @classmethod
    def _schema(cls) -> tuple[_Field, ...]:
        # Built lazily: the dataclass decorator runs after __init_subclass__.
        cached = cls.__dict__.get("_fields")
        if cached is None:
            hints = typing.get_type_hints(cls)
            fields = []
            # Every kind is a dataclass by contract (mypy cannot see the decorator here).
            for field in dataclasses.fields(cast(Any, cls)):
                kind, optional = _optional(hints[field.name])
                fields.append(_Field(field.name, kind, optional, _choices(kind)))
            cached = tuple(fields)
            cls._fields = cached
            parts = [re.escape(cls.prefix), *(f"({f.regex})" for f in cached)]
            cls._regex = re.compile("^" + SEPARATOR.join(parts) + "$")
        return cached

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        """For `CallbackQueryHandler(pattern=…)`: matches exactly what `pack` can produce."""
        cls._schema()
        return cls._regex

    def pack(self) -> str:
        values = [field.dump(getattr(self, field.name)) for field in self._schema()]
        data = SEPARATOR.join([self.prefix, *values])
        if len(data.encode()) > MAX_BYTES:
            raise ButtonError(f"{type(self).__name__}: {len(data.encode())} bytes > 64")
        if not self.pattern().match(data):
            raise ButtonError(f"{type(self).__name__}: a field does not fit its type")
        return data

    @classmethod
    def parse(cls, data: str | None) -> Self:
        match = cls.pattern().match(data or "")
        if match is None:
            raise ButtonError(f"not a {cls.__name__} button")
        values = {field.name: field.load(text)
                  for field, text in zip(cls._schema(), match.groups(), strict=True)}
        return cls(**values)

    @classmethod
    def example_values(cls) -> list[dict[str, Any]]:
        """Field values covering each choice once: what the permission matrix and the fuzz
        press. Ids are given as 1; the caller replaces them with real ones."""
        fields = cls._schema()
        widest = max((len(f.choices) for f in fields if f.choices), default=1)
        examples = []
        for index in range(widest):
            values: dict[str, Any] = {}
            for field in fields:
                if field.choices:
                    values[field.name] = field.load(field.choices[index % len(field.choices)])
                elif field.kind is int:
                    values[field.name] = 1
                else:
                    values[field.name] = "x"
            examples.append(values)
        return examples


def field_names(kind: type[Button]) -> tuple[str, ...]:
    return tuple(field.name for field in kind._schema())
