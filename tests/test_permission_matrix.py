"""The permission matrix, end to end: every command in core.commands.COMMANDS and every
button kind (core.buttons.Button.kinds), for every role, in private, in a sector group and
in an unlinked group, through the emulator to the real bot. Exactly the cells that
`permissions.check` allows act; every other one is refused with the reason it names.

The engine is testing/permission_matrix.py; `python3 dev.py bench permission_matrix`
prints the table; tests/test_permissions.py checks the table of rules itself, without the
bot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.buttons import Button
from core.commands import COMMANDS
from testing.permission_matrix import BUTTONS, KINDS, ROLES, button_kinds, run_matrix


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
    assert {kind.prefix for kind in Button.kinds.values()} <= set(labels)
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


def test_every_button_kind_has_a_matrix_row() -> None:
    """Quick, without the bot: a button class the matrix cannot point at a real subject
    stops it (the slow test above then refuses to start, with the same message)."""
    missing = [f"{kind.__module__}.{kind.__name__}" for kind in button_kinds()
               if kind not in BUTTONS]
    assert not missing, f"add these button kinds to testing/permission_matrix.BUTTONS: {missing}"
