"""`python bot.py --demo`: the real bot, a demo commune in the local emulator, a script.

Everything runs on this machine: the Telegram emulator, the bot polling it over HTTP, and
a scripted cast pressing real buttons. After each step the narrator prints, chat by chat,
what each person saw. No Telegram account, no token, no network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import Settings
from emulator import Group, Limits, Person, SentMessage, TelegramEmulator
from testing.local import local_settings
from testing.scripts import (
    CHARTER_QUESTION,
    compose_broadcast,
    confirm_broadcast,
    enrol,
    fr,
    send_report,
)

DEMO_TOKEN = "999999:DEMO-token-for-the-local-emulator-only"
SECTORS = ("Centre-bourg", "Les Hauts", "La Vallée")
# The emulator keeps Telegram's limits, in faster time so the demo takes seconds.
SCALE = 20.0


class Narrator:
    """Prints what each chat received since the last step, labelled by who sees it."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu
        self.labels: dict[int, str] = {}
        self.seen: dict[int, int] = {}

    def follow(self, chat_id: int, label: str) -> None:
        self.labels[chat_id] = label
        self.seen[chat_id] = 0

    def step(self, title: str) -> None:
        print(f"\n=== {title} ===")

    def show(self) -> None:
        for chat_id, label in self.labels.items():
            messages = self.emu.sent(chat_id)
            fresh = messages[self.seen[chat_id]:]
            self.seen[chat_id] = len(messages)
            for message in fresh:
                print(f"  [{label}] {render(message)}")


def render(message: SentMessage) -> str:
    body = (message.text or message.caption or f"<{message.kind}>").strip()
    if len(body) > 300:
        body = body[:297] + "..."
    body = body.replace("\n", "\n      ")
    buttons = "  " + " ".join(f"[{b}]" for b in message.buttons) if message.buttons else ""
    return f"{body}{buttons}"


def demo_settings(emu: TelegramEmulator, folder: Path, official: Person, liaison: Group
                  ) -> Settings:
    return local_settings(emu, folder / "demo.db", SCALE, {
        "commune": {"name": "Saint-Exemple"},
        "sectors": [{"name": name} for name in SECTORS],
        "roles": {"officials": [official.id], "liaison_chat_id": liaison.id},
        "logging": {"level": "ERROR"},
    })


async def run_demo(quiet: bool = True) -> int:
    """Play the walk-through; `quiet` keeps log lines out of the transcript (CLI use)."""
    if quiet:
        logs.configure("ERROR", "console")
    with tempfile.TemporaryDirectory() as tmp, TelegramEmulator(
        token=DEMO_TOKEN, bot_username="vigie_demo_bot", limits=Limits(scale=SCALE)
    ) as emu:
        odile = emu.create_user("Odile", username="odile_maire", language_code="fr")
        gaston = emu.create_user("Gaston", username="adj_gaston", language_code="fr")
        roland = emu.create_user("Roland", language_code="fr")
        alice = emu.create_user("Alice", language_code="fr")
        bob = emu.create_user("Bob", language_code="fr")
        liaison = emu.create_group("Gendarmerie — liaison", creator=gaston, members=[odile],
                                   supergroup=True)
        liaison.add_bot(by=gaston, admin=False)
        groups = {name: emu.create_group(f"Voisins — {name}", creator=odile, supergroup=True)
                  for name in SECTORS}
        for group in groups.values():
            group.add_bot(by=odile)

        narrator = Narrator(emu)
        narrator.follow(liaison.id, "gendarmerie (groupe liaison)")
        for person, label in ((odile, "Odile, élue"), (roland, "Roland"), (alice, "Alice"),
                              (bob, "Bob")):
            narrator.follow(person.id, label)
        for name, group in groups.items():
            narrator.follow(group.id, f"groupe {name}")

        settings = demo_settings(emu, Path(tmp), odile, liaison)
        async with running(build_application(settings)):
            await play(emu, narrator, odile, roland, alice, bob, groups)
            await report_loop(narrator, alice, roland, gaston, liaison)
            await going_down(emu, narrator, odile, alice)
    print("\nFin de la démonstration : tout s'est passé sur cette machine, sans compte Telegram.")
    return 0


