-- Per-polygon SCL class counts, defined with ST_Clip + ST_ValueCount.
--
-- A pixel belongs to a polygon when its centre lies inside it, ties decided as GDAL's rasteriser
-- does (ST_Clip's rule; docs/schema.md, "Which pixels are counted"). Each polygon is
-- transformed to the scene's SRID, never the raster to the polygon's, by the rule of
-- sql/polygon_projection.sql (long edges densified first); a polygon PROJ cannot transform into
-- a scene's CRS has no rows for that scene (refresh lists it in uncountable_polygon). Tiles carry band nodata
-- 255, which SCL never uses, so class 0 is counted like any other class.

-- The definition: counts computed live from the raster tiles. The table sclzonal.counted_pair
-- stores the same numbers, one row per counted (polygon, scene) pair; `sclzonal refresh` fills
-- it for new pairs only, and the tests check that the view sclzonal.stored_class_counts below
-- (the stored rows in this view's shape) equals this view.
CREATE OR REPLACE VIEW sclzonal.zonal_class_counts AS
SELECT p.id AS polygon_id,
       s.id AS scene_id,
       vc.value::smallint AS class,
       sum(vc.count)::bigint AS pixels
FROM sclzonal.scene AS s
JOIN sclzonal.polygon AS p
  ON p.geom && s.footprint
 -- a footprint in two parts (across the antimeridian) has a box around the world
 AND (ST_NumGeometries(s.footprint) = 1 OR ST_Intersects(p.geom, s.footprint))
CROSS JOIN LATERAL (SELECT sclzonal.polygon_in_srid_or_null(p.geom, s.srid) AS geom) AS g
JOIN sclzonal.scene_tile AS t
  ON t.scene_id = s.id
 AND ST_ConvexHull(t.rast) && g.geom
 AND ST_Intersects(ST_ConvexHull(t.rast), g.geom)
 -- a polygon that only touches a tile (an edge along its border) holds none of its pixels;
 -- ST_Clip would rasterise the line where they meet and count pixels outside the polygon
 AND NOT ST_Touches(ST_ConvexHull(t.rast), g.geom)
CROSS JOIN LATERAL ST_ValueCount(ST_Clip(t.rast, 1, g.geom, true), 1, true) AS vc
GROUP BY p.id, s.id, vc.value;

COMMENT ON VIEW sclzonal.zonal_class_counts IS
    'Pixels per (polygon, scene, SCL class), pixel-centre rule, computed live with ST_Clip + ST_ValueCount.';

-- The class columns of counted_pair (class_0 ... class_11, CLASS_COLUMNS in db/models.py) are
-- named in these two functions only; every view below goes through them. Both are plain SQL
-- expressions that PostgreSQL inlines: the planner sees the columns themselves, so the views
-- cost what hand-written column arithmetic would.

-- class_pixels(pair)[k + 1] = pixels of class k.
CREATE OR REPLACE FUNCTION sclzonal.class_pixels(pair sclzonal.counted_pair) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT ARRAY[pair.class_0, pair.class_1, pair.class_2, pair.class_3, pair.class_4, pair.class_5,
             pair.class_6, pair.class_7, pair.class_8, pair.class_9, pair.class_10, pair.class_11]
$$;

-- The pixels of the classes whose weight is 1 (weights[k + 1] for class k, from class_weights).
CREATE OR REPLACE FUNCTION sclzonal.pixels_of(pair sclzonal.counted_pair, weights integer[])
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT pair.class_0::bigint * weights[1] + pair.class_1 * weights[2] + pair.class_2 * weights[3]
       + pair.class_3 * weights[4] + pair.class_4 * weights[5] + pair.class_5 * weights[6]
       + pair.class_6 * weights[7] + pair.class_7 * weights[8] + pair.class_8 * weights[9]
       + pair.class_9 * weights[10] + pair.class_10 * weights[11] + pair.class_11 * weights[12]
$$;

-- The same sum with the classes as the bits of an integer (bit k for class k, from class_mask):
-- what the views that evaluate many pairs use. An array read from a row (the weights of a
-- query's CTE) is copied at each subscript, 12 per sum: 1.1 us a sum, against 0.4 us by bits
-- (60,000 pairs; revision 0015). NULL when class_mask is NULL, as pixels_of with NULL weights.
CREATE OR REPLACE FUNCTION sclzonal.pixels_in(pair sclzonal.counted_pair, class_mask integer)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT pair.class_0::bigint * (class_mask >> 0 & 1) + pair.class_1 * (class_mask >> 1 & 1)
       + pair.class_2 * (class_mask >> 2 & 1) + pair.class_3 * (class_mask >> 3 & 1)
       + pair.class_4 * (class_mask >> 4 & 1) + pair.class_5 * (class_mask >> 5 & 1)
       + pair.class_6 * (class_mask >> 6 & 1) + pair.class_7 * (class_mask >> 7 & 1)
       + pair.class_8 * (class_mask >> 8 & 1) + pair.class_9 * (class_mask >> 9 & 1)
       + pair.class_10 * (class_mask >> 10 & 1) + pair.class_11 * (class_mask >> 11 & 1)
$$;

-- The weights of class_weights as bits: bit k set when weights[k + 1] = 1 (NULL for NULL).
CREATE OR REPLACE FUNCTION sclzonal.class_mask(weights integer[]) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN weights IS NOT NULL THEN
    (SELECT coalesce(sum(1 << k), 0)::integer FROM generate_series(0, 11) AS k
     WHERE weights[k + 1] = 1) END
$$;

-- weights[k + 1] = 1 when class k is one of `classes`, else 0 (all NULL when `classes` is NULL).
CREATE OR REPLACE FUNCTION sclzonal.class_weights(classes smallint[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN classes IS NOT NULL THEN
    ARRAY(SELECT (k = ANY (classes))::integer FROM generate_series(0, 11) AS k ORDER BY k) END
$$;

-- The stored counts in the shape of zonal_class_counts: one row per class present.
CREATE OR REPLACE VIEW sclzonal.stored_class_counts AS
SELECT cp.polygon_id,
       cp.scene_id,
       (c.position - 1)::smallint AS class,
       c.pixels::bigint AS pixels
FROM sclzonal.counted_pair AS cp
CROSS JOIN LATERAL unnest(sclzonal.class_pixels(cp)) WITH ORDINALITY AS c(pixels, position)
WHERE c.pixels > 0;

COMMENT ON VIEW sclzonal.stored_class_counts IS
    'Stored pixel counts per (polygon, scene, class) from sclzonal.counted_pair; equal to zonal_class_counts.';

-- The weights the summary uses: every class, the clear classes (sclzonal.scl_class.is_clear),
-- the classes of the verdict rule labelled 'vegetation' (NULL when there is none), and the
-- observed classes: every class but 0 (no data).
CREATE OR REPLACE VIEW sclzonal.class_weights_in_use AS
SELECT sclzonal.class_weights(ARRAY(SELECT value FROM sclzonal.scl_class)) AS every_class,
       sclzonal.class_weights(ARRAY(SELECT value FROM sclzonal.scl_class WHERE is_clear)) AS clear,
       sclzonal.class_weights((SELECT classes FROM sclzonal.verdict_rule
                               WHERE label = 'vegetation')) AS vegetation,
       sclzonal.class_weights(ARRAY(SELECT value FROM sclzonal.scl_class WHERE value <> 0))
           AS observed;

COMMENT ON VIEW sclzonal.class_weights_in_use IS
    'weights[k + 1] = 1 for class k of: every class, the clear classes, the vegetation rule''s classes, the observed classes (all but 0).';

-- The share of a polygon an observation saw: observed pixels (counted, class not 0) over
-- expected pixels (pixel centres inside the polygon on the scene's grid extended without
-- bound, counted_pair.expected_pixels). 0 when nothing is expected: a polygon that holds no
-- pixel centre is never observed. NULL when the expected pixels are not known yet (pairs
-- counted before revision 0007, until the next refresh).
CREATE OR REPLACE FUNCTION sclzonal.coverage_of(observed bigint, expected integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN expected > 0 THEN observed::float8 / expected WHEN expected = 0 THEN 0 END
$$;

-- One row per counted (polygon, scene) pair: pixels of each class, total and clear pixels, and
-- the shares the verdicts use. vegetation_share is the share of the vegetation rule's classes
-- in the clear pixels, so editing that rule's classes changes it.
CREATE OR REPLACE VIEW sclzonal.zonal_class_summary AS
WITH weights AS MATERIALIZED (
    -- as bits, for pixels_in
    SELECT sclzonal.class_mask(wi.every_class) AS every_class, sclzonal.class_mask(wi.clear) AS clear,
           sclzonal.class_mask(wi.vegetation) AS vegetation,
           sclzonal.class_mask(wi.observed) AS observed
    FROM sclzonal.class_weights_in_use AS wi
), totals AS (
    SELECT cp.*,
           sclzonal.class_pixels(cp) AS class_pixels,
           sclzonal.pixels_in(cp, w.every_class) AS total_pixels,
           sclzonal.pixels_in(cp, w.clear) AS clear_pixels,
           sclzonal.pixels_in(cp, w.vegetation) AS vegetation_pixels,
           sclzonal.pixels_in(cp, w.observed) AS observed_pixels
    FROM sclzonal.counted_pair AS cp
    CROSS JOIN weights AS w
)
SELECT t.*,
       s.acquired_on,
       t.clear_pixels::float8 / nullif(t.total_pixels, 0) AS clear_share,
       t.vegetation_pixels::float8 / nullif(t.clear_pixels, 0) AS vegetation_share,
       sclzonal.coverage_of(t.observed_pixels, t.expected_pixels) AS coverage
FROM totals AS t
JOIN sclzonal.scene AS s ON s.id = t.scene_id;

COMMENT ON VIEW sclzonal.zonal_class_summary IS
    'Per counted (polygon, scene) pair: the columns of counted_pair (expected_pixels included), class_pixels[k + 1] = pixels of class k, total, clear, vegetation (classes of the rule labelled vegetation) and observed (class not 0) pixels, clear share (clear/total), vegetation share (vegetation/clear), coverage (observed/expected).';
