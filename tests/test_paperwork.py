"""The mairie's paperwork: four PDFs from the settings and today's figures, with no person."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from core import i18n
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from handlers import paperwork
from testing.commune import make_referent, with_members
from tests.conftest import Commune

COMMUNE = {"name": "Saint-Exemple", "mayor": "Mme Odile Lemaire",
           "unit": "Brigade de gendarmerie de Saint-Exemple",
           "controller_contact": "mairie@saint-exemple.fr", "dpo_contact": "dpo@agglo.fr",
           "protocol_signed_on": "2024-03-15"}


@pytest.fixture(autouse=True)
def _default_profile() -> Iterator[None]:
    yield
    i18n.use_profile(Settings().commune)


def text_of(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    # Extracted text breaks lines and spaces words its own way: compare squeezed text.
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages))


def test_renewal_is_three_years_on_and_the_reminder_three_months_before() -> None:
    assert paperwork.renewal_dates(dt.date(2024, 3, 15)) == (dt.date(2027, 3, 15),
                                                             dt.date(2026, 12, 15))
    assert paperwork.renewal_dates(dt.date(2024, 2, 29))[0] == dt.date(2027, 2, 28)


async def test_the_official_gets_four_documents_without_any_person(
        make_settings: Callable[..., Settings], commune: Commune) -> None:
    settings = make_settings(commune=COMMUNE, privacy={"retention_days": 45})
    async with running(build_application(settings)) as app:
        await with_members(commune)
        await make_referent(app, commune, commune.alice)
        official = commune.official
        official.send_command("/documents", args="tout")
        for _ in range(4):
            await official.wait_for(lambda m: m.kind == "document")
        await commune.emu.wait_until(
            lambda: len([m for m in official.inbox() if m.kind == "document"]) == 4)
        texts = {}
        for message in [m for m in official.inbox() if m.kind == "document"]:
            assert message.file is not None
            texts[message.file["file_name"]] = text_of(
                commune.emu.file_content(message.file["file_id"]))
        actions = [e["action"] for e in await services_of(app).store.audit.entries()]
    assert sorted(texts) == sorted(f"vigie-{kind}.pdf" for kind in paperwork.KINDS)
    everything = " ".join(texts.values())
    for configured in ("Saint-Exemple", "Mme Odile Lemaire", "dpo@agglo.fr",
                       "mairie@saint-exemple.fr"):
        assert configured in everything, configured
    assert "45 jours" in texts["vigie-registre.pdf"]
    assert "15/03/2027" in texts["vigie-protocole.pdf"]  # the three-year term
    assert "15/12/2026" in texts["vigie-protocole.pdf"]  # the reminder
    assert "Centre-bourg 1" in texts["vigie-protocole.pdf"]  # Alice, a referent: no name
    for person in (commune.alice, commune.liaison, commune.official, commune.admin):
        assert str(person.id) not in everything
    for name in ("Alice", "Martin", "Gaston", "Odile M", "Adam"):
        assert name not in everything
    assert actions.count("paperwork.generated") == 4


async def test_residents_are_refused_and_a_wrong_kind_is_explained(
        make_settings: Callable[..., Settings], commune: Commune) -> None:
    async with running(build_application(make_settings())):
        await with_members(commune)
        commune.alice.send_command("/documents")
        await commune.alice.wait_for(text=i18n.t("fr", "denied.officials_only"))
        commune.official.send_command("/documents", args="bidule")
        await commune.official.wait_for(text=i18n.t("fr", "paperwork.unknown_kind",
                                                    kind="bidule"))
        commune.official.send_command("/documents")
        await commune.official.wait_for(text=i18n.t("fr", "paperwork.usage")[:40])


def test_the_cli_writes_the_documents_in_the_communes_language(tmp_path: Path) -> None:
    settings = Settings(commune={**COMMUNE, "name": "Ittre", "country": "BE",
                                 "force": "police_locale", "language": "nl",
                                 "unit": "Politiezone Zenne en Bos"},
                        storage={"database": tmp_path / "vigie.db"}, sectors=[{"name": "Dorp"}])
    assert paperwork.cli(settings, "tout", tmp_path / "docs") == 0
    assert paperwork.cli(settings, "bidule", tmp_path / "x.pdf") == 2
    registre = text_of((tmp_path / "docs" / "vigie-registre.pdf").read_bytes())
    assert "Politiezone Zenne en Bos" in registre and "Ittre" in registre
    assert "Gegevensbeschermingsautoriteit" in text_of(
        (tmp_path / "docs" / "vigie-mention.pdf").read_bytes())
    assert "gendarm" not in registre.casefold()
