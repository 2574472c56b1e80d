"""The checklist: what a commune's scheme needs to work, each ✓ or ✗ with its fix.

`vigie check` prints it (and exits non-zero when something blocks the scheme); every start
logs each ✗ as a warning, and sends the whole list to the officials in private when it
changed since the last start (its digest is kept in the database).

Nothing here writes to anyone: reachability is probed with `sendChatAction`, which Telegram
refuses (403) for a user who never started the bot or blocked it; a linked group's rights
are read with `getChatMember` of the bot itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner
from telegram.constants import ChatAction
from telegram.error import Forbidden, InvalidToken, TelegramError

from core import i18n
from core.permissions import BOT_RIGHTS_IN_SECTOR_GROUP
from core.settings import Settings
from storage import Store
from storage.db import FileFacts, inspect

# A webhook error older than this is history, not a present problem.
WEBHOOK_ERROR_FRESH = 3600.0
MARK = {True: "✓", False: "✗"}


@dataclass(frozen=True)
class Item:
    """One line: `code` is stable and logged; `key`/`fix` are catalogue keys under check."""

    code: str
    ok: bool
    key: str
    values: Mapping[str, str | int] = field(default_factory=dict)
    fix: str | None = None
    blocking: bool = False

    def render(self, language: str) -> str:
        values = {name: _shown(value, language) for name, value in self.values.items()}
        line = f"{MARK[self.ok]} {i18n.t(language, f'check.{self.key}', **values)}"
        if not self.ok and self.fix is not None:
            line += f"\n   → {i18n.t(language, f'check.fix.{self.fix}', **values)}"
        return line


def _shown(value: str | int, language: str) -> str | int:
    """Values that name a catalogue text (a group right) are shown in the reader's words."""
    if isinstance(value, str) and value.startswith("groups.right_"):
        return i18n.t(language, value)
    return value


@dataclass
class Checklist:
    items: list[Item] = field(default_factory=list)

    @property
    def failures(self) -> list[Item]:
        return [item for item in self.items if not item.ok]

    @property
    def blocked(self) -> bool:
        return any(item.blocking for item in self.failures)

    def render(self, language: str) -> str:
        return "\n".join(item.render(language) for item in self.items)

    def digest(self) -> str:
        """Changes when any line's state changes, not when a count of pending updates does."""
        states = [(item.code, item.ok, sorted((k, str(v)) for k, v in item.values.items()
                                              if k != "pending"))
                  for item in self.items]
        return hashlib.sha256(json.dumps(states).encode()).hexdigest()


def config_ok() -> Item:
    return Item("config", True, "config")


def config_failed(problems: int) -> Item:
    return Item("config", False, "config_invalid", {"count": problems}, "config",
                blocking=True)


async def token(bot: Bot) -> Item:
    try:
        me = await bot.get_me()
    except InvalidToken:
        return Item("token", False, "token_refused", fix="token", blocking=True)
    except TelegramError:
        return Item("token", False, "telegram_unreachable", fix="network", blocking=True)
    return Item("token", True, "token", {"username": me.username or str(me.id)})


def database(facts: FileFacts) -> Item:
    if facts.problem is not None:
        return Item("database", False, "database_unusable", {"problem": facts.problem},
                    "database", blocking=True)
    if not facts.exists or facts.version == 0:
        return Item("database", True, "database_new", {"path": str(facts.path)})
    if facts.pending:
        return Item("database", True, "database_pending",
                    {"version": facts.version, "pending": facts.pending})
    return Item("database", True, "database", {"version": facts.version})


def roles(settings: Settings) -> list[Item]:
    configured = settings.roles
    items = [
        Item("officials", True, "officials", {"count": len(configured.officials)})
        if configured.officials else
        Item("officials", False, "no_official", fix="no_official", blocking=True),
        Item("liaison", True, "liaison")
        if configured.liaison_chat_id is not None else
        Item("liaison", False, "no_liaison", fix="no_liaison", blocking=True),
    ]
    if not configured.admins:
        items.append(Item("admins", True, "no_admin"))
    return items


async def sectors(settings: Settings, store: Store | None, bot: Bot) -> list[Item]:
    """Each configured sector has a group, and the bot may still do its job there."""
    linked: dict[str, int | None] = {sector.name: None for sector in settings.sectors}
    if store is not None:
        for sector in await store.sectors.active():
            if sector.name in linked:
                linked[sector.name] = sector.chat_id
    items: list[Item] = []
    for name, chat_id in linked.items():
        if chat_id is None:
            items.append(Item(f"sector:{name}", False, "sector_unlinked", {"sector": name},
                              "sector_unlinked"))
            continue
        items.append(await _group_rights(bot, name, chat_id))
    return items


