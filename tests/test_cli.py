"""The command line in real processes: every start failure is one line with its documented
exit code and never the token; SIGTERM to `dev.py run` stops the bot itself; Telegram
unreachable at start is waited for.

    2 configuration or usage · 3 another instance · 4 token refused · 5 database
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import dev
from bench.kill_drill import polling_again
from emulator import TelegramEmulator

# Bot processes of their own: a private emulator each, never the run's shared one.
pytestmark = pytest.mark.own_emulator

ROOT = Path(__file__).resolve().parent.parent
WRONG_TOKEN = "987654:WRONG-token-that-must-never-show"


def clean_env() -> dict[str, str]:
    """Only the test's configuration applies: no VIGIE_* from the environment."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}


def write_config(folder: Path, emu: TelegramEmulator | None, *, token: str | None = None,
                 database: Path | str | None = None, extra: str = "") -> Path:
    api = emu.base_url if emu else "http://127.0.0.1:9/bot"
    files = emu.base_file_url if emu else "http://127.0.0.1:9/file/bot"
    token = token or (emu.token if emu else "123456:TEST-TOKEN-never-logged")
    config = folder / "config.toml"
    config.write_text(f"""
[telegram]
token = "{token}"
api_base_url = "{api}"
file_base_url = "{files}"

[storage]
database = "{database or folder / 'vigie.db'}"

[commune]
name = "Essai"

[[sectors]]
name = "Centre"

[roles]
officials = [11]
liaison_chat_id = 12

[tips]
schedule = []

[outbox]
time_scale = 10.0

[logging]
format = "json"
file = "{folder / 'bot.log'}"
{extra}
""", encoding="utf-8")
    config.chmod(0o600)
    return config


def vigie(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, env=clean_env(), timeout=timeout)


def one_line(result: subprocess.CompletedProcess[str], code: int, folder: Path,
             secret: str) -> str:
    """The failure's single stderr line, after checking the code and that no secret shows."""
    assert result.returncode == code, (result.returncode, result.stderr)
    # The log also goes to stderr (JSON lines, the journal's); the failure is one plain line.
    lines = [line for line in result.stderr.strip().splitlines()
             if not line.startswith('{"')]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    log = folder / "bot.log"
    for text in (result.stdout, result.stderr,
                 log.read_text(encoding="utf-8") if log.exists() else ""):
        assert secret not in text
        assert secret.split(":")[1] not in text
    return lines[0]


def test_help_lists_every_sub_command() -> None:
    result = vigie("--help")
    assert result.returncode == 0
    for name in ("run", "demo", "check", "backup", "restore", "screen", "paperwork"):
        assert name in result.stdout


def test_screen_reads_lines_and_writes_one_json_object_each() -> None:
    lines = "une camionnette blanche rue Victor-Hugo vers 14h30\nzinzin, GSM 0470/12.34.56\n"
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "screen",
                             "--term", "insult:zinzin"], input=lines, cwd=ROOT,
                            capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"findings": [], "plate": None}, {"findings": ["insult", "phone"], "plate": None}]


def test_paperwork_writes_every_document(tmp_path: Path) -> None:
    config = write_config(tmp_path, None)
    result = vigie("--config", str(config), "paperwork", "tout", str(tmp_path / "docs"))
    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in (tmp_path / "docs").iterdir())
    assert written == ["vigie-aipd.pdf", "vigie-mention.pdf", "vigie-protocole.pdf",
                       "vigie-registre.pdf"]
    assert all((tmp_path / "docs" / name).read_bytes().startswith(b"%PDF") for name in written)


@pytest.mark.parametrize(("argv", "expected"), [
    (["restore"], "the following arguments are required: file"),
    (["frobnicate"], "invalid choice"),
    (["backup", "a", "b"], "unrecognized arguments"),
])
def test_usage_errors_are_one_line_exit_2(argv: list[str], expected: str) -> None:
    result = vigie(*argv)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert expected in line and "--help" in line


def test_config_problems(tmp_path: Path) -> None:
    missing = vigie("--config", str(tmp_path / "nope.toml"))
    assert "config.example.toml" in one_line(missing, 2, tmp_path, WRONG_TOKEN)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "is a folder" in one_line(vigie("--config", str(folder)), 2, tmp_path, WRONG_TOKEN)
    broken = tmp_path / "broken.toml"
    broken.write_text("[commune\n")
    assert "not valid TOML" in one_line(vigie("--config", str(broken)), 2, tmp_path,
                                        WRONG_TOKEN)


def test_a_misspelt_timezone_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, None, token=WRONG_TOKEN,
                          extra='[backup]\nkeep_daily = 3\n')
    text = config.read_text().replace('name = "Essai"', 'name = "Essai"\ntimezone = '
                                                       '"Europe/Pariss"')
    config.write_text(text)
    line = one_line(vigie("--config", str(config)), 2, tmp_path, WRONG_TOKEN)
    assert "commune.timezone" in line and "Europe/Pariss" in line


