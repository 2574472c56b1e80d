"""The demo's transcript, read from the emulator's journal: who typed, pressed or saw what,
in time order across every chat.

Each event becomes one entry: a clock relative to the start, who acts towards whom, and the
text (or the button pressed, the file sent, the message removed). Printed entries cut long
texts; the saved transcript keeps every text whole.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from demo import narration as say
from emulator import Event, TelegramEmulator

JSON = dict[str, Any]
WIDTH = 100
CUT = 300  # characters of a text shown on screen; the saved transcript keeps it all
QUOTE = 60  # characters of a message quoted (removed, pinned, replied to)
REPEATED = 160  # a text longer than this, shown before, is named by its opening words
INDENT = " " * 9


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + say.ELLIPSIS


def one_line(text: str, limit: int = QUOTE) -> str:
    return cut(" ".join(text.split()), limit)


def button_labels(markup: object) -> list[str]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b if isinstance(b, str) else str(b.get("text", "")) for row in rows for b in row]


def pressed_label(message: JSON, data: str) -> str | None:
    """The label of the inline button that carries `data` on the pressed message."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard") or []:
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text", ""))
    return None


class Entry:
    """One event as shown: when, who towards whom, what (text lines, then buttons)."""

    def __init__(self, at: float, head: str, body: str, buttons: Iterable[str] = (),
                 short: str | None = None) -> None:
        self.at, self.head, self.body, self.buttons = at, head, body, list(buttons)
        self.short = short  # what the screen shows instead of a text seen before

    def render(self, limit: int | None) -> list[str]:
        if limit is None:
            body = self.body
        else:
            body = self.short if self.short is not None else cut(self.body, limit)
        paragraphs = [p for p in body.split("\n") if p.strip() or limit is None]
        if self.buttons:
            labels = " ".join(f"[{label}]" for label in self.buttons)
            paragraphs.append(labels if limit is None else cut(labels, limit))
        first = f"{clock(self.at)}  {self.head}  "
        lines: list[str] = []
        for index, paragraph in enumerate(paragraphs or [""]):
            lead = first if index == 0 else INDENT
            if limit is None:  # the saved transcript: whole lines, easy to search
                lines.append(lead + paragraph)
                continue
            lines += textwrap.wrap(paragraph, WIDTH, initial_indent=lead,
                                   subsequent_indent=INDENT, break_on_hyphens=False) or [lead]
        return [line.rstrip() for line in lines]


