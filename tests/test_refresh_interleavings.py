"""Edits that land while `refresh` counts never cost a polygon its counts.

The interleavings are forced, not waited for: `store_counts` is wrapped so that an edit (from
another connection, committed) happens after a batch was counted and before it is written. The
invariant, after any sequence of loads, SQL edits and refreshes with edits inside them: one more
plain `refresh` makes the stored counts equal the definition view zonal_class_counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import box

from sclzonal.counting import pairs
from sclzonal.counting.refresh import refresh
from tests.helpers import (
    cli_ok,
    definition_differences,
    empty_database,
    to_crs,
    write_polygons,
    write_raster,
)

TRANSFORM = Affine(20, 0, 500000, 0, -20, 5100000)
FILES = count()


def _field(col: float, row: float, size: float = 9.3) -> Any:
    x, y = 500000 + col * 20, 5100000 - row * 20
    return to_crs(box(x, y - size * 20, x + size * 20, y), "EPSG:32633", "EPSG:4326")


FIELDS = [_field(c, r) for c, r in ((3.3, 4.2), (40.1, 30.7), (60.6, 10.4), (20.45, 55.15))]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("interleavings")
    rng = np.random.default_rng(5)
    return [write_raster(folder / f"scl_{day}.tif", rng.integers(0, 12, (80, 80), dtype=np.uint8),
                         transform=TRANSFORM, date=dt.date(2024, 6, day)) for day in (1, 6, 11)]


def _load_fields(url: str, folder: Path, names: list[str]) -> None:
    """`polygons load` of the four fields with these names (source 'fields'; ids 1-4)."""
    path = write_polygons(folder / f"fields_{next(FILES)}.gpkg", FIELDS, "EPSG:4326", layer="fields")
    cli_ok(url, "polygons", "load", str(path), "--id-field", "ident")
    with psycopg.connect(url, autocommit=True) as conn:
        for ident, name in enumerate(names, start=1):
            conn.execute("UPDATE sclzonal.polygon SET name = %s WHERE source_fid = %s",
                         (name, str(ident)))


def _edit(url: str, kind: str, which: int, amount: float) -> None:
    """One committed edit from another session: attribute, geometry, delete or insert."""
    with psycopg.connect(url, autocommit=True) as other:
        ids = [int(r[0]) for r in other.execute("SELECT id FROM sclzonal.polygon ORDER BY id")]
        target = ids[which % len(ids)] if ids else None
        if kind == "attribute" and target is not None:
            other.execute("UPDATE sclzonal.polygon SET name = coalesce(name, '') || 'x',"
                          " attributes = attributes || jsonb_build_object('edited', %s::float8)"
                          " WHERE id = %s", (amount, target))
        elif kind == "geometry" and target is not None:
            other.execute("UPDATE sclzonal.polygon SET geom = ST_Multi(ST_Translate(ST_GeometryN(geom, 1),"
                          " %s, %s)) WHERE id = %s", (amount * 0.0007, amount * 0.0003, target))
        elif kind == "delete" and target is not None:
            other.execute("DELETE FROM sclzonal.polygon WHERE id = %s", (target,))
        elif kind == "insert":
            geom = _field(10.17 + 30 * amount, 20.31 + 20 * amount).wkt
            other.execute("INSERT INTO sclzonal.polygon (source, source_fid, name, geom) VALUES"
                          " ('sql', %s, 'new', ST_Multi(ST_GeomFromText(%s, 4326)))",
                          (f"n{next(FILES)}", geom))


def _refresh_with(monkeypatch: pytest.MonkeyPatch, url: str,
                  during: Callable[[], None] | None, batch_size: int = 2) -> None:
    """refresh(), running `during` once: after the first batch is counted, before it is stored."""
    original = pairs.store_counts
    calls = count()

    def store_after_an_edit(*args: Any, **kwargs: Any) -> int:
        if during is not None and next(calls) == 0:
            during()
        return original(*args, **kwargs)

    with monkeypatch.context() as patch, psycopg.connect(url, autocommit=True) as conn:
        patch.setattr(pairs, "store_counts", store_after_an_edit)
        refresh(conn, batch_size=batch_size)


@pytest.fixture
def loaded(empty_conn: psycopg.Connection, database_url: str, scenes: list[Path],
           tmp_path: Path) -> str:
    _load_fields(database_url, tmp_path, ["a", "b", "c", "d"])
    cli_ok(database_url, "scl", "load", *map(str, scenes[:2]))
    return database_url


@pytest.mark.parametrize("kind", ["attribute", "geometry", "delete", "insert"])
def test_an_edit_while_a_batch_is_counted(monkeypatch: pytest.MonkeyPatch, loaded: str,
                                          conn: psycopg.Connection, kind: str) -> None:
    _refresh_with(monkeypatch, loaded, lambda: _edit(loaded, kind, 0, 1.0))
    _refresh_with(monkeypatch, loaded, None)
    assert definition_differences(conn) == 0
    counted = conn.execute("SELECT count(DISTINCT polygon_id) FROM sclzonal.counted_pair").fetchone()
    assert counted == conn.execute("SELECT count(*) FROM sclzonal.polygon").fetchone()


def test_an_attribute_edit_during_refresh_keeps_the_counts_at_once(
        monkeypatch: pytest.MonkeyPatch, loaded: str, conn: psycopg.Connection) -> None:
    _refresh_with(monkeypatch, loaded, lambda: _edit(loaded, "attribute", 0, 2.0))
    # no second refresh: the edited polygon was counted by the refresh it interrupted
    assert definition_differences(conn) == 0


def test_a_reload_that_changes_only_names_during_refresh(monkeypatch: pytest.MonkeyPatch, loaded: str,
                                                         conn: psycopg.Connection, tmp_path: Path,
                                                         scenes: list[Path]) -> None:
    cli_ok(loaded, "scl", "load", str(scenes[2]))
    _refresh_with(monkeypatch, loaded, lambda: _load_fields(loaded, tmp_path, ["A", "B", "C", "D"]))
    _refresh_with(monkeypatch, loaded, None)
    assert definition_differences(conn) == 0


STEP = st.one_of(
    st.tuples(st.just("refresh"), st.sampled_from([None, "attribute", "geometry", "delete", "insert"]),
              st.integers(0, 5), st.floats(0.1, 1.0)),
    st.tuples(st.sampled_from(["attribute", "geometry", "delete", "insert", "reload", "scene"]),
              st.none(), st.integers(0, 5), st.floats(0.1, 1.0)),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=6))
def test_any_interleaving_then_one_refresh_equals_the_definition(
        monkeypatch: pytest.MonkeyPatch, conn: psycopg.Connection, database_url: str,
        scenes: list[Path], tmp_path: Path, steps: list[tuple[str, str | None, int, float]]) -> None:
    empty_database(conn)
    _load_fields(database_url, tmp_path, ["a", "b", "c", "d"])
    cli_ok(database_url, "scl", "load", str(scenes[0]))
    for kind, during, which, amount in steps:
        if kind == "refresh":
            edit = None if during is None else (
                lambda d=during, w=which, a=amount: _edit(database_url, d, w, a))
            _refresh_with(monkeypatch, database_url, edit, batch_size=1 + which % 3)
        elif kind == "reload":
            _load_fields(database_url, tmp_path, [f"r{amount:.3f}"] * 4)
        elif kind == "scene":
            cli_ok(database_url, "scl", "load", str(scenes[1 + which % 2]))
        else:
            _edit(database_url, kind, which, amount)
    _refresh_with(monkeypatch, database_url, None)
    assert definition_differences(conn) == 0