async def play(emu: TelegramEmulator, narrator: Narrator, odile: Person, roland: Person,
               alice: Person, bob: Person, groups: dict[str, Group]) -> None:
    centre, hauts = groups["Centre-bourg"], groups["Les Hauts"]

    narrator.step("1. L'élue écrit au bot, puis relie chaque groupe Telegram à son secteur")
    odile.send_command("/start")  # Telegram lets a bot write only to people who started it
    await odile.wait_for(text=CHARTER_QUESTION)
    odile.press(fr("charter.accept"))
    await odile.wait_for(text=fr("enrolment.choose_sector"))
    for name, group in groups.items():
        odile.send_command("/lier_secteur", args=name, chat=group)
        await group.wait_for(text=name)
    narrator.show()

    narrator.step("2. Roland s'inscrit : charte, secteur, lien d'invitation")
    await enrol(roland, "Centre-bourg", None)
    roland.request_join(invite_link(emu, centre))
    await odile.wait_for(text="Demande pour rejoindre")
    narrator.show()

    narrator.step("3. Pas encore de référent : l'élue accepte la demande de Roland")
    odile.press(fr("enrolment.approve"))
    await roland.wait_for(text="Bienvenue")
    narrator.show()

    narrator.step("4. Roland propose de devenir référent ; l'élue accepte")
    roland.send_command("/devenir_referent")
    await roland.wait_for(text="souhaitez devenir référent")
    roland.send_text("Retraité, je connais bien le quartier et je suis disponible.")
    await odile.wait_for(text="Candidature de référent")
    odile.press(fr("enrolment.approve"))
    await centre.wait_for(text="nouveau référent")
    narrator.show()

    narrator.step("5. Alice s'inscrit au Centre-bourg ; c'est Roland, référent, qui l'accepte")
    await enrol(alice, "Centre-bourg", "Rue des Lilas")
    alice.request_join(invite_link(emu, centre))
    await roland.wait_for(text="Rue des Lilas")
    roland.press(fr("enrolment.approve"))
    await alice.wait_for(text="Bienvenue")
    narrator.show()

    narrator.step("6. Bob a trouvé le lien des Hauts avant de parler au bot")
    bob.request_join(invite_link(emu, hauts))
    await bob.wait_for(text=CHARTER_QUESTION)
    bob.press(fr("charter.accept"))
    await odile.wait_for(text="Les Hauts")
    odile.press(fr("enrolment.approve"))
    await bob.wait_for(text="Bienvenue")
    narrator.show()

    narrator.step("7. Une commande réservée aux élus, essayée par un habitant")
    alice.send_command("/lier_secteur", args="La Vallée", chat=centre)
    await centre.wait_for(text=fr("denied.officials_only"))
    alice.send_command("/aide")
    await alice.wait_for(text=fr("help.title"))
    narrator.show()


async def report_loop(narrator: Narrator, alice: Person, roland: Person, gaston: Person,
                      liaison: Group) -> None:
    narrator.step("8. Alice signale un véhicule ; Roland, référent, transmet")
    await send_report(alice, "Camionnette blanche sans plaque, deux passages lents en dix "
                             "minutes devant les maisons de la rue des Lilas")
    card = await roland.wait_for(text="Signalement n°")
    roland.press(fr("reports.forward"))
    await liaison.wait_for(text="Signalement n°")
    # Roland's card is edited to its new state, its triage buttons gone.
    await narrator.emu.wait_until(lambda: not next(
        m for m in roland.inbox() if m.message_id == card.message_id).buttons[1:])
    narrator.show()

    narrator.step("9. La gendarmerie répond ; Alice voit la suite de son signalement")
    gaston.press(fr("reports.status_button.r"), chat=liaison)
    await alice.wait_for(text=fr("reports.status.received"))
    gaston.press(fr("reports.status_button.p"), chat=liaison)
    await alice.wait_for(text=fr("reports.status.patrol_informed"))
    narrator.show()


async def going_down(emu: TelegramEmulator, narrator: Narrator, odile: Person, alice: Person
                     ) -> None:
    narrator.step("10. L'élue annonce une réunion publique à tous les secteurs, épinglée")
    await compose_broadcast(emu, odile, "/annonce", "Réunion publique sur la sécurité du "
                            "quartier jeudi à 18 h, salle des fêtes.", list(SECTORS)[:2],
                            ("pin",))
    number = await confirm_broadcast(odile)
    await odile.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=10)
    narrator.show()

    narrator.step("11. Alice demande un conseil de prévention")
    alice.send_command("/conseil", args="arnaques")
    await alice.wait_for(text=fr("tips.topic.arnaques"))
    narrator.show()


def invite_link(emu: TelegramEmulator, group: Group) -> str:
    links = [link for link in group.invite_links() if link.get("creates_join_request")]
    return str(links[-1]["invite_link"])
