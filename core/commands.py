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
    Command("signaler", ("report",), Action.REPORT),
    Command("mes_signalements", ("my_reports",), Action.MY_REPORTS),
    Command("secteur", ("sector",), Action.MY_SECTOR),
    Command("devenir_referent", ("become_referent",), Action.APPLY_REFERENT),
    Command("referents", (), Action.MANAGE_REFERENTS),
    Command("exclure", ("exclude",), Action.EXCLUDE),
    Command("reintegrer", ("reinstate",), Action.REINSTATE),
    Command("moderation", (), Action.MODERATION_LOG),
    Command("lier_secteur", ("link_sector",), Action.LINK_SECTOR),
    Command("delier_secteur", ("unlink_sector",), Action.UNLINK_SECTOR),
    Command("confidentialite", ("privacy",), Action.PRIVACY_NOTICE),
    Command("mes_donnees", ("my_data",), Action.MY_DATA),
    Command("supprimer_mes_donnees", ("erase_my_data",), Action.ERASE_MY_DATA),
    Command("annonce", ("notice",), Action.BROADCAST),
    Command("annonces", ("notices",), Action.BROADCAST_HISTORY),
    Command("alerte", ("alert",), Action.ALERT),
    Command("sondage", ("poll",), Action.POLL),
    Command("resultats", ("results",), Action.POLL_RESULTS),
    Command("conseil", ("tip",), Action.TIP),
    Command("conseils", ("tips",), Action.MANAGE_TIPS),
    Command("stats", (), Action.STATS),
    Command("rapport_annuel", ("annual_report",), Action.ANNUAL_REPORT),
    Command("export", (), Action.EXPORT),
    Command("journal", ("audit_log",), Action.AUDIT_LOG),
    Command("documents", ("paperwork",), Action.PAPERWORK),
    Command("demandes", ("requests",), Action.LIST_REQUESTS),
    Command("membres", ("members",), Action.LIST_MEMBERS),
    Command("exclus", ("excluded",), Action.LIST_EXCLUDED),
    Command("id", (), Action.SHOW_ID),
    Command("zone", ("area",), Action.SET_AREA),
    Command("rues", ("streets",), Action.SET_STREETS),
    Command("equipe", ("staff",), Action.MANAGE_STAFF),
    Command("secteurs", ("sectors",), Action.MANAGE_SECTORS),
    Command("langue", ("language",), Action.LANGUAGE),
    Command("quitter", ("leave",), Action.LEAVE_SCHEME),
    Command("annuler", ("cancel",), Action.CANCEL),
]


def command(action: Action) -> Command:
    return next(cmd for cmd in COMMANDS if cmd.action is action)
