-- Bringing sclzonal.polygon_verdict and sclzonal.polygon_month_verdict up to date, as their owner.
--
-- refresh_polygon_verdict() takes what the triggers of sql/verdict_staleness.sql noted:
--   * (polygon, month) pairs whose counts were added or changed (verdict_stale_month): those
--     months are made again from their definition, polygon_month_verdict_view, which then reads
--     only the observations of those polygons in those months;
--   * polygons that changed otherwise (verdict_stale_polygon: their row, deleted counts, whether
--     they can be counted, their scenes' origin): all their months are made again;
--   * a request to decide everything again (verdict_rebuild_request, after a rule or class
--     change): both tables are made again from their definition views.
-- Then the polygon_verdict rows of every polygon noted are made from its months
-- (polygon_verdict_from_months below): sums of the months' tallies, and the latest clear
-- observation read for its one date. A refresh after a new scene thus costs the new scene's
-- months, not the polygons' whole history. What this gives equals the definition,
-- polygon_verdict_view (tests/test_incremental_verdicts.py checks it after random sequences).
--
-- It runs in the caller's transaction: readers see the old rows until it commits, never a
-- half-updated table, and are never blocked (row locks only). Two refreshes take turns on a
-- SHARE ROW EXCLUSIVE lock of polygon_verdict, which readers (ACCESS SHARE) do not wait for. It
-- returns how many polygons' verdicts it made again.
--
-- The loader role (sql/roles.sql) must not own or write the verdict tables: these functions
-- run with their owner's rights (SECURITY DEFINER) and do nothing else, so EXECUTE on them is
-- the only right it needs. search_path is pinned to pg_catalog, pg_temp and every object is
-- named with its schema, so nothing a caller creates is picked up. JIT off: the planner's row
-- estimates are far too high before new counts are analysed, and compiling then costs more than
-- running.

-- polygon_verdict rows of the given polygons, made from their rows of polygon_month_verdict
-- (which must be up to date): the same values as polygon_verdict_between('-infinity',
-- 'infinity', polygon_ids), without reading any observation but each polygon's latest clear one.
CREATE OR REPLACE FUNCTION sclzonal.polygon_verdict_from_months(polygon_ids bigint[])
RETURNS SETOF sclzonal.polygon_verdict
LANGUAGE sql STABLE AS $$
WITH tally AS (
    SELECT m.polygon_id,
           sum(m.observations)::integer AS observations,
           sum(m.clear_observations)::integer AS clear_observations,
           sum(m.partial_observations)::integer AS partial_observations,
           min(m.first_observed_on) AS first_observed_on,
           max(m.last_observed_on) AS last_observed_on,
           max(m.verdict_acquired_on) AS latest_on
    FROM sclzonal.polygon_month_verdict AS m
    WHERE m.polygon_id = ANY (polygon_ids)
    GROUP BY m.polygon_id
), held AS (
    SELECT h.polygon_id, jsonb_object_agg(h.label, h.held::float8 / h.evaluated) AS shares
    FROM (
        SELECT m.polygon_id, r.key AS label, sum((r.value ->> 'evaluated')::bigint) AS evaluated,
               sum((r.value ->> 'held')::bigint) AS held
        FROM sclzonal.polygon_month_verdict AS m
        CROSS JOIN LATERAL jsonb_each(m.rule_tallies) AS r
        WHERE m.polygon_id = ANY (polygon_ids)
        GROUP BY m.polygon_id, r.key
    ) AS h
    GROUP BY h.polygon_id
), latest AS (
    SELECT o.*
    FROM tally AS t
    CROSS JOIN LATERAL (
        SELECT * FROM sclzonal.polygon_observation AS po
        WHERE po.polygon_id = t.polygon_id AND po.acquired_on = t.latest_on
    ) AS o
), uncountable AS (
    SELECT u.polygon_id,
           string_agg(format('grid %s (EPSG:%s): %s', u.grid_id, g.srid, u.reason), '; '
                      ORDER BY u.grid_id) AS problem
    FROM sclzonal.uncountable_polygon AS u
    JOIN sclzonal.polygon AS up ON up.id = u.polygon_id AND up.changed_seq = u.polygon_version
    JOIN sclzonal.scene_grid AS g ON g.id = u.grid_id
    WHERE u.polygon_id = ANY (polygon_ids)
    GROUP BY u.polygon_id
)
SELECT p.id,
       p.source,
       p.source_fid,
       p.name,
       CASE
           WHEN u.polygon_id IS NOT NULL THEN 'not_countable'
           WHEN l.polygon_id IS NOT NULL THEN l.verdict
           WHEN t.polygon_id IS NULL THEN 'no_pixels'
           WHEN t.partial_observations = t.observations THEN 'partially_observed'
           ELSE 'no_clear_observation'
       END,
       l.acquired_on,
       l.scene_id,
       l.coverage,
       l.clear_share,
       l.rule_share,
       l.vegetation_share,
       l.total_pixels,
       l.clear_pixels,
       l.expected_pixels,
       l.observed_pixels,
       coalesce(t.observations, 0),
       coalesce(t.clear_observations, 0),
       coalesce(t.partial_observations, 0),
       t.first_observed_on,
       t.last_observed_on,
       h.shares,
       l.rule_id,
       l.rule_revision,
       rr.label,
       rr.classes,
       rr.min_share,
       rr.min_clear_share,
       rr.min_coverage,
       l.evaluated_rules,
       so.source,
       so.description,
       u.problem,
       p.geom
FROM sclzonal.polygon AS p
LEFT JOIN tally AS t ON t.polygon_id = p.id
LEFT JOIN latest AS l ON l.polygon_id = p.id
LEFT JOIN held AS h ON h.polygon_id = p.id
LEFT JOIN sclzonal.verdict_rule_revision AS rr
       ON rr.rule_id = l.rule_id AND rr.revision = l.rule_revision
LEFT JOIN sclzonal.scene_origin AS so ON so.scene_id = l.scene_id
LEFT JOIN uncountable AS u ON u.polygon_id = p.id
WHERE p.id = ANY (polygon_ids)
$$;

CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    whole bigint[];
    in_months bigint[];
    months date[];
    decided bigint[];
BEGIN
    LOCK TABLE sclzonal.polygon_verdict IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM sclzonal.verdict_rebuild_request) THEN
        DELETE FROM sclzonal.verdict_rebuild_request;
        DELETE FROM sclzonal.verdict_stale_polygon;
        DELETE FROM sclzonal.verdict_stale_month;
        DELETE FROM sclzonal.polygon_verdict;
        INSERT INTO sclzonal.polygon_verdict SELECT * FROM sclzonal.polygon_verdict_view;
        DELETE FROM sclzonal.polygon_month_verdict;
        INSERT INTO sclzonal.polygon_month_verdict
        SELECT * FROM sclzonal.polygon_month_verdict_view;
        RETURN (SELECT count(*) FROM sclzonal.polygon_verdict);
    END IF;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_polygon RETURNING polygon_id)
    SELECT coalesce(array_agg(polygon_id), '{}') INTO whole FROM taken;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_month RETURNING polygon_id, month_start)
    SELECT coalesce(array_agg(DISTINCT polygon_id) FILTER (WHERE polygon_id <> ALL (whole)), '{}'),
           coalesce(array_agg(DISTINCT month_start), '{}')
    INTO in_months, months FROM taken;
    decided := whole || in_months;
    IF cardinality(decided) = 0 THEN
        RETURN 0;
    END IF;
    -- Months: every month of the polygons noted whole, the noted months of the others (of the
    -- polygons with a noted month, every noted month: a few months at most, made again alike).
    DELETE FROM sclzonal.polygon_month_verdict WHERE polygon_id = ANY (whole);
    INSERT INTO sclzonal.polygon_month_verdict
    SELECT * FROM sclzonal.polygon_month_verdict_view WHERE polygon_id = ANY (whole);
    DELETE FROM sclzonal.polygon_month_verdict
    WHERE polygon_id = ANY (in_months) AND month_start = ANY (months);
    INSERT INTO sclzonal.polygon_month_verdict
    SELECT * FROM sclzonal.polygon_month_verdict_view
    WHERE polygon_id = ANY (in_months) AND month_start = ANY (months);
    DELETE FROM sclzonal.polygon_verdict WHERE polygon_id = ANY (decided);
    INSERT INTO sclzonal.polygon_verdict SELECT * FROM sclzonal.polygon_verdict_from_months(decided);
    RETURN cardinality(decided);
END;
$$;

-- Every verdict decided again from the definitions: `sclzonal refresh --rebuild-verdicts`.
CREATE OR REPLACE FUNCTION sclzonal.rebuild_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO sclzonal.verdict_rebuild_request (reason) VALUES ('asked for');
    RETURN sclzonal.refresh_polygon_verdict();
END;
$$;

-- Only the roles granted EXECUTE in sql/roles.sql (and the owner) may call them.
REVOKE ALL ON FUNCTION sclzonal.refresh_polygon_verdict() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.rebuild_polygon_verdict() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[]) FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'Make again the verdicts (polygon_verdict, polygon_month_verdict) of the polygons and months whose inputs changed, or all after a rule change, as their owner; returns how many polygons. Run by `sclzonal refresh`.';
COMMENT ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[]) IS
    'polygon_verdict rows of the given polygons made from their (up to date) polygon_month_verdict rows; equals polygon_verdict_between over all dates.';
COMMENT ON FUNCTION sclzonal.rebuild_polygon_verdict() IS
    'Decide every verdict again from the definitions; returns how many polygons. `sclzonal refresh --rebuild-verdicts`.';
