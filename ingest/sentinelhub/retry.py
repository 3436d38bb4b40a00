"""Retries of Sentinel Hub requests, bounded in time and reported, over sentinelhub-py's public API.

sentinelhub-py's own retries are unbounded in time (a 429 is retried for ever by default) and
silent, and bounding them meant overriding its private methods. Here sentinelhub-py's plain
`DownloadClient` sends each request once (`max_download_attempts=1`) and `RetryingClient` retries:
5xx answers, timeouts and connection errors with waits growing threefold from
`RetryPolicy.sleep_seconds`, as many times as fit in `max_wait_seconds`; 429 answers after
Retry-After (milliseconds, Sentinel Hub's unit) or `sleep_seconds`. No request retries for
longer than `max_wait_seconds` (plus one request timeout): a 429 asking for a longer wait fails
at once. Every wait is reported through `notify`.

Requests may come from several threads at once. A `Pacer` spaces the starts of all attempts
(catalog pages, Processing requests and their retries alike) at least 60 / requests_per_minute
seconds apart, so a run stays under the service's rate limit instead of running into 429s;
`stop()` makes every thread's next attempt or wait give up, so a failed run ends quickly.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from sentinelhub import DownloadClient, DownloadRequest, SentinelHubSession, SHConfig, SHConstants
from sentinelhub.constants import RequestType
from sentinelhub.exceptions import DownloadFailedException

T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for answers and how long to keep retrying one request."""

    timeout_seconds: float = 120.0
    max_wait_seconds: float = 300.0
    sleep_seconds: float = 5.0
    rate_limit_retries: int = 50

    def attempts(self) -> int:
        """Attempts at a failing request whose threefold-growing waits fit in max_wait_seconds."""
        attempts, waited, sleep = 1, 0.0, self.sleep_seconds
        while attempts < 20 and waited + sleep <= self.max_wait_seconds:
            attempts, waited, sleep = attempts + 1, waited + sleep, sleep * 3
        return attempts

    def retry_after(self, header: str | None) -> float:
        """Seconds to wait after a 429: Retry-After (milliseconds, Sentinel Hub's unit) or sleep_seconds."""
        try:
            return max(int(header), 0) / 1000 if header is not None else self.sleep_seconds
        except ValueError:  # not the milliseconds Sentinel Hub sends
            return self.sleep_seconds


class RetryBudgetExceeded(Exception):
    """Retrying a request would take longer than RetryPolicy.max_wait_seconds."""


class Stopped(Exception):
    """The run stopped (another request failed) before this request was sent."""


