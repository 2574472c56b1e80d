"""What /zone and /rues check and record.

The checks are pure (bytes or text in, a refusal or the cleaned value out), so each bad
input has its own catalogue answer and nothing is written before everything passed. The
geometry is checked with shapely, imported inside the check only: the bot starts without
it (its memory at start is measured, issue 13).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core import geo, streets
from core.geo import Polygon
from core.services import Services
from storage import Sector

AREA_MAX_BYTES = 1024 * 1024  # a commune's sector outline is a few kB; 1 MB is generous
STREETS_FILE_MAX_BYTES = 256 * 1024
STREETS_MAX = 2_000  # per sector
STREET_MAX = 80  # characters, as at enrolment
# Two areas sharing a border drawn in two tools overlap by a sliver: refused only past
# this share of the smaller one.
OVERLAP_TOLERANCE = 0.001


@dataclass(frozen=True)
class Refusal:
    """A catalogue key and its values: why nothing was changed."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


def kilobytes(size: int) -> int:
    return max(1, (size + 1023) // 1024)


def too_big(size: int | None, limit: int) -> Refusal | None:
    if size is not None and size > limit:
        return Refusal("areas.too_big", {"size": kilobytes(size), "limit": limit // 1024})
    return None


def decode(data: bytes) -> str | Refusal:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Refusal("areas.not_text")


# --- areas ------------------------------------------------------------------------------

def merged_area(first: str, second: str) -> str:
    """Two sectors' areas as one (a merge): their union, as a GeoJSON geometry."""
    from shapely.geometry import mapping
    from shapely.ops import unary_union

    union = unary_union([_shape(geo.parse_polygons(first)), _shape(geo.parse_polygons(second))])
    return json.dumps(mapping(union))


def _shape(polygons: list[Polygon]) -> Any:
    from shapely.geometry import MultiPolygon
    from shapely.geometry import Polygon as Shape

    return MultiPolygon([Shape(polygon[0], polygon[1:]) for polygon in polygons])


def check_area(text: str, others: dict[str, str]) -> list[Polygon] | Refusal:
    """The polygons of a GeoJSON text if it is a valid area that overlaps none of `others`
    (other active sectors' areas, by sector name)."""
    try:
        json.loads(text)
    except ValueError:
        return Refusal("areas.not_json")
    try:
        polygons = geo.parse_polygons(text)
    except geo.GeoError:
        return Refusal("areas.not_polygon")
    try:
        mine = _shape(polygons)
    except (ValueError, TypeError):  # a ring of fewer than 4 points, NaN coordinates…
        return Refusal("areas.invalid_polygon")
    if not mine.is_valid or mine.area <= 0:
        return Refusal("areas.invalid_polygon")
    for name, area in sorted(others.items()):
        try:
            theirs = _shape(geo.parse_polygons(area))
        except (geo.GeoError, ValueError, TypeError):
            continue  # an area stored before these checks; it never matches anyway
        if not theirs.is_valid:
            theirs = theirs.buffer(0)
        shared = mine.intersection(theirs).area
        if shared > OVERLAP_TOLERANCE * min(mine.area, theirs.area):
            return Refusal("areas.overlap", {"other": name})
    return polygons


async def other_areas(svc: Services, sector_id: int) -> dict[str, str]:
    """The other active sectors' areas, by name."""
    names = {s.id: s.name for s in await svc.store.sectors.active()}
    return {names[other]: area for other, area in (await svc.store.sectors.areas()).items()
            if other != sector_id and other in names}


async def set_area(svc: Services, actor_id: int, sector: Sector, text: str,
                   polygons: int) -> str | None:
    """Store the area (and its audit entry), apply it at once; the previous area, if any."""
    store = svc.store
    async with store.transaction():
        previous = (await store.sectors.areas()).get(sector.id)
        await store.sectors.set_area(sector.id, text)
        await store.audit.record(actor_id, "sector.area_set", f"sector:{sector.id}",
                                 polygons=polygons)
    await svc.reload_areas()
    return previous


# --- streets ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StreetList:
    entries: list[tuple[str, str]]  # (street as written, key), keys distinct
    folded: int  # lines that repeated a street already in the list


def check_streets(names: list[str]) -> StreetList | Refusal:
    """The list as it will be stored: too long a name or too many streets refuse it."""
    if not names:
        return Refusal("areas.no_street_found")
    for name in names:
        if len(name) > STREET_MAX:
            return Refusal("areas.street_too_long", {"street": name[:STREET_MAX] + "…",
                                                     "limit": STREET_MAX})
    entries: dict[str, str] = {}
    for name in names:
        entries.setdefault(streets.street_key(name), name)
    if len(entries) > STREETS_MAX:
        return Refusal("areas.too_many", {"count": len(entries), "limit": STREETS_MAX})
    return StreetList([(name, key) for key, name in entries.items()],
                      len(names) - len(entries))


async def set_streets(svc: Services, actor_id: int, sector: Sector, listed: StreetList
                      ) -> tuple[list[str], list[tuple[str, str]]]:
    """Replace the sector's streets: (the previous list, []) once stored, or (the previous
    list, [(street, other sector's name)]) when other sectors hold some, nothing changed."""
    store = svc.store
    async with store.transaction():
        previous = await store.sectors.streets(sector.id)
        held = await store.sectors.set_streets(sector.id, listed.entries)
        if not held:
            await store.audit.record(actor_id, "sector.streets_set", f"sector:{sector.id}",
                                     count=len(listed.entries))
    if held:
        names = {s.id: s.name for s in await store.sectors.active()}
        return previous, [(street, names.get(other, "?")) for street, other in held]
    return previous, []


async def clear_streets(svc: Services, actor_id: int, sector: Sector) -> list[str]:
    """Empty the sector's list; the previous one, to hand back."""
    store = svc.store
    async with store.transaction():
        previous = await store.sectors.streets(sector.id)
        if previous:
            await store.sectors.set_streets(sector.id, [])
            await store.audit.record(actor_id, "sector.streets_set", f"sector:{sector.id}",
                                     count=0)
    return previous
