"""Data protection end to end: the notice, a copy of one's data, erasure without a trace."""

from __future__ import annotations

import json
from pathlib import Path

from telegram.ext import Application

from core.runtime.lifecycle import services_of
from testing.commune import make_referent, report, stored_values_matching
from testing.fences import quiescent
from testing.scripts import CHARTER_QUESTION, draft_report
from tests.conftest import Commune, fr


def mentions(user_id: int):  # type: ignore[no-untyped-def]
    return lambda v: v == user_id or (isinstance(v, str) and str(user_id) in v)


async def test_privacy_notice_names_the_controller_and_the_retention(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    commune.carol.send_command("/confidentialite")
    notice = await commune.carol.wait_for(text="Responsable du traitement")
    assert "Saint-Exemple" in notice.text and "90 jours" in notice.text


async def test_my_data_is_a_complete_copy(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice = members.alice
    report_id = await report(alice, "Scooter qui rôde sans plaque près du stade")
    alice.send_command("/mes_donnees")
    document = await alice.wait_for(lambda m: m.kind == "document")
    assert document.file is not None
    data = json.loads(members.emu.file_content(document.file["file_id"]))
    assert data["person"]["sector"] == "Centre-bourg"
    assert [r["id"] for r in data["reports"]] == [report_id]
    assert data["reports"][0]["description"] == "Scooter qui rôde sans plaque près du stade"
    # One acceptance, of the charter as it is now (its version is the database's).
    assert [a["version"] for a in data["charter_acceptances"]] == [
        services_of(vigie).charter.version]
    await alice.wait_for(text="1 signalement(s)")


async def test_erasure_leaves_no_trace_and_keeps_anonymous_counts(
    vigie: Application, members: Commune, tmp_path: Path  # type: ignore[type-arg]
) -> None:
    alice, emu = members.alice, members.emu
    centre = members.groups["Centre-bourg"]
    await report(alice, "Porte de cave forcée rue des Écoles")
    alice.send_command("/devenir_referent")
    await alice.wait_for(text="souhaitez devenir référent")
    alice.send_text("Disponible le soir et le week-end.")
    await alice.wait_for(text=fr("referents.applied"))

    alice.send_command("/supprimer_mes_donnees")
    await alice.wait_for(text=fr("privacy.erase_confirm")[:30])
    alice.press(fr("privacy.erase_yes"))
    await alice.wait_for(text=fr("privacy.erased")[:20])
    await emu.wait_until(lambda: centre.member_status(alice) == "left")
    # Her removal from the group brings updates naming her; once handled (just after), the
    # inbox keeps only their ids.
    await quiescent(vigie, emu)

    assert stored_values_matching(tmp_path / "vigie.db", mentions(alice.id)) == []
    # What she wrote is gone too, the staff's copies of her report card included.
    assert stored_values_matching(
        tmp_path / "vigie.db", lambda v: isinstance(v, str) and "Porte de cave" in v) == []
    store = services_of(vigie).store
    counts = await store.db.fetch_one("SELECT COUNT(*), COUNT(description) FROM reports")
    assert tuple(counts) == (1, 0)  # the report still counts, its contents are gone
    alice.send_command("/mes_donnees")
    await alice.wait_for(text=fr("denied.nothing_stored"))


async def test_referent_must_give_up_the_role_first(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    await make_referent(vigie, members, members.alice)
    store = services_of(vigie).store
    members.alice.send_command("/supprimer_mes_donnees")
    await members.alice.wait_for(text=fr("privacy.referent_first")[:30])
    assert await store.people.get(members.alice.id) is not None


async def test_erasure_in_the_middle_of_a_report_draft_sends_nothing(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice = members.alice
    summary = await draft_report(alice, "Voiture qui tourne depuis une heure")
    alice.send_command("/supprimer_mes_donnees")
    await alice.wait_for(text=fr("privacy.erase_confirm")[:30])
    alice.press(fr("privacy.erase_yes"))
    await alice.wait_for(text=fr("privacy.erased")[:20])
    alice.press(fr("reports.confirm"), message_id=summary.message_id)
    await members.emu.wait_until(lambda: any(
        a["text"] == fr("denied.report_members_only") for a in members.emu.callback_answers))
    reports = await services_of(vigie).store.db.fetch_one("SELECT COUNT(*) FROM reports")
    assert reports is not None and reports[0] == 0
    assert not any("Signalement n°" in (m.text or "") for m in members.liaison.inbox())


async def test_an_official_must_be_dismissed_before_erasing(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    official = members.official
    official.send_command("/start")  # known to the bot: there is something to erase
    await official.wait_for(text=CHARTER_QUESTION)
    official.send_command("/supprimer_mes_donnees")
    await official.wait_for(text=fr("privacy.staff_first")[:30])
    store = services_of(vigie).store
    assert official.id in (await store.staff.load()).officials
    assert await store.people.get(official.id) is not None
