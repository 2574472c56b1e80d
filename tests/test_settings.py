"""Settings: the public keys, environment overrides, and one clear line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert [s.name for s in settings.sectors] == ["Centre-bourg", "Les Hauts", "La Vallée"]
    assert settings.telegram.mode == "polling"
    assert settings.commune.language == "fr"


def test_environment_overrides_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[commune]\nname = "A"\n[storage]\ndatabase = "x.db"\n')
    monkeypatch.setenv("VIGIE_TELEGRAM__TOKEN", "42:secret")
    monkeypatch.setenv("VIGIE_STORAGE__DATABASE", "/tmp/other.db")
    settings = load_settings(path)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "42:secret"
    assert "42:secret" not in repr(settings)
    assert settings.storage.database == Path("/tmp/other.db")
    assert settings.commune.name == "A"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[commune]\nnmae = "A"\n', "commune.nmae: unknown key"),
        ('[roles]\nofficials = ["abc"]\n', "roles.officials[0]:"),
        ('[[sectors]]\ngeojson = "a.json"\n', "sectors[0].name: required key is missing"),
        ('[[sectors]]\nname = "Nord"\n[[sectors]]\nname = "nord "\n', "duplicate sector name"),
        ('[telegram]\nmode = "carrier-pigeon"\n', "telegram.mode:"),
        ('[telegram]\nmode = "webhook"\n', "webhook mode needs"),
        ("[commune\n", "not valid TOML"),
        ('[tips]\nschedule = ["0 25 * * *"]\n', "tips.schedule: '0 25 * * *' is not"),
        ('[tips]\nquiet_hours = "22h-7h"\n', "tips.quiet_hours:"),
        ('[tips]\nschool_zone = "D"\n', "tips.school_zone:"),
    ],
)
def test_invalid_files_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    assert any(expected in line for line in raised.value.problems), raised.value.problems


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    text = '[commune]\nnmae = 1\n[roles]\nadmins = "x"\n[[sectors]]\nname = ""\n'
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    assert len(raised.value.problems) == 3


def run_bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bot.py", *args], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60,
    )


def test_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(tmp_path, '[commune]\nnmae = "A"\n[[sectors]]\ngeojson = "x"\n')
    result = run_bot("--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"config error: {path}: commune.nmae: unknown key",
        f"config error: {path}: sectors[0].name: required key is missing",
    ]


def test_missing_token_exits_2_and_says_how_to_get_one(tmp_path: Path) -> None:
    result = run_bot("--config", str(write(tmp_path, '[commune]\nname = "A"\n')))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "@BotFather" in result.stderr and "VIGIE_TELEGRAM__TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_bot("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "config.example.toml" in result.stderr
