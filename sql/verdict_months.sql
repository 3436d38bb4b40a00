-- The monthly roll-up: one row per polygon and calendar month in which it was observed, for
-- QGIS's Temporal Controller (one month per frame: month_start .. month_end) and for SQL.
--
-- From the polygon's observations of the month (one per acquisition date, polygon_observation):
-- observations, clear observations (a rule was evaluated), partial observations; the pixels of
-- each class summed over them, as shares of their clear pixels (class_shares[k + 1] for class
-- k; NULL for classes that are not clear); vegetation_share likewise for the classes of the
-- rule labelled 'vegetation'; and the month's verdict, chosen as polygon_verdict_between would
-- for the month: the latest clear observation's verdict, else partially_observed when every
-- observation covered too little, else no_clear_observation. Its key `id` is stable:
-- polygon_id * 100000 + year * 12 + month - 1.
CREATE OR REPLACE VIEW sclzonal.polygon_month_verdict AS
WITH observation AS (
    SELECT o.*,
           date_trunc('month', o.acquired_on)::date AS month_start,
           o.verdict NOT IN ('not_clear', 'partially_observed') AS evaluated
    FROM sclzonal.polygon_observation AS o
), latest AS (
    SELECT DISTINCT ON (o.polygon_id, o.month_start)
           o.polygon_id, o.month_start, o.verdict, o.acquired_on, o.scene_id
    FROM observation AS o
    WHERE o.evaluated
    ORDER BY o.polygon_id, o.month_start, o.acquired_on DESC
), tally AS (
    SELECT o.polygon_id,
           o.month_start,
           count(*)::integer AS observations,
           count(*) FILTER (WHERE o.evaluated)::integer AS clear_observations,
           count(*) FILTER (WHERE o.verdict = 'partially_observed')::integer AS partial_observations,
           sum(o.total_pixels) AS pixels,
           sum(o.clear_pixels) AS clear_pixels,
           sum(o.vegetation_pixels) AS vegetation_pixels
    FROM observation AS o
    GROUP BY o.polygon_id, o.month_start
), class_sums AS (
    SELECT o.polygon_id, o.month_start, c.position, sum(c.pixels) AS pixels
    FROM observation AS o
    CROSS JOIN LATERAL unnest(o.class_pixels) WITH ORDINALITY AS c(pixels, position)
    GROUP BY o.polygon_id, o.month_start, c.position
), shares AS (
    SELECT cs.polygon_id,
           cs.month_start,
           array_agg(CASE WHEN k.is_clear THEN cs.pixels::float8 / nullif(t.clear_pixels, 0) END
                     ORDER BY cs.position) AS class_shares
    FROM class_sums AS cs
    JOIN sclzonal.scl_class AS k ON k.value = cs.position - 1
    JOIN tally AS t ON t.polygon_id = cs.polygon_id AND t.month_start = cs.month_start
    GROUP BY cs.polygon_id, cs.month_start
)
SELECT t.polygon_id * 100000 + extract(year FROM t.month_start)::bigint * 12
           + extract(month FROM t.month_start)::bigint - 1 AS id,
       t.polygon_id,
       p.source,
       p.source_fid,
       p.name,
       t.month_start,
       (t.month_start + interval '1 month' - interval '1 day')::date AS month_end,
       CASE
           WHEN l.polygon_id IS NOT NULL THEN l.verdict
           WHEN t.partial_observations = t.observations THEN 'partially_observed'
           ELSE 'no_clear_observation'
       END AS verdict,
       l.acquired_on AS verdict_acquired_on,
       l.scene_id AS verdict_scene_id,
       t.observations,
       t.clear_observations,
       t.partial_observations,
       t.pixels,
       t.clear_pixels,
       t.vegetation_pixels::float8 / nullif(t.clear_pixels, 0) AS vegetation_share,
       s.class_shares,
       p.geom
FROM tally AS t
JOIN sclzonal.polygon AS p ON p.id = t.polygon_id
JOIN shares AS s ON s.polygon_id = t.polygon_id AND s.month_start = t.month_start
LEFT JOIN latest AS l ON l.polygon_id = t.polygon_id AND l.month_start = t.month_start;

COMMENT ON VIEW sclzonal.polygon_month_verdict IS
    'Per polygon and month with observations: counts of observations, class shares over the month''s clear pixels, the month''s verdict; month_start/month_end for the QGIS Temporal Controller.';
