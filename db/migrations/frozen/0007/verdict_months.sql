-- The monthly roll-up: one row per polygon and calendar month in which it was observed, for
-- QGIS's Temporal Controller (one month per frame: month_start .. month_end) and for SQL.
--
-- From the polygon's observations of the month (one per acquisition date, polygon_observation):
-- observations, clear observations (a rule was evaluated), partial observations; the pixels of
-- each class summed over them, as shares of their clear pixels (class_shares[k + 1] for class
-- k; NULL for classes that are not clear); vegetation_share likewise for the classes of the
-- rule labelled 'vegetation'; and the month's verdict, chosen as polygon_verdict_between would
-- for the month: the verdict of the latest clear observation (verdict_acquired_on), else
-- partially_observed when every observation covered too little, else no_clear_observation.
-- Its key `id` is stable: polygon_id * 100000 + year * 12 + month - 1.
--
-- One pass over the observations, grouped by polygon and month, so a query for some polygons
-- reads only theirs. QGIS redraws a layer on every Temporal Controller frame, so what it opens
-- is the materialized view polygon_month_verdict below, refreshed with polygon_verdict.
CREATE OR REPLACE VIEW sclzonal.polygon_month_verdict_view AS
WITH weights AS MATERIALIZED (
    SELECT w.clear FROM sclzonal.class_weights_in_use AS w
), months AS (
    SELECT o.polygon_id,
           date_trunc('month', o.acquired_on)::date AS month_start,
           count(*)::integer AS observations,
           count(*) FILTER (WHERE o.verdict NOT IN ('not_clear', 'partially_observed'))::integer
               AS clear_observations,
           count(*) FILTER (WHERE o.verdict = 'partially_observed')::integer AS partial_observations,
           (array_agg(o.verdict ORDER BY o.acquired_on DESC)
               FILTER (WHERE o.verdict NOT IN ('not_clear', 'partially_observed')))[1] AS latest_verdict,
           max(o.acquired_on) FILTER (WHERE o.verdict NOT IN ('not_clear', 'partially_observed')) AS latest_on,
           sum(o.total_pixels) AS pixels,
           sum(o.clear_pixels) AS clear_pixels,
           sum(o.vegetation_pixels) AS vegetation_pixels,
           ARRAY[sum(o.class_pixels[1]), sum(o.class_pixels[2]), sum(o.class_pixels[3]),
                 sum(o.class_pixels[4]), sum(o.class_pixels[5]), sum(o.class_pixels[6]),
                 sum(o.class_pixels[7]), sum(o.class_pixels[8]), sum(o.class_pixels[9]),
                 sum(o.class_pixels[10]), sum(o.class_pixels[11]), sum(o.class_pixels[12])]
               AS class_sums
    FROM sclzonal.polygon_observation AS o
    GROUP BY o.polygon_id, date_trunc('month', o.acquired_on)::date
)
SELECT m.polygon_id * 100000 + extract(year FROM m.month_start)::bigint * 12
           + extract(month FROM m.month_start)::bigint - 1 AS id,
       m.polygon_id, p.source, p.source_fid, p.name, m.month_start,
       (m.month_start + interval '1 month' - interval '1 day')::date AS month_end,
       CASE WHEN m.latest_verdict IS NOT NULL THEN m.latest_verdict
            WHEN m.partial_observations = m.observations THEN 'partially_observed'
            ELSE 'no_clear_observation' END AS verdict,
       m.latest_on AS verdict_acquired_on,
       m.observations, m.clear_observations, m.partial_observations, m.pixels, m.clear_pixels,
       m.vegetation_pixels::float8 / nullif(m.clear_pixels, 0) AS vegetation_share,
       ARRAY(SELECT CASE WHEN w.clear[k] = 1 THEN m.class_sums[k]::float8 / nullif(m.clear_pixels, 0) END
             FROM generate_series(1, 12) AS k ORDER BY k) AS class_shares,
       p.geom::geometry(MultiPolygon, 4326) AS geom
FROM months AS m
CROSS JOIN weights AS w
JOIN sclzonal.polygon AS p ON p.id = m.polygon_id;

COMMENT ON VIEW sclzonal.polygon_month_verdict_view IS
    'Live definition of the materialized view sclzonal.polygon_month_verdict.';

-- Made again below when its columns are no longer those of its definition
-- (sql/materialized_views.sql).
SELECT sclzonal.drop_materialized_view_if_changed('sclzonal.polygon_month_verdict',
                                                  'sclzonal.polygon_month_verdict_view');

CREATE MATERIALIZED VIEW IF NOT EXISTS sclzonal.polygon_month_verdict AS
SELECT * FROM sclzonal.polygon_month_verdict_view;

CREATE UNIQUE INDEX IF NOT EXISTS polygon_month_verdict_id_key
    ON sclzonal.polygon_month_verdict (id);
CREATE INDEX IF NOT EXISTS polygon_month_verdict_geom_idx
    ON sclzonal.polygon_month_verdict USING gist (geom);
CREATE INDEX IF NOT EXISTS polygon_month_verdict_month_start_idx
    ON sclzonal.polygon_month_verdict (month_start);

COMMENT ON MATERIALIZED VIEW sclzonal.polygon_month_verdict IS
    'Per polygon and month with observations: counts of observations, class shares over the month''s clear pixels, the month''s verdict; month_start/month_end for the QGIS Temporal Controller. Refreshed by `sclzonal refresh`.';
