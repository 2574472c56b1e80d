"""/signaler and what follows it: the wizard, triage by referents, the relay to the
liaison and its answers.

    buttons.py   every inline button of the flow, and the choices they carry
    draft.py     the report being written (ReportDraft), kept across restarts
    wizard.py    /signaler step by step, a referent's flag in a group, /mes_signalements
    details.py   a detail the reporter adds after sending (from /mes_signalements)
    triage.py    the referents' triage and dismissal; the triage timeout job
    liaison.py   statuses, reopening, the sector warning, contact, replies to the bot
    subjects.py  what each handler acts on, loaded from our records by its guard
    cards.py     the cards and their buttons, as outbox messages
    domain.py    the transactions: each report change with the messages it causes
"""

from __future__ import annotations

from core.services import VigieApp
from handlers.reports import details, liaison, triage, wizard
from handlers.reports.triage import sweep_triage

__all__ = ["register", "sweep_triage"]


def register(app: VigieApp) -> None:
    # The wizard comes first: while it runs, a text or a button belongs to it; then a
    # detail being written (before the replies to the bot's messages).
    for handler in (*wizard.handlers(), *details.handlers(), *triage.handlers(),
                    *liaison.handlers(app)):
        app.add_handler(handler)
