"""Helpers for the QGIS tests: find QGIS's Python, run tests/qgis_checks.py, read PNG pixels."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sclzonal.qgis.project import QGIS_PYTHON, qgis_environment

CHECKS = Path(__file__).resolve().parent / "qgis_checks.py"
INSTALL = "apt-get install --no-install-recommends qgis python3-qgis qgis-providers"


def require_qgis() -> None:
    """Skip the calling test when QGIS's Python bindings cannot be imported (scripts/test installs them)."""
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                          env=qgis_environment(), check=False)
    if done.returncode != 0:
        pytest.skip(f"QGIS's Python bindings are missing for {QGIS_PYTHON} "
                    f"(scripts/test installs them as root on Debian: {INSTALL})")


def run_checks(spec: dict[str, Any], work_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run tests/qgis_checks.py under QGIS's Python with `spec`; return its JSON result."""
    spec_path = work_dir / f"checks-{len(list(work_dir.glob('checks-*.json')))}.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run([QGIS_PYTHON, str(CHECKS), str(spec_path)], capture_output=True, text=True,
                          env={**qgis_environment(), **(env or {})}, timeout=300, check=False)
    assert done.returncode == 0, f"qgis_checks.py failed:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """Return the (r, g, b) of '#rrggbb'."""
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def pixels(png: Path) -> np.ndarray:
    """Return the PNG as an (rows, cols, 3) uint8 array."""
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"))


def colour_count(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 0) -> int:
    """Count the pixels within `tolerance` of `colour` in every channel."""
    difference = np.abs(image.astype(np.int16) - np.array(colour, dtype=np.int16))
    return int(np.all(difference <= tolerance, axis=2).sum())


def over(colour: tuple[int, int, int], opacity: float,
         under: tuple[int, int, int] = (255, 255, 255)) -> tuple[int, int, int]:
    """Return `colour` drawn with `opacity` over the colour `under` (white by default)."""
    r, g, b = (round(c * opacity + u * (1 - opacity)) for c, u in zip(colour, under, strict=True))
    return r, g, b


def distinct_colours(image: np.ndarray) -> Counter[tuple[int, int, int]]:
    """Return how many pixels each colour has."""
    flat = image.reshape(-1, 3)
    values, counts = np.unique(flat, axis=0, return_counts=True)
    return Counter({(int(v[0]), int(v[1]), int(v[2])): int(c) for v, c in zip(values, counts, strict=True)})
