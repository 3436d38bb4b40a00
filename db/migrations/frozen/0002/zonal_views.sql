-- Per-polygon SCL class counts, defined with ST_Clip + ST_ValueCount.
--
-- A pixel belongs to a polygon when its centre lies inside it (ST_Clip's rule). Each polygon is
-- transformed to the scene's SRID, never the raster to the polygon's. Tiles carry band nodata
-- 255, which SCL never uses, so class 0 is counted like any other class.

-- The definition: counts computed live from the raster tiles. The table sclzonal.zonal_count
-- stores the same numbers, one row per counted (polygon, scene) pair; `sclzonal refresh` fills
-- it for new pairs only, and the tests check that the view sclzonal.class_count below (the
-- stored rows in this view's shape) equals this view.
CREATE OR REPLACE VIEW sclzonal.zonal_class_counts AS
SELECT p.id AS polygon_id,
       s.id AS scene_id,
       vc.value::smallint AS class,
       sum(vc.count)::bigint AS pixels
FROM sclzonal.scene AS s
JOIN sclzonal.polygon AS p ON p.geom && s.footprint
CROSS JOIN LATERAL (SELECT ST_Transform(p.geom, s.srid) AS geom) AS g
JOIN sclzonal.scene_tile AS t
  ON t.scene_id = s.id
 AND ST_ConvexHull(t.rast) && g.geom
 AND ST_Intersects(ST_ConvexHull(t.rast), g.geom)
CROSS JOIN LATERAL ST_ValueCount(ST_Clip(t.rast, 1, g.geom, true), 1, true) AS vc
GROUP BY p.id, s.id, vc.value;

COMMENT ON VIEW sclzonal.zonal_class_counts IS
    'Pixels per (polygon, scene, SCL class), pixel-centre rule, computed live with ST_Clip + ST_ValueCount.';

-- The stored counts in the shape of zonal_class_counts: one row per class present.
CREATE OR REPLACE VIEW sclzonal.class_count AS
SELECT zc.polygon_id,
       zc.scene_id,
       (c.position - 1)::smallint AS class,
       c.pixels::bigint AS pixels
FROM sclzonal.zonal_count AS zc
CROSS JOIN LATERAL unnest(ARRAY[zc.class_0, zc.class_1, zc.class_2, zc.class_3, zc.class_4,
                                zc.class_5, zc.class_6, zc.class_7, zc.class_8, zc.class_9,
                                zc.class_10, zc.class_11]) WITH ORDINALITY AS c(pixels, position)
WHERE c.pixels > 0;

COMMENT ON VIEW sclzonal.class_count IS
    'Stored pixel counts per (polygon, scene, class) from sclzonal.zonal_count; equal to zonal_class_counts.';

-- One row per counted (polygon, scene) pair: pixels of each class, total and clear pixels, and
-- the shares the verdicts use. Clear classes come from sclzonal.scl_class.is_clear.
CREATE OR REPLACE VIEW sclzonal.zonal_class_summary AS
WITH clear_classes AS (
    SELECT array_agg(is_clear ORDER BY value) AS clear FROM sclzonal.scl_class
), totals AS (
    SELECT zc.polygon_id,
           zc.scene_id,
           zc.class_0,
           zc.class_1,
           zc.class_2,
           zc.class_3,
           zc.class_4,
           zc.class_5,
           zc.class_6,
           zc.class_7,
           zc.class_8,
           zc.class_9,
           zc.class_10,
           zc.class_11,
           zc.class_0::bigint + zc.class_1 + zc.class_2 + zc.class_3 +
           zc.class_4 + zc.class_5 + zc.class_6 + zc.class_7 +
           zc.class_8 + zc.class_9 + zc.class_10 + zc.class_11 AS total_pixels,
           CASE WHEN k.clear[1] THEN zc.class_0::bigint ELSE 0 END +
           CASE WHEN k.clear[2] THEN zc.class_1 ELSE 0 END +
           CASE WHEN k.clear[3] THEN zc.class_2 ELSE 0 END +
           CASE WHEN k.clear[4] THEN zc.class_3 ELSE 0 END +
           CASE WHEN k.clear[5] THEN zc.class_4 ELSE 0 END +
           CASE WHEN k.clear[6] THEN zc.class_5 ELSE 0 END +
           CASE WHEN k.clear[7] THEN zc.class_6 ELSE 0 END +
           CASE WHEN k.clear[8] THEN zc.class_7 ELSE 0 END +
           CASE WHEN k.clear[9] THEN zc.class_8 ELSE 0 END +
           CASE WHEN k.clear[10] THEN zc.class_9 ELSE 0 END +
           CASE WHEN k.clear[11] THEN zc.class_10 ELSE 0 END +
           CASE WHEN k.clear[12] THEN zc.class_11 ELSE 0 END AS clear_pixels
    FROM sclzonal.zonal_count AS zc
    CROSS JOIN clear_classes AS k
)
SELECT t.*,
       s.acquired_on,
       t.clear_pixels::float8 / nullif(t.total_pixels, 0) AS clear_share,
       t.class_4::float8 / nullif(t.clear_pixels, 0) AS vegetation_share,
       ARRAY[t.class_0, t.class_1, t.class_2, t.class_3, t.class_4, t.class_5,
             t.class_6, t.class_7, t.class_8, t.class_9, t.class_10, t.class_11] AS class_pixels
FROM totals AS t
JOIN sclzonal.scene AS s ON s.id = t.scene_id;

COMMENT ON VIEW sclzonal.zonal_class_summary IS
    'Per (polygon, scene): pixels of classes 0-11, total and clear pixels, clear share (clear/total), vegetation share (class 4/clear), and class_pixels[k + 1] = pixels of class k.';
