"""A sector's area and streets set in chat (/zone, /rues), and enrolment by street.

Through the emulator: the official uploads GeoJSON files and street lists; a resident then
enrols by a shared location or by typing their street, confirmed by a button. Plus the
pure street folding and the matcher's figures on the labelled corpus.
"""

from __future__ import annotations

import json

import pytest
from telegram.ext import Application

from core import streets
from core.runtime.lifecycle import services_of
from emulator import Person
from handlers.areas.buttons import StreetsClear
from testing.scripts import CHARTER_QUESTION, fr_part
from tests.conftest import ROOT, Commune, fr

DATA = ROOT / "tests" / "data"


def square(lon: float, lat: float, size: float = 1.0) -> bytes:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
            [lon, lat]]
    return json.dumps({"type": "Feature", "properties": {},
                       "geometry": {"type": "Polygon", "coordinates": [ring]}}).encode()


def picker(sector: str, count: int = 0, zone: bool = False) -> str:
    return fr("areas.sector_button", sector=sector, count=count,
              zone=fr("areas.has_zone") if zone else "")


def load_tsv(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


async def upload_area(official: Person, sector: str, content: bytes) -> None:
    official.send_command("/zone")
    await official.wait_for(text=fr("areas.pick_sector_zone"))
    official.press(picker(sector))
    await official.wait_for(text=fr_part("areas.ask_file"))
    official.send_document(file_name="zone.geojson", content=content)


async def send_list(official: Person, sector: str, text: str, count: int = 0) -> None:
    official.send_command("/rues")
    await official.wait_for(text=fr("areas.pick_sector_streets"))
    official.press(picker(sector, count))
    await official.wait_for(text=fr_part("areas.streets_ask"))
    official.send_text(text)


async def start_to_sector_step(person: Person) -> None:
    person.send_command("/start")
    await person.wait_for(text=CHARTER_QUESTION)
    person.press(fr("charter.accept"))
    await person.wait_for(text=fr("enrolment.choose_sector"))


# --- areas ------------------------------------------------------------------------------

async def test_uploaded_area_then_a_location_inside_enrols_there(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official, alice = commune.official, commune.alice
    await upload_area(official, "Les Hauts", square(2.0, 48.0))
    await official.wait_for(text=fr("areas.area_saved", sector="Les Hauts", polygons=1))
    svc = services_of(vigie)
    hauts = await svc.store.sectors.by_name("Les Hauts")
    assert hauts is not None and hauts.id in svc.sector_polygons
    assert "sector.area_set" in [e["action"] for e in await svc.store.audit.entries()]

    await start_to_sector_step(alice)
    await alice.wait_for(text=fr("enrolment.or_location")[:30])
    alice.send_location(48.5, 2.5)
    await alice.wait_for(text=fr("enrolment.sector_found", sector="Les Hauts"))
    person = await svc.store.people.get(alice.id)
    assert person is not None and person.sector_id == hauts.id

    # A new area replaces the old one, which is handed back as a file.
    await upload_area(official, "Les Hauts", square(2.0, 48.0, 0.5))
    await official.wait_for(text=fr("areas.area_saved", sector="Les Hauts", polygons=1))
    back = await official.wait_for(text=fr("areas.previous_area", sector="Les Hauts"))
    assert back.file is not None
    assert commune.emu.file_content(back.file["file_id"]) == square(2.0, 48.0)


@pytest.mark.parametrize(("content", "size", "refusal"), [
    (b'{"type": "Polygon", "coordinates": [[[2, 48], [3', None, "areas.not_json"),
    (b"\xff\xfe\x00 not utf-8", None, "areas.not_text"),
    (json.dumps({"type": "LineString", "coordinates": [[2, 48], [3, 49]]}).encode(), None,
     "areas.not_polygon"),
    (json.dumps({"type": "Polygon", "coordinates": [[[2, 48], [3, 49], [3, 48], [2, 49],
                                                     [2, 48]]]}).encode(), None,
     "areas.invalid_polygon"),  # a bow tie: the outline crosses itself
    (square(2.0, 48.0), 2 * 1024 * 1024, "areas.too_big"),
])
async def test_a_bad_area_file_is_refused_and_nothing_changes(
    vigie: Application, commune: Commune,  # type: ignore[type-arg]
    content: bytes, size: int | None, refusal: str
) -> None:
    official = commune.official
    # The caption way: the file and "/zone Centre-bourg" in one message.
    official.send_document(file_name="zone.geojson", content=content, file_size=size,
                           caption="/zone Centre-bourg")
    expected = fr(refusal, size=2048, limit=1024) if refusal == "areas.too_big" else fr(refusal)
    await official.wait_for(text=expected)
    assert await services_of(vigie).store.sectors.areas() == {}


async def test_a_file_captioned_zone_without_a_known_sector_waits_for_the_pick(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official = commune.official
    official.send_document(file_name="vallee.geojson", content=square(5.0, 45.0),
                           caption="/zone Vallée")
    await official.wait_for(text=fr("areas.unknown_sector_name", name="Vallée"))
    official.press(picker("La Vallée"))
    await official.wait_for(text=fr("areas.area_saved", sector="La Vallée", polygons=1))
    svc = services_of(vigie)
    vallee = await svc.store.sectors.by_name("La Vallée")
    assert vallee is not None and list(await svc.store.sectors.areas()) == [vallee.id]


async def test_an_area_overlapping_another_sector_is_refused(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official = commune.official
    await upload_area(official, "Les Hauts", square(2.0, 48.0))
    await official.wait_for(text=fr("areas.area_saved", sector="Les Hauts", polygons=1))
    await upload_area(official, "Centre-bourg", square(2.5, 48.5))
    await official.wait_for(text=fr("areas.overlap", other="Les Hauts"))
    # Still waiting for a better file: one sharing only a border is fine.
    official.send_document(file_name="zone.geojson", content=square(3.0, 48.0))
    await official.wait_for(text=fr("areas.area_saved", sector="Centre-bourg", polygons=1))
    assert len(await services_of(vigie).store.sectors.areas()) == 2


# --- streets ----------------------------------------------------------------------------

async def test_streets_set_folded_held_by_another_sector_and_cleared(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official, store = commune.official, services_of(vigie).store
    await send_list(official, "Centre-bourg", "Rue des Lilas\nAvenue Foch\n12 rue des lilas\n")
    await official.wait_for(text=fr("areas.streets_saved", sector="Centre-bourg", count=2))
    centre = await store.sectors.by_name("Centre-bourg")
    hauts = await store.sectors.by_name("Les Hauts")
    assert centre is not None and hauts is not None
    assert await store.sectors.streets(centre.id) == ["Avenue Foch", "Rue des Lilas"]

    await send_list(official, "Les Hauts", "Allée des Lilas\nav. Foch")
    held = await official.wait_for(text=fr_part("areas.held"))
    assert fr("areas.held_line", street="av. Foch", sector="Centre-bourg") in (held.text or "")
    assert await store.sectors.streets(hauts.id) == []  # nothing changed
    # Still waiting for the list: a .csv file, first column, header left out.
    official.send_document(file_name="rues.csv", content="rue;note\nAllée des Lilas;\n"
                           "Chemin des Vignes;haut\n".encode())
    await official.wait_for(text=fr("areas.streets_saved", sector="Les Hauts", count=2))

    official.send_command("/rues", args="Centre-bourg")
    shown = await official.wait_for(text=fr("areas.streets_title", sector="Centre-bourg",
                                            count=2))
    assert "Rue des Lilas" in (shown.text or "")
    official.press(fr("areas.clear_button"))
    await official.wait_for(text=fr("areas.cleared", sector="Centre-bourg"))
    back = await official.wait_for(text=fr("areas.previous_streets", sector="Centre-bourg"))
    assert back.file is not None
    assert "Rue des Lilas" in commune.emu.file_content(back.file["file_id"]).decode()
    assert await store.sectors.streets(centre.id) == []
    actions = [e["action"] for e in await store.audit.entries()]
    assert actions.count("sector.streets_set") == 3
    # The same Clear pressed again (a stale list): answered so, nothing more happens.
    official.press_data(StreetsClear(centre.id).pack(), shown.message_id)
    await commune.emu.wait_until(lambda: any(
        a["text"] == fr("fallback.stale_button") for a in commune.emu.callback_answers))


async def commune_streets(vigie: Application) -> dict[str, int]:  # type: ignore[type-arg]
    """The labelled corpus's street lists, stored as /rues would."""
    store = services_of(vigie).store
    ids = {s.name: s.id for s in await store.sectors.active()}
    lists: dict[str, list[tuple[str, str]]] = {}
    for sector, street in load_tsv("streets_commune.tsv"):
        lists.setdefault(sector, []).append((street, streets.street_key(street)))
    for sector, entries in lists.items():
        assert await store.sectors.set_streets(ids[sector], entries) == []
    return ids


@pytest.mark.parametrize(("typed", "street", "sector"), [
    ("rue des lilas", "Rue des Lilas", "Centre-bourg"),
    ("Rue des Lillas", "Rue des Lilas", "Centre-bourg"),
    ("av Foch", "Avenue Foch", "Centre-bourg"),
    ("ch. du moulin", "Chemin du Moulin", "La Vallée"),
])
async def test_a_typed_street_with_a_typo_is_confirmed_by_a_button(
    vigie: Application, commune: Commune,  # type: ignore[type-arg]
    typed: str, street: str, sector: str
) -> None:
    ids = await commune_streets(vigie)
    alice = commune.alice
    await start_to_sector_step(alice)
    await alice.wait_for(text=fr("areas.enrolment.or_street"))
    alice.send_text(typed)
    proposal = await alice.wait_for(text=fr("areas.enrolment.match", street=street,
                                            sector=sector))
    assert proposal.buttons == [fr("areas.enrolment.yes"), fr("areas.enrolment.choose")]
    store = services_of(vigie).store
    person = await store.people.get(alice.id)
    assert person is not None and person.sector_id is None  # nothing before the press
    alice.press(fr("areas.enrolment.yes"))
    await alice.wait_for(text=fr("enrolment.sector_chosen", sector=sector))
    await alice.wait_for(text=fr("enrolment.group_not_ready", sector=sector))
    person = await store.people.get(alice.id)
    assert person is not None and person.sector_id == ids[sector] and person.street == typed


async def test_choosing_oneself_after_a_proposal_keeps_no_street(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    ids = await commune_streets(vigie)
    bob = commune.bob  # speaks English
    await start_to_sector_step(commune.alice)  # not involved: another person, other chat
    bob.send_command("/start")
    await bob.wait_for(text="Do you accept this charter?")
    bob.press("✅ I accept the charter")
    await bob.wait_for(text="You can also type the name of your street")
    bob.send_text("av. Foch")
    await bob.wait_for(text="Avenue Foch → sector Centre-bourg?")
    bob.press("Choose myself")
    await bob.wait_for(text="Which sector do you live in?")
    bob.press("Les Hauts")
    await bob.wait_for(text="you may give your street")
    person = await services_of(vigie).store.people.get(bob.id)
    assert person is not None and person.sector_id == ids["Les Hauts"]
    assert person.street is None


async def test_an_ambiguous_or_unknown_street_gets_the_sector_buttons(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    await commune_streets(vigie)
    alice = commune.alice
    await start_to_sector_step(alice)
    alice.send_text("lilas")  # Rue des Lilas (Centre-bourg) or Allée des Lilas (Les Hauts)
    ambiguous = await alice.wait_for(text=fr_part("areas.enrolment.ambiguous"))
    assert "Centre-bourg" in (ambiguous.text or "") and "Les Hauts" in (ambiguous.text or "")
    assert set(ambiguous.buttons) == {"Centre-bourg", "Les Hauts", "La Vallée"}
    alice.send_text("Rue des Roses")
    unknown = await alice.wait_for(text=fr_part("areas.enrolment.unknown"))
    assert "La Vallée" in unknown.buttons
    person = await services_of(vigie).store.people.get(alice.id)
    assert person is not None and person.sector_id is None
    alice.press("La Vallée")  # the buttons still work
    await alice.wait_for(text=fr("enrolment.sector_chosen", sector="La Vallée"))


async def test_without_street_lists_typed_text_asks_for_the_buttons(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice = commune.alice
    await start_to_sector_step(alice)
    alice.send_text("rue des lilas")
    await alice.wait_for(text=fr("enrolment.use_buttons"))
    assert fr("areas.enrolment.or_street") not in [m.text for m in alice.inbox()]


@pytest.mark.parametrize("command", ["/zone", "/rues"])
async def test_residents_and_the_liaison_may_not_set_areas_or_streets(
    members: Commune, command: str
) -> None:
    for person in (members.alice, members.liaison):
        person.send_command(command)
        await person.wait_for(text=fr("denied.officials_only"))
    members.alice.send_document(file_name="zone.geojson", content=square(2.0, 48.0),
                                caption="/zone Centre-bourg")
    await members.alice.wait_for(text=fr("denied.officials_only"))
    group = members.group_with_bot("Quartier", [members.alice])
    members.official.send_command(command, chat=group)
    await group.wait_for(text=fr("denied.private_only"))


# --- the pure parts ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "key"), [
    ("Rue des Lilas", "rue des lilas"),
    ("12, r. des Lilas", "rue des lilas"),
    ("AV. FOCH", "avenue foch"),
    ("Bd Saint-Michel", "boulevard saint michel"),
    ("boul. St-Germain", "boulevard saint germain"),
    ("Pl. de l'Église", "place de l eglise"),
    ("All. des Tilleuls", "allee des tilleuls"),
    ("imp du Moulin", "impasse du moulin"),
    ("Ch. des Vignes", "chemin des vignes"),
    ("Rte de Lyon", "route de lyon"),
    ("Sq. Jean Moulin", "square jean moulin"),
    ("Fg Ste-Catherine", "faubourg sainte catherine"),
    ("Rue du 8 Mai 1945", "rue du 8 mai 1945"),
    ("3 bis rue Pasteur", "rue pasteur"),
    ("Kerkstr. 12 bus 3", "kerkstraat"),
    ("Stationsln 4", "stationslaan"),
    ("Brusselsestwg 45", "brusselsesteenweg"),
    ("Str. Van Praet", "straat van praet"),
    ("  Œuvre   Notre-Dame ", "oeuvre notre dame"),
    ("42", ""),
])
def test_street_key_folding(name: str, key: str) -> None:
    assert streets.street_key(name) == key


def test_the_matcher_on_the_labelled_corpus() -> None:
    ids = {name: i for i, name in enumerate(("Centre-bourg", "Les Hauts", "La Vallée"))}
    known = [(ids[sector], street, streets.street_key(street))
             for sector, street in load_tsv("streets_commune.tsv")]
    labelled = load_tsv("streets_labelled.tsv")
    assert len(labelled) >= 40
    wrong = []
    for typed, expected in labelled:
        found = streets.match_street(typed, known)
        got = found.sector_id if found.verdict is streets.Verdict.MATCH else None
        if got != (None if expected == "-" else ids[expected]):
            wrong.append((typed, expected, found))
    assert wrong == []


def test_a_street_list_is_parsed_line_by_line_or_from_a_csv() -> None:
    assert streets.parse_street_list("Rue des Lilas\n\n  Avenue   Foch \n42\n") == [
        "Rue des Lilas", "Avenue Foch"]
    assert streets.parse_street_list('rue,secteur\n"Rue des Lilas",Centre\n', csv=True) == [
        "Rue des Lilas"]

