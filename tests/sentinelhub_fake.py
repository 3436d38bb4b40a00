"""A fake Sentinel Hub on 127.0.0.1: OAuth token, Catalog search, Processing and Statistical API.

It answers the real sentinelhub-py client. Process responses are GeoTIFFs cut from a known SCL
array laid periodically over longitude/latitude (`scl_at`), sampled at the centres of the pixels
of the requested box, CRS and resolution (nearest), and set to class 0 outside the footprints
of that date's acquisitions. The Statistical API (request and response shapes as its public
reference gives them: `input.bounds` with bbox, geometry and CRS, `aggregation` with timeRange,
aggregationInterval P1D and resx/resy, `calculations` histograms) answers from the same array:
its sample matrix starts at the request's bbox, a pixel counts when its centre lies in the
geometry (or, with `statistical_rule = "touched"`, when it touches it), one interval per day
with an acquisition. Every request is recorded; faults (status codes, Retry-After,
delays, truncated bodies) can be queued per endpoint or set for every request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.io import MemoryFile

CELL_DEGREES = 0.0002
KNOWN = np.kron(np.random.default_rng(2024).integers(0, 12, size=(48, 48)),
                np.ones((3, 3), dtype=np.int64)).astype(np.uint8)
"""The known SCL array (144 x 144 cells of CELL_DEGREES, repeated over the globe)."""


def scl_at(lon: np.ndarray, lat: np.ndarray, day: dt.date) -> np.ndarray:
    """Return the known SCL class at longitudes/latitudes on a date (the date shifts the array)."""
    rows = np.floor(lat / CELL_DEGREES).astype(np.int64) % KNOWN.shape[0]
    cols = (np.floor(lon / CELL_DEGREES).astype(np.int64) + day.toordinal()) % KNOWN.shape[1]
    return KNOWN[rows, cols]


@dataclass(frozen=True)
class Acquisition:
    """A catalog item: when, how cloudy, and its footprint (lon/lat bounds)."""

    when: str
    cloud_cover: float
    bounds: tuple[float, float, float, float]
    ident: str = ""

    @property
    def day(self) -> dt.date:
        """The UTC date."""
        return dt.date.fromisoformat(self.when[:10])


@dataclass
class Fault:
    """What to do instead of (or before) a normal answer."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False
    add_to_values: int = 0
    """Added to every pixel of a process response (values beyond 11: not an SCL band)."""
    hold: threading.Event | None = None
    """Answer only once this is set (at most 30 s)."""


@dataclass
class Recorded:
    """One request as the fake saw it."""

    kind: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    response: bytes = b""
    at: float = field(default_factory=time.monotonic)
    """When it arrived (time.monotonic)."""


