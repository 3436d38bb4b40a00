"""Sentinel Hub and CDSE through sentinelhub-py: endpoints, credentials, bounded retries, errors.

`SentinelHub` is used as a context manager: entering it authenticates once (its own session, never
sentinelhub-py's process-wide session cache), then `search_items` asks the Catalog API for the
acquisitions over an area (their dates and footprints) and `fetch_tiff` asks the Processing API
for one SCL GeoTIFF (from several threads at once, if the caller likes).

Requests go through `retry.RetryingClient`, which bounds and reports retries by a `RetryPolicy`
(see that module). Every failure becomes one `UserError` line, with the client secret redacted
from anything the service or the libraries say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import shapely
import shapely.errors
import shapely.geometry
from oauthlib.oauth2 import OAuth2Error
from sentinelhub import (
    CRS,
    BBox,
    DataCollection,
    Geometry,
    MimeType,
    MosaickingOrder,
    ResamplingType,
    SentinelHubCatalog,
    SentinelHubRequest,
    SentinelHubSession,
    SentinelHubStatistical,
    SHConfig,
)
from sentinelhub.exceptions import DownloadFailedException

from sclzonal.errors import UserError, first_line
from sclzonal.ingest.sentinelhub.plan import COLLECTION, Bounds
from sclzonal.ingest.sentinelhub.retry import Pacer, RetryBudgetExceeded, RetryingClient, RetryPolicy

ENDPOINTS = {
    "sentinelhub": ("https://services.sentinel-hub.com",
                    "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token"),
    "cdse": ("https://sh.dataspace.copernicus.eu",
             "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"),
}
CUSTOM_SOURCE = "processing-api"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

EVALSCRIPT = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["SCL"], units: "DN"}],
    output: {bands: 1, sampleType: "UINT8"}
  };
}
function evaluatePixel(sample) {
  return [sample.SCL];
}
"""
"""The SCL band as it is: one UINT8 band, classes 0-11 (0 where there is no data)."""


@dataclass(frozen=True)
class Endpoint:
    """Where to fetch from, and the name stored as scene.source."""

    source: str
    base_url: str
    token_url: str


