"""`python bot.py demo`: the real bot, a demo commune in the local emulator, a script.

Everything runs on this machine: the Telegram emulator, the bot polling it over HTTP, and
a scripted cast typing and pressing real buttons. The transcript is read from the
emulator's journal (emulator/journal.py): what each person typed or pressed and what each
chat received, in time order, as Telegram carried it. The chart of /stats, the annual PDF
and the whole transcript are saved in `demo-output/`. No Telegram account, no token, no
network. The narration's words are in demo/narration.py.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import VigieApp, services_of
from core.settings import Settings
from demo import narration as say
from demo.transcript import Transcript
from emulator import Group, Limits, Person, SentMessage, TelegramEmulator
from testing.fences import eventually, quiescent
from testing.local import local_settings
from testing.scripts import (
    CHARTER_QUESTION,
    compose_broadcast,
    confirm_broadcast,
    enrol,
    fr,
    fr_part,
    fr_start,
    send_report,
)

DEMO_TOKEN = "999999:DEMO-token-for-the-local-emulator-only"
SECTORS = ("Centre-bourg", "Les Hauts", "La Vallée")
# The emulator keeps Telegram's limits, in faster time so the demo takes seconds.
SCALE = 20.0
OUTPUT = Path("demo-output")
SEED = 15
FILES = {"stats": "stats.png", "annual": "rapport-annuel.pdf", "transcript": "transcription.txt"}

# What the cast types (the bot's words all come from its catalogues).
MOTIVATION = "Retraité, je connais bien le quartier et je suis disponible."
REPORT = ("Camionnette blanche sans plaque, deux passages lents en dix minutes devant les "
          "maisons de la rue des Lilas")
COMMENT = "Merci : une patrouille passe rue des Lilas dans l'heure."
DOORSTEP = ("Deux hommes en gilet orange se disant « du service des eaux » sonnent aux portes "
            "de l'allée des Tilleuls et demandent à entrer, sans carte ni rendez-vous")
NOTICE = "Réunion publique sur la sécurité du quartier jeudi à 18 h, salle des fêtes."
FOLLOW_UP = "Levée de doute : la réunion aura lieu dans la salle du conseil, même horaire."
POLL = "Quel horaire pour la prochaine réunion ?\nJeudi 18 h\nSamedi 10 h\nDimanche 11 h"
INSULT = "ce connard de livreur a encore jeté mon colis dans la haie"


@dataclass
class Cast:
    odile: Person  # the elected official
    gaston: Person  # the gendarmerie's correspondent, in the liaison group
    roland: Person  # a resident who becomes the Centre-bourg's referent
    alice: Person
    bob: Person
    liaison: Group
    groups: dict[str, Group]

    def names(self) -> dict[int, str]:
        return {self.odile.id: say.ROLES["official"].format(name=self.odile.first_name),
                self.gaston.id: say.ROLES["liaison"].format(name=self.gaston.first_name)}


class Show:
    """The walk-through's stage: the running bot, the cast, the transcript."""

    def __init__(self, emu: TelegramEmulator, app: VigieApp, cast: Cast, transcript: Transcript,
                 output: Path) -> None:
        self.emu, self.app, self.cast, self.transcript = emu, app, cast, transcript
        self.output = output

    async def step(self, name: str) -> None:
        """Everything the previous step caused is over and shown; the next one begins."""
        await quiescent(self.app, self.emu)
        self.transcript.flush()
        self.transcript.heading(say.STEPS[name])
        if name in say.NOTES:
            self.transcript.note(say.NOTES[name])

    async def finish(self) -> None:
        await quiescent(self.app, self.emu)
        self.transcript.flush()

    def keep(self, name: str, message: SentMessage) -> Path:
        """Save the bytes of a photo or document the bot sent."""
        assert message.file is not None
        path = self.output / FILES[name]
        path.write_bytes(self.emu.file_content(message.file["file_id"]))
        return path


def create_world(emu: TelegramEmulator) -> Cast:
    make = emu.create_user
    odile = make("Odile", username="odile_maire", language_code="fr")
    gaston = make("Gaston", username="adj_gaston", language_code="fr")
    liaison = emu.create_group("Gendarmerie — liaison", creator=gaston, members=[odile],
                               supergroup=True)
    cast = Cast(odile=odile, gaston=gaston, roland=make("Roland", language_code="fr"),
                alice=make("Alice", language_code="fr"), bob=make("Bob", language_code="fr"),
                liaison=liaison, groups={})
    liaison.add_bot(by=gaston, admin=False)
    for name in SECTORS:
        cast.groups[name] = emu.create_group(f"Voisins — {name}", creator=odile,
                                             supergroup=True)
        cast.groups[name].add_bot(by=odile)
    return cast


