"""Backups a mairie can rely on: verified copies, rotation by day and week, a restore that
checks what it puts back and refuses while the bot runs, a copy before every migration."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.runtime.lifecycle import sole_user
from storage import Store
from storage.db import SCHEMA_VERSION, backup_files, backup_name, inspect, prune

pytestmark = pytest.mark.own_emulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN-never-logged"


def write_config(folder: Path, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(f"""
[telegram]
token = "{TOKEN}"
api_base_url = "http://127.0.0.1:9/bot"

[storage]
database = "{folder / 'vigie.db'}"

[[sectors]]
name = "Centre"

[logging]
level = "WARNING"
format = "json"
{extra}
""", encoding="utf-8")
    return config


def vigie(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=60)


def failure_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith('{"')]
    return line


async def make_database(path: Path, people: list[int], version: int | None = None) -> None:
    store = Store(path)
    await store.db.open(migrate_to=version)
    for user_id in people:
        await store.people.ensure(user_id, "fr")
    await store.close()


def people_of(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return sorted(row[0] for row in conn.execute("SELECT user_id FROM people"))


def test_rotation_keeps_the_newest_of_each_recent_day_and_week(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday
    made = []
    for days_ago in range(0, 60):  # two backups a day for two months
        for hour in (2, 14):
            moment = now - timedelta(days=days_ago) + timedelta(hours=hour - 12)
            if moment <= now:
                path = tmp_path / backup_name(moment)
                path.write_bytes(b"")
                made.append((moment, path))
    removed = prune(tmp_path, keep_daily=7, keep_weekly=4, now=now)
    kept = [moment for moment, _ in backup_files(tmp_path)]
    assert len(removed) + len(kept) == len(made)
    # One per day for the last 7 days (today's 02:00 copy: 14:00 is still to come)...
    days = {moment.date() for moment in kept}
    assert {now.date() - timedelta(days=n) for n in range(7)} <= days
    assert all(sum(1 for m in kept if m.date() == day) == 1 for day in days)
    # ...and the newest of each of the last 4 weeks (Sunday 14:00 for past weeks).
    older = sorted(m for m in kept if (now.date() - m.date()).days >= 7)
    assert [m.strftime("%a %H") for m in older] == ["Sun 14", "Sun 14"]
    # Nothing older than four weeks is left, so erased people are gone from backups then.
    assert min(kept) >= now - timedelta(weeks=4)
    # The age the privacy notice promises (commune.backup_retention_days) is a hard limit.
    prune(tmp_path, keep_daily=7, keep_weekly=4, now=now, max_age_days=10)
    assert min(moment for moment, _ in backup_files(tmp_path)) >= now - timedelta(days=10)


async def test_backup_then_restore_gives_the_same_data(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[backup]\nkeep_daily = 2\nkeep_weekly = 1\n')
    database = tmp_path / "vigie.db"
    await make_database(database, [101, 102, 103])
    done = vigie(config, "backup")
    assert done.returncode == 0, done.stderr
    (copy,) = [path for _, path in backup_files(tmp_path / "backups")]
    assert str(copy) in done.stdout and inspect(copy).version == SCHEMA_VERSION

    await make_database(database, [104])  # life goes on after the backup
    assert people_of(database) == [101, 102, 103, 104]
    restored = vigie(config, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert people_of(database) == [101, 102, 103]

    explicit = tmp_path / "elsewhere" / "copy.db"
    assert vigie(config, "backup", str(explicit)).returncode == 0
    assert people_of(explicit) == [101, 102, 103]


async def test_restore_refuses_while_the_bot_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "vigie.db"
    await make_database(database, [101])
    copy = tmp_path / "copy.db"
    assert vigie(config, "backup", str(copy)).returncode == 0
    with sole_user(database) as alone:  # what a running bot holds
        assert alone
        line = failure_line(vigie(config, "restore", str(copy)), 3)
    assert "stop it first" in line


async def test_restore_checks_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    await make_database(tmp_path / "vigie.db", [101])
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just words " * 200)
    assert "not a usable SQLite database" in failure_line(vigie(config, "restore", str(text)),
                                                          5)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    assert "not a Vigie database" in failure_line(vigie(config, "restore", str(other)), 5)
    newer = tmp_path / "newer.db"
    await make_database(newer, [])
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert "newer than this Vigie" in failure_line(vigie(config, "restore", str(newer)), 5)
    assert "no such file" in failure_line(vigie(config, "restore", str(tmp_path / "x.db")), 5)
    assert people_of(tmp_path / "vigie.db") == [101]  # untouched


async def test_backup_to_a_place_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    await make_database(tmp_path / "vigie.db", [101])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = failure_line(vigie(config, "backup", str(blocker / "sub" / "copy.db")), 5)
    assert "cannot write the backup" in line
    assert failure_line(vigie(write_config(tmp_path, f'[backup]\nfolder = "{blocker}"\n'),
                              "backup"), 5)
    assert not list(tmp_path.glob("**/.*.partial"))


async def test_a_backup_is_taken_before_any_migration(tmp_path: Path) -> None:
    database = tmp_path / "vigie.db"
    await make_database(database, [101, 102], version=SCHEMA_VERSION - 1)
    store = Store(database)
    store.db.backup_folder = tmp_path / "saved"
    await store.open()
    assert await store.db.schema_version() == SCHEMA_VERSION
    await store.close()
    (copy,) = [path for _, path in backup_files(tmp_path / "saved")]
    assert copy.name.endswith(f"-before-v{SCHEMA_VERSION}.db")
    assert inspect(copy).version == SCHEMA_VERSION - 1 and people_of(copy) == [101, 102]
    # Opening a current database takes no copy.
    await Store(database).open()
    assert len(backup_files(tmp_path / "saved")) == 1
