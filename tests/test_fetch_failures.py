"""`sclzonal scl fetch` when things go wrong: credentials, 401, 429, 5xx, truncated TIFFs, timeouts.

Every failure is one line and exit 1, never leaves a partial scene, never shows the secret (not
even in DEBUG logs), and the next run loads what is missing without asking again for the rest.
Retries are bounded by --max-wait-seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import psycopg
import pytest

from sclzonal.errors import UserError
from sclzonal.ingest.sentinelhub.client import ENDPOINTS, SentinelHub, resolve_endpoint
from sclzonal.ingest.sentinelhub.retry import RetryPolicy
from tests.helpers import run_cli, table_counts
from tests.sentinelhub_fake import FakeSentinelHub, Fault
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    EXPECTED,
    FIELDS,
    SCENES,
    SECRET,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    fetch_args,
    lattice_cells,
    scene_rows,
)

FIRST_DAY = sum(n for (day, _), n in EXPECTED.items() if day == dt.date(2024, 6, 5))
"""(date, cell) scenes of 2024-06-05, the first date."""


def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 1, err
    lines = [line for line in err.strip().splitlines() if line.startswith("sclzonal: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    assert SECRET not in out + err
    return lines[0]


def _scenes_are_whole(conn: psycopg.Connection) -> None:
    """Every stored scene has exactly the tiles its size needs (no half-loaded scene)."""
    rows = conn.execute(
        "SELECT s.id, s.width, s.height, s.tile_size, count(t.id) FROM sclzonal.scene s"
        " LEFT JOIN sclzonal.scene_tile t ON t.scene_id = s.id GROUP BY s.id").fetchall()
    for _, width, height, tile_size, tiles in rows:
        assert tiles == -(-width // tile_size) * -(-height // tile_size)


def test_rejected_credentials_are_one_line_without_the_secret(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, database_url: str,
        clean: psycopg.Connection, fake: FakeSentinelHub, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + SECRET[::-1]
    monkeypatch.setenv("SH_CLIENT_SECRET", wrong)
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    line = _one_error_line(code, out, err)
    assert line == (f"sclzonal: error: Sentinel Hub rejected the credentials at {fake.token_url} "
                    "(invalid_client: Invalid client or Invalid client credentials)")
    assert wrong not in out + err + caplog.text
    assert fake.of_kind("token")[0].body["client_secret"] == wrong  # it was really sent
    assert fake.of_kind("process") == [] and table_counts(clean)["scene"] == 0
    # a good run logs at DEBUG too: the secret appears in no log record
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert SECRET not in out + err + caplog.text
    assert "Sending POST request" in caplog.text  # sentinelhub-py's own DEBUG lines were captured


def test_missing_credentials_are_one_line(capsys: pytest.CaptureFixture[str], database_url: str,
                                          clean: psycopg.Connection, fake: FakeSentinelHub,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SH_CLIENT_SECRET")
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert _one_error_line(code, out, err) == (
        "sclzonal: error: no Sentinel Hub credentials: set SH_CLIENT_ID and SH_CLIENT_SECRET, or "
        "give --profile NAME of a sentinelhub configuration that holds sh_client_id and "
        "sh_client_secret")
    assert fake.requests == []


def test_credentials_from_a_sentinelhub_profile(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SH_CLIENT_ID")
    monkeypatch.delenv("SH_CLIENT_SECRET")
    config = tmp_path / "xdg-config" / "sentinelhub" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[fake]\nsh_client_id = "fake-client"\nsh_client_secret = "{SECRET}"\n')
    code, _, err = run_cli(capsys, database_url, *fetch_args(fake, "--profile", "fake",
                                                             end="2024-06-05"))
    assert code == 0, err
    assert len(scene_rows(clean)) == FIRST_DAY
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--profile", "nope"))
    assert _one_error_line(code, out, err) == f"sclzonal: error: --profile nope: no such profile in {config}"


@pytest.mark.parametrize("headers", [{"Retry-After": "400"}, {}], ids=["retry-after", "no-header"])
def test_429_waits_and_then_succeeds(capsys: pytest.CaptureFixture[str], database_url: str,
                                     clean: psycopg.Connection, fake: FakeSentinelHub,
                                     headers: dict[str, str]) -> None:
    fake.faults["process"].extend([Fault(status=429, headers=headers)] * 2)
    started = time.monotonic()
    code, _, err = run_cli(capsys, database_url, *fetch_args(
        fake, "--retry-sleep-seconds", "0.3", "--threads", "1", end="2024-06-05"))
    elapsed = time.monotonic() - started
    assert code == 0, err
    wait = "0.4" if headers else "0.3"  # Retry-After is in milliseconds (Sentinel Hub's unit)
    assert err.count(f"sclzonal: 429 Too Many Requests: waiting {wait} s") == 2
    assert elapsed >= 2 * float(wait)
    assert len(fake.of_kind("process")) == FIRST_DAY + 2 and len(scene_rows(clean)) == FIRST_DAY


def test_429_asking_for_too_long_a_wait_fails_at_once(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.always["process"] = Fault(status=429, headers={"Retry-After": "600000"})
    started = time.monotonic()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert time.monotonic() - started < 10  # not the 600 s asked for
    assert _one_error_line(code, out, err) == (
        f"sclzonal: error: SCL request for 2024-06-05 at {fake.base_url}: the service answers "
        "429 Too Many Requests and asks to wait 600.0 s, beyond the retry limit of 3 s")
    assert table_counts(clean)["scene"] == 0


def test_429_for_ever_gives_up_within_the_wait_limit(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.always["process"] = Fault(status=429, headers={"Retry-After": "200"})
    started = time.monotonic()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--max-wait-seconds", "1",
                                                               "--threads", "1"))
    elapsed = time.monotonic() - started
    line = _one_error_line(code, out, err)
    assert "429 Too Many Requests" in line and "beyond the retry limit of 1 s" in line
    assert 0.8 <= elapsed < 10
    assert 2 <= len(fake.of_kind("process")) <= 7  # about one per 0.2 s


def test_500_is_retried(capsys: pytest.CaptureFixture[str], database_url: str,
                        clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    fake.faults["process"].extend([Fault(status=500), Fault(status=503)])
    code, _, err = run_cli(capsys, database_url, *fetch_args(fake, end="2024-06-05"))
    assert code == 0, err
    assert "sclzonal: HTTP 500 from the service" in err and "HTTP 503" in err
    assert len(scene_rows(clean)) == FIRST_DAY


def test_500_for_ever_keeps_whole_scenes_and_the_next_run_resumes(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.faults["process"].extend([Fault(), Fault()])  # two good answers, then only errors
    fake.always["process"] = Fault(status=500)
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--max-wait-seconds", "0.5",
                                                               "--threads", "1"))
    line = _one_error_line(code, out, err)
    policy = RetryPolicy(max_wait_seconds=0.5, sleep_seconds=0.05)
    assert line.startswith("sclzonal: error: SCL request for 2024-06-05: HTTP 500 from ")
    assert line.endswith(f"after {policy.attempts()} attempts: fault injected; run again later")
    assert len(fake.of_kind("process")) == 2 + policy.attempts()
    assert len(scene_rows(clean)) == 2
    _scenes_are_whole(clean)
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert f"{SCENES - 2} scenes loaded with {SCENES - 2} requests, 2 already loaded" in out
    assert len(fake.of_kind("process")) == SCENES - 2 and len(scene_rows(clean)) == SCENES
    _scenes_are_whole(clean)


@pytest.mark.parametrize(("fault", "problem"), [
    (Fault(truncate=True), "the response is not a usable SCL GeoTIFF"),
    # values beyond 11: a visualisation, not the SCL band
    (Fault(add_to_values=200), "the response is not a usable SCL GeoTIFF: pixel value 2"),
], ids=["truncated", "not-scl-values"])
def test_a_bad_response_is_rejected_and_the_next_run_loads_it(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, fault: Fault, problem: str) -> None:
    """Nothing of the scene a bad response belongs to is stored; the next run loads it."""
    fake.faults["process"].extend([Fault(), fault])
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--threads", "1"))
    line = _one_error_line(code, out, err)
    epsg, col, row = sorted(lattice_cells(FIELDS))[1]  # the second (date, cell) in order
    assert line.startswith(f"sclzonal: error: 2024-06-05 cell {epsg}:0:{col}:{row} (EPSG:{epsg}, ")
    assert f"request 1/1: {problem}" in line
    assert fault.truncate or "is not an SCL class (0-11)" in line
    assert len(scene_rows(clean)) == 1
    _scenes_are_whole(clean)
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert f"{SCENES - 1} scenes loaded with {SCENES - 1} requests, 1 already loaded" in out


def test_a_timeout_is_retried_and_a_dead_service_gives_up_in_time(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.faults["process"].append(Fault(delay=1.5))
    args = fetch_args(fake, "--timeout-seconds", "0.5", "--max-wait-seconds", "1", "--threads", "1",
                      end="2024-06-05")
    code, _, err = run_cli(capsys, database_url, *args)
    assert code == 0, err
    assert "sclzonal: no answer within 0.5 s" in err and len(scene_rows(clean)) == FIRST_DAY
    clean.execute("TRUNCATE sclzonal.scene CASCADE")
    fake.reset()
    fake.always["process"] = Fault(delay=1.5)
    started = time.monotonic()
    code, out, err = run_cli(capsys, database_url, *args)
    elapsed = time.monotonic() - started
    # 0.5 s timeout, 0.05 s wait, 0.5 s timeout, 0.15 s wait: past the 1 s limit
    assert _one_error_line(code, out, err) == (
        f"sclzonal: error: SCL request for 2024-06-05 at {fake.base_url}: gave up after 1 s of "
        "retries (last: no answer within 0.5 s); run again later")
    assert 1 <= elapsed < 10
    assert len(fake.of_kind("process")) == 2
    assert table_counts(clean)["scene"] == 0


def test_endpoints() -> None:
    cdse = resolve_endpoint("cdse")
    assert (cdse.source, cdse.base_url, cdse.token_url) == ("cdse", *ENDPOINTS["cdse"])
    assert cdse.token_url.startswith("https://identity.dataspace.copernicus.eu/")
    assert resolve_endpoint("sentinelhub").base_url == "https://services.sentinel-hub.com"
    custom = resolve_endpoint("https://example.org/sh/")
    assert (custom.source, custom.base_url, custom.token_url) == (
        "processing-api", "https://example.org/sh", "https://example.org/sh/oauth/token")
    assert resolve_endpoint("http://127.0.0.1:9/", "http://127.0.0.1:9/t").token_url.endswith("/t")
    for endpoint, token_url in (("http://example.org", None), ("cdse", "http://example.org/token"),
                                ("https://example.org", "http://example.org/token")):
        with pytest.raises(UserError, match="plain http is only accepted for 127.0.0.1"):
            resolve_endpoint(endpoint, token_url)
    with pytest.raises(UserError, match="is not sentinelhub, cdse or an http"):
        resolve_endpoint("copernicus")


def test_retry_attempts_fit_in_the_wait_limit() -> None:
    assert RetryPolicy(max_wait_seconds=300, sleep_seconds=5).attempts() == 5  # 5+15+45+135
    assert RetryPolicy(max_wait_seconds=0, sleep_seconds=5).attempts() == 1
    assert RetryPolicy(max_wait_seconds=1, sleep_seconds=0.05).attempts() == 4  # .05+.15+.45


def test_retry_after_is_in_milliseconds() -> None:
    policy = RetryPolicy(sleep_seconds=0.3)
    assert policy.retry_after("400") == 0.4
    assert policy.retry_after(None) == 0.3 and policy.retry_after("Wed, 21 Oct 2026 07:28:00 GMT") == 0.3
    assert policy.retry_after("-5") == 0


def test_429_too_many_times_in_a_row_gives_up(fake: FakeSentinelHub) -> None:
    fake.reset()
    fake.always["process"] = Fault(status=429, headers={"Retry-After": "10"})
    policy = RetryPolicy(timeout_seconds=2, max_wait_seconds=30, sleep_seconds=0.05, rate_limit_retries=3)
    told: list[str] = []
    with SentinelHub(resolve_endpoint(fake.base_url), ("fake-client", SECRET), policy, told.append) as hub:
        with pytest.raises(UserError) as raised:
            hub.fetch_tiff((500000.0, 5100000.0, 500100.0, 5100100.0), 32633, dt.date(2024, 6, 5), 10.0)
    assert str(raised.value) == (f"SCL request for 2024-06-05 at {fake.base_url}: HTTP 429 Too Many "
                                 "Requests 3 times in a row; run again later")
    assert told == ["429 Too Many Requests: waiting 0.0 s"] * 2 and len(fake.of_kind("process")) == 3
