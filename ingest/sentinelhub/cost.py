"""What a fetch costs in Sentinel Hub's units, and the monthly quotas the cost is set against.

Processing units (PU) by Sentinel Hub's published definition (the same on CDSE):
https://docs.sentinel-hub.com/api/latest/api/overview/processing-unit/ and
https://documentation.dataspace.copernicus.eu/APIs/SentinelHub/Overview/ProcessingUnit.html.
One PU is a 512 x 512 px output of 3 input bands, one data sample per pixel, at most 16 bits a
pixel. A request is charged the product of its factors: output width x height / 512^2 (at least
0.01), input bands / 3, 2 for a 32-bit float output (1 for 8 or 16 bits), the data samples per
pixel; and at least 0.005 PU for a Process API request. Only answers with a 2xx status are
charged. sclzonal asks for one input band (SCL), one sample a pixel (`mostRecent` mosaicking
gives one), UINT8 output: a request of w x h pixels costs max(max(w h / 512^2, 0.01) / 3, 0.005).

Catalog API searches count as requests too; their processing units (by area and months, small
beside the Processing API's) are not estimated here.
"""

from __future__ import annotations

from dataclasses import dataclass

PIXELS_PER_UNIT = 512 * 512
MIN_AREA_FACTOR = 0.01
MIN_PROCESS_UNITS = 0.005
SCL_INPUT_BANDS = 1


def processing_units(width: int, height: int, *, input_bands: int = SCL_INPUT_BANDS,
                     float32: bool = False, samples: int = 1) -> float:
    """Return the PU Sentinel Hub charges for one Process API request of width x height px."""
    area = max(width * height / PIXELS_PER_UNIT, MIN_AREA_FACTOR)
    units = area * (input_bands / 3) * (2 if float32 else 1) * samples
    return max(units, MIN_PROCESS_UNITS)


@dataclass(frozen=True)
class Quota:
    """An endpoint's known monthly allowance and rate limit."""

    name: str
    requests: int
    processing_units: float
    requests_per_minute: int


QUOTAS = {
    "cdse": Quota("CDSE free tier", requests=10_000, processing_units=10_000,
                  requests_per_minute=300),
}
"""Quotas that are public: CDSE's free tier (Sentinel Hub's own depend on the plan bought)."""


def quota_line(source: str, requests: int, units: float, requests_per_minute: float) -> str:
    """Return one line setting a run's requests and PU against the endpoint's monthly quota."""
    quota = QUOTAS.get(source)
    minutes = requests / requests_per_minute if requests_per_minute else 0.0
    pace = f"at {requests_per_minute:g} requests a minute at least {_duration(minutes)}"
    if quota is None:
        return (f"quota: not known for {source} (see your plan on the dashboard); {pace}")
    return (f"quota ({quota.name}, a month): {requests:,} of {quota.requests:,} requests "
            f"({100 * requests / quota.requests:.2f} %), {units:,.3f} of "
            f"{quota.processing_units:,.0f} processing units "
            f"({100 * units / quota.processing_units:.2f} %); {pace}")


def _duration(minutes: float) -> str:
    seconds = minutes * 60
    if seconds < 120:
        return f"{seconds:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