class Transcript:
    """Reads the journal as it grows; `flush()` prints what happened since the last call."""

    def __init__(self, emu: TelegramEmulator, names: dict[int, str]) -> None:
        self.emu = emu
        self.names = names
        self.full: list[str] = []
        self._read = 0
        # What each bot message shows now, to tell an edit of its text from one of its
        # buttons, and to quote a message removed, pinned or replied to.
        self._shown: dict[tuple[int, int], tuple[str, list[str]]] = {}
        self._presser: dict[str, int] = {}  # callback query id -> who pressed
        self._texts: set[str] = set()  # long texts the bot already showed someone

    # --- output ------------------------------------------------------------------------

    def heading(self, title: str) -> None:
        for line in ("", title, "─" * min(len(title), WIDTH)):
            print(line)
            self.full.append(line)

    def note(self, text: str) -> None:
        lines = textwrap.wrap(say.NOTE.format(text=text), WIDTH, subsequent_indent="  ")
        print("\n".join(lines))
        self.full.append(say.NOTE.format(text=text))

    def flush(self) -> None:
        events = self.emu.journal()
        fresh, self._read = events[self._read:], len(events)
        for event in fresh:
            entry = self.entry(event)
            if entry is None:
                continue
            print("\n".join(entry.render(CUT)))
            self.full += entry.render(None)

    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.full) + "\n", encoding="utf-8")

    # --- names -------------------------------------------------------------------------

    def name(self, user_id: int) -> str:
        if user_id in self.names:
            return self.names[user_id]
        user = self.emu.user_json(user_id) or {}
        return str(user.get("first_name", user_id))

    def place(self, chat_id: int | None) -> str:
        """Where a person acts: the bot in private, or a group."""
        title = self.emu.chat_title(chat_id) if chat_id is not None else None
        return say.PRIVATE if title is None else say.GROUP.format(title=title)

    def audience(self, chat_id: int | None) -> str:
        """Whom the bot writes to: a person (their private chat) or a group."""
        title = self.emu.chat_title(chat_id) if chat_id is not None else None
        if title is not None:
            return say.GROUP.format(title=title)
        return self.name(chat_id) if chat_id is not None else "?"

    def from_bot(self, event: Event, body: str, buttons: Iterable[str] = ()) -> Entry:
        return Entry(event.at, f"{say.BOT} → {self.audience(event.chat_id)}", body, buttons)

    def seen_before(self, text: str) -> str | None:
        """On screen, a long text the bot showed before (the charter to each newcomer, a
        notice's copies, a card's copies) is named by its opening words only."""
        if len(text) <= REPEATED:
            return None
        if text in self._texts:
            return say.SAME.format(text=one_line(text, QUOTE))
        self._texts.add(text)
        return None

    def from_person(self, event: Event, user_id: int, body: str) -> Entry:
        return Entry(event.at, f"{self.name(user_id)} → {self.place(event.chat_id)}", body)

    # --- events ------------------------------------------------------------------------

    def entry(self, event: Event) -> Entry | None:
        if event.kind == "update":
            return self.update(event)
        if event.kind in ("sent", "edited"):
            return self.bot_message(event)
        if event.kind == "deleted":
            return self.deleted(event)
        if event.kind in ("pinned", "unpinned"):
            shown, _ = self._shown.get((event.chat_id or 0, event.data["message_id"]), ("", []))
            line = say.PINNED if event.kind == "pinned" else say.UNPINNED
            return self.from_bot(event, line.format(text=one_line(shown)))
        if event.kind == "answered":
            return self.answered(event)
        if event.kind == "vote":
            return self.vote(event)
        return None

    def update(self, event: Event) -> Entry | None:
        data = event.data
        if "message" in data:
            return self.person_message(event, data["message"], edited=False)
        if "edited_message" in data:
            return self.person_message(event, data["edited_message"], edited=True)
        if "callback_query" in data:
            query = data["callback_query"]
            who = int(query["from"]["id"])
            self._presser[str(query["id"])] = who
            label = pressed_label(query.get("message") or {}, str(query.get("data")))
            body = say.PRESSED.format(label=label) if label else say.UNKNOWN_BUTTON
            return self.from_person(event, who, body)
        if "chat_join_request" in data:
            return self.from_person(event, int(data["chat_join_request"]["from"]["id"]),
                                    say.JOIN_REQUEST)
        if "chat_member" in data:
            return self.member_change(event, data["chat_member"])
        return None  # my_chat_member, poll counts: shown by what goes with them

    def person_message(self, event: Event, message: JSON, edited: bool) -> Entry | None:
        who = int(message["from"]["id"])
        if "new_chat_members" in message or "left_chat_member" in message:
            return self.service(event, who, message)
        if "migrate_to_chat_id" in message or "migrate_from_chat_id" in message:
            return None
        parts = [say.EDITED] if edited else []
        if "forward_origin" in message:
            parts.append(say.FORWARDED)
        replied = message.get("reply_to_message")
        if isinstance(replied, dict):
            quoted = replied.get("text") or replied.get("caption") or ""
            parts.append(say.REPLY.format(text=one_line(str(quoted))))
        parts.append(self.content(message, None))
        return self.from_person(event, who, " ".join(part for part in parts if part))

    def service(self, event: Event, actor: int, message: JSON) -> Entry:
        if "left_chat_member" in message:
            gone = int(message["left_chat_member"]["id"])
            body = say.LEFT if gone == actor else say.REMOVED_FROM.format(who=self.name(gone))
            return self.from_person(event, actor, body)
        lines = []
        for member in message["new_chat_members"]:
            joined = int(member["id"])
            if joined == actor:
                lines.append(say.JOINED)
            else:
                who = say.THE_BOT if joined == self.emu.bot_id else self.name(joined)
                lines.append(say.ADDED.format(who=who))
        return self.from_person(event, actor, "\n".join(lines))

    def member_change(self, event: Event, change: JSON) -> Entry | None:
        """The bot restricting or banning someone; joins are shown by their service line."""
        if int(change["from"]["id"]) != self.emu.bot_id:
            return None
        status = change["new_chat_member"]["status"]
        who = self.name(int(change["new_chat_member"]["user"]["id"]))
        if status == "restricted":
            return self.from_bot(event, say.RESTRICTED.format(who=who))
        if status == "kicked":
            return self.from_bot(event, say.BANNED.format(who=who))
        return None

    def content(self, content: JSON, poll_id: str | None) -> str:
        """A message's visible content: its text, or what it carries."""
        caption = str(content.get("caption") or "")
        if "text" in content:
            return str(content["text"])
        if "photo" in content:
            return "\n".join(filter(None, (say.PHOTO, caption)))
        if "document" in content:
            name = say.DOCUMENT.format(name=content["document"].get("file_name", ""))
            return "\n".join(filter(None, (name, caption)))
        if "location" in content:
            return say.LOCATION
        if "sticker" in content:
            return say.STICKER.format(emoji=content["sticker"].get("emoji", ""))
        poll = self.emu.poll_json(poll_id) if poll_id else content.get("poll")
        if isinstance(poll, dict):
            options = [say.POLL_OPTION.format(option=o["text"]) for o in poll["options"]]
            return "\n".join([say.POLL.format(question=poll["question"]), "  ".join(options)])
        return say.OTHER.format(kind=", ".join(sorted(content)) or "?")

    def bot_message(self, event: Event) -> Entry:
        record = event.data
        key = (event.chat_id or 0, int(record["message_id"]))
        content = record["content"]
        text = self.content(content, record.get("poll_id"))
        buttons = button_labels(content.get("reply_markup"))
        before = self._shown.get(key)
        self._shown[key] = (text, buttons)
        short = self.seen_before(text)
        if event.kind == "sent":
            replied = self._shown.get((key[0], record["reply_to"])) if record["reply_to"] else None
            if replied is not None:
                quoted = say.REPLY.format(text=one_line(replied[0], QUOTE // 2))
                text, short = f"{quoted}\n{text}", short and f"{quoted}\n{short}"
            entry = self.from_bot(event, text, buttons)
            entry.short = short
            return entry
        if record["kind"] == "poll":
            poll = self.emu.poll_json(record["poll_id"]) or {}
            return self.from_bot(event, say.POLL_CLOSED.format(question=poll.get("question")))
        if before is not None and before[0] == text:
            return self.from_bot(event, say.BUTTONS_CHANGED if buttons else say.BUTTONS_REMOVED,
                                 buttons)
        entry = self.from_bot(event, f"{say.EDITED} {text}", buttons)
        entry.short = short and f"{say.EDITED} {short}"
        return entry

    def deleted(self, event: Event) -> Entry:
        record = event.data
        text = one_line(self.content(record["content"], record.get("poll_id")))
        sender = int(record["sender_id"])
        if sender == self.emu.bot_id:
            return self.from_bot(event, say.DELETED_OWN.format(text=text))
        return self.from_bot(event, say.DELETED.format(who=self.name(sender), text=text))

    def answered(self, event: Event) -> Entry | None:
        text = event.data.get("text")
        who = self._presser.get(str(event.data.get("callback_query_id")))
        if not text or who is None:
            return None  # a silent answer only stops the button's spinner
        return Entry(event.at, f"{say.BOT} → {self.name(who)}", say.TOAST.format(text=text))

    def vote(self, event: Event) -> Entry:
        poll = self.emu.poll_json(str(event.data["poll_id"])) or {"options": []}
        options = [poll["options"][i]["text"] for i in event.data["option_ids"]
                   if i < len(poll["options"])]
        return self.from_person(event, int(event.data["user_id"]),
                                say.VOTE.format(option=", ".join(options)))
