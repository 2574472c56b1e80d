"""Vigie's command line (installed as `vigie`; the application is built in
core/runtime/application.py).

    vigie [--config PATH] [run]        run the bot (polling or webhook, per the config)
    vigie demo                         a walk-through against the local Telegram emulator
    vigie check                        the checklist: ✓ or ✗, each ✗ with its fix
    vigie backup [PATH] [--compact]    a verified online copy (default: the backup folder,
                                       with daily and weekly rotation); --compact then
                                       VACUUMs the database (the bot must be stopped)
    vigie restore FILE                 put a backup back (the bot must be stopped)
    vigie screen [--term F:T]          screen one message per line from stdin (JSON out)
    vigie paperwork KIND PATH          the mairie's documents as PDF (registre, mention,
                                       aipd, protocole, or tout into a folder)

`python bot.py …` is the same. Exit codes: 0 done; 1 the checklist has a ✗ line;
2 configuration or usage; 3 another instance is running; 4 Telegram refuses the token;
5 database; 70 an unexpected error (a bug: the log has its traceback). A failure is one
line on stderr, never the token.

A sub-command is one entry of COMMANDS: a help line, how to add its arguments, and the
function that runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

try:
    from telegram import Bot
    from telegram.error import TelegramError

    from core import i18n, logs
    from core.charter import CharterError
    from core.geo import sector_polygons
    from core.runtime import check, lifecycle
    from core.runtime.application import build_application
    from core.runtime.lifecycle import (
        EXIT_DATABASE,
        StartFailure,
        backup_folder,
        sole_user,
    )
    from core.settings import ConfigError, Settings, config_path, load_settings
    from handlers.tips.catalogue import TipsError, shipped
    from storage import StorageError, Store
    from storage import db as database
except ImportError as missing:  # a failed install, or the wrong Python
    MISSING: ImportError | None = missing
else:
    MISSING = None

NO_TOKEN = (
    "No bot token: ask @BotFather on Telegram for one (/newbot), then put it in the "
    "environment as VIGIE_TELEGRAM__TOKEN (or telegram.token in config.toml)."
)
EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_BUG = 1, 2, 70  # the others: core/runtime/lifecycle.py
OWN_PACKAGES = ("core", "handlers", "storage", "demo", "emulator")
log = logs.get("cli") if MISSING is None else None


class Usage(Exception):
    """A command line that cannot be run: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Usage(f"{self.prog}: {message} (see {self.prog.split()[0]} --help)")


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], object] = lambda parser: None


# --- run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    settings = settings_or_exit(path)
    secret = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    configure_logs(settings)
    if not secret:
        raise StartFailure(EXIT_CONFIG, NO_TOKEN)
    warn_about_exposure(path)
    try:
        shipped()
        app = build_application(settings)
    except (CharterError, TipsError) as error:
        raise StartFailure(EXIT_CONFIG, f"cannot start: {error}") from None
    try:
        asyncio.run(lifecycle.serve(app))
    except StorageError as error:
        raise StartFailure(EXIT_DATABASE, f"database: {error}") from None
    return 0


