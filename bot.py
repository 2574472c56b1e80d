"""Vigie's command line: run the bot, the demo, a backup (the application is built in
core/runtime/application.py).

    python bot.py [--config PATH]          run the bot (polling or webhook, per the config)
    python bot.py --demo                   a walk-through against the local Telegram emulator
    python bot.py backup PATH              online copy of the database
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from core import logs
from core.charter import CharterError
from core.geo import sector_polygons
from core.runtime import lifecycle
from core.runtime.application import build_application
from core.settings import ConfigError, Settings, config_path, load_settings
from handlers.tips.catalogue import TipsError, shipped
from storage import StorageError, Store

NO_TOKEN = (
    "No bot token: ask @BotFather on Telegram for one (/newbot), then put it in the "
    "environment as VIGIE_TELEGRAM__TOKEN (or telegram.token in config.toml)."
)


def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT (exit 0), or exit 3 with one line if another instance
    holds the token (Telegram's 409 Conflict)."""
    failure = asyncio.run(lifecycle.serve(build_application(settings)))
    if failure:
        print(failure, file=sys.stderr)
        return 3
    return 0


async def backup(settings: Settings, target: Path) -> None:
    store = Store(settings.storage.database)
    await store.open()
    try:
        await store.db.backup(target)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.py", description="Vigie Telegram bot")
    parser.add_argument("--config", help="TOML file (default: $VIGIE_CONFIG or ./config.toml)")
    parser.add_argument("--demo", action="store_true", help="walk-through on the local emulator")
    parser.add_argument("command", nargs="*", help="backup PATH")
    args = parser.parse_args(argv)
    if args.demo:
        from demo.walkthrough import run_demo

        return asyncio.run(run_demo())
    try:
        settings = load_settings(config_path(args.config))
        sector_polygons(settings.sectors)
    except ConfigError as error:
        for problem in error.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    secret = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    logs.configure(settings.logging.level, settings.logging.format, (secret,),
                   settings.logging.file)
    try:
        if args.command[:1] == ["backup"] and len(args.command) == 2:
            asyncio.run(backup(settings, Path(args.command[1])))
            print(f"backup written to {args.command[1]}")
            return 0
        if args.command:
            parser.error(f"unknown command: {' '.join(args.command)}")
        if not secret:
            print(NO_TOKEN, file=sys.stderr)
            return 2
        shipped()
        return serve(settings)
    except (StorageError, CharterError, TipsError) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
