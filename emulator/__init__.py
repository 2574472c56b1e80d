"""A stateful Telegram Bot API emulator: the project's test double for Telegram.

    with TelegramEmulator(limits=Limits()) as emu:
        alice = emu.create_user("Alice", username="alice")
        bot = telegram.Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)

Standard library only; see TelegramEmulator, Person and Group for the test API.
"""

from emulator.emulator import DEFAULT_TOKEN, TelegramEmulator
from emulator.faults import Faults
from emulator.journal import Event
from emulator.limits import Limits
from emulator.people import Group, Person
from emulator.server import Call, Stats
from emulator.views import Mark, SentMessage

__all__ = [
    "DEFAULT_TOKEN",
    "Call",
    "Event",
    "Faults",
    "Group",
    "Limits",
    "Mark",
    "Person",
    "SentMessage",
    "Stats",
    "TelegramEmulator",
]