def warn_about_exposure(path: Path) -> None:
    """A config file holding a secret must not be readable by others; root is not needed."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert log is not None
        log.warning("running_as_root", fix="run Vigie as its own system user (deploy/)")
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError:
        return
    holds_secret = any(line.strip().startswith(("token", "secret_token"))
                       for line in text.splitlines())
    if holds_secret and mode & (stat.S_IRGRP | stat.S_IROTH):
        assert log is not None
        log.warning("config.readable_by_others", path=str(path),
                    fix=f"chmod 600 {path}, or move the token to the EnvironmentFile")


# --- check -----------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    try:
        settings = checked_settings(config_path(args.config))
    except ConfigError as error:
        print_config_problems(error)
        print(check.config_failed(len(error.problems)).render("fr"))
        return EXIT_CONFIG
    configure_logs(settings, quiet=True)
    checklist = asyncio.run(_checklist(settings))
    language = settings.commune.language
    print(i18n.t(language, "check.title", commune=settings.commune.name))
    print(checklist.render(language))
    if checklist.blocked:
        print(i18n.t(language, "check.blocked"))
    return EXIT_CHECK_FAILED if checklist.failures else 0


async def _checklist(settings: Settings) -> check.Checklist:
    if settings.telegram.token is None:
        raise StartFailure(EXIT_CONFIG, NO_TOKEN)
    bot = Bot(settings.telegram.token.get_secret_value(),
              base_url=settings.telegram.api_base_url,
              base_file_url=settings.telegram.files_url)
    facts = database.inspect(settings.storage.database)
    store = None
    if facts.problem is None and facts.exists and facts.version:
        store = Store(settings.storage.database)
        await store.db.open(migrate_to=facts.version)  # read as it is: nothing migrated
    try:
        with contextlib.suppress(TelegramError):  # the checklist's token line says why
            await bot.initialize()
        return await check.run(settings, bot, store, facts)
    finally:
        await bot.shutdown()
        if store is not None:
            await store.close()


# --- backup and restore ----------------------------------------------------------------------


def run_backup(args: argparse.Namespace) -> int:
    settings = settings_or_exit(config_path(args.config))
    configure_logs(settings, quiet=True)
    source = settings.storage.database
    now = datetime.now(UTC)
    if args.path:
        target = Path(args.path)
        if target.is_dir():
            target = target / database.backup_name(now)
    else:
        target = backup_folder(settings) / database.backup_name(now)
    try:
        written = database.backup_file(source, target)
    except StorageError as error:
        raise StartFailure(EXIT_DATABASE, f"backup: {error}") from None
    print(f"backup written to {written}")
    if not args.path:
        for removed in database.prune(target.parent, settings.backup.keep_daily,
                                      settings.backup.keep_weekly, now,
                                      settings.commune.backup_retention_days):
            print(f"old backup removed: {removed.name}")
    if getattr(args, "compact", False):
        compact(settings)
    return 0


def backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="file or folder")
    parser.add_argument("--compact", action="store_true",
                        help="then VACUUM the database, so erased data leaves the file and "
                             "later purges give pages back (the bot must be stopped)")


def compact(settings: Settings) -> None:
    """`vigie backup --compact`, after the verified copy: VACUUM with the bot stopped."""
    target = settings.storage.database
    with sole_user(target) as alone:
        if not alone:
            raise StartFailure(lifecycle.EXIT_ANOTHER_INSTANCE,
                               f"Vigie is running with {target}: stop it first "
                               "(systemctl stop vigie), then compact.")
        try:
            before, after = database.compact_file(target)
        except StorageError as error:
            raise StartFailure(EXIT_DATABASE, f"compact: {error}") from None
    mib = 1024 * 1024
    print(f"database compacted: {before / mib:.1f} MiB → {after / mib:.1f} MiB")


def run_restore(args: argparse.Namespace) -> int:
    settings = settings_or_exit(config_path(args.config))
    configure_logs(settings, quiet=True)
    target = settings.storage.database
    source = Path(args.file)
    with sole_user(target) as alone:
        if not alone:
            raise StartFailure(lifecycle.EXIT_ANOTHER_INSTANCE,
                               f"Vigie is running with {target}: stop it first "
                               "(systemctl stop vigie), then restore.")
        try:
            if database.inspect(target).version:  # what is there now is kept, just in case
                database.backup_file(target, backup_folder(settings) / database.backup_name(
                    datetime.now(UTC), "-before-restore"))
            facts = database.restore_file(source, target)
        except StorageError as error:
            raise StartFailure(EXIT_DATABASE, f"restore: {error}") from None
    print(f"restored {source} into {target} (schema version {facts.version})")
    return 0


# --- the mairie's paperwork -----------------------------------------------------------------


def run_paperwork(args: argparse.Namespace) -> int:
    from handlers import paperwork

    settings = settings_or_exit(config_path(args.config))
    configure_logs(settings, quiet=True)
    return paperwork.cli(settings, args.kind, Path(args.path))


def paperwork_arguments(parser: argparse.ArgumentParser) -> None:
    from handlers import paperwork

    parser.add_argument("kind", choices=(*paperwork.KINDS, paperwork.ALL),
                        help="which document (tout: every one, into the folder PATH)")
    parser.add_argument("path", help="the PDF file to write (a folder with tout)")


# --- screening, for a commune trying its extra terms ----------------------------------------


def run_screen(args: argparse.Namespace) -> int:
    from core import screening

    config = ["--config", args.config] if args.config else []
    return screening.main([*config, *(f"--term={term}" for term in args.term)])


def screen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--term", action="append", default=[], metavar="FINDING:TERM",
                        help="one more term to try, e.g. insult:zinzin (repeatable)")


# --- demo ------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    from demo.walkthrough import run_demo as walkthrough

    return asyncio.run(walkthrough())


COMMANDS: dict[str, Command] = {
    "run": Command("run the bot (the default)", run),
    "demo": Command("a walk-through against the local Telegram emulator", run_demo),
    "check": Command("the checklist: what the scheme needs, each problem with its fix",
                     run_check),
    "backup": Command(
        "a verified online copy of the database (default: the backup folder, rotated)",
        run_backup,
        backup_arguments),
    "restore": Command(
        "put a backup back in place of the database (the bot must be stopped)",
        run_restore,
        lambda parser: parser.add_argument("file", help="a backup written by vigie backup")),
    "screen": Command(
        "screen one message per line from stdin: one JSON object per line "
        '({"findings": [...], "plate": ...})', run_screen, screen_arguments),
    "paperwork": Command(
        "the mairie's documents as PDF: registre, mention d'information, AIPD, protocol kit",
        run_paperwork, paperwork_arguments),
}


# --- shared ----------------------------------------------------------------------------------


def settings_or_exit(path: Path) -> Settings:
    """The settings, or exit 2 with one line per problem of the file (all of them)."""
    try:
        return checked_settings(path)
    except ConfigError as error:
        print_config_problems(error)
        raise SystemExit(EXIT_CONFIG) from None


def checked_settings(path: Path) -> Settings:
    """load_settings, then the sectors' polygon files; when the keys are wrong, the polygon
    files of the sectors that can be read are checked too, so one run lists everything."""
    try:
        settings = load_settings(path)
    except ConfigError as error:
        raise ConfigError(error.problems + _polygon_problems(path)) from None
    sector_polygons(settings.sectors)
    return settings


def _polygon_problems(path: Path) -> list[str]:
    import tomllib

    from core.settings import SectorSettings

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("sectors")
    except (OSError, ValueError):
        return []
    sectors = []
    for entry in raw if isinstance(raw, list) else []:
        try:
            sectors.append(SectorSettings(**entry))
        except (TypeError, ValueError):
            sectors.append(SectorSettings(name="?"))  # keeps each sector's index
    try:
        sector_polygons(sectors)
    except ConfigError as error:
        return error.problems
    return []


def print_config_problems(error: ConfigError) -> None:
    for problem in error.problems:
        print(f"config error: {problem}", file=sys.stderr)


def configure_logs(settings: Settings, quiet: bool = False) -> None:
    secret = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    level = "WARNING" if quiet and settings.logging.level in ("DEBUG", "INFO") else \
        settings.logging.level
    try:
        logs.configure(level, settings.logging.format, (secret,), settings.logging.file)
    except OSError as error:
        raise StartFailure(EXIT_CONFIG, f"cannot write the log file {settings.logging.file}: "
                           f"{error.strerror or error}") from None


def parser(prog: str = "vigie") -> argparse.ArgumentParser:
    top = _Parser(prog=prog, description="Vigie: the Telegram bot of a commune's "
                                         "citizen-vigilance scheme")
    top.add_argument("--config", help="TOML file (default: $VIGIE_CONFIG or ./config.toml)")
    top.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)  # older spelling
    commands = top.add_subparsers(dest="command", metavar="COMMAND",
                                  parser_class=_Parser)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        sub.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.arguments(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    prog = "vigie" if Path(sys.argv[0]).name == "vigie" else "bot.py"
    if MISSING is not None:
        name = MISSING.name or "a dependency"
        if name.split(".")[0] in OWN_PACKAGES:
            print(f"cannot start: Vigie's own module {name} is missing or broken: the "
                  "installation is incomplete (reinstall it)", file=sys.stderr)
        else:
            print(f"cannot start: {name} is not installed for {sys.executable}: run "
                  "python3 dev.py run, or pip install . in Vigie's folder", file=sys.stderr)
        return EXIT_CONFIG
    try:
        args = parser(prog).parse_args(argv)
        name = "demo" if args.demo else args.command or "run"
        return COMMANDS[name].run(args)
    except Usage as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    except StartFailure as failure:
        print(logs.redact(failure.line), file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: the log has the traceback (tokens redacted)
        assert log is not None
        log.exception("vigie.crashed")
        print(f"cannot go on: unexpected {type(error).__name__}, a bug (the log has the "
              "details: please report it)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
