"""The bot's commands: French names first, English aliases, and the action each one asks for.

Drives the CommandHandlers, /aide and the per-role command menus, so a command exists in
exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.permissions import Action


@dataclass(frozen=True)
class Command:
    name: str  # French, shown in menus
    aliases: tuple[str, ...]
    action: Action

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


COMMANDS: list[Command] = [
    Command("start", (), Action.START),
    Command("aide", ("help",), Action.HELP),
    Command("langue", ("language",), Action.LANGUAGE),
    Command("annuler", ("cancel",), Action.CANCEL),
]


def command(action: Action) -> Command:
    return next(cmd for cmd in COMMANDS if cmd.action is action)
