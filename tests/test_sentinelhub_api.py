"""What the Sentinel Hub retries (ingest/sentinelhub/retry.py) rely on in the installed sentinelhub-py.

`RetryingClient` uses public sentinelhub-py API only, but it relies on how that API behaves:
with max_download_attempts=1 the plain `DownloadClient` sends a request once, a 5xx or timeout
comes back as DownloadFailedException carrying the requests exception, and a 429 as
requests.HTTPError carrying the answer's headers; the Catalog API's search goes through the
client's `get_json`. When a sentinelhub-py release changes any of that, these tests say what
changed, before the fetch tests fail in less obvious ways. No database needed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import requests
import sentinelhub
from sentinelhub import DownloadClient, DownloadRequest, SentinelHubSession, SHConfig
from sentinelhub.constants import RequestType
from sentinelhub.exceptions import DownloadFailedException

from sclzonal.ingest.sentinelhub.client import SentinelHub, resolve_endpoint
from sclzonal.ingest.sentinelhub.retry import RetryingClient, RetryPolicy
from tests.sentinelhub_fake import FakeSentinelHub, Fault
from tests.sentinelhub_fixtures import SECRET, WEST, WIDE, fake_fixture  # noqa: F401 - fixture

CHANGED = f"sentinelhub-py {sentinelhub.__version__} changed: "
SEE = "; ingest/sentinelhub/retry.py relies on it (see its RetryingClient)"


def _shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("method", ["download", "get_json"])
def test_the_overridden_public_methods_keep_their_parameters(method: str) -> None:
    ours, theirs = getattr(RetryingClient, method), getattr(DownloadClient, method)
    assert _shape(ours) == _shape(theirs), (
        f"{CHANGED}DownloadClient.{method}{inspect.signature(theirs)} no longer matches "
        f"RetryingClient.{method}{inspect.signature(ours)}{SEE}")


def test_the_public_names_used_are_there() -> None:
    config_fields = {field.name for field in dataclasses.fields(SHConfig)}
    wanted = {"max_download_attempts", "download_sleep_time", "download_timeout_seconds"}
    assert wanted <= config_fields, f"{CHANGED}SHConfig lacks {wanted - config_fields}{SEE}"
    request_fields = {field.name for field in dataclasses.fields(DownloadRequest)}
    assert {"headers", "use_session"} <= request_fields, f"{CHANGED}DownloadRequest fields{SEE}"
    assert isinstance(inspect.getattr_static(SentinelHubSession, "session_headers"), property), (
        f"{CHANGED}SentinelHubSession.session_headers is no longer a property{SEE}")
    assert "request_exception" in inspect.signature(DownloadFailedException).parameters, (
        f"{CHANGED}DownloadFailedException takes no request_exception{SEE}")


def _send_once(fake: FakeSentinelHub, fault: Fault, timeout: float = 5.0) -> BaseException:
    """Send one process request through the plain client, one attempt; return what it raised."""
    fake.reset()
    fake.faults["process"].append(fault)
    client = DownloadClient(config=SHConfig(use_defaults=True, max_download_attempts=1,
                                            download_sleep_time=0, download_timeout_seconds=timeout))
    request = DownloadRequest(url=f"{fake.base_url}/api/v1/process", request_type=RequestType.POST,
                              post_values={}, headers={"Authorization": "Bearer none"})
    with pytest.raises(Exception) as raised:
        client.download([request], max_threads=1, decode_data=False)
    assert len(fake.of_kind("process")) == 1, f"{CHANGED}a failing request was sent more than once{SEE}"
    return raised.value


def test_a_429_reaches_the_caller_with_its_retry_after(fake: FakeSentinelHub) -> None:
    error = _send_once(fake, Fault(status=429, headers={"Retry-After": "250"}))
    assert isinstance(error, requests.HTTPError), (
        f"{CHANGED}a 429 no longer comes back as requests.HTTPError but as {error!r}{SEE}")
    assert error.response is not None and error.response.status_code == 429
    assert error.response.headers.get("Retry-After") == "250"


@pytest.mark.parametrize(("fault", "timeout", "cause"), [
    (Fault(status=503), 5.0, requests.HTTPError),
    (Fault(delay=1.0), 0.3, requests.Timeout),
], ids=["5xx", "timeout"])
def test_a_temporary_failure_comes_back_after_one_attempt(
        fake: FakeSentinelHub, fault: Fault, timeout: float, cause: type[Exception]) -> None:
    error = _send_once(fake, fault, timeout)
    assert isinstance(error, DownloadFailedException), (
        f"{CHANGED}a temporary failure no longer comes back as DownloadFailedException: {error!r}{SEE}")
    assert isinstance(error.request_exception, cause), (
        f"{CHANGED}DownloadFailedException.request_exception is {error.request_exception!r}{SEE}")


def test_the_catalog_search_goes_through_our_get_json(fake: FakeSentinelHub,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog pages carry the session's token and a 429 on a page is waited for and reported."""
    fake.reset()
    fake.faults["catalog"].append(Fault(status=429, headers={"Retry-After": "100"}))
    told: list[str] = []
    policy = RetryPolicy(timeout_seconds=5, max_wait_seconds=3, sleep_seconds=0.05)
    with SentinelHub(resolve_endpoint(fake.base_url), ("fake-client", SECRET), policy,
                     told.append) as hub:
        items = hub.search_items((13.6, 45.6, 15.0, 46.5), dt.date(2024, 6, 1), dt.date(2024, 6, 30), None)
        answered = hub.client.answered["catalog"]
    assert {day for day, _ in items} == {dt.date(2024, 6, day) for day in (5, 10, 15, 20)}
    # footprints come with the items (the fake's are its bounds); only 2xx answers are counted
    assert all(footprint is not None and footprint.bounds in (WIDE, WEST) for _, footprint in items)
    assert answered == 3
    assert told == ["429 Too Many Requests: waiting 0.1 s"], (
        f"{CHANGED}the catalog search no longer goes through the client's get_json{SEE}")
    pages = fake.of_kind("catalog")
    assert len(pages) == 1 + 3  # the 429, then 3 pages of at most 2 (5 items in June, asked for by `next`)
    assert all(page.headers.get("Authorization", "").startswith("Bearer ") for page in pages), (
        f"{CHANGED}catalog requests no longer ask for the session (use_session){SEE}")
    assert SECRET not in " ".join(told)
