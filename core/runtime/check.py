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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner
from telegram.constants import ChatAction
from telegram.error import Forbidden, InvalidToken, TelegramError

from core import i18n
from core.permissions import BOT_RIGHTS_IN_SECTOR_GROUP
from core.settings import Settings
from storage import Roles, Store
from storage.db import FileFacts, inspect

# A webhook error older than this is history, not a present problem.
WEBHOOK_ERROR_FRESH = 3600.0
MARK = {True: "✓", False: "✗"}
NOTE = "ℹ"  # a line that is neither good nor bad: a value in force, a difference explained


@dataclass(frozen=True)
class Item:
    """One line: `code` is stable and logged; `key`/`fix` are catalogue keys under check."""

    code: str
    ok: bool
    key: str
    values: Mapping[str, str | int] = field(default_factory=dict)
    fix: str | None = None
    blocking: bool = False
    note: bool = False  # informative: shown with NOTE and its `fix` (a catalogue key under check)

    def render(self, language: str) -> str:
        values = {name: _shown(value, language) for name, value in self.values.items()}
        mark = NOTE if self.note else MARK[self.ok]
        line = f"{mark} {i18n.t(language, f'check.{self.key}', **values)}"
        if self.note and self.fix is not None:
            line += f"\n   → {i18n.t(language, f'check.{self.fix}', **values)}"
        elif not self.ok and self.fix is not None:
            line += f"\n   → {i18n.t(language, f'check.fix.{self.fix}', **values)}"
        return line


def _shown(value: str | int, language: str) -> str | int:
    """Values that name a catalogue text (a group right, "nobody") are shown in the reader's
    words."""
    if isinstance(value, str) and value.startswith(("groups.right_", "check.nobody")):
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


@dataclass(frozen=True)
class Current:
    """The staff, the liaison chat and the active sectors in force: the database's (they
    change in the bot), or config.toml's when there is no current database yet (the first
    start seeds it from the file)."""

    roles: Roles
    sectors: dict[str, int | None]  # active sector name → its group's id, if linked
    from_database: bool


def configured_roles(settings: Settings) -> Roles:
    seed = settings.roles
    return Roles(tuple(seed.officials), tuple(seed.admins), seed.liaison_chat_id)


async def current(settings: Settings, store: Store | None, facts: FileFacts | None
                  ) -> Current:
    if store is None or (facts is not None and facts.pending):
        # No database, or one the next start migrates: what the file says is what will be.
        return Current(configured_roles(settings),
                       {sector.name: None for sector in settings.sectors}, False)
    active = await store.sectors.active()
    return Current(await store.staff.load(), {s.name: s.chat_id for s in active}, True)


def _people(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


def roles(settings: Settings, now: Current | None = None) -> list[Item]:
    """Who runs the scheme, as it is in force (the database once it exists)."""
    held = now.roles if now is not None else configured_roles(settings)
    items = [
        Item("officials", True, "officials", {"count": len(held.officials)})
        if held.officials else
        Item("officials", False, "no_official", fix="no_official", blocking=True),
        Item("liaison", True, "liaison")
        if held.liaison_chat_id is not None else
        Item("liaison", False, "no_liaison", fix="no_liaison", blocking=True),
    ]
    if not held.admins:
        items.append(Item("admins", True, "no_admin"))
    if now is None or not now.from_database:
        return items
    nobody = "check.nobody"
    items += [
        Item("current:officials", True, "current_officials",
             {"people": _people(held.officials) or nobody}, note=True),
        Item("current:admins", True, "current_admins",
             {"people": _people(held.admins) or nobody}, note=True),
        Item("current:liaison", True, "current_liaison",
             {"chat": nobody if held.liaison_chat_id is None else str(held.liaison_chat_id)},
             note=True),
    ]
    return items + differences(settings, now)


def differences(settings: Settings, now: Current) -> list[Item]:
    """Where config.toml and the database differ: the latest change wins (storage/staff.py,
    storage/sectors.apply_config), so each such line says which way it will go."""
    file, held = configured_roles(settings), now.roles
    pairs: list[tuple[str, str, str]] = [
        ("officials", _people(file.officials), _people(held.officials)),
        ("admins", _people(file.admins), _people(held.admins)),
        ("liaison", "" if file.liaison_chat_id is None else str(file.liaison_chat_id),
         "" if held.liaison_chat_id is None else str(held.liaison_chat_id)),
    ]
    names = sorted(sector.name for sector in settings.sectors)
    if sorted(n.casefold() for n in names) != sorted(n.casefold() for n in now.sectors):
        pairs.append(("sectors", ", ".join(names), ", ".join(sorted(now.sectors))))
    return [Item(f"differs:{what}", True, f"differs_{what}",
                 {"config": config or "check.nobody", "current": held or "check.nobody"},
                 fix="latest_wins", note=True)
            for what, config, held in pairs if config != held]


async def sectors(settings: Settings, store: Store | None, bot: Bot,
                  now: Current | None = None) -> list[Item]:
    """Each active sector has a group, and the bot may still do its job there."""
    linked = now.sectors if now is not None else (await current(settings, store, None)).sectors
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


async def reachable(settings: Settings, store: Store | None, bot: Bot,
                    now: Current | None = None) -> list[Item]:
    """Everyone the scheme relies on has started the bot (so it may write to them)."""
    held = now.roles if now is not None else configured_roles(settings)
    roles_of: dict[int, str] = {}
    for user_id in held.officials:
        roles_of.setdefault(user_id, "official")
    for user_id in held.admins:
        roles_of.setdefault(user_id, "admin")
    if store is not None and (now is None or now.from_database):
        for user_id in await store.referents.all_referents():
            roles_of.setdefault(user_id, "referent")
    liaison = held.liaison_chat_id
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
    now = await current(settings, store, facts)
    items += roles(settings, now)
    if token_item.ok:
        items += await sectors(settings, store, bot, now)
        items += await reachable(settings, store, bot, now)
        hook = await webhook(settings, bot)
        if hook is not None:
            items.append(hook)
    return Checklist(items)


def database_facts(settings: Settings) -> FileFacts:
    return inspect(settings.storage.database, full=True)  # `vigie check`: the full check