def demo_settings(emu: TelegramEmulator, folder: Path, cast: Cast) -> Settings:
    return local_settings(emu, folder / "demo.db", SCALE, {
        "commune": {"name": "Saint-Exemple"},
        "sectors": [{"name": name} for name in SECTORS],
        "roles": {"officials": [cast.odile.id], "liaison_chat_id": cast.liaison.id},
        "logging": {"level": "ERROR"},
    })


async def run_demo(quiet: bool = True, output: Path = OUTPUT) -> int:
    """Play the walk-through; `quiet` keeps log lines out of the transcript (CLI use)."""
    if quiet:
        logs.configure("ERROR", "console")
    prepare(output)
    print(say.TITLE)
    print(say.INTRO)
    luck = random.getstate()
    random.seed(SEED)  # the same tip each run (the bot picks one at random)
    try:
        return await play(output)
    finally:
        random.setstate(luck)


async def play(output: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp, TelegramEmulator(
        token=DEMO_TOKEN, bot_username="vigie_demo_bot", limits=Limits(scale=SCALE),
        journal=True,
    ) as emu:
        cast = create_world(emu)
        transcript = Transcript(emu, cast.names())
        transcript.heading(say.STEPS["setup"])
        async with running(build_application(demo_settings(emu, Path(tmp), cast))) as app:
            show = Show(emu, app, cast, transcript, output)
            try:
                await enrolment(show)
                await report_loop(show)
                await going_down(show)
                saved = await figures(show)
                await show.finish()
            finally:  # what happened up to a failure is the first thing to read
                transcript.flush()
    saved["transcript"] = output / FILES["transcript"]
    transcript.save(saved["transcript"])
    print(f"\n{say.FILES}")
    for name, path in saved.items():
        print(f"  • {say.FILE_LABELS[name]} : {path.resolve()}")
    print(f"\n{say.END}")
    return 0


def prepare(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)


def invite_link(group: Group) -> str:
    links = [link for link in group.invite_links() if link.get("creates_join_request")]
    return str(links[-1]["invite_link"])


async def join(show: Show, person: Person, group: Group, decider: Person) -> None:
    person.request_join(invite_link(group))
    await person.wait_for(text=fr_part("enrolment.request_under_review"))
    await decider.wait_for(text=fr_part("enrolment.join_card"), since=None)
    decider.press(fr("enrolment.approve"))  # after the applicant was told: people read first
    await person.wait_for(text=fr_start("enrolment.join_approved"))
    await show.emu.wait_until(lambda: group.member_status(person) == "member")


async def enrolment(show: Show) -> None:
    cast = show.cast
    odile, roland, alice, bob = cast.odile, cast.roland, cast.alice, cast.bob
    centre, hauts = cast.groups["Centre-bourg"], cast.groups["Les Hauts"]
    odile.send_command("/start")  # Telegram lets a bot write only to people who started it
    await odile.wait_for(text=CHARTER_QUESTION)
    odile.press(fr("charter.accept"))
    await odile.wait_for(text=fr("enrolment.choose_sector"))
    for name, group in cast.groups.items():
        odile.send_command("/lier_secteur", args=name, chat=group)
        await group.wait_for(text=fr("groups.linked", sector=name))

    await show.step("roland")
    await enrol(roland, "Centre-bourg", None)
    await join(show, roland, centre, odile)  # no referent yet: the official decides

    await show.step("referent")
    roland.send_command("/devenir_referent")
    await roland.wait_for(text=fr_part("referents.ask_motivation"))
    roland.send_text(MOTIVATION)
    await roland.wait_for(text=fr_part("referents.applied"))  # a person reads, then acts
    await odile.wait_for(text=fr_part("referents.card"), since=None)
    odile.press(fr("enrolment.approve"))
    await centre.wait_for(text=fr_part("referents.announce"))

    await show.step("alice")
    await enrol(alice, "Centre-bourg", "Rue des Lilas")
    await join(show, alice, centre, roland)

    await show.step("bob")
    bob.request_join(invite_link(hauts))
    await bob.wait_for(text=CHARTER_QUESTION)
    bob.press(fr("charter.accept"))
    await odile.wait_for(text=fr_part("enrolment.join_card"))
    odile.press(fr("enrolment.approve"))
    await bob.wait_for(text=fr_start("enrolment.join_approved"))

    await show.step("refused")
    alice.send_command("/lier_secteur", args="La Vallée", chat=centre)
    await centre.wait_for(text=fr("denied.officials_only"))


def now(show: Show, message: SentMessage) -> SentMessage:
    """A message as it is now (edits included)."""
    return next(m for m in show.emu.sent(message.chat_id) if m.message_id == message.message_id)


async def report_loop(show: Show) -> None:
    cast = show.cast
    alice, roland, gaston, liaison = cast.alice, cast.roland, cast.gaston, cast.liaison
    await show.step("report")
    number = await send_report(alice, REPORT)
    card = await roland.wait_for(text=f"n°{number}")
    roland.press(fr("reports.forward"), message_id=card.message_id)
    relayed = await liaison.wait_for(text=f"n°{number}")
    # The referent's card follows the report: its triage buttons go once it is relayed.
    forward = fr("reports.forward")
    await show.emu.wait_until(lambda: forward not in now(show, card).buttons)

    await show.step("liaison")
    # The comment comes first: a reply to a card edited since is not recognised yet (the
    # card's edit rows share its message id in the outbox; see the report to the lead).
    gaston.send_text(COMMENT, chat=liaison, reply_to=relayed.message_id)
    await alice.wait_for(text=COMMENT)
    gaston.press(fr("reports.status_button.p"), chat=liaison, message_id=relayed.message_id)
    await alice.wait_for(text=fr("reports.status.patrol_informed"))
    gaston.press(fr("reports.status_button.c"), chat=liaison, message_id=relayed.message_id)
    await alice.wait_for(text=fr("reports.status.closed"))

    await show.step("direct")
    number = await send_report(cast.bob, DOORSTEP, category="doorstep", when="today")
    card = await liaison.wait_for(text=f"n°{number}")
    gaston.press(fr("reports.status_button.r"), chat=liaison, message_id=card.message_id)
    await cast.bob.wait_for(text=fr("reports.status.received"))


async def going_down(show: Show) -> None:
    cast, emu = show.cast, show.emu
    odile = cast.odile
    await show.step("notice")
    await compose_broadcast(emu, odile, "/annonce", NOTICE, list(SECTORS),
                            ("to_residents", "pin"))
    number = await confirm_broadcast(odile)
    await odile.wait_for(text=fr_part("broadcast.report"), timeout=15)

    await show.step("followup")
    odile.send_command("/annonces")
    listed = await odile.wait_for(text=fr("broadcast.history_title"))
    odile.press(fr("broadcast.followup_button", id=number), message_id=listed.message_id)
    await odile.wait_for(text=fr_part("broadcast.ask_followup"))
    odile.send_text(FOLLOW_UP)
    await odile.wait_for(text=fr_start("broadcast.followup_sent"))
    await quiescent(show.app, emu)
    odile.press(fr("broadcast.close_send_button", id=number), message_id=listed.message_id)
    await odile.wait_for(text=fr("broadcast.send_closed_now", id=number))

    await show.step("poll")
    await poll(show)

    await show.step("moderation")
    hauts = cast.groups["Les Hauts"]
    cast.bob.send_text(INSULT, chat=hauts)
    await cast.bob.wait_for(text=fr_part("moderation.notice.removed"))
    await cast.bob.wait_for(text=INSULT)  # handed back, word for word

    await show.step("tip")
    cast.alice.send_command("/conseil", args="arnaques")
    await cast.alice.wait_for(text=fr("tips.topic.arnaques"))


async def poll(show: Show) -> None:
    cast, emu = show.cast, show.emu
    centre, hauts = cast.groups["Centre-bourg"], cast.groups["Les Hauts"]
    await compose_broadcast(emu, cast.odile, "/sondage", POLL, ["Centre-bourg", "Les Hauts"])
    number = await confirm_broadcast(cast.odile)
    await cast.odile.wait_for(text=fr_part("broadcast.report"), timeout=15)
    polls = {group.id: await group.wait_for(lambda m: m.kind == "poll") for group in
             (centre, hauts)}
    for person, group, option in ((cast.alice, centre, 0), (cast.roland, centre, 1),
                                  (cast.bob, hauts, 0)):
        person.vote(polls[group.id], option)
    store = services_of(show.app).store

    async def counted() -> bool:
        copies = await store.broadcasts.poll_copies(number)
        return sum(sum(copy.counts) for copy in copies) == 3

    await eventually(counted, what="the three votes counted")
    cast.odile.send_command("/resultats")
    await cast.odile.wait_for(text=fr_part("broadcast.results_title"))


async def figures(show: Show) -> dict[str, Path]:
    odile = show.cast.odile
    await show.step("stats")
    odile.send_command("/stats")
    chart = await odile.wait_for(lambda m: m.kind == "photo")
    saved = {"stats": show.keep("stats", chart)}

    await show.step("annual")
    odile.send_command("/rapport_annuel")
    document = await odile.wait_for(lambda m: m.kind == "document")
    saved["annual"] = show.keep("annual", document)
    return saved
