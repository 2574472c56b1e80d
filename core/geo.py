"""Which sector contains a point: GeoJSON polygons, ray casting, no dependency.

Used once, at enrolment, on a location the resident shares; the location itself is never
stored, only the sector it falls in.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.settings import ConfigError, SectorSettings

Ring = list[tuple[float, float]]  # (longitude, latitude), as GeoJSON orders them
Polygon = list[Ring]  # outer ring, then holes


class GeoError(Exception):
    pass


def load_polygons(path: Path) -> list[Polygon]:
    """Polygons of a GeoJSON file: a geometry, a Feature or a FeatureCollection."""
    try:
        return parse_polygons(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GeoError(f"{path}: {exc}") from None
    except GeoError as error:
        raise GeoError(f"{path}: {error}") from None


def parse_polygons(text: str) -> list[Polygon]:
    """Polygons of a GeoJSON text: a geometry, a Feature or a FeatureCollection."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GeoError(str(exc)) from None
    if not isinstance(data, dict):
        raise GeoError("not a GeoJSON object")
    geometries = []
    for item in data.get("features", [data]):
        geometries.append(item.get("geometry", item) if isinstance(item, dict) else {})
    polygons: list[Polygon] = []
    for geometry in geometries:
        kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
        try:
            if kind == "Polygon":
                polygons.append(_polygon(coordinates))
            elif kind == "MultiPolygon":
                polygons.extend(_polygon(part) for part in coordinates)
            else:
                raise GeoError(f"expected Polygon or MultiPolygon, found {kind!r}")
        except (TypeError, ValueError, IndexError):
            raise GeoError(f"{kind}: malformed coordinates") from None
    if not polygons:
        raise GeoError("no polygon")
    return polygons


def sector_polygons(sectors: list[SectorSettings]) -> dict[str, list[Polygon]]:
    """Load every sector's polygon file; one ConfigError line per unusable file."""
    loaded: dict[str, list[Polygon]] = {}
    problems = []
    for index, sector in enumerate(sectors):
        if sector.geojson is None:
            continue
        try:
            loaded[sector.name.strip().casefold()] = load_polygons(sector.geojson)
        except GeoError as error:
            problems.append(f"sectors[{index}].geojson: {error}")
    if problems:
        raise ConfigError(problems)
    return loaded


def _polygon(rings: list[list[list[float]]]) -> Polygon:
    return [[(float(point[0]), float(point[1])) for point in ring] for ring in rings]


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat):
            crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < crossing:
                inside = not inside
    return inside


def contains(polygons: list[Polygon], latitude: float, longitude: float) -> bool:
    return any(
        _in_ring(longitude, latitude, polygon[0])
        and not any(_in_ring(longitude, latitude, hole) for hole in polygon[1:])
        for polygon in polygons
    )
