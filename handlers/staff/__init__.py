"""The commune's team, live: officials, administrators and the liaison chat (/equipe).

    flow.py     /equipe, its buttons, Telegram's pickers answered; register(app)
    screen.py   the team as shown now (names from Telegram), with the buttons one may use
    domain.py   appointing, dismissing, setting the liaison: checked, stored, audited,
                applied at once (svc.reload_roles), the people concerned told
    buttons.py  the button kinds, and the pickers' request ids
"""

from handlers.staff.flow import register

__all__ = ["register"]
