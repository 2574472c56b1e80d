"""Vigie: builds the Telegram application from the settings and wires the handler modules.

    python bot.py [--config PATH]          run the bot (polling or webhook, per the config)
    python bot.py --demo                   a walk-through against the local Telegram emulator
    python bot.py backup PATH              online copy of the database
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import warnings
from pathlib import Path

from telegram import Bot
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from core import lifecycle, logs
from core.charter import Charter, CharterError
from core.geo import sector_polygons
from core.outbox import MAX_IN_FLIGHT, OutboxWorker
from core.persistence import SqlitePersistence
from core.services import KEY, Services
from core.settings import ConfigError, Settings, config_path, load_settings
from core.telegram_bot import VigieBot
from core.tips import TipsError, shipped
from handlers import (
    broadcast,
    common,
    dashboard,
    fallback,
    groups,
    membership,
    moderation,
    onboarding,
    privacy,
    referents,
    reports,
    tips,
)
from storage import StorageError, Store

# Conversation buttons are tracked per chat on purpose (per_message=False): PTB's reminder
# about that choice is not a problem to report at every start.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

NO_TOKEN = (
    "No bot token: ask @BotFather on Telegram for one (/newbot), then put it in the "
    "environment as VIGIE_TELEGRAM__TOKEN (or telegram.token in config.toml)."
)


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    assert settings.telegram.token is not None
    token = settings.telegram.token.get_secret_value()
    api, files = settings.telegram.api_base_url, settings.telegram.files_url
    # Direct replies are rate-limited by PTB; the outbox paces itself (see core/outbox.py).
    bot = VigieBot(token, base_url=api, base_file_url=files,
                   rate_limiter=AIORateLimiter(max_retries=3))
    store = Store(settings.storage.database)
    app = (
        ApplicationBuilder()
        .bot(bot)
        # ConversationHandler is not safe with concurrent updates.
        .concurrent_updates(False)
        # Updates come through core/inbox.py (stored before they are confirmed), not PTB's
        # Updater; conversations are kept in SQLite so a restart resumes them.
        .updater(None)
        .persistence(SqlitePersistence(store))
        .post_init(lifecycle.startup)
        .post_shutdown(lifecycle.shutdown)
        .build()
    )
    outbox_bot = Bot(token, base_url=api, base_file_url=files,
                     request=HTTPXRequest(connection_pool_size=MAX_IN_FLIGHT + 8))
    app.bot_data[KEY] = Services(
        settings=settings,
        store=store,
        outbox=OutboxWorker(store, outbox_bot, settings.outbox),
        charter=Charter(),
        sector_polygons=sector_polygons(settings.sectors),
    )
    # Order matters within a handler group: flows first, the catch-all fallback last. Staff
    # conversations come before onboarding, so an official who has not answered the charter
    # question yet can still write a notice.
    for module in (broadcast, onboarding, reports, membership, referents, moderation, privacy,
                   groups, tips, dashboard, common, fallback):
        module.register(app)
    return app


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
