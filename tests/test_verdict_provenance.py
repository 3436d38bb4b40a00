"""What a verdict rests on: rule revisions kept across edits, the scene's origin, `explain`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.helpers import run_cli, write_polygons, write_raster
from tests.test_coverage import DAY, PARCELS, TILE_B
from tests.test_sen2cor import PRODUCT, make_product


@pytest.fixture
def half_seen(capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
              tmp_path: Path) -> dict[str, object]:
    """Tile B (vegetation) and two parcels: one inside it, one a third inside (partial); the
    shipped vegetation rule only."""
    empty_conn.execute("DELETE FROM sclzonal.verdict_rule")
    empty_conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share)"
                       " VALUES ('vegetation', '{4}', 0.8, 0.5)")
    raster = write_raster(tmp_path / "b.tif", np.full((100, 100), 4, np.uint8), transform=TILE_B,
                          date=DAY)
    fields = write_polygons(tmp_path / "fields.gpkg", [PARCELS["split"], PARCELS["half"]],
                            "EPSG:4326", ids=[501, 502])
    for args in (["polygons", "load", str(fields), "--id-field", "ident"],
                 ["scl", "load", str(raster)], ["refresh"]):
        code, _, err = run_cli(capsys, database_url, *args)
        assert code == 0, err
    return {"conn": empty_conn, "raster": raster}


def _stored(conn: psycopg.Connection, source_fid: str) -> tuple[object, ...]:
    return conn.execute(
        "SELECT verdict, rule_label, rule_revision, rule_min_share, rule_min_coverage, scene_origin"
        " FROM sclzonal.polygon_verdict JOIN sclzonal.polygon AS p ON p.id = polygon_id"
        " WHERE p.source_fid = %s", (source_fid,)).fetchone() or ()


def test_rule_revisions_are_kept_and_verdicts_name_theirs(capsys: pytest.CaptureFixture[str],
                                                          database_url: str,
                                                          half_seen: dict[str, object]) -> None:
    conn = half_seen["conn"]
    assert isinstance(conn, psycopg.Connection)
    raster = half_seen["raster"]
    assert isinstance(raster, Path)
    origin = f"file b.tif, SHA-256 {hashlib.sha256(raster.read_bytes()).hexdigest()}"
    assert _stored(conn, "501") == ("vegetation", "vegetation", 1, 0.8, 0.9, origin)
    conn.execute("UPDATE sclzonal.verdict_rule SET min_share = 0.95 WHERE label = 'vegetation'")
    conn.execute("UPDATE sclzonal.verdict_rule SET priority = priority WHERE label = 'vegetation'")
    conn.execute("UPDATE sclzonal.verdict_rule SET revision = 40 WHERE label = 'vegetation'")
    assert conn.execute("SELECT revision FROM sclzonal.verdict_rule WHERE label = 'vegetation'"
                        ).fetchone() == (2,)  # one real change; no-op and hand-set revisions ignored
    # Until the next refresh the stored verdict still names revision 1, which is still on record.
    assert _stored(conn, "501")[2] == 1
    assert conn.execute("SELECT r.revision, r.min_share FROM sclzonal.verdict_rule_revision AS r"
                        " JOIN sclzonal.verdict_rule AS v ON v.id = r.rule_id ORDER BY r.revision"
                        ).fetchall() == [(1, 0.8), (2, 0.95)]
    assert run_cli(capsys, database_url, "refresh")[0] == 0
    assert _stored(conn, "501") == ("vegetation", "vegetation", 2, 0.95, 0.9, origin)
    (rule_id,) = conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label = 'vegetation'"
                              " RETURNING id").fetchone() or (0,)
    assert conn.execute("SELECT count(*) FROM sclzonal.verdict_rule_revision WHERE rule_id = %s",
                        (rule_id,)).fetchone() == (2,)
    assert _stored(conn, "501")[2] == 2  # made under revision 2, which stays explainable


def test_explain_a_partially_observed_polygon(capsys: pytest.CaptureFixture[str],
                                              database_url: str, half_seen: dict[str, object]) -> None:
    code, out, err = run_cli(capsys, database_url, "explain", "--source-fid", "502")
    assert code == 0, err
    assert "verdict: partially_observed" in out
    assert f"{DAY.isoformat()}  scene" in out and "coverage 0.33 (200 of 600 pixels observed)" in out
    assert "vegetation: not evaluated, partially observed: coverage 0.33 < 0.90" in out
    code, out, _ = run_cli(capsys, database_url, "explain", "--source-fid", "501")
    assert code == 0 and "vegetation: held: 1.00 of the clear pixels >= 0.80" in out
    assert "rule vegetation revision 1" in out and "scene origin: file b.tif, SHA-256" in out


@pytest.mark.parametrize(("args", "message"), [
    (["explain", "999999"], "no polygon with internal id 999999"),
    (["explain", "abc"], "polygon 'abc': not an internal id"),
    (["explain", "--source-fid", "777"], "no polygon with source_fid '777'"),
    (["explain", "--source", "x", "1"], "--source needs --source-fid"),
])
def test_explain_refuses_unknown_polygons_in_one_line(capsys: pytest.CaptureFixture[str],
                                                      database_url: str, half_seen: dict[str, object],
                                                      args: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, database_url, *args)
    assert code != 0 and out == "" and message in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 3  # click adds usage and a hint


def test_explain_asks_for_the_source_when_a_feature_id_is_in_two(
        capsys: pytest.CaptureFixture[str], database_url: str, half_seen: dict[str, object],
        tmp_path: Path) -> None:
    other = write_polygons(tmp_path / "other.gpkg", [PARCELS["split"]], "EPSG:4326", ids=[501],
                           layer="other")
    assert run_cli(capsys, database_url, "polygons", "load", str(other), "--id-field", "ident")[0] == 0
    code, _, err = run_cli(capsys, database_url, "explain", "--source-fid", "501")
    assert code != 0 and "source_fid '501' is in 2 sources" in err and "give --source" in err
    code, out, _ = run_cli(capsys, database_url, "explain", "--source-fid", "501", "--source", "other")
    assert code == 0 and "source 'other'" in out


def test_origin_of_a_sen2cor_product_and_of_a_fetch(capsys: pytest.CaptureFixture[str],
                                                    database_url: str, empty_conn: psycopg.Connection,
                                                    tmp_path: Path) -> None:
    conn = empty_conn
    product = make_product(tmp_path)
    assert run_cli(capsys, database_url, "scl", "load", str(product))[0] == 0
    row = conn.execute("SELECT source, product_id, tile_id, processing_baseline, file_name, sha256,"
                       " description FROM sclzonal.scene_origin").fetchone()
    image = next(product.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"))
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert row == ("sen2cor", PRODUCT.removesuffix(".SAFE"), "33TVM", "05.10", image.name, digest,
                   f"Sen2Cor product {PRODUCT.removesuffix('.SAFE')} (tile 33TVM, processing "
                   f"baseline 05.10), SCL image {image.name}, SHA-256 {digest}")
    request = ("http://127.0.0.1:1/api/v1/process sentinel-2-l2a SCL 2024-06-05 EPSG:32633 20m"
               " bbox=500000,5098000,502000,5100000")
    conn.execute("UPDATE sclzonal.scene SET source = 'cdse', reference = %s", (request,))
    assert conn.execute("SELECT file_name, request, description FROM sclzonal.scene_origin"
                        ).fetchone() == (None, request, f"cdse request: {request}")
