"""Reproducible synthetic demo data: Sentinel-2 SCL GeoTIFFs and field polygons (GeoPackage).

Land cover and clouds are smoothed random fields (value noise at a few scales, numpy only)
thresholded into SCL classes; the same seed always yields identical arrays, polygons and files.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import affine
import fiona
import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import mapping

__all__ = ["DemoData", "field_polygons", "generate_demo", "scl_scene_array", "write_scl_geotiff"]

FloatArray = npt.NDArray[np.float32]
DEMO_CRS = "EPSG:32633"
DEMO_ORIGIN = (460000.0, 5110000.0)  # upper-left corner, just north-west of Ljubljana
DEMO_PIXEL = 20.0
# crop -> dominant SCL class painted into the field (0: keep the patchy background)
CROPS: dict[str, int] = {"maize": 4, "grassland": 4, "vineyard": 4, "potato": 4,
                         "winter wheat": 5, "fallow": 5, "barley": 0}
CROP_WEIGHTS = (0.2, 0.2, 0.05, 0.1, 0.2, 0.1, 0.15)


@dataclass(frozen=True)
class DemoData:
    """Paths of the files written by :func:`generate_demo`."""

    scene_paths: list[Path]
    polygons_path: Path
    polygons_layer: str


def _interp_axis(grid: FloatArray, spacing: float, n: int, axis: int) -> FloatArray:
    """Smoothstep-interpolate ``grid`` along ``axis`` to ``n`` samples ``spacing`` apart."""
    pos = np.arange(n) / spacing
    i0 = pos.astype(np.int64)
    t = (pos - i0).astype(np.float32)
    w = t * t * (3.0 - 2.0 * t)
    out = np.empty((n, grid.shape[1]) if axis == 0 else (grid.shape[0], n), dtype=np.float32)
    for r in range(0, out.shape[0], 64):  # row chunks keep the temporaries in cache
        if axis == 0:
            rows = i0[r:r + 64]
            lo, hi, wr = grid[rows], grid[rows + 1], w[r:r + 64, None]
        else:
            lo, hi, wr = grid[r:r + 64, i0], grid[r:r + 64, i0 + 1], w[None, :]
        hi -= lo
        hi *= wr
        np.add(lo, hi, out=out[r:r + 64])
    return out


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator,
                  octaves: tuple[tuple[float, float], ...]) -> FloatArray:
    """Sum of value-noise octaves ``(spacing_px, amplitude)``, built on the finest lattice."""
    fine = min(s for s, _ in octaves)
    lat = (int(shape[0] / fine) + 2, int(shape[1] / fine) + 2)
    lattice = np.zeros(lat, dtype=np.float32)
    for spacing, amplitude in octaves:
        ratio = spacing / fine
        coarse = rng.standard_normal((int(lat[0] / ratio) + 2, int(lat[1] / ratio) + 2))
        grid = _interp_axis(coarse.astype(np.float32), ratio, lat[1], 1)
        lattice += amplitude * _interp_axis(grid, ratio, lat[0], 0)
    return _interp_axis(_interp_axis(lattice, fine, shape[1], 1), fine, shape[0], 0)


def _quantiles(field: FloatArray, qs: list[float]) -> list[float]:
    """Quantiles of ``field``, estimated from a fixed random sample on big arrays."""
    flat = field.reshape(-1)
    if flat.size > 250_000:  # a regular subsample would alias with the noise lattice
        flat = flat[np.random.default_rng(0).integers(0, flat.size, 250_000)]
    return [float(v) for v in np.quantile(flat, qs)]


def _land_cover(shape: tuple[int, int], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Cloud-free SCL land cover: patches of 4/5, some 6, 2, 7, 11, rare 1, a class-0 swath edge."""
    height, width = shape
    out = np.full(shape, 5, dtype=np.uint8)
    noise = _smooth_noise(shape, rng, ((45.0, 1.0), (17.0, 0.55), (6.0, 0.2)))
    out[noise > _quantiles(noise, [0.45])[0]] = 4  # vegetation patches of ~0.3-2 km
    noise = _smooth_noise(shape, rng, ((160.0, 1.0), (40.0, 0.35), (9.0, 0.1)))  # "terrain"
    water, dark, snow = _quantiles(noise, [0.03, 0.95, 0.994])
    out[noise < water] = 6
    out[noise > dark] = 2
    out[noise > snow] = 11
    noise = _smooth_noise(shape, rng, ((5.0, 1.0), (2.5, 0.6)))
    out[noise > _quantiles(noise, [0.975])[0]] = 7
    n_bad = max(1, out.size // 20_000)
    out[rng.integers(0, height, n_bad), rng.integers(0, width, n_bad)] = 1
    # Swath edge: a line slanted ~12 degrees from north-south cutting off one corner.
    bottom = rng.uniform(0.12, 0.2) * width
    edge = np.clip(np.linspace(bottom - 0.21 * height, bottom, height), 0, width)
    view = out[:: rng.choice([-1, 1]), :: rng.choice([-1, 1])]
    view[np.arange(width)[None, :] >= width - edge[:, None]] = 0
    return out


def _shift(mask: npt.NDArray[np.bool_], dy: int, dx: int) -> npt.NDArray[np.bool_]:
    """Return ``mask`` moved by ``dy`` rows and ``dx`` columns, padded with False."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def _add_clouds(land: npt.NDArray[np.uint8], rng: np.random.Generator,
                cloud_cover: float) -> npt.NDArray[np.uint8]:
    """Copy ``land`` with clouds (8, 9, cirrus 10 at the edges) and their shadows (3)."""
    out = land.copy()
    cover = float(np.clip(cloud_cover, 0.0, 1.0))
    if cover <= 0.0:
        return out
    cloud = _smooth_noise(land.shape, rng, ((110.0, 1.0), (35.0, 0.5), (10.0, 0.25), (4.0, 0.1)))
    edge, opaque, core = _quantiles(cloud, [1 - cover, 1 - 0.75 * cover, 1 - 0.4 * cover])
    if cover >= 1.0:
        edge = -np.inf
    valid = out != 0
    thick = cloud > opaque
    out[(cloud > edge) & valid] = 10
    out[thick & valid] = 8
    out[(cloud > core) & valid] = 9
    angle = rng.uniform(0, 2 * np.pi)
    dist = min(rng.uniform(25, 60), min(land.shape) / 5)
    shadow = _shift(thick, int(round(dist * np.sin(angle))), int(round(dist * np.cos(angle))))
    shadow &= (out != 10) & (out != 8) & (out != 9) & valid
    out[shadow] = 3
    return out


def scl_scene_array(shape: tuple[int, int], rng: np.random.Generator,
                    cloud_cover: float) -> npt.NDArray[np.uint8]:
    """Return a synthetic SCL scene (uint8 classes 0..11) with about ``cloud_cover`` clouds.

    Land cover is patchy (vegetation 4, not vegetated 5, water 6, dark areas 2, unclassified 7,
    snow 11, rare saturated 1), clouds are classes 8/9 with thin cirrus 10 at their edges, cloud
    shadows 3 are the opaque clouds shifted in one direction, and a class-0 strip along one
    corner imitates the edge of a swath. The cloud fraction refers to the pixels that are not 0.
    """
    return _add_clouds(_land_cover(shape, rng), rng, cloud_cover)


def write_scl_geotiff(path: Path, array: np.ndarray, crs: str, transform: affine.Affine,
                      acquired_on: datetime.date | None) -> None:
    """Write ``array`` as a one-band uint8 GeoTIFF (256x256 tiles, DEFLATE, no nodata tag).

    When ``acquired_on`` is given, the dataset tag ``ACQUISITION_DATE=YYYY-MM-DD`` is set.
    """
    profile = {"driver": "GTiff", "width": array.shape[1], "height": array.shape[0], "count": 1,
               "dtype": "uint8", "crs": crs, "transform": transform, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.open(Path(path), "w", **profile) as dst:
        dst.write(array.astype(np.uint8, copy=False), 1)
        if acquired_on is not None:
            dst.update_tags(ACQUISITION_DATE=acquired_on.isoformat())


def _field_polygons_utm(bounds: tuple[float, float, float, float], count: int,
                        rng: np.random.Generator, min_ha: float, max_ha: float) -> np.ndarray:
    """Field-like polygons in the bounds' (metric) CRS; one per cell of a jittered grid."""
    xmin, ymin, xmax, ymax = bounds
    n_cells = int(np.ceil(1.3 * max(count, 1)))  # ~23 % of the cells stay empty
    ncols = max(1, round((xmax - xmin) / ((xmax - xmin) * (ymax - ymin) / n_cells) ** 0.5))
    nrows = int(np.ceil(n_cells / ncols))
    cw, ch = (xmax - xmin) / ncols, (ymax - ymin) / nrows
    cells = rng.choice(ncols * nrows, size=count, replace=False)
    # Unit-area-ish rectangles, corners jittered, pentagons get a bump on the first edge.
    aspect = np.exp(rng.uniform(np.log(0.35), np.log(2.8), count))
    a, b = np.sqrt(aspect), 1 / np.sqrt(aspect)
    verts = np.zeros((count, 5, 2))
    verts[:, :4, 0] = np.array([-0.5, 0.5, 0.5, -0.5]) * a[:, None]
    verts[:, :4, 1] = np.array([-0.5, -0.5, 0.5, 0.5]) * b[:, None]
    jitter = np.where(rng.random(count) < 0.25, 0.01, 0.09) * np.minimum(a, b)
    verts[:, :4] += rng.uniform(-1, 1, (count, 4, 2)) * jitter[:, None, None]
    t = rng.uniform(0.3, 0.7, count)[:, None]
    bump = rng.uniform(-0.08, 0.18, count) * b
    verts[:, 4] = verts[:, 0] * (1 - t) + verts[:, 1] * t
    verts[:, 4, 1] -= bump
    verts = verts[:, [0, 4, 1, 2, 3]]  # pentagon vertex order
    z = (verts[..., 0] + 1j * verts[..., 1]) * np.exp(1j * rng.uniform(0, np.pi, count))[:, None]
    verts = np.stack([z.real, z.imag], axis=-1)  # rotated
    pentagon = rng.random(count) < 0.35
    verts[~pentagon, 1] = verts[~pentagon, 0]  # quadrilateral: drop the bump vertex
    x, y = verts[..., 0], verts[..., 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y, axis=1))
    ext_x, ext_y = np.ptp(x, axis=1), np.ptp(y, axis=1)
    # Largest scale that keeps the field inside its cell; a few (1 %) ignore it and may overlap.
    cap = area * np.minimum(cw / ext_x, ch / ext_y) ** 2 * 0.95
    cap[rng.random(count) < 0.01] = np.inf
    lo, hi = min_ha * 1e4 * (1 + 1e-6), max_ha * 1e4 * (1 - 1e-6)
    top = np.clip(cap, lo, hi)
    target = np.exp(rng.uniform(np.log(lo), np.log(top)))
    verts *= np.sqrt(target / area)[:, None, None]
    cx = xmin + (cells % ncols + 0.5) * cw
    cy = ymin + (cells // ncols + 0.5) * ch
    vmin, vmax = verts.min(axis=1), verts.max(axis=1)
    for k, (c, half) in enumerate(((cx, cw / 2), (cy, ch / 2))):
        slack_lo, slack_hi = -half - vmin[:, k], half - vmax[:, k]
        offset = np.where(slack_hi > slack_lo, rng.uniform(0, 1, count), 0.5)
        centre = c + slack_lo + offset * (slack_hi - slack_lo)
        edge_lo, edge_hi = (xmin, xmax) if k == 0 else (ymin, ymax)
        verts[..., k] += np.clip(centre, edge_lo - vmin[:, k], edge_hi - vmax[:, k])[:, None]
    quads = shapely.polygons(verts[~pentagon][:, [0, 2, 3, 4]])
    geoms = np.empty(count, dtype=object)
    geoms[~pentagon] = quads
    geoms[pentagon] = shapely.polygons(verts[pentagon])
    return geoms


def _to_wgs84(geoms: np.ndarray, crs: str) -> list[shapely.Polygon]:
    """Transform shapely geometries from ``crs`` to EPSG:4326 (lon/lat order)."""
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return list(out)


def field_polygons(bounds_utm: tuple[float, float, float, float], utm_crs: str, count: int,
                   rng: np.random.Generator, min_ha: float = 1.0,
                   max_ha: float = 50.0) -> list[shapely.Polygon]:
    """Return ``count`` field-like polygons inside ``bounds_utm``, in EPSG:4326 (lon, lat).

    Fields are rotated, slightly irregular quadrilaterals or pentagons of ``min_ha`` to
    ``max_ha`` hectares (measured in ``utm_crs``); they are placed on a jittered grid, so they
    mostly do not overlap (about 1 % may overlap a neighbour).
    """
    return _to_wgs84(_field_polygons_utm(bounds_utm, count, rng, min_ha, max_ha), utm_crs)


def generate_demo(out_dir: Path, seed: int = 2017, scenes: int = 3, fields: int = 300,
                  size: int = 1000) -> DemoData:
    """Write demo SCL scenes (``SCL_YYYY-MM-DD.tif``) and ``fields.gpkg`` into ``out_dir``.

    The scenes are ``size`` x ``size`` pixels of 20 m in EPSG:32633 near Ljubljana, with the
    same land cover on every date and different clouds (the first date nearly cloud-free, the
    second about 60 % cloudy). Each field gets a dominant land cover from its crop. About 2 %
    of the fields lie partly outside the raster and one or two entirely outside it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    land_seq, field_seq, cloud_seq = np.random.SeedSequence(seed).spawn(3)
    field_rng = np.random.default_rng(field_seq)
    (x0, y0), extent = DEMO_ORIGIN, size * DEMO_PIXEL
    transform = affine.Affine(DEMO_PIXEL, 0.0, x0, 0.0, -DEMO_PIXEL, y0)
    margin = min(300.0, extent / 10)
    inner = (x0 + margin, y0 - extent + margin, x0 + extent - margin, y0 - margin)
    utm = _field_polygons_utm(inner, fields, field_rng, 1.0, 50.0)
    # Move about 2 % across the raster edge and one or two entirely outside it.
    n_out = 0 if fields < 10 else (1 if fields < 100 else 2)
    n_part = max(1 if fields >= 10 else 0, round(0.02 * fields))
    moved = field_rng.choice(fields, size=n_out + n_part, replace=False)
    for k, i in enumerate(moved):  # centroid onto (or 1.5 km beyond) a random edge
        along, beyond = field_rng.uniform(0.1, 0.9) * extent, field_rng.uniform(-20.0, 20.0)
        beyond = 1500.0 if k < n_out else beyond
        tx, ty = [(x0 - beyond, y0 - along), (x0 + extent + beyond, y0 - along),
                  (x0 + along, y0 + beyond), (x0 + along, y0 - extent - beyond)][k % 4]
        utm[i] = affinity.translate(utm[i], tx - utm[i].centroid.x, ty - utm[i].centroid.y)
    crops = list(CROPS)
    crop_of = field_rng.choice(len(crops), size=fields, p=CROP_WEIGHTS)
    land = _land_cover((size, size), np.random.default_rng(land_seq))
    paint = [(g, CROPS[crops[c]]) for g, c in zip(utm, crop_of, strict=True) if CROPS[crops[c]]]
    if paint:
        painted = rasterio.features.rasterize(paint, out_shape=land.shape, transform=transform,
                                              fill=0, dtype="uint8")
        keep = (painted == 0) | (land == 0) | (land == 1) | (land == 7)
        land = np.where(keep, land, painted).astype(np.uint8)
    # Clouds per date: nearly clear, ~60 %, ~25 %, then random; seeds independent of `scenes`.
    seqs = cloud_seq.spawn(scenes + 1)
    more = np.random.default_rng(seqs[-1]).uniform(0.05, 0.5, max(0, scenes - 3))
    paths = []
    for i in range(scenes):  # 2024-06-05, -06-20, -07-10, -07-25, ... (5-day revisit multiples)
        date = datetime.date(2024, 6, 5) + datetime.timedelta(days=15 * i + 5 * (i // 2))
        cover = [0.02, 0.6, 0.25][i] if i < 3 else float(more[i - 3])
        paths.append(out_dir / f"SCL_{date.isoformat()}.tif")
        scene = _add_clouds(land, np.random.default_rng(seqs[i]), cover)
        write_scl_geotiff(paths[-1], scene, DEMO_CRS, transform, date)
    gpkg = out_dir / "fields.gpkg"
    gpkg.unlink(missing_ok=True)
    schema = {"geometry": "Polygon", "properties": {"field_id": "int", "name": "str",
                                                    "crop": "str", "area_ha": "float"}}
    with fiona.open(gpkg, "w", driver="GPKG", layer="fields", schema=schema,
                    crs="EPSG:4326") as dst:
        dst.writerecords(
            {"geometry": mapping(geom),
             "properties": {"field_id": i + 1, "name": f"Field {i + 1:04d}",
                            "crop": crops[crop_of[i]], "area_ha": round(utm[i].area / 1e4, 4)}}
            for i, geom in enumerate(_to_wgs84(utm, DEMO_CRS)))
    return DemoData(scene_paths=paths, polygons_path=gpkg, polygons_layer="fields")