async def _group_rights(bot: Bot, name: str, chat_id: int) -> Item:
    code, values = f"sector:{name}", {"sector": name}
    try:
        member = await bot.get_chat_member(chat_id, bot.id)
    except Forbidden:
        return Item(code, False, "sector_bot_gone", values, "sector_bot_gone")
    except TelegramError:
        return Item(code, False, "sector_unknown", values, "sector_bot_gone")
    if isinstance(member, ChatMemberOwner):
        return Item(code, True, "sector", values)
    if not isinstance(member, ChatMemberAdministrator):
        return Item(code, False, "sector_not_admin", values, "sector_rights")
    missing = [key for right, key in BOT_RIGHTS_IN_SECTOR_GROUP.items()
               if not getattr(member, right)]
    if missing:
        return Item(code, False, "sector_rights_missing",
                    {**values, "rights": ", ".join(missing)}, "sector_rights")
    return Item(code, True, "sector", values)


async def reachable(settings: Settings, store: Store | None, bot: Bot) -> list[Item]:
    """Everyone the scheme relies on has started the bot (so it may write to them)."""
    roles_of: dict[int, str] = {}
    for user_id in settings.roles.officials:
        roles_of.setdefault(user_id, "official")
    for user_id in settings.roles.admins:
        roles_of.setdefault(user_id, "admin")
    if store is not None:
        for user_id in await store.referents.all_referents():
            roles_of.setdefault(user_id, "referent")
    liaison = settings.roles.liaison_chat_id
    if liaison is not None and liaison > 0:
        roles_of.setdefault(liaison, "liaison")
    items = [await _probe(bot, user_id, role) for user_id, role in roles_of.items()]
    if liaison is not None and liaison < 0:
        items.append(await _liaison_group(bot, liaison))
    return items


async def _probe(bot: Bot, user_id: int, role: str) -> Item:
    code, values = f"reach:{user_id}", {"id": user_id}
    try:
        await bot.send_chat_action(user_id, ChatAction.TYPING)
    except TelegramError:  # 403: never started or blocked; 400: unknown to the bot
        return Item(code, False, f"unreachable_{role}", values, "unreachable")
    return Item(code, True, f"reachable_{role}", values)


async def _liaison_group(bot: Bot, chat_id: int) -> Item:
    code, values = "reach:liaison", {"id": chat_id}
    try:
        member = await bot.get_chat_member(chat_id, bot.id)
    except TelegramError:
        return Item(code, False, "liaison_group_gone", values, "liaison_group")
    if member.status in ("left", "kicked"):
        return Item(code, False, "liaison_group_gone", values, "liaison_group")
    return Item(code, True, "liaison_group", values)


async def webhook(settings: Settings, bot: Bot) -> Item | None:
    hook = settings.telegram.webhook
    if settings.telegram.mode != "webhook" or hook.public_url is None:
        return None
    expected = f"{hook.public_url.rstrip('/')}/{hook.url_path}"
    try:
        info = await bot.get_webhook_info()
    except TelegramError:
        return Item("webhook", False, "webhook_unknown", fix="network")
    values: dict[str, str | int] = {"pending": info.pending_update_count}
    if info.url != expected:
        return Item("webhook", False, "webhook_unset", {**values, "url": expected},
                    "webhook_unset", blocking=True)
    error_at = info.last_error_date.timestamp() if info.last_error_date else 0.0
    # An error with nothing left waiting was followed by deliveries: it is history.
    if (info.last_error_message and info.pending_update_count
            and time.time() - error_at < WEBHOOK_ERROR_FRESH):
        return Item("webhook", False, "webhook_error",
                    {**values, "error": info.last_error_message}, "webhook_error")
    return Item("webhook", True, "webhook", values)


async def run(settings: Settings, bot: Bot, store: Store | None,
              facts: FileFacts | None = None) -> Checklist:
    """The whole checklist. `bot` must be initialised unless the token line is wanted:
    without `facts` the database is taken as open and current (a start-up run)."""
    items = [config_ok()]
    token_item = await token(bot)
    items.append(token_item)
    if facts is not None:
        items.append(database(facts))
    else:
        assert store is not None
        items.append(Item("database", True, "database",
                          {"version": await store.db.schema_version()}))
    items += roles(settings)
    if token_item.ok:
        items += await sectors(settings, store, bot)
        items += await reachable(settings, store, bot)
        hook = await webhook(settings, bot)
        if hook is not None:
            items.append(hook)
    return Checklist(items)


def database_facts(settings: Settings) -> FileFacts:
    return inspect(settings.storage.database, full=True)  # `vigie check`: the full check
