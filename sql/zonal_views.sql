-- Per-polygon SCL class counts, defined with ST_Clip + ST_ValueCount.
--
-- A pixel belongs to a polygon when its centre lies inside it (ST_Clip's rule). Each polygon is
-- transformed to the scene's SRID, never the raster to the polygon's. Tiles carry band nodata
-- 255, which SCL never uses, so class 0 is counted like any other class.

-- The definition: counts computed live from the raster tiles. sclzonal.class_count stores its
-- rows for the (polygon, scene) pairs listed in sclzonal.counted_pair; `sclzonal refresh` fills
-- them for new pairs only, and the tests check that both agree.
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

-- One row per counted (polygon, scene) pair, from the stored counts: pixels of each class,
-- total and clear pixels, and the shares the verdicts use.
CREATE OR REPLACE VIEW sclzonal.zonal_class_summary AS
WITH pair_counts AS (
    SELECT cp.polygon_id,
           cp.scene_id,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 0), 0)::bigint AS class_0,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 1), 0)::bigint AS class_1,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 2), 0)::bigint AS class_2,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 3), 0)::bigint AS class_3,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 4), 0)::bigint AS class_4,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 5), 0)::bigint AS class_5,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 6), 0)::bigint AS class_6,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 7), 0)::bigint AS class_7,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 8), 0)::bigint AS class_8,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 9), 0)::bigint AS class_9,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 10), 0)::bigint AS class_10,
           coalesce(sum(cc.pixels) FILTER (WHERE cc.class = 11), 0)::bigint AS class_11,
           coalesce(sum(cc.pixels), 0)::bigint AS total_pixels,
           coalesce(sum(cc.pixels) FILTER (WHERE k.is_clear), 0)::bigint AS clear_pixels
    FROM sclzonal.counted_pair AS cp
    LEFT JOIN sclzonal.class_count AS cc
      ON cc.polygon_id = cp.polygon_id AND cc.scene_id = cp.scene_id
    LEFT JOIN sclzonal.scl_class AS k ON k.value = cc.class
    GROUP BY cp.polygon_id, cp.scene_id
)
SELECT pc.*,
       s.acquired_on,
       pc.clear_pixels::float8 / nullif(pc.total_pixels, 0) AS clear_share,
       pc.class_4::float8 / nullif(pc.clear_pixels, 0) AS vegetation_share,
       ARRAY[pc.class_0, pc.class_1, pc.class_2, pc.class_3, pc.class_4, pc.class_5, pc.class_6, pc.class_7, pc.class_8, pc.class_9, pc.class_10, pc.class_11] AS class_pixels
FROM pair_counts AS pc
JOIN sclzonal.scene AS s ON s.id = pc.scene_id;

COMMENT ON VIEW sclzonal.zonal_class_summary IS
    'Per (polygon, scene): pixels of classes 0-11, total and clear pixels, clear share (clear/total), vegetation share (class 4/clear), and class_pixels[k + 1] = pixels of class k.';
