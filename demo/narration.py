"""Every word the demo itself prints, in one table (French: the demo is shown to mairies).

These are the narration of a developer tool, not texts of the bot: the bot's own words come
from its catalogues (locales/), and the transcript shows them exactly as Telegram carried
them. The scripted people's own words (what they type) are in demo/walkthrough.py.
"""

from __future__ import annotations

from typing import Final

# Step titles, in the order the walk-through plays them.
STEPS: Final = {
    "setup": "1. L'élue installe le bot : chaque groupe Telegram est relié à son secteur",
    "roland": "2. Inscription de Roland : charte, secteur, demande d'entrée acceptée par l'élue",
    "referent": "3. Roland se propose comme référent du Centre-bourg ; l'élue accepte",
    "alice": "4. Inscription d'Alice : charte, secteur et rue ; son référent accepte sa demande",
    "bob": "5. Bob a trouvé le lien du groupe des Hauts avant de parler au bot",
    "refused": "6. Une commande réservée aux élus, essayée par une habitante",
    "report": "7. Alice signale un véhicule suspect ; Roland, référent, le transmet",
    "liaison": "8. La gendarmerie répond : un commentaire, la patrouille, puis la clôture",
    "direct": "9. Aux Hauts, pas encore de référent : le signalement de Bob va droit à la "
              "gendarmerie",
    "notice": "10. L'élue annonce une réunion publique, épinglée, avec son rapport de diffusion",
    "followup": "11. L'élue donne une suite à l'annonce, puis clôt l'envoi",
    "poll": "12. Un sondage dans les groupes, les votes, puis les résultats",
    "moderation": "13. Modération : un message insultant retiré du groupe et rendu à son auteur",
    "tip": "14. Alice demande un conseil de prévention",
    "stats": "15. Les chiffres du dispositif : /stats et son graphique",
    "annual": "16. Le bilan annuel en PDF, pour le conseil municipal",
}

# A line of explanation under some steps' titles, for what the transcript cannot show.
NOTES: Final = {
    "bob": "Le bot écrit à Bob dans les 5 minutes que Telegram lui accorde après une demande "
           "d'entrée : la charte d'abord, puis la demande part à l'élue.",
    "moderation": "Le message quitte le groupe, mais rien n'est perdu : son auteur le reçoit, "
                  "mot pour mot, avec la règle de la charte en cause.",
    "annual": "Deux signalements seulement : le bilan écrit « < 3 », car tout effectif plus "
              "petit que 3 est masqué pour que personne ne puisse être reconnu.",
}
NOTE: Final = "ℹ {text}"

TITLE: Final = "Vigie — démonstration : une commune, ses habitants, son bot"
INTRO: Final = (
    "Tout se passe sur cette machine : un Telegram simulé, le vrai bot, des habitants joués "
    "par un script.\nChaque ligne : l'heure depuis le début, qui écrit à qui, ce qui est "
    "écrit ou touché.\nTextes longs coupés ici ; la transcription complète est enregistrée "
    "(voir la fin)."
)
END: Final = "Fin de la démonstration : tout s'est passé sur cette machine, sans compte Telegram."
FILES: Final = "Fichiers enregistrés :"
FILE_LABELS: Final = {
    "stats": "graphique de /stats",
    "annual": "bilan annuel (PDF)",
    "transcript": "transcription complète",
}

# Who and where, in the transcript's lines.
BOT: Final = "bot"
THE_BOT: Final = "le bot"
PRIVATE: Final = "bot (privé)"
GROUP: Final = "groupe « {title} »"
# The cast's roles, shown after their names.
ROLES: Final = {
    "official": "{name}, élue",
    "liaison": "{name}, gendarme",
    "referent": "{name}, référent",
}

# What happened, when it is not a text.
EDITED: Final = "(modifié)"
BUTTONS_CHANGED: Final = "(modifié : boutons)"
BUTTONS_REMOVED: Final = "(modifié : boutons retirés)"
PRESSED: Final = "appuie sur [{label}]"
UNKNOWN_BUTTON: Final = "appuie sur un bouton"
TOAST: Final = "(notification) {text}"
JOIN_REQUEST: Final = "demande à rejoindre le groupe (lien d'invitation)"
JOINED: Final = "entre dans le groupe"
LEFT: Final = "quitte le groupe"
ADDED: Final = "ajoute {who} au groupe"
REMOVED_FROM: Final = "retire {who} du groupe"
RESTRICTED: Final = "🔇 {who} ne peut plus écrire dans le groupe pour l'instant"
BANNED: Final = "⛔ {who} est exclu du groupe"
DELETED: Final = "✂ retire le message de {who} : « {text} »"
DELETED_OWN: Final = "✂ retire son message : « {text} »"
PINNED: Final = "📌 épingle : « {text} »"
UNPINNED: Final = "📌 désépingle : « {text} »"
VOTE: Final = "vote « {option} » (sondage anonyme : le bot ne reçoit que les totaux)"
REPLY: Final = "↩ en réponse à « {text} »"
PHOTO: Final = "📷 photo"
DOCUMENT: Final = "📄 {name}"
LOCATION: Final = "📍 position partagée"
STICKER: Final = "autocollant {emoji}"
POLL: Final = "📊 sondage : {question}"
POLL_CLOSED: Final = "📊 sondage clos : {question}"
POLL_OPTION: Final = "○ {option}"
FORWARDED: Final = "(transféré)"
SAME: Final = "(même texte que plus haut : « {text} »)"
OTHER: Final = "<{kind}>"
ELLIPSIS: Final = "…"