class Pacer:
    """Spaces request starts at least 60 / requests_per_minute seconds apart, across threads."""

    def __init__(self, requests_per_minute: float | None) -> None:
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, stopped: threading.Event) -> float:
        """Sleep until this caller's turn (at once when the interval is 0); return the wait."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next)
            self._next = turn + self.interval
        if turn > now:
            stopped.wait(turn - now)
        return turn - now


class RetryingClient(DownloadClient):
    """sentinelhub-py's plain download client, authorized by a session, retrying by a RetryPolicy.

    Only public sentinelhub-py API: `download` and `get_json` (which `get_json_dict`, and so the
    Catalog API iterator, goes through) are overridden to add the session's Authorization header
    to requests that ask for it (`use_session`) and to retry. sentinelhub-py makes one attempt per
    call (its config says max_download_attempts=1): a 5xx, timeout or lost connection comes back
    as DownloadFailedException, and a 429 as requests.HTTPError with the answer's Retry-After
    (the plain client has no rate limiter of its own). tests/test_sentinelhub_api.py checks both.
    """

    def __init__(self, *, session: SentinelHubSession, policy: RetryPolicy,
                 notify: Callable[[str], None], config: SHConfig, pacer: Pacer | None = None) -> None:
        super().__init__(config=config)
        self.session = session
        self.policy = policy
        self.notify = notify
        self.pacer = pacer or Pacer(None)
        self.stopped = threading.Event()
        self.answered = {"catalog": 0, "process": 0}
        """Requests the service answered with success, by kind (what it charges for)."""
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Make every thread's next attempt or wait give up (raise Stopped)."""
        self.stopped.set()

    def _answered(self, kind: str) -> None:
        with self._lock:
            self.answered[kind] += 1

    def download(self, download_requests: Iterable[DownloadRequest], max_threads: int | None = None,
                 decode_data: bool = True, show_progress: bool = False) -> list[Any]:
        """Download the requests one after the other, each with its own retries.

        (Several threads may call this at once: `fetch` runs one (date, cell) per thread.)
        """
        results = []
        for request in list(download_requests):
            def attempt(request: DownloadRequest = request) -> Any:
                return DownloadClient.download(self, [self._authorized(request)], max_threads=1,
                                               decode_data=decode_data, show_progress=show_progress)[0]
            results.append(self.retrying(attempt))
            self._answered("process")
        return results

    def get_json(self, url: str, post_values: Json | None = None, headers: Json | None = None,
                 request_type: RequestType | None = None, **kwargs: Any) -> Json | list | str | None:
        """Ask for JSON, with the session's headers if `use_session`, and retries."""
        def attempt() -> Json | list | str | None:
            authorized = self._headers(bool(kwargs.get("use_session")), headers or {})
            return DownloadClient.get_json(self, url, post_values, authorized, request_type, **kwargs)
        result = self.retrying(attempt)
        self._answered("catalog")
        return result

    def _headers(self, use_session: bool, headers: Json) -> Json:
        with self._lock:  # one thread renews an expiring token, the others wait for it
            session_headers = self.session.session_headers if use_session else {}
        return {**SHConstants.HEADERS, **session_headers, **headers}

    def _authorized(self, request: DownloadRequest) -> DownloadRequest:
        # the token is read for every attempt: the session renews it before it expires
        return dataclasses.replace(request, headers=self._headers(request.use_session, request.headers))

    def retrying(self, attempt: Callable[[], T]) -> T:
        """Call attempt until it succeeds, waiting after 429s and temporary failures, by the policy."""
        policy = self.policy
        deadline = time.monotonic() + policy.max_wait_seconds
        failures, refusals, sleep, last = 0, 0, policy.sleep_seconds, ""
        while True:
            deadline += self.pacer.wait(self.stopped)  # waiting for a turn is not retrying
            if self.stopped.is_set():
                raise Stopped("the run stopped")
            try:
                return attempt()
            except requests.HTTPError as exc:
                if exc.response is None or exc.response.status_code != 429:
                    raise
                refusals += 1
                if refusals >= policy.rate_limit_retries:
                    raise RetryBudgetExceeded(f"HTTP 429 Too Many Requests {refusals} times in a row; "
                                              "run again later") from None
                wait = policy.retry_after(exc.response.headers.get("Retry-After"))
                if wait > deadline - time.monotonic():
                    raise RetryBudgetExceeded(
                        f"the service answers 429 Too Many Requests and asks to wait {wait:.1f} s, "
                        f"beyond the retry limit of {policy.max_wait_seconds:g} s") from None
                last = f"429 Too Many Requests: waiting {wait:.1f} s"
                self.notify(last)
            except DownloadFailedException as exc:
                last = _temporary_problem(exc, policy)
                if not last:
                    raise
                self.notify(last)
                failures += 1
                if failures >= policy.attempts():
                    raise
                wait, sleep = sleep, sleep * 3
            if self.stopped.wait(wait):
                raise Stopped("the run stopped")
            if time.monotonic() > deadline:
                raise RetryBudgetExceeded(
                    f"gave up after {policy.max_wait_seconds:g} s of retries (last: {last}); run again later")


def _temporary_problem(exc: DownloadFailedException, policy: RetryPolicy) -> str:
    """What went wrong, when it is worth another attempt ('' when it is not)."""
    cause = exc.request_exception
    if isinstance(cause, requests.Timeout):
        return f"no answer within {policy.timeout_seconds:g} s"
    if isinstance(cause, requests.ConnectionError):
        return "cannot connect"
    if isinstance(cause, requests.exceptions.ChunkedEncodingError):
        return "the answer broke off"
    response = getattr(cause, "response", None)
    if response is not None and response.status_code >= 500:
        return f"HTTP {response.status_code} from the service"
    return ""