def test_every_problem_of_a_file_in_one_run(tmp_path: Path) -> None:
    """A duplicate sector is reported with the other problems, not after they are fixed."""
    config = tmp_path / "config.toml"
    config.write_text('[commune]\nnmae = "A"\ntimezone = "Mars/Olympus"\n'
                      '[[sectors]]\nname = "Nord"\n[[sectors]]\nname = "nord "\n')
    result = vigie("--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert any("commune.nmae: unknown key" in line for line in lines)
    assert any("commune.timezone" in line for line in lines)
    assert any("duplicate sector name" in line for line in lines)


def test_a_token_telegram_refuses_exits_4_without_showing_it(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator, token=WRONG_TOKEN)
    line = one_line(vigie("--config", str(config)), 4, tmp_path, WRONG_TOKEN)
    assert "refused the bot token" in line


def test_database_problems_exit_5(emulator: TelegramEmulator, tmp_path: Path) -> None:
    token = emulator.token
    folder = tmp_path / "db-is-a-folder"
    folder.mkdir()
    config = write_config(tmp_path, emulator, database=folder)
    assert "database" in one_line(vigie("--config", str(config)), 5, tmp_path, token)

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x17" * 8192)
    config = write_config(tmp_path, emulator, database=corrupt)
    assert "database" in one_line(vigie("--config", str(config)), 5, tmp_path, token)

    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("CREATE TABLE sectors (id INTEGER PRIMARY KEY)")
        conn.execute("PRAGMA user_version = 999")
    config = write_config(tmp_path, emulator, database=newer)
    line = one_line(vigie("--config", str(config)), 5, tmp_path, token)
    assert "newer than this Vigie" in line


def test_a_database_folder_that_cannot_be_made_exits_5(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = write_config(tmp_path, emulator, database=blocker / "sub" / "vigie.db")
    line = one_line(vigie("--config", str(config)), 5, tmp_path, emulator.token)
    assert str(blocker) in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_exits_5(emulator: TelegramEmulator, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "ro.db"
    sqlite3.connect(database).close()
    config = write_config(tmp_path, emulator, database=database)
    database.chmod(0o400)
    folder.chmod(0o500)
    try:
        result = vigie("--config", str(config))
    finally:
        folder.chmod(0o700)
    one_line(result, 5, tmp_path, emulator.token)


def log_events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


async def wait_for_event(path: Path, name: str, seconds: float = 60) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        for event in log_events(path):
            if event.get("event") == name:
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {name} in {path}")


def start(args: list[str], folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "stderr").open("ab") as errors:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=errors)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(120)
async def test_sigterm_to_dev_run_stops_the_bot_and_leaves_no_process(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    if not dev.env_ready(with_tests=False):
        pytest.skip("the venv's stamp is stale: run python3 dev.py test once (it installs)")
    config = write_config(tmp_path, emulator)
    process = start([str(ROOT / "dev.py"), "run", "--config", str(config)], tmp_path)
    try:
        await polling_again(emulator, 0)
        # dev.py became the bot (exec): the process we started is bot.py itself.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        assert "bot.py" in cmdline and "dev.py" not in cmdline
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0
    assert processes_mentioning(str(config)) == []
    assert await wait_for_event(tmp_path / "bot.log", "vigie.stopped")


@pytest.mark.timeout(120)
async def test_telegram_unreachable_at_start_is_retried_then_the_bot_starts(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator)
    emulator.faults.outage("5xx")
    process = start([str(ROOT / "bot.py"), "--config", str(config)], tmp_path)
    try:
        log = tmp_path / "bot.log"
        await wait_for_event(log, "telegram.unreachable")
        first_tries = [e for e in log_events(log) if e.get("event") == "telegram.unreachable"]
        assert first_tries[0]["attempt"] == 1
        emulator.faults.clear()
        await wait_for_event(log, "vigie.started")
        await polling_again(emulator, 0)
        # The start-up checklist: each ✗ a warning (official 11 and liaison 12 never
        # started the bot, the sector has no group), ids only.
        await wait_for_event(log, "check.changed")
        failed = {e["item"] for e in log_events(log) if e.get("event") == "check.failed"}
        assert failed == {"reach:11", "reach:12", "sector:Centre"}
        assert process.poll() is None  # it did not die meanwhile
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    attempts = [e["attempt"] for e in log_events(tmp_path / "bot.log")
                if e.get("event") == "telegram.unreachable"]
    assert attempts == list(range(1, len(attempts) + 1))  # one line per attempt
    assert emulator.token not in (tmp_path / "bot.log").read_text(encoding="utf-8")
    errors = (tmp_path / "stderr").read_text()
    assert "Traceback" not in errors and emulator.token not in errors


def test_dev_setup_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A failed dependency install ends `dev.py run` with one line, not a traceback."""
    def refuse(with_tests: bool) -> None:
        raise dev.SetupFailed("installing the dependencies failed (pip's lines above)")

    monkeypatch.setattr(dev, "ensure_env", refuse)
    assert dev.main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["[dev] installing the dependencies failed (pip's lines above)"]


def test_a_bad_polygon_file_is_listed_with_the_other_problems(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[commune]\nnmae = "A"\n'
                      f'[[sectors]]\nname = "Nord"\ngeojson = "{tmp_path / "none.geojson"}"\n')
    result = vigie("--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "commune.nmae: unknown key" in lines[0] and "sectors[0].geojson" in lines[1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd here")
def test_the_service_files_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """deploy/ as shipped, with ExecStart pointed at a stand-in for /opt/vigie's vigie
    (verify also checks that the program exists)."""
    stand_in = tmp_path / "vigie"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    units = []
    for name in ("vigie.service", "vigie-backup.service", "vigie-backup.timer"):
        text = (ROOT / "deploy" / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/vigie/.venv/bin/vigie", str(stand_in)))
        units.append(str(tmp_path / name))
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
