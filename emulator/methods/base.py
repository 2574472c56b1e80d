"""The method registry and typed access to a request's parameters."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.errors import bad_request
from emulator.state import State

MethodFunc = Callable[[State, "Params"], Any]

# Keyed by lower-cased name: Telegram matches method names case-insensitively.
METHODS: dict[str, MethodFunc] = {}
# Methods subject to flood limits (and to Faults.retry_after without a method).
SENDING_METHODS: set[str] = set()


def method(name: str, *, sends: bool = False) -> Callable[[MethodFunc], MethodFunc]:
    def register(func: MethodFunc) -> MethodFunc:
        METHODS[name.lower()] = func
        if sends:
            SENDING_METHODS.add(name.lower())
        return func

    return register


def is_sending(method_name: str) -> bool:
    return method_name.lower() in SENDING_METHODS


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    content_type: str


class Params:
    """A request's parameters, already JSON-decoded where the Bot API type is not a string."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None):
        self.values = values
        self.uploads = uploads or {}

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def required_integer(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def number(self, name: str, default: float = 0.0) -> float:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def structured(self, name: str) -> Any:
        """A JSON object or array parameter; a string left undecoded means it was not JSON."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def upload(self, name: str) -> Upload | None:
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.uploads.get(value.removeprefix("attach://"))
        return self.uploads.get(name)
