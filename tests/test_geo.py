"""Sector lookup from a shared location (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.geo import GeoError, contains, load_polygons

SQUARE = [[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]
HOLE = [[2.4, 48.4], [2.6, 48.4], [2.6, 48.6], [2.4, 48.6], [2.4, 48.4]]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "sector.geojson"
    path.write_text(json.dumps(data))
    return path


def test_polygon_with_a_hole(tmp_path: Path) -> None:
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "Polygon", "coordinates": [SQUARE, HOLE]}}
    polygons = load_polygons(write(tmp_path, {"type": "FeatureCollection", "features": [feature]}))
    assert contains(polygons, latitude=48.2, longitude=2.2)
    assert not contains(polygons, latitude=48.5, longitude=2.5)  # in the hole
    assert not contains(polygons, latitude=47.9, longitude=2.5)  # south of it


def test_multipolygon_and_errors(tmp_path: Path) -> None:
    far = [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 10.0]]]
    polygons = load_polygons(write(tmp_path, {"type": "MultiPolygon",
                                              "coordinates": [[SQUARE], far]}))
    assert contains(polygons, 10.2, 10.8)
    with pytest.raises(GeoError, match="expected Polygon"):
        load_polygons(write(tmp_path, {"type": "Point", "coordinates": [1, 2]}))
    with pytest.raises(GeoError):
        load_polygons(tmp_path / "missing.geojson")
