"""The permission matrix as a table: every command and every button kind, for every role,
in each kind of chat, through the emulator to the real bot.

    python3 dev.py bench permission_matrix

The engine (the world, the rows, the cells) is `testing.permission_matrix`;
tests/test_permission_matrix.py asserts what this prints.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from core import logs
from testing.permission_matrix import run_matrix


async def main() -> None:
    logs.configure("ERROR", "console")
    with tempfile.TemporaryDirectory() as folder:
        matrix = await run_matrix(Path(folder))
    print(matrix.table())
    for problem in matrix.problems():
        print(f"  ✗ {problem}")
