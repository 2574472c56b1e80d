"""Fences: waits on a state of the bot, never on time.

A test that asserts something did *not* happen ("nothing more was sent") must first know
that everything that could have made it happen is over. `quiescent` is that point: the
emulator holds no update the bot has not taken, the inbox has handled every stored update
(its "done" mark is committed with the conversation changes the update caused, after the
handler's direct replies), and the outbox has no row being sent and none due. A row due
later (a backoff, a 429 pause) is not waited for: the test says what it expects of those.

Each fence polls cheap reads (SQLite, the emulator's state) every `POLL` seconds and gives
up after `timeout` with a message that says what was still going on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.services import Services, services_of
from emulator import TelegramEmulator

T = TypeVar("T")
POLL = 0.01
SETTLED = ("delivered", "failed")


async def eventually(condition: Callable[[], Awaitable[T]], timeout: float = 10.0,  # noqa: ASYNC109
                     what: str | Callable[[], str] = "the condition") -> T:
    """Await `condition()` until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if loop.time() >= deadline:
            said = what() if callable(what) else what
            raise TimeoutError(f"{said} still false after {timeout:g} s")
        await asyncio.sleep(POLL)


async def updates_handled(app: Any, emu: TelegramEmulator,
                          timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Every update Telegram holds is stored and handled (the inbox then keeps no contents)."""
    store = services_of(app).store

    async def handled() -> bool:
        # Telegram first: once it holds nothing unconfirmed, everything is in the inbox.
        return not emu.pending_updates() and not (await store.inbox.counts())["pending"]

    await eventually(handled, timeout, "every update handled")


async def outbox_quiet(svc: Services, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """No outbox row is being sent and none is due now."""

    async def quiet() -> bool:
        # A send's task also runs its delivery hooks, which may queue a follow-up.
        if getattr(svc.outbox, "_in_flight", None):
            return False
        counts = await svc.store.outbox.counts()
        return not counts.get("sending") and not await svc.store.outbox.due(time.time(), 1)

    await eventually(quiet, timeout,
                     lambda: f"the outbox still busy ({svc.settings.outbox.time_scale}x)")


async def quiescent(app: Any, emu: TelegramEmulator, timeout: float = 10.0,  # noqa: ASYNC109
                    outbox: bool = True) -> None:
    """The quiescence fence: every update handled, then (unless `outbox=False`, e.g. while
    Telegram is down on purpose) nothing in the outbox being sent or due."""
    await updates_handled(app, emu, timeout)
    if outbox:
        await outbox_quiet(services_of(app), timeout)


async def outbox_idle(app: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Nothing pending or being sent in the outbox, due or not."""
    store = services_of(app).store
    last: dict[str, int] = {}

    async def idle() -> bool:
        # Replaced, not updated: a status seen once must not linger in the next look.
        last.clear()
        last.update(await store.outbox.counts())
        return not last.get("pending") and not last.get("sending")

    await eventually(idle, timeout, lambda: f"outbox still busy: {last}")


async def row_settled(svc: Services, row_id: int,
                      timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """The outbox row is delivered or failed."""

    async def settled() -> bool:
        row = await svc.store.outbox.get(row_id)
        return row is not None and row.status in SETTLED

    await eventually(settled, timeout, f"outbox row {row_id} settled")


async def jobs_idle(app: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """No JobQueue callback is running at this moment (APScheduler's asyncio executor keeps
    one future per running job; a job that has fired is no longer listed in `jobs()`)."""
    jobs = app.job_queue
    executor = jobs.scheduler._lookup_executor("default") if jobs is not None else None

    async def idle() -> bool:
        return not getattr(executor, "_pending_futures", ())

    await eventually(idle, timeout, "every running job finished")


async def button_answer(emu: TelegramEmulator, query: dict[str, Any]) -> dict[str, Any]:
    """The bot's answer to a button press (its toast or alert), once it has come."""

    def find() -> dict[str, Any] | None:
        return next((answer for answer in emu.callback_answers
                     if answer["callback_query_id"] == query["id"]), None)

    found: dict[str, Any] | None = await emu.wait_until(find)
    assert found is not None
    return found
