"""Bot API error answers, worded as Telegram words them."""

from __future__ import annotations

import math
from typing import Any

# A wait of exactly k scaled seconds, computed in floats, must not round up to k + 1.
_ROUNDING = 1e-9


class ApiError(Exception):
    """An unsuccessful Bot API answer; the HTTP status equals `code`, as with Telegram."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")


def conflict(reason: str) -> ApiError:
    return ApiError(409, f"Conflict: {reason}")


def too_many_requests(wait_seconds: float, scale: float = 1.0) -> ApiError:
    """Telegram announces whole seconds, at least 1. Under a time scale s the emulator
    announces whole *scaled* seconds, ceil(wait * s) / s with at least 1 / s: an integer
    when s = 1 (as Telegram), a float such as 0.1 otherwise (python-telegram-bot reads
    either into RetryAfter)."""
    whole = max(1, math.ceil(wait_seconds * scale - _ROUNDING))
    seconds = whole / scale
    retry_after: float = int(seconds) if seconds.is_integer() else seconds
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def chat_migrated(new_chat_id: int) -> ApiError:
    return ApiError(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": new_chat_id},
    )


CHAT_NOT_FOUND = "chat not found"
NOT_ENOUGH_RIGHTS = "not enough rights"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