class FakeSentinelHub:
    """The fake service; use as a context manager (binds a free port on 127.0.0.1)."""

    def __init__(self, acquisitions: list[Acquisition], *, client_id: str = "fake-client",
                 client_secret: str = "fake-secret-do-not-print-8f3a", page_size: int = 2,
                 max_pixels: int = 2500) -> None:
        self.acquisitions = acquisitions
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = page_size
        self.max_pixels = max_pixels
        self.requests: list[Recorded] = []
        self.faults: dict[str, deque[Fault]] = {"token": deque(), "catalog": deque(),
                                                "process": deque(), "statistics": deque()}
        self.always: dict[str, Fault | None] = {"token": None, "catalog": None, "process": None,
                                                "statistics": None}
        self.rasters: dict[dt.date, Any] = {}
        """Real SCL rasters to serve by date instead of the known array (see serve_rasters)."""
        self.statistical_rule = "centre"
        """Which pixels the Statistical API counts: "centre" (inside) or "touched"."""
        self.tokens: set[str] = set()
        self.latency = 0.0
        """Seconds every catalog and process answer takes (a realistic service's delay)."""
        self.in_flight = 0
        self.most_in_flight = 0
        """The most process requests being answered at once (since the last reset)."""
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        """Where the OAuth token is asked for."""
        return f"{self.base_url}/oauth/token"

    def __enter__(self) -> FakeSentinelHub:
        fake = self

        class Handler(_Handler):
            service = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget recorded requests and faults."""
        with self.lock:
            self.requests.clear()
            self.most_in_flight = 0
            for kind in self.faults:
                self.faults[kind].clear()
                self.always[kind] = None

    def of_kind(self, kind: str) -> list[Recorded]:
        """The recorded requests of one endpoint (token, catalog, process), in order."""
        with self.lock:
            return [r for r in self.requests if r.kind == kind]

    def next_fault(self, kind: str) -> Fault | None:
        """The fault to apply to the next request of a kind, if any."""
        with self.lock:
            if self.faults[kind]:
                return self.faults[kind].popleft()
            return self.always[kind]

    def issue_token(self) -> str:
        """A JWT-shaped access token."""
        payload = base64.urlsafe_b64encode(json.dumps(
            {"azp": self.client_id, "exp": int(time.time()) + 3600}).encode()).decode().rstrip("=")
        token = f"eyJhbGciOiJub25lIn0.{payload}.sig{len(self.tokens)}"
        with self.lock:
            self.tokens.add(token)
        return token

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer a catalog search page (bbox, datetime, eo:cloud_cover filter, limit, next)."""
        west, south, east, north = body["bbox"]
        start, end = body["datetime"].split("/")
        limit_match = re.search(r"eo:cloud_cover\s*(<=|<)\s*([\d.]+)", body.get("filter") or "")
        found = []
        for item in sorted(self.acquisitions, key=lambda a: a.when):
            w, s, e, n = item.bounds
            if e < west or w > east or n < south or s > north:
                continue
            if not start[:19] <= item.when[:19] <= end[:19]:
                continue
            if limit_match:
                limit = float(limit_match.group(2))
                if item.cloud_cover > limit or (limit_match.group(1) == "<" and item.cloud_cover == limit):
                    continue
            found.append(item)
        offset = int(body.get("next") or 0)
        size = min(int(body.get("limit", 10)), self.page_size)
        page = found[offset:offset + size]
        context: dict[str, Any] = {"limit": size, "returned": len(page)}
        if offset + size < len(found):
            context["next"] = offset + size
        features = [{
            "type": "Feature", "id": item.ident or f"S2_{item.when}_{index}",
            "bbox": list(item.bounds),
            "geometry": {"type": "Polygon", "coordinates": [[
                [item.bounds[0], item.bounds[1]], [item.bounds[2], item.bounds[1]],
                [item.bounds[2], item.bounds[3]], [item.bounds[0], item.bounds[3]],
                [item.bounds[0], item.bounds[1]]]]},
            "properties": {"datetime": item.when, "eo:cloud_cover": item.cloud_cover},
        } for index, item in enumerate(page, start=offset)]
        return {"type": "FeatureCollection", "features": features, "context": context}

    def serve_rasters(self, paths: list[Any]) -> None:
        """Serve these SCL GeoTIFFs (dated by their ACQUISITION_DATE tag), one acquisition each."""
        import rasterio
        from rasterio.warp import transform_bounds

        self.acquisitions, self.rasters = [], {}
        for path in paths:
            with rasterio.open(path) as raster:
                day = dt.date.fromisoformat(raster.tags()["ACQUISITION_DATE"])
                self.rasters[day] = (raster.read(1), raster.transform, raster.crs.to_epsg())
                bounds = transform_bounds(raster.crs, "EPSG:4326", *raster.bounds)
            self.acquisitions.append(Acquisition(f"{day.isoformat()}T10:00:00Z", 0.0, bounds))

    def values_at(self, lon: np.ndarray, lat: np.ndarray, day: dt.date) -> np.ndarray:
        """SCL at lon/lat on a date: the known array (or the day's raster, nearest pixel) where an
        acquisition of the day covers, else 0."""
        if day in self.rasters:
            array, transform, epsg = self.rasters[day]
            x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
            cols, rows = ~transform @ (np.asarray(x), np.asarray(y))
            cols, rows = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
            inside = (rows >= 0) & (rows < array.shape[0]) & (cols >= 0) & (cols < array.shape[1])
            return np.where(inside, array[rows.clip(0, array.shape[0] - 1),
                                          cols.clip(0, array.shape[1] - 1)], 0).astype(np.uint8)
        covered = np.zeros(np.shape(lon), dtype=bool)
        for item in self.acquisitions:
            if item.day == day:
                w, s, e, n = item.bounds
                covered |= (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
        return np.where(covered, scl_at(lon, lat, day), 0).astype(np.uint8)

    def statistics(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer a Statistical API request: a histogram of the evalscript's band per day."""
        import shapely
        from shapely.geometry import shape

        bounds = body["input"]["bounds"]
        epsg = int(bounds["properties"]["crs"].rsplit("/", 1)[-1])
        left, bottom, right, top = bounds["bbox"]
        aggregation = body["aggregation"]
        res_x, res_y = aggregation["resx"], aggregation["resy"]
        width, height = round((right - left) / res_x), round((top - bottom) / res_y)
        geometry = shape(bounds["geometry"])
        cols, rows = np.meshgrid(np.arange(width), np.arange(height))
        x0, y1 = left + cols * res_x, top - rows * res_y
        if self.statistical_rule == "touched":
            cells = shapely.box(x0, y1 - res_y, x0 + res_x, y1)  # overlapping, not only touching
            inside = shapely.intersects(cells, geometry) & ~shapely.touches(cells, geometry)
        else:
            inside = shapely.contains_xy(geometry, x0 + res_x / 2, y1 - res_y / 2)
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(
            x0[inside] + res_x / 2, y1[inside] - res_y / 2)
        first = dt.date.fromisoformat(aggregation["timeRange"]["from"][:10])
        last = dt.date.fromisoformat(aggregation["timeRange"]["to"][:10])
        days = sorted({item.day for item in self.acquisitions if first <= item.day <= last
                       and not (aggregation["timeRange"]["to"][11:19] == "00:00:00" and item.day == last)})
        histogram = body["calculations"]["default"]["histograms"]["default"]
        edges = np.arange(histogram["lowEdge"], histogram["highEdge"] + histogram["binWidth"],
                          histogram["binWidth"])
        data = []
        for day in days:
            values = self.values_at(lon, lat, day)
            counts, _ = np.histogram(values, bins=edges)
            data.append({
                "interval": {"from": f"{day.isoformat()}T00:00:00Z",
                             "to": f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00Z"},
                "outputs": {"default": {"bands": {"B0": {
                    "stats": {"min": float(values.min()) if values.size else None,
                              "max": float(values.max()) if values.size else None,
                              "sampleCount": int(inside.sum()), "noDataCount": 0},
                    "histogram": {"bins": [{"lowEdge": float(low), "highEdge": float(high),
                                            "count": int(count)}
                                           for low, high, count in zip(edges, edges[1:], counts,
                                                                       strict=False)]},
                }}}},
            })
        return {"data": data, "status": "OK"}

    def render(self, body: dict[str, Any], add_to_values: int = 0) -> tuple[int, bytes]:
        """Cut the GeoTIFF a process request asks for; (400, error JSON) when it is too big."""
        bounds = body["input"]["bounds"]
        epsg = int(bounds["properties"]["crs"].rsplit("/", 1)[-1])
        left, bottom, right, top = bounds["bbox"]
        output = body["output"]
        width = round((right - left) / output["resx"])
        height = round((top - bottom) / output["resy"])
        if width > self.max_pixels or height > self.max_pixels:
            return 400, json.dumps({"error": {"status": 400, "reason": "Bad Request",
                                              "message": f"Image size {width}x{height} too large",
                                              "code": "COMMON_BAD_PAYLOAD"}}).encode()
        day = dt.date.fromisoformat(body["input"]["data"][0]["dataFilter"]["timeRange"]["from"][:10])
        res_x, res_y = (right - left) / width, (top - bottom) / height
        cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
        lon, lat = to_lonlat.transform(left + cols * res_x, top - rows * res_y)
        values = (self.values_at(lon, lat, day) + add_to_values).astype(np.uint8)
        with MemoryFile() as memory:
            with memory.open(driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                             crs=f"EPSG:{epsg}", transform=Affine(res_x, 0, left, 0, -res_y, top)) as tif:
                tif.write(values, 1)
            return 200, bytes(memory.read())


class _Handler(BaseHTTPRequestHandler):
    service: FakeSentinelHub

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        path = self.path
        kind = ("token" if path.endswith("/oauth/token") else
                "catalog" if path.endswith("/api/v1/catalog/1.0.0/search") else
                "process" if path.endswith("/api/v1/process") else
                "statistics" if path.endswith("/api/v1/statistics") else "unknown")
        if kind == "token":
            body: Any = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        else:
            body = json.loads(raw or b"null")
        record = Recorded(kind, path, dict(self.headers), body)
        with self.service.lock:
            self.service.requests.append(record)
        fault = self.service.next_fault(kind) if kind != "unknown" else None
        if kind == "process":
            with self.service.lock:
                self.service.in_flight += 1
                self.service.most_in_flight = max(self.service.most_in_flight, self.service.in_flight)
        try:
            self._answer(kind, record, body, fault)
        finally:
            if kind == "process":
                with self.service.lock:
                    self.service.in_flight -= 1

    def _answer(self, kind: str, record: Recorded, body: Any, fault: Fault | None) -> None:
        if kind in ("catalog", "process", "statistics") and self.service.latency:
            time.sleep(self.service.latency)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.hold is not None:
            fault.hold.wait(120)
        if fault is not None and fault.status is not None:
            self._send(record, fault.status, {"error": {"status": fault.status,
                                                        "message": "fault injected"}}, fault.headers)
            return
        if kind == "token":
            self._token(record, body)
        elif kind == "unknown":
            self._send(record, 404, {"error": {"status": 404, "message": "no such endpoint"}})
        elif self.headers.get("Authorization", "").removeprefix("Bearer ") not in self.service.tokens:
            self._send(record, 401, {"error": {"status": 401, "reason": "Unauthorized",
                                               "message": "token missing or invalid"}})
        elif kind == "catalog":
            self._send(record, 200, self.service.search(body))
        elif kind == "statistics":
            self._send(record, 200, self.service.statistics(body))
        else:
            status, content = self.service.render(body, fault.add_to_values if fault else 0)
            if status == 200 and fault is not None and fault.truncate:
                content = content[: len(content) // 2]
            self._send_bytes(record, status, content,
                             "image/tiff" if status == 200 else "application/json")

    def _token(self, record: Recorded, form: dict[str, str]) -> None:
        if (form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.service.client_id
                or form.get("client_secret") != self.service.client_secret):
            self._send(record, 401, {"error": "invalid_client",
                                     "error_description": "Invalid client or Invalid client credentials"})
            return
        self._send(record, 200, {"access_token": self.service.issue_token(), "token_type": "Bearer",
                                 "expires_in": 3600})

    def _send(self, record: Recorded, status: int, payload: Any,
              headers: dict[str, str] | None = None) -> None:
        self._send_bytes(record, status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(self, record: Recorded, status: int, content: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        record.status, record.response = status, content
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
