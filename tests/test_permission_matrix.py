"""The permission matrix, end to end: every command in core.commands.COMMANDS and every
button the application registers, for every role, in private, in a sector group and in an
unlinked group, through the emulator to the real bot. Exactly the cells that
`permissions.check` allows act; every other one is refused with the reason it names.

The engine and the one-command printer are in bench/permission_matrix.py
(`python3 dev.py bench permission_matrix`); tests/test_permissions.py checks the table of
rules itself, without the bot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.permission_matrix import KINDS, ROLES, run_matrix
from core.commands import COMMANDS


@pytest.mark.timeout(300)
async def test_exactly_the_allowed_roles_act_in_every_chat(tmp_path: Path) -> None:
    matrix = await run_matrix(tmp_path)
    print(matrix.table())
    problems = matrix.problems()
    assert not problems, "\n".join(problems)

    # Nothing was skipped: every command and every registered button is a row, every row
    # has a cell for every role in every kind of chat.
    labels = [row.label for row in matrix.rows]
    assert {f"/{cmd.name}" for cmd in COMMANDS} <= set(labels)
    assert not matrix.uncovered_patterns and not matrix.stale_rows
    cells = {(r.row, r.role, r.kind) for r in matrix.results}
    assert len(cells) == len(matrix.results) == len(labels) * len(ROLES) * len(KINDS)

    # Not vacuous: each row with a handler acts for someone (a broken subject, or a flow
    # that no longer offers its button, would otherwise be refused everywhere, quietly).
    acted = {r.row for r in matrix.results if r.observed == "acted"}
    idle = [row.label for row in matrix.rows if row.registered and row.label not in acted]
    assert not idle, f"rows where nobody acted: {idle}"
    # A command without a handler yet answers "unknown command" to everyone (and warns).
    for result in matrix.results:
        if result.row in matrix.unregistered:
            assert result.answer == "fallback.unknown_command", result
