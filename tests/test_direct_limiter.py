"""Direct replies: a 429 about one chat pauses that chat only (core/runtime/limiter.py).

PTB's own limiter would hold every answer while one resident's chat waits out its 429;
with updates handled side by side, one fast writer would stall the whole commune.
"""

from __future__ import annotations

from telegram.ext import Application

from testing.fences import eventually
from tests.conftest import SCALE, Commune, fr

# Telegram's seconds (scaled by the emulator): long enough that the other person's whole
# update is handled inside the pause, however loaded the machine.
PAUSE = 40


async def test_a_429_in_one_private_chat_does_not_hold_the_others(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice, bob, emu = commune.alice, commune.bob, commune.emu
    help_title = fr("help.title")

    async def refused_once() -> bool:
        return any(call.status == 429 for call in emu.calls if call.method == "sendMessage")

    emu.faults.retry_after(PAUSE, method="sendMessage")  # the next answer: Alice's
    alice.send_command("/aide")
    await eventually(refused_once, what="Alice's answer refused with a 429")
    bob.send_command("/aide")
    await bob.wait_for()  # answered (in English) while Alice's chat still waits
    assert not [m for m in alice.inbox() if help_title in (m.text or "")]
    await alice.wait_for(text=help_title, timeout=3 * PAUSE / SCALE)
