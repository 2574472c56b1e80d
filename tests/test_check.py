"""`vigie check` and the start-up checklist, against the emulator.

A commune whose La Vallée group lost the bot's delete right and whose official never
started the bot: the checklist shows exactly those two ✗ lines and `vigie check` exits
non-zero. At start the same list reaches the officials in private when it changed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram.ext import Application

from core.runtime import check
from core.runtime.application import build_application
from core.runtime.lifecycle import announce_checklist, running, services_of
from core.settings import Settings
from emulator import Group
from storage.statuses import StaffRole
from testing.commune import card_of, started, with_members
from testing.scripts import send_report
from tests.conftest import ROOT, SECTORS, Commune, fr


async def link_without_starting(commune: Commune, name: str) -> Group:
    """The official links a sector group without ever writing to the bot in private."""
    group = commune.group_with_bot(f"Voisins {name}")
    commune.official.send_command("/lier_secteur", args=name, chat=group)
    await group.wait_for(text=fr("groups.linked", sector=name))
    return group


def config_for(settings: Settings, folder: Path) -> Path:
    """The same commune as a TOML file, for `bot.py check` in a process of its own."""
    assert settings.telegram.token is not None
    roles = settings.roles
    sectors = "\n".join(f'[[sectors]]\nname = "{name}"\n' for name in SECTORS)
    path = folder / "check.toml"
    path.write_text(f"""
[telegram]
token = "{settings.telegram.token.get_secret_value()}"
api_base_url = "{settings.telegram.api_base_url}"
file_base_url = "{settings.telegram.files_url}"

[storage]
database = "{settings.storage.database}"

[commune]
name = "{settings.commune.name}"

{sectors}
[roles]
officials = {roles.officials}
admins = {roles.admins}
liaison_chat_id = {roles.liaison_chat_id}

[logging]
level = "WARNING"
format = "json"
""", encoding="utf-8")
    return path


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("✗")]


@pytest.fixture
async def flawed(vigie: Application, commune: Commune) -> Commune:  # type: ignore[type-arg]
    """Every sector linked, La Vallée without the delete right; the official never wrote."""
    for name in SECTORS:
        commune.groups[name] = await link_without_starting(commune, name)
    commune.groups["La Vallée"].set_bot_rights(by=commune.official, can_delete_messages=False)
    await started(commune.admin)
    await started(commune.liaison)
    return commune


async def test_check_shows_exactly_what_is_missing_and_exits_non_zero(
    vigie: Application, flawed: Commune, settings: Settings, tmp_path: Path  # type: ignore[type-arg]
) -> None:
    config = config_for(settings, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                         "check"], cwd=ROOT, capture_output=True, text=True, env=env,
        timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    right = fr("groups.right_delete")
    assert failed_lines(result.stdout) == [
        f"✗ {fr('check.sector_rights_missing', sector='La Vallée', rights=right)}",
        f"✗ {fr('check.unreachable_official', id=flawed.official.id)}",
    ]
    assert fr("check.fix.sector_rights") in result.stdout
    assert fr("check.fix.unreachable") in result.stdout
    assert "✓ " + fr("check.sector", sector="Centre-bourg") in result.stdout
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() not in result.stdout + result.stderr


async def test_blocking_without_official_or_liaison(
    vigie: Application, commune: Commune,  # type: ignore[type-arg]
    make_settings: Callable[..., Settings]
) -> None:
    bare = make_settings(roles={"officials": [], "admins": [], "liaison_chat_id": None})
    store = services_of(vigie).store
    # The checklist reads the roles in force, the database's: empty them there too.
    await store.staff.dismiss(commune.official.id, StaffRole.OFFICIAL)
    await store.staff.dismiss(commune.admin.id, StaffRole.ADMIN)
    await store.staff.set_liaison(None)
    checklist = await check.run(bare, vigie.bot, store)
    codes = {item.code for item in checklist.failures if item.blocking}
    assert codes == {"officials", "liaison"}
    assert checklist.blocked


async def test_officials_get_the_checklist_in_private_when_it_changed(
    vigie: Application, flawed: Commune  # type: ignore[type-arg]
) -> None:
    svc, official = services_of(vigie), flawed.official
    await started(official)
    heading = fr("check.changed")

    first = await announce_checklist(svc, vigie.bot)
    assert first is not None and [item.code for item in first.failures] == ["sector:La Vallée"]
    message = await official.wait_for(text=heading)
    assert fr("check.sector_rights_missing", sector="La Vallée",
              rights=fr("groups.right_delete")) in message.text

    await announce_checklist(svc, vigie.bot)  # nothing changed: nothing sent
    flawed.groups["La Vallée"].set_bot_rights(by=official, can_delete_messages=True)
    fixed = await announce_checklist(svc, vigie.bot)
    assert fixed is not None and fixed.failures == []
    final = await official.wait_for(text=fr("check.all_good"))
    told = [m for m in official.inbox() if heading in (m.text or "")]
    assert len(told) == 2 and told[-1].message_id == final.message_id


async def test_a_report_without_liaison_is_kept_and_sent_once_one_is_configured(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    alice, liaison = commune.alice, commune.liaison
    roles = {"officials": [commune.official.id], "admins": [commune.admin.id]}
    blocked = make_settings(roles={**roles, "liaison_chat_id": None},
                            reports={"relay_mode": "direct"})
    async with running(build_application(blocked)) as app:
        await with_members(commune)
        report_id = await send_report(alice, "Camionnette blanche garée devant l'école",
                                      answer="reports.sent_held")
        await alice.wait_for(text=fr("check.report_held", id=report_id))
        store = services_of(app).store
        assert [r.id for r in await store.reports.held_for_recipient()] == [report_id]
    assert not [m for m in liaison.inbox() if f"n°{report_id}" in (m.text or "")]

    configured = make_settings(reports={"relay_mode": "direct"})  # the liaison is back
    async with running(build_application(configured)) as app:
        await liaison.wait_for(text=f"Signalement n°{report_id}")
        await alice.wait_for(text=fr("reports.relayed_dm", id=report_id))
        assert await services_of(app).store.reports.held_for_recipient() == []
    card_of(liaison, report_id)  # exactly one card
