"""Scripted people: the steps a resident takes, shared by the demo, the tests and the bench.

Each function drives the real bot through the emulator exactly as a person would (commands,
button presses by their French label, text) and waits for the bot's answer at each step.
"""

from __future__ import annotations

import itertools
import re
from functools import partial
from typing import Any

from core import i18n
from emulator import Group, Person, SentMessage, TelegramEmulator


def fr(key: str, **values: Any) -> str:
    return i18n.t("fr", key, **values)


def _literal_stretches(key: str) -> list[str]:
    return [part.strip() for part in re.split(r"\{[^}]*\}|<[^>]+>", fr(key)) if part.strip()]


def fr_part(key: str) -> str:
    """The longest stretch of a French catalogue text with no placeholder and no HTML tag
    in it: what a wait can look for in the message as shown, whatever the values."""
    return max(_literal_stretches(key), key=len)


def fr_start(key: str) -> str:
    """The first such stretch (the opening words, usually the most telling)."""
    return _literal_stretches(key)[0]


CHARTER_QUESTION = fr_part("charter.question")
# Both ways of asking for the description (facts; a behaviour) start alike.
DESCRIBE = "".join(a for a, _ in itertools.takewhile(
    lambda pair: pair[0] == pair[1], zip(fr("reports.ask_description"),
                                         fr("reports.ask_behaviour"), strict=False)))


async def enrol(person: Person, sector: str, street: str | None = None) -> SentMessage:
    """/start, accept the charter, choose the sector, give the street or skip it; returns
    the message carrying the group's link (or saying the group is not open yet)."""
    person.send_command("/start")
    await person.wait_for(text=CHARTER_QUESTION)
    person.press(fr("charter.accept"))
    await person.wait_for(text=fr("enrolment.choose_sector"))
    person.press(sector)
    await person.wait_for(text=fr("enrolment.ask_street", limit=80)[:30])
    if street:
        person.send_text(street)
    else:
        person.press(fr("enrolment.skip_street"))
    return await person.wait_for(text=sector)


async def draft_report(person: Person, text: str, category: str = "vehicle",
                       when: str = "now", location: tuple[float, float] | None = None,
                       photo: bool = False, keep_screened: bool = False,
                       step_timeout: float = 5.0) -> SentMessage:
    """Every step of /signaler up to the summary, which is returned (not yet sent)."""
    person.send_command("/signaler")
    await person.wait_for(text=fr("reports.ask_category"), timeout=step_timeout)
    person.press(fr(f"reports.category.{category}"))
    await person.wait_for(text=fr("reports.ask_when"), timeout=step_timeout)
    person.press(fr(f"reports.when.{when}"))
    await person.wait_for(text=DESCRIBE, timeout=step_timeout)
    person.send_text(text)
    if keep_screened:
        await person.wait_for(text=fr_part("reports.rephrase"), timeout=step_timeout)
        person.press(fr("reports.keep_text"))
    await person.wait_for(text=fr_part("reports.ask_location"), timeout=step_timeout)
    if location:
        person.send_location(*location)
    else:
        person.send_text(fr("reports.skip"))
    await person.wait_for(text=fr_part("reports.ask_photo"), timeout=step_timeout)
    if photo:
        person.send_photo()
    else:
        person.press(fr("reports.skip"))
    return await person.wait_for(text=fr("reports.summary_title"), timeout=step_timeout)


async def confirm_report(person: Person, step_timeout: float = 5.0,
                         answer: str = "reports.sent") -> int:
    """Press "Envoyer" on the summary; returns the report's number. `answer` is the
    catalogue key of the bot's reply ("reports.sent_held" while nobody can receive it)."""
    person.press(fr("reports.confirm"))
    sent = await person.wait_for(text=fr_start(answer), timeout=step_timeout)
    match = re.search(r"n°(\d+)", sent.text or "")
    assert match is not None
    return int(match.group(1))


async def send_report(person: Person, text: str, answer: str = "reports.sent",
                      **draft: Any) -> int:
    await draft_report(person, text, **draft)
    return await confirm_report(person, answer=answer)


BROADCAST_KINDS = {"/annonce": "notice", "/alerte": "alert", "/sondage": "poll"}


def buttons_now(emu: TelegramEmulator, message: SentMessage) -> list[str]:
    """A message's buttons as they are now (edits included)."""
    return next(m.buttons for m in emu.sent(message.chat_id)
                if m.message_id == message.message_id)


async def write_broadcast(author: Person, command: str, text: str, photo: bool = False
                          ) -> None:
    """Start /annonce, /alerte or /sondage and send the text (or a photo with it)."""
    author.send_command(command)
    await author.wait_for(text=fr(f"broadcast.ask.{BROADCAST_KINDS[command]}")[:30])
    if photo:
        author.send_photo(caption=text)
    else:
        author.send_text(text)


async def compose_broadcast(emu: TelegramEmulator, author: Person, command: str, text: str,
                            sectors: list[str], options: tuple[str, ...] = (),
                            photo: bool = False) -> None:
    """Write a notice, alert or poll, tick sectors and options, open the preview."""
    await write_broadcast(author, command, text, photo)
    keyboard = await author.wait_for(text=fr("broadcast.ask_targets")[:30])
    ticks = [(fr("broadcast.sector_off", sector=name), fr("broadcast.sector_on", sector=name))
             for name in sectors]
    ticks += [(fr("broadcast.switch_off", label=fr(f"broadcast.option.{option}")),
               fr("broadcast.switch_on", label=fr(f"broadcast.option.{option}")))
              for option in options]
    for off, on in ticks:  # each press edits the keyboard in place
        author.press(off, message_id=keyboard.message_id)
        await emu.wait_until(partial(_shows, emu, keyboard, on))
    author.press(fr("broadcast.preview_button"), message_id=keyboard.message_id)


def _shows(emu: TelegramEmulator, message: SentMessage, label: str) -> bool:
    return label in buttons_now(emu, message)


async def confirm_broadcast(author: Person) -> int:
    """Confirm the previewed broadcast; returns its number."""
    await author.wait_for(text=fr_part("broadcast.confirm"))
    author.press(fr("broadcast.send"))
    start = fr_start("broadcast.progress")  # the progress message, whatever it shows now
    launched = await author.wait_for(lambda m: bool(m.history) and m.history[0].startswith(start))
    match = re.search(r"n°(\d+)", launched.text or "")
    assert match is not None
    return int(match.group(1))


async def pick_people(chooser: Person, prompt_key: str, button_key: str,
                      people: list[Person]) -> None:
    """Wait for a picker's prompt, then choose `people` with Telegram's user picker (the
    reply-keyboard button `button_key`, a `request_users` button)."""
    await chooser.wait_for(text=fr_part(prompt_key))
    chooser.share_users(fr(button_key), people)


async def pick_chat(chooser: Person, prompt_key: str, button_key: str, group: Group) -> None:
    """Wait for a picker's prompt, then choose `group` with Telegram's chat picker."""
    await chooser.wait_for(text=fr_part(prompt_key))
    chooser.share_chat(fr(button_key), group)