def resolve_endpoint(name_or_url: str, token_url: str | None = None) -> Endpoint:
    """Return `sentinelhub`, `cdse` or a custom base URL (token at URL/oauth/token by default).

    Plain http is refused for any base or token URL but the loopback's: credentials travel there.
    """
    if name_or_url in ENDPOINTS:
        base_url, default_token_url = ENDPOINTS[name_or_url]
        endpoint = Endpoint(name_or_url, base_url, token_url or default_token_url)
    else:
        parts = urlsplit(name_or_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--endpoint {name_or_url!r} is not sentinelhub, cdse or an http(s) URL")
        base_url = name_or_url.rstrip("/")
        endpoint = Endpoint(CUSTOM_SOURCE, base_url, token_url or f"{base_url}/oauth/token")
    for url in (endpoint.base_url, endpoint.token_url):
        split = urlsplit(url)
        if split.scheme == "http" and split.hostname not in LOOPBACK_HOSTS:
            raise UserError(f"{url}: plain http is only accepted for 127.0.0.1 or localhost; use https")
    return endpoint


def resolve_credentials(profile: str | None) -> tuple[str, str]:
    """Return (client id, secret): SH_CLIENT_ID/SH_CLIENT_SECRET, else a sentinelhub profile."""
    client_id = os.environ.get("SH_CLIENT_ID", "")
    secret = os.environ.get("SH_CLIENT_SECRET", "")
    if client_id and secret:
        return client_id, secret
    location = SHConfig.get_config_location()
    if os.path.isfile(location):
        try:
            config: SHConfig | None = SHConfig(profile)
        except KeyError:
            if profile is not None:
                raise UserError(f"--profile {profile}: no such profile in {location}") from None
            config = None
        except Exception as exc:  # a broken TOML file
            raise UserError(f"{location}: cannot read it ({type(exc).__name__})") from None
        if config is not None and config.sh_client_id and config.sh_client_secret:
            return config.sh_client_id, config.sh_client_secret
    elif profile is not None:
        raise UserError(f"--profile {profile}: there is no sentinelhub configuration file {location}")
    raise UserError("no Sentinel Hub credentials: set SH_CLIENT_ID and SH_CLIENT_SECRET, or give "
                    "--profile NAME of a sentinelhub configuration that holds sh_client_id and "
                    "sh_client_secret")


def _collection_for(base_url: str) -> DataCollection:
    # Built-in collections carry services.sentinel-hub.com as their service URL, which beats
    # sh_base_url: define one for this base URL (the name must be unique per definition).
    name = "SCLZONAL_S2L2A_" + hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return DataCollection.SENTINEL2_L2A.define_from(name, service_url=base_url)


class SentinelHub:
    """An authenticated connection to one Sentinel Hub deployment (use as a context manager)."""

    def __init__(self, endpoint: Endpoint, credentials: tuple[str, str], policy: RetryPolicy,
                 notify: Callable[[str], None] = lambda message: None,
                 requests_per_minute: float | None = None) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self.requests_per_minute = requests_per_minute
        self._secret = credentials[1]
        self._notify = notify
        # sentinelhub-py sends each request once (RetryingClient retries); the token request it
        # retries itself (SentinelHubSession), as often as our policy's waits allow
        self.config = self._config(credentials, max_download_attempts=1)
        self._session_config = self._config(credentials, max_download_attempts=policy.attempts())
        self.collection = _collection_for(endpoint.base_url)
        self._stack = ExitStack()
        self._client: RetryingClient | None = None

    def _config(self, credentials: tuple[str, str], max_download_attempts: int) -> SHConfig:
        return SHConfig(
            use_defaults=True, sh_client_id=credentials[0], sh_client_secret=credentials[1],
            sh_base_url=self.endpoint.base_url, sh_token_url=self.endpoint.token_url,
            max_download_attempts=max_download_attempts, download_sleep_time=self.policy.sleep_seconds,
            download_timeout_seconds=self.policy.timeout_seconds,
        )

    def __enter__(self) -> SentinelHub:
        self._stack.enter_context(_library_noise_off(self.endpoint.token_url))
        try:
            with self.explained("authentication"):
                session = SentinelHubSession(config=self._session_config)
        except BaseException:
            self._stack.close()
            raise
        self._client = RetryingClient(session=session, policy=self.policy, notify=self._tell,
                                      config=self.config, pacer=Pacer(self.requests_per_minute))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _tell(self, message: str) -> None:
        self._notify(self.redact(message))

    @property
    def client(self) -> RetryingClient:
        """The download client (only inside the `with` block)."""
        if self._client is None:
            raise RuntimeError("use SentinelHub as a context manager")
        return self._client

    def search_items(self, lonlat_bounds: Bounds, start: dt.date, end: dt.date,
                     max_cloud: float | None) -> list[tuple[dt.date, shapely.Geometry | None]]:
        """Return the acquisitions over an area: (UTC date, footprint in lon/lat or None)."""
        catalog = SentinelHubCatalog(config=self.config)
        # typed SentinelHubDownloadClient, but the catalog only hands it to its search iterator,
        # a FeatureIterator, which takes any DownloadClient
        catalog.client = self.client  # type: ignore[assignment]
        search = catalog.search(
            COLLECTION,
            bbox=BBox(lonlat_bounds, crs=CRS.WGS84),
            time=(dt.datetime.combine(start, dt.time(0, 0, 0)),
                  dt.datetime.combine(end, dt.time(23, 59, 59))),
            filter=None if max_cloud is None else f"eo:cloud_cover <= {max_cloud:g}",
            fields={"include": ["id", "geometry", "properties.datetime",
                                "properties.eo:cloud_cover"], "exclude": []},
            limit=100,
        )
        with self.explained("catalog search"):
            return [(dt.date.fromisoformat(str(feature["properties"]["datetime"])[:10]),
                     _footprint(feature.get("geometry"))) for feature in search]

    def fetch_tiff(self, bounds: Bounds, epsg: int, day: dt.date, resolution: float) -> bytes:
        """Return the SCL of one date over a UTM box as a GeoTIFF (UINT8, NEAREST resampling)."""
        request = SentinelHubRequest(
            evalscript=EVALSCRIPT,
            input_data=[SentinelHubRequest.input_data(
                self.collection,
                time_interval=(dt.datetime.combine(day, dt.time(0, 0, 0)),
                               dt.datetime.combine(day, dt.time(23, 59, 59))),
                mosaicking_order=MosaickingOrder.MOST_RECENT,
                upsampling=ResamplingType.NEAREST,
                downsampling=ResamplingType.NEAREST,
            )],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(bounds, crs=CRS(epsg)),
            resolution=(resolution, resolution),
            config=self.config,
        )
        with self.explained(f"SCL request for {day.isoformat()}"):
            responses = self.client.download(request.download_list, max_threads=1,
                                             decode_data=False)
        return bytes(responses[0].content)

    def statistics(self, geometry: shapely.Geometry, bbox: Bounds, epsg: int, resolution: float,
                   first: dt.date, last: dt.date, evalscript: str) -> dict[dt.date, tuple[int, ...]]:
        """Ask the Statistical API for a histogram of SCL classes 0-11 per day over a geometry.

        The sample matrix is `bbox` at `resolution` (give a box on the scene's pixel grid), in
        EPSG:`epsg`; days without data are absent from the result.
        """
        crs = CRS(epsg)
        request = SentinelHubStatistical(
            aggregation=SentinelHubStatistical.aggregation(
                evalscript=evalscript,
                time_interval=(dt.datetime.combine(first, dt.time(0, 0, 0)),
                               dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0, 0, 0))),
                aggregation_interval="P1D", resolution=(resolution, resolution)),
            input_data=[SentinelHubStatistical.input_data(
                self.collection, mosaicking_order=MosaickingOrder.MOST_RECENT,
                upsampling=ResamplingType.NEAREST, downsampling=ResamplingType.NEAREST)],
            bbox=BBox(bbox, crs=crs), geometry=Geometry(geometry, crs=crs),
            calculations={"default": {"histograms": {"default": {
                "binWidth": 1, "lowEdge": 0, "highEdge": 12}}}},
            config=self.config,
        )
        what = f"Statistical API request for {first.isoformat()} to {last.isoformat()}"
        with self.explained(what):
            (answer,) = self.client.download(request.download_list, max_threads=1, decode_data=True)
        found: dict[dt.date, tuple[int, ...]] = {}
        try:
            for interval in answer.get("data", []):
                counts = [0] * 12
                for bin_ in interval["outputs"]["default"]["bands"]["B0"]["histogram"]["bins"]:
                    if 0 <= round(bin_["lowEdge"]) < 12:
                        counts[round(bin_["lowEdge"])] += int(bin_["count"])
                found[dt.date.fromisoformat(interval["interval"]["from"][:10])] = tuple(counts)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{what}: an answer not shaped as documented ({type(exc).__name__}: "
                            f"{exc})") from None
        return found

    def redact(self, text: str) -> str:
        """Return text with the client secret replaced by ***, on one line."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return " ".join(text.split())

    @contextmanager
    def explained(self, what: str) -> Iterator[None]:
        """Turn whatever sentinelhub-py, oauthlib or requests raise into one UserError line."""
        try:
            yield
        except UserError:
            raise
        except RetryBudgetExceeded as exc:
            raise UserError(self.redact(f"{what} at {self.endpoint.base_url}: {exc}")) from None
        except OAuth2Error as exc:
            raise UserError(self.redact(
                f"Sentinel Hub rejected the credentials at {self.endpoint.token_url} "
                f"({exc.error}{': ' + exc.description if exc.description else ''})")) from None
        except (DownloadFailedException, requests.RequestException) as exc:
            raise UserError(self.redact(f"{what}: {_describe(exc, self)}")) from None
        except ValueError as exc:
            raise UserError(self.redact(f"{what}: {exc}")) from None


def _footprint(geometry: object) -> shapely.Geometry | None:
    """An item's GeoJSON geometry as shapely (None when absent or unreadable: then it counts
    as covering every cell it was found for)."""
    if not isinstance(geometry, dict):
        return None
    try:
        return shapely.geometry.shape(geometry)
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException):
        return None


def _describe(exc: Exception, hub: SentinelHub) -> str:
    cause = exc.request_exception if isinstance(exc, DownloadFailedException) else exc
    if isinstance(exc, DownloadFailedException) and cause is None:
        return first_line(exc)
    attempts = hub.policy.attempts()
    if isinstance(cause, requests.Timeout):
        return (f"no answer from {hub.endpoint.base_url} within {hub.policy.timeout_seconds:g} s "
                f"({attempts} attempts); run again later")
    if isinstance(cause, requests.ConnectionError):
        return f"cannot connect to {hub.endpoint.base_url} ({attempts} attempts)"
    response = getattr(cause, "response", None)
    if response is None:
        return first_line(exc)
    status = response.status_code
    detail = _server_message(response)
    if status in (401, 403) and response.url.startswith(hub.endpoint.token_url):
        return f"Sentinel Hub rejected the credentials at {hub.endpoint.token_url} (HTTP {status})"
    if status == 401:
        return f"HTTP 401 Unauthorized: the credentials were not accepted{detail}"
    if status == 403:
        return f"HTTP 403 Forbidden (no access or out of processing units){detail}"
    if status == 429:
        return "HTTP 429 Too Many Requests, too often; run again later"
    if status >= 500:
        return f"HTTP {status} from {response.url} after {attempts} attempts{detail}; run again later"
    return f"HTTP {status}{detail}"


def _server_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error", body) if isinstance(body, dict) else body
    message = error.get("message") or error.get("error_description") if isinstance(error, dict) else error
    return f": {str(message)[:300]}" if message else ""


@contextmanager
def _library_noise_off(token_url: str) -> Iterator[None]:
    """Keep secrets out of logs, and allow http:// only for a loopback token URL.

    requests-oauthlib logs the token request body (client secret included) at DEBUG, so its
    loggers are kept at WARNING.
    """
    loggers = [logging.getLogger(name) for name in ("requests_oauthlib", "oauthlib")]
    levels = [logger.level for logger in loggers]
    insecure = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    split = urlsplit(token_url)
    try:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        if split.scheme == "http" and split.hostname in LOOPBACK_HOSTS:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if insecure is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = insecure
