"""The QGIS plugin's "Fetch SCL" algorithm, run by qgis_process, against the fake Sentinel Hub.

The fake (tests/sentinelhub_fake.py) on 127.0.0.1 is what the real sentinelhub-py client inside
`sclzonal scl fetch` talks to; the credentials come from the environment QGIS was started with.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401  (fixtures, used by name)
    EXPECTED,
    SCENES,
    SECRET,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    scene_rows,
)
from tests.test_qgis_plugin import Profile, make_profile, plugin_zip  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.qgis, pytest.mark.process]


@pytest.fixture(scope="module")
def profile(plugin_zip: Path, database_url: str,  # noqa: F811
            tmp_path_factory: pytest.TempPathFactory) -> Profile:
    from tests.test_qgis_plugin import SCLZONAL

    return make_profile(tmp_path_factory.mktemp("home"), plugin_zip,
                        {"SCLZONAL_EXECUTABLE": SCLZONAL, "SCLZONAL_DATABASE_URL": database_url})


def test_a_dry_run_then_a_fetch_through_the_plugin(profile: Profile, clean: psycopg.Connection,
                                                   fake: FakeSentinelHub) -> None:
    period = [f"URL={fake.base_url}", "START=2024-06-01", "END=2024-06-30", "MAX_CLOUD=50"]
    code, output, err = profile.run("fetch", *period, "DRY_RUN=true")
    assert code == 0, err
    planned = output["results"]
    assert planned["SCENES"] == 0 and planned["REQUESTS"] == SCENES and planned["PROCESSING_UNITS"] > 0
    assert fake.of_kind("process") == [] and scene_rows(clean) == []

    code, output, err = profile.run("fetch", *period)
    assert code == 0, err
    assert output["results"]["SCENES"] == output["results"]["REQUESTS"] == SCENES
    assert len([r for r in fake.of_kind("process") if r.status == 200]) == SCENES
    rows = scene_rows(clean)
    assert Counter((day, srid) for _, day, srid, _, _ in rows) == Counter(EXPECTED)
    log = "\n".join(output["log"]["info"])
    assert f"sent {SCENES} requests" in log
    assert SECRET not in log + err


def test_bad_credentials_fail_the_algorithm_with_the_clis_line(profile: Profile, clean: psycopg.Connection,
                                                               fake: FakeSentinelHub,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong")
    code, _, err = profile.run("fetch", f"URL={fake.base_url}", "START=2024-06-01", "END=2024-06-30")
    assert code != 0
    line = (f"sclzonal: error: Sentinel Hub rejected the credentials at {fake.token_url} "
            "(invalid_client: Invalid client or Invalid client credentials)")
    assert line in err and "Traceback" not in err, err
    assert scene_rows(clean) == []
