"""The staff's desk: the referents' and officials' lists of people, and /id.

    flow.py     /demandes, /membres, /exclus, /id and the lists' buttons; register(app)
    lists.py    each list, a page at a time, with the buttons the presser may use
    domain.py   what a list button acts on, and the charter reminder
    buttons.py  the button kinds
"""

from handlers.desk.flow import register

__all__ = ["register"]
