"""Structured logging: JSON lines in production, a readable console in a terminal.

Every record, ours or a library's, goes through the same processors, the last of which
redacts bot tokens: httpx logs request URLs and those URLs contain the token. Report texts
and people's names are never passed to a logger in the first place; ids are.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

# A Telegram bot token: the bot id, a colon, then 30+ url-safe characters.
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "[token]"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return TOKEN_PATTERN.sub(REDACTED, text)


class _Redactor:
    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        message = event.get("event")
        if isinstance(message, str) and "Received data was" in message:
            # PTB dumps raw updates (names, texts) when it cannot parse them: keep the gist.
            event["event"] = message.split("Received data was")[0] + "Received data withheld"
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = redact(value, self.secrets)
            elif isinstance(value, BaseException):
                event[key] = redact(repr(value), self.secrets)
        return event


def configure(
    level: str = "INFO",
    fmt: str = "auto",
    secrets: tuple[str, ...] = (),
    file: Path | None = None,
) -> None:
    """Route structlog and the standard library through one pipeline ending in redaction."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    redactor = _Redactor(secrets)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redactor,
            renderer,
        ],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_vigie", False):
            root.removeHandler(handler)
    targets: list[logging.Handler] = [logging.StreamHandler()]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        targets.append(logging.FileHandler(file, encoding="utf-8"))
    for handler in targets:
        handler.setFormatter(formatter)
        # Marks our handlers, so a second configure() replaces them instead of adding more.
        handler._vigie = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # httpx and httpcore log every request URL (token included) at INFO/DEBUG.
    # aiosqlite logs every statement with its parameters (texts people wrote) at DEBUG.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    scheduler = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _TickSkipped) for f in scheduler.filters):
        scheduler.addFilter(_TickSkipped())
    # PTB's DEBUG lines dump whole updates and API calls: names and report texts.
    telegram_level = max(logging.getLevelName(level), logging.INFO)
    logging.getLogger("telegram").setLevel(telegram_level)


class _TickSkipped(logging.Filter):
    """A repeating job's tick skipped while its previous run goes on (a progress sweep
    during a 10,000-chat notice) is how those jobs are meant to work: no warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
