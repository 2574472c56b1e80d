#!/usr/bin/env python3
"""Self-setting-up entry point: creates .venv, installs pinned dependencies, runs a task.

    python3 dev.py run [bot.py options]   start the bot (config.toml, token from the environment)
    python3 dev.py demo                   watch a scripted walk-through against the local emulator
    python3 dev.py test [pytest options]  lint, then the whole test suite, offline
    python3 dev.py bench [name]           run the benchmarks in bench/
    python3 dev.py screen [--config F]    screen one message per line from stdin (JSON out)
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
import time
import tomllib
from collections.abc import Callable
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


WORKERS = 3
# Run before the suite, in this order, each failing the run (see CONTRIBUTING.md).
GATES = (
    ("lint (ruff)", ("-m", "ruff", "check", "--quiet", ".")),
    ("type check (mypy, strict on core/, storage/, handlers/)", ("-m", "mypy")),
    ("layering contracts (import-linter)",
     ("-c", "from importlinter.cli import lint_imports_command as lint; lint()", "--no-cache")),
)


def requirements(with_tests: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    if with_tests:
        reqs += project["optional-dependencies"]["test"]
    return reqs


def env_digest(with_tests: bool) -> str:
    reqs = requirements(with_tests)
    return hashlib.sha256(
        "\n".join([sys.version, *reqs, (ROOT / "constraints.txt").read_text()]).encode()
    ).hexdigest()


def env_ready(with_tests: bool) -> bool:
    """The venv holds these pins (an install with the tests also serves a plain run)."""
    enough = {env_digest(True)} if with_tests else {env_digest(False), env_digest(True)}
    return STAMP.exists() and bool(enough & set(STAMP.read_text().split()))


def ensure_env(with_tests: bool) -> None:
    reqs = requirements(with_tests)
    if env_ready(with_tests):
        return
    if not PYTHON.exists():
        print("[dev] creating .venv", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise SetupFailed("cannot create .venv: install the venv module "
                              "(Debian/Ubuntu: sudo apt install python3-venv), then retry")
    print("[dev] installing pinned dependencies (first run only)", flush=True)
    installed = subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(ROOT / "constraints.txt"), *reqs],
    )
    if installed.returncode != 0:
        raise SetupFailed("installing the dependencies failed; pip's lines above say why "
                          "(no network or proxy to pypi.org, or pins that conflict in "
                          "pyproject.toml / constraints.txt)")
    STAMP.write_text(env_digest(with_tests))


class SetupFailed(Exception):
    """The environment could not be made: one line, exit 2 (like a configuration problem)."""


def exec_python(*args: str) -> int:
    """Become the venv's python running `args`: signals (systemd's SIGTERM, Ctrl-C) reach
    the bot itself, and no child is left behind when this process is stopped."""
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(PYTHON), [str(PYTHON), *args])
    return 0  # not reached: execv replaces this process


def run_python(*args: str) -> int:
    return subprocess.call([str(PYTHON), *args], cwd=ROOT)


def timed(run: Callable[[], int]) -> int:
    """Run a child process and print its wall time and CPU time (user + system, children
    included): a suite that mostly waits shows a wall time far above its CPU time."""
    before, started = _children_cpu(), time.monotonic()
    code = run()
    wall, cpu = time.monotonic() - started, _children_cpu() - before
    print(f"[dev] tests: wall {wall:.1f} s, CPU {cpu:.1f} s (wall/CPU {wall / max(cpu, 0.01):.2f})",
          flush=True)
    return code


def _children_cpu() -> float:
    if os.name == "nt":  # no getrusage: the CPU time is not reported there
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def task_test(args: list[str]) -> int:
    ensure_env(with_tests=True)
    if not args:
        for gate, command in GATES:
            if run_python(*command) != 0:
                print(f"[dev] {gate} failed: fix the lines above", file=sys.stderr)
                return 1
    TEST_LOG.parent.mkdir(exist_ok=True)
    TEST_LOG.write_text("")
    # The whole suite runs on WORKERS processes (it mostly waits on the emulator's scaled
    # time); one file or one test, as given, runs in this process, for readable output.
    pytest_args = args or ["-n", str(WORKERS)]
    code = timed(lambda: run_python("-m", "pytest", *pytest_args))
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
    try:
        return tasks(argv)
    except SetupFailed as failure:
        print(f"[dev] {failure}", file=sys.stderr)
        return 2


def tasks(argv: list[str]) -> int:
    task, args = (argv[0], argv[1:]) if argv else ("help", [])
    # Long-running tasks hand the process over (exec) rather than waiting for a child.
    if task == "run":
        ensure_env(with_tests=False)
        return exec_python("bot.py", *args)
    if task == "demo":
        ensure_env(with_tests=False)
        return exec_python("bot.py", "demo", *args)
    if task == "test":
        return task_test(args)
    if task == "bench":
        ensure_env(with_tests=True)
        return exec_python("-m", "bench", *args)
    if task == "screen":  # one message per line on stdin, one JSON object per line out
        ensure_env(with_tests=False)
        return exec_python("-c", "import sys; from core.screening import main; "
                           "sys.exit(main(sys.argv[1:]))", *args)
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
