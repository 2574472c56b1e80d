"""Settings for the bot talking to the local Telegram emulator: tests, demo, benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.settings import Settings
from emulator import TelegramEmulator


def local_settings(emu: TelegramEmulator, database: Path, time_scale: float,
                   *layers: dict[str, Any]) -> Settings:
    """The emulator's token and address, the database, the outbox scaled like the
    emulator's limits, and no scheduled tips: their times depend on today's date, so a run
    that wants them says so. Each layer's sections are merged over the previous ones."""
    sections: dict[str, Any] = {
        "telegram": {"token": emu.token, "api_base_url": emu.base_url,
                     "file_base_url": emu.base_file_url},
        "storage": {"database": database},
        "outbox": {"time_scale": time_scale, "poll_interval_seconds": 0.05},
        "tips": {"schedule": []},
    }
    for layer in layers:
        for name, values in layer.items():
            old = sections.get(name)
            both_tables = isinstance(values, dict) and isinstance(old, dict)
            sections[name] = {**old, **values} if both_tables else values  # type: ignore[dict-item]
    return Settings(**sections)
