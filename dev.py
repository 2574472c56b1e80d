#!/usr/bin/env python3
"""Self-setting-up entry point: creates .venv, installs pinned dependencies, runs a task.

    python3 dev.py run [bot.py options]   start the bot (config.toml, token from the environment)
    python3 dev.py demo                   watch a scripted walk-through against the local emulator
    python3 dev.py test [pytest options]  lint, then the whole test suite, offline
    python3 dev.py bench [name]           run the benchmarks in bench/
    python3 dev.py freeze                 rewrite constraints.txt from the environment

Only the standard library is used here, so it runs on a bare Python 3.11.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before any environment exists
    sys.exit("Vigie needs Python 3.11 or newer (python3 --version).")

import hashlib
import os
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".vigie-deps"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
# The test run writes every log line here; after the suite, no secret may appear in it.
TEST_LOG = ROOT / "test-logs" / "vigie.log"
TEST_TOKENS = ("123456:TEST-TOKEN-never-logged",)
# Names of the tests' people (tests/conftest.py) and words of their reports: a log line
# carrying any of them leaks personal data.
TEST_PERSONAL = ("Alice", "Martin", "Odile", "odile_maire", "Gaston", "adj_gaston", "Carole",
                 "adam_it", "Clio grise", "Camionnette", "rue des Lilas")


def requirements(with_tests: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    if with_tests:
        reqs += project["optional-dependencies"]["test"]
    return reqs


def ensure_env(with_tests: bool) -> None:
    reqs = requirements(with_tests)
    digest = hashlib.sha256(
        "\n".join([sys.version, *reqs, (ROOT / "constraints.txt").read_text()]).encode()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PYTHON.exists():
        print("[dev] creating .venv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print("[dev] installing pinned dependencies (first run only)", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(ROOT / "constraints.txt"), *reqs],
        check=True,
    )
    STAMP.write_text(digest)


def run_python(*args: str) -> int:
    return subprocess.call([str(PYTHON), *args], cwd=ROOT)


def task_test(args: list[str]) -> int:
    ensure_env(with_tests=True)
    if not args and run_python("-m", "ruff", "check", "--quiet", ".") != 0:
        print("[dev] lint failed (ruff): fix the lines above", file=sys.stderr)
        return 1
    TEST_LOG.parent.mkdir(exist_ok=True)
    TEST_LOG.write_text("")
    code = run_python("-m", "pytest", *args)
    logged = TEST_LOG.read_text(encoding="utf-8", errors="replace")
    if any(token in logged for token in TEST_TOKENS):
        print(f"[dev] a bot token appears in {TEST_LOG}: logging redaction is broken",
              file=sys.stderr)
        return 1
    leaked = [word for word in TEST_PERSONAL if word in logged]
    if leaked:
        print(f"[dev] personal data appears in {TEST_LOG}: {', '.join(leaked)}",
              file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    task, args = (argv[0], argv[1:]) if argv else ("help", [])
    if task == "run":
        ensure_env(with_tests=False)
        return run_python("bot.py", *args)
    if task == "demo":
        ensure_env(with_tests=False)
        return run_python("bot.py", "--demo", *args)
    if task == "test":
        return task_test(args)
    if task == "bench":
        ensure_env(with_tests=True)
        return run_python("-m", "bench", *args)
    if task == "freeze":
        ensure_env(with_tests=True)
        return run_python("dev.py", "--freeze-inside")
    if task == "--freeze-inside":  # runs inside .venv: keep only transitive pins
        direct = {r.split("[")[0].split("=")[0].lower() for r in requirements(True)}
        frozen = subprocess.run([sys.executable, "-m", "pip", "freeze"],
                                capture_output=True, text=True, check=True).stdout.split()
        keep = [line for line in frozen if line.split("==")[0].lower() not in direct]
        header = ("# Transitive dependency pins (name==version only). "
                  "Regenerate with: python3 dev.py freeze\n")
        body = "\n".join(sorted(keep, key=str.lower))
        (ROOT / "constraints.txt").write_text(f"{header}{body}\n")
        return 0
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
