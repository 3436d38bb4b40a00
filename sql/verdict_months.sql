-- The monthly roll-up: one row per polygon and calendar month in which it was observed, for
-- QGIS's Temporal Controller (one month per frame: month_start .. month_end) and for SQL.
--
-- From the polygon's observations of the month (one per acquisition date, polygon_observation):
-- observations, clear observations (a rule was evaluated), partial observations; the pixels of
-- each class summed over them, as shares of their clear pixels (class_shares[k + 1] for class
-- k; NULL for classes that are not clear); vegetation_share likewise for the classes of the
-- rule labelled 'vegetation'; and the month's verdict, chosen as polygon_verdict_between would
-- for the month: the verdict of the latest clear observation (verdict_acquired_on), else
-- partially_observed when every observation covered too little, else no_clear_observation;
-- the first and last observation dates; rule_tallies, per rule evaluated in the month, on how
-- many observations it was evaluated and on how many it held ({"vegetation": {"held": 5,
-- "evaluated": 6}}). polygon_verdict is made from these rows (sql/verdict_refresh.sql).
-- Its key `id` is stable: polygon_id * 100000 + year * 12 + month - 1.
--
-- One pass over the observations, grouped by polygon and month, so a query for some polygons
-- reads only theirs. QGIS redraws a layer on every Temporal Controller frame, so what it opens
-- is the table polygon_month_verdict (sql/verdict_tables.sql), kept equal to this view by
-- `sclzonal refresh` with polygon_verdict.
--
-- The rows are made by polygon_month_rows(polygon_ids, observation_keys, observation_scenes):
-- with all NULL, every polygon from all its observations (the view); with polygon_ids, those
-- polygons only; with observation_keys ('<polygon id> <date>'), from those observations only,
-- which is how revision 0014's refresh made the part of a month that a new scene adds (the
-- refresh now sums it from the pairs it evaluated, sql/verdict_refresh.sql), and
-- observation_scenes, scenes that hold every pair of those
-- keys, lets the counts be read for those scenes only (scene_verdict_rows), not for every scene
-- of the keys' dates (revision 0012 took the dates: all 30 tiles of a date, where the new
-- scene's polygons had pairs in 2) nor of every date of the months (the planner cannot see the
-- dates inside the keys). A plain SQL function, inlined into the query that calls it, so
-- conditions on its rows still reach the counts' index.
-- The key of a polygon's observation of one date, '<polygon id> <date>'. Lists of these keys
-- choose observations in polygon_month_rows and in the refresh (sql/verdict_refresh.sql); a
-- condition `observation_key(polygon_id, acquired_on) = ANY (keys)` names only the partition
-- columns of the observation's window, so PostgreSQL applies it before the rules are
-- evaluated. Inlined where it is called. (STABLE: a date's text follows DateStyle.)
CREATE OR REPLACE FUNCTION sclzonal.observation_key(polygon_id bigint, acquired_on date)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT polygon_id::text || ' ' || acquired_on::text
$$;

-- A month row's key, polygon_id * 100000 + year * 12 + month - 1, and the month's last day:
-- polygon_month_rows makes its rows with them, and the refresh the month rows it adds
-- (sql/verdict_refresh.sql). Inlined where they are called.
CREATE OR REPLACE FUNCTION sclzonal.month_row_id(polygon_id bigint, month_start date)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT polygon_id * 100000 + extract(year FROM month_start)::bigint * 12
       + extract(month FROM month_start)::bigint - 1
$$;

CREATE OR REPLACE FUNCTION sclzonal.month_last_day(month_start date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT (month_start + interval '1 month' - interval '1 day')::date
$$;

-- Revision 0011's version had two arguments and 0012's took dates; with two versions,
-- polygon_month_rows() would name either, so the old ones go, and the view on them with them
-- (made again below).
DROP VIEW IF EXISTS sclzonal.polygon_month_verdict_view;
DROP FUNCTION IF EXISTS sclzonal.polygon_month_rows(bigint[], text[]);
DROP FUNCTION IF EXISTS sclzonal.polygon_month_rows(bigint[], text[], date[]);
CREATE OR REPLACE FUNCTION sclzonal.polygon_month_rows(polygon_ids bigint[] DEFAULT NULL,
                                                       observation_keys text[] DEFAULT NULL,
                                                       observation_scenes bigint[] DEFAULT NULL)
RETURNS TABLE (
    id bigint,
    polygon_id bigint,
    source text,
    source_fid text,
    name text,
    month_start date,
    month_end date,
    verdict text,
    verdict_acquired_on date,
    observations integer,
    clear_observations integer,
    partial_observations integer,
    pixels numeric,
    clear_pixels numeric,
    vegetation_share double precision,
    class_shares double precision[],
    first_observed_on date,
    last_observed_on date,
    rule_tallies jsonb,
    geom geometry,
    -- not columns of the month view: the pixel sums its shares come from (revision 0014's
    -- refresh added them to a stored month)
    vegetation_pixels numeric,
    class_pixels bigint[]
)
LANGUAGE sql STABLE
AS $$
WITH weights AS MATERIALIZED (
    -- the clear classes as bits (bit k for class k)
    SELECT sclzonal.class_mask(w.clear) AS clear FROM sclzonal.class_weights_in_use AS w
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
           min(o.acquired_on) AS first_on,
           max(o.acquired_on) AS last_on,
           jsonb_agg(jsonb_build_object('evaluated', o.evaluated_rules, 'held', o.held_rules))
               FILTER (WHERE o.evaluated_rules IS NOT NULL) AS rules_seen,
           sum(o.total_pixels) AS pixels,
           sum(o.clear_pixels) AS clear_pixels,
           -- the divisor of the shares, a double once per month, not once per share: a numeric
           -- goes to a double through its text (revision 0014)
           nullif(sum(o.clear_pixels), 0)::float8 AS clear_divisor,
           sum(o.vegetation_pixels) AS vegetation_pixels,
           ARRAY[sum(o.class_pixels[1]), sum(o.class_pixels[2]), sum(o.class_pixels[3]),
                 sum(o.class_pixels[4]), sum(o.class_pixels[5]), sum(o.class_pixels[6]),
                 sum(o.class_pixels[7]), sum(o.class_pixels[8]), sum(o.class_pixels[9]),
                 sum(o.class_pixels[10]), sum(o.class_pixels[11]), sum(o.class_pixels[12])]
               AS class_sums
    FROM sclzonal.scene_verdict_rows(observation_scenes) AS o
    WHERE o.is_observation
      AND (polygon_ids IS NULL OR o.polygon_id = ANY (polygon_ids))
      AND (observation_keys IS NULL
           OR sclzonal.observation_key(o.polygon_id, o.acquired_on) = ANY (observation_keys))
    GROUP BY o.polygon_id, date_trunc('month', o.acquired_on)::date
)
SELECT sclzonal.month_row_id(m.polygon_id, m.month_start) AS id,
       m.polygon_id, p.source, p.source_fid, p.name, m.month_start,
       sclzonal.month_last_day(m.month_start) AS month_end,
       CASE WHEN m.latest_verdict IS NOT NULL THEN m.latest_verdict
            WHEN m.partial_observations = m.observations THEN 'partially_observed'
            ELSE 'no_clear_observation' END AS verdict,
       m.latest_on AS verdict_acquired_on,
       m.observations, m.clear_observations, m.partial_observations, m.pixels, m.clear_pixels,
       m.vegetation_pixels::float8 / m.clear_divisor AS vegetation_share,
       -- class by class, written out: a subquery per row cost 8 us
       ARRAY[CASE WHEN w.clear >> 0 & 1 = 1 THEN m.class_sums[1]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 1 & 1 = 1 THEN m.class_sums[2]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 2 & 1 = 1 THEN m.class_sums[3]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 3 & 1 = 1 THEN m.class_sums[4]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 4 & 1 = 1 THEN m.class_sums[5]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 5 & 1 = 1 THEN m.class_sums[6]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 6 & 1 = 1 THEN m.class_sums[7]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 7 & 1 = 1 THEN m.class_sums[8]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 8 & 1 = 1 THEN m.class_sums[9]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 9 & 1 = 1 THEN m.class_sums[10]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 10 & 1 = 1 THEN m.class_sums[11]::float8 / m.clear_divisor END,
             CASE WHEN w.clear >> 11 & 1 = 1 THEN m.class_sums[12]::float8 / m.clear_divisor END]
           AS class_shares,
       m.first_on AS first_observed_on,
       m.last_on AS last_observed_on,
       -- a month of one clear observation (what a refresh adds, mostly) straight from its
       -- lists; several, label by label (the grouping builds a hash table for each month: twice
       -- the time; revision 0014)
       CASE WHEN jsonb_array_length(m.rules_seen) = 1 THEN
                (SELECT jsonb_object_agg(e.label,
                                         jsonb_build_object('held', (m.rules_seen -> 0 -> 'held' ? e.label)::integer,
                                                            'evaluated', 1))
                 FROM jsonb_array_elements_text(m.rules_seen -> 0 -> 'evaluated') AS e(label))
            ELSE (SELECT jsonb_object_agg(t.label, jsonb_build_object('held', t.held, 'evaluated', t.evaluated))
                  FROM (SELECT e.label, count(*) AS evaluated,
                               count(*) FILTER (WHERE r.seen -> 'held' ? e.label) AS held
                        FROM jsonb_array_elements(m.rules_seen) AS r(seen)
                        CROSS JOIN LATERAL jsonb_array_elements_text(r.seen -> 'evaluated') AS e(label)
                        GROUP BY e.label) AS t)
       END AS rule_tallies,
       p.geom,
       m.vegetation_pixels,
       m.class_sums
FROM months AS m
CROSS JOIN weights AS w
JOIN sclzonal.polygon AS p ON p.id = m.polygon_id
$$;

CREATE OR REPLACE VIEW sclzonal.polygon_month_verdict_view AS
SELECT r.id, r.polygon_id, r.source, r.source_fid, r.name, r.month_start, r.month_end, r.verdict,
       r.verdict_acquired_on, r.observations, r.clear_observations, r.partial_observations,
       r.pixels, r.clear_pixels, r.vegetation_share, r.class_shares, r.first_observed_on,
       r.last_observed_on, r.rule_tallies, r.geom::geometry(MultiPolygon, 4326) AS geom
FROM sclzonal.polygon_month_rows() AS r;

COMMENT ON VIEW sclzonal.polygon_month_verdict_view IS
    'Live definition of the table sclzonal.polygon_month_verdict, which `sclzonal refresh` keeps equal to it.';
