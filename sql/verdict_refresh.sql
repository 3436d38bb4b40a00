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
-- The polygons noted whole get their polygon_verdict rows from the definition; the others from
-- their months (polygon_verdict_from_months below): sums of the months' tallies, and the latest
-- clear observation, read only when it lies in a month made again. A refresh after a new scene
-- thus costs the new scene's months, not the polygons' whole history. What this gives equals the definition,
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
-- running. Custom plans always: PL/pgSQL keeps its statements' plans for the session, and after
-- five calls PostgreSQL may switch to a generic plan made without the lists' lengths; in a
-- session that refreshed after every scene, the seventh refresh took 104 s instead of 6 s.

-- polygon_verdict rows of polygons whose counts changed only in some months, made while their
-- old rows are still there, after polygon_month_verdict has been brought up to date for those
-- polygons in those months (the months of the new counts): the same values as
-- polygon_verdict_between('-infinity', 'infinity', polygon_ids). Tallies are summed over the
-- polygons' months. The latest clear observation (max of the months' verdict_acquired_on) is
-- read, when it lies in one of those months, from polygon_observation for those polygons and
-- dates only (given to the query as lists, so the conditions reach the index of the counts);
-- when it lies in an older month, nothing about it changed and the old row's columns are kept.
CREATE OR REPLACE FUNCTION sclzonal.polygon_verdict_from_months(polygon_ids bigint[],
                                                                changed_months date[])
RETURNS SETOF sclzonal.polygon_verdict
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fresh_dates date[];
    fresh_keys text[];
BEGIN
    SELECT array_agg(DISTINCT d.latest_on), array_agg(d.polygon_id::text || ' ' || d.latest_on::text)
    INTO fresh_dates, fresh_keys
    FROM (SELECT m.polygon_id, max(m.verdict_acquired_on) AS latest_on
          FROM sclzonal.polygon_month_verdict AS m
          WHERE m.polygon_id = ANY (polygon_ids)
          GROUP BY m.polygon_id) AS d
    WHERE date_trunc('month', d.latest_on)::date = ANY (changed_months);
    RETURN QUERY
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
    ), fresh AS (
        SELECT o.polygon_id, o.verdict, o.acquired_on, o.scene_id, o.coverage, o.clear_share,
               o.rule_share, o.vegetation_share, o.total_pixels, o.clear_pixels,
               o.expected_pixels, o.observed_pixels, o.rule_id, o.rule_revision, rr.label,
               rr.classes, rr.min_share, rr.min_clear_share, rr.min_coverage, o.evaluated_rules,
               so.source, so.description
        FROM sclzonal.polygon_observation AS o
        JOIN tally AS t ON t.polygon_id = o.polygon_id AND t.latest_on = o.acquired_on
        LEFT JOIN sclzonal.verdict_rule_revision AS rr
               ON rr.rule_id = o.rule_id AND rr.revision = o.rule_revision
        -- one scene looked up by its key per row (OFFSET 0 keeps the planner from joining the
        -- view whole: with a low row estimate it formatted every scene's origin for every row)
        LEFT JOIN LATERAL (SELECT s.source, s.description FROM sclzonal.scene_origin AS s
                           WHERE s.scene_id = o.scene_id OFFSET 0) AS so ON true
        WHERE o.polygon_id = ANY (polygon_ids) AND o.acquired_on = ANY (fresh_dates)
          -- only each polygon's own latest date: this condition names the partition columns of
          -- the observation's window, so it is applied before the rules are evaluated
          AND o.polygon_id::text || ' ' || o.acquired_on::text = ANY (fresh_keys)
    ), kept AS (
        SELECT v.polygon_id, v.verdict, v.acquired_on, v.scene_id, v.coverage, v.clear_share,
               v.rule_share, v.vegetation_share, v.pixels, v.clear_pixels, v.expected_pixels,
               v.observed_pixels, v.rule_id, v.rule_revision, v.rule_label, v.rule_classes,
               v.rule_min_share, v.rule_min_clear_share, v.rule_min_coverage, v.evaluated_rules,
               v.scene_source, v.scene_origin
        FROM sclzonal.polygon_verdict AS v
        JOIN tally AS t ON t.polygon_id = v.polygon_id AND t.latest_on = v.acquired_on
        WHERE v.polygon_id = ANY (polygon_ids)
          AND date_trunc('month', t.latest_on)::date <> ALL (changed_months)
    ), latest AS (
        SELECT * FROM fresh
        UNION ALL
        SELECT * FROM kept
    ), uncountable AS (
        SELECT pp.polygon_id, pp.problem
        FROM sclzonal.polygon_problem AS pp
        WHERE pp.polygon_id = ANY (polygon_ids)
    )
    SELECT p.id, p.source, p.source_fid, p.name,
           CASE
               WHEN u.polygon_id IS NOT NULL THEN 'not_countable'
               WHEN l.polygon_id IS NOT NULL THEN l.verdict
               WHEN t.polygon_id IS NULL THEN 'no_pixels'
               WHEN t.partial_observations = t.observations THEN 'partially_observed'
               ELSE 'no_clear_observation'
           END,
           l.acquired_on, l.scene_id, l.coverage, l.clear_share, l.rule_share,
           l.vegetation_share, l.total_pixels, l.clear_pixels, l.expected_pixels,
           l.observed_pixels,
           coalesce(t.observations, 0), coalesce(t.clear_observations, 0),
           coalesce(t.partial_observations, 0), t.first_observed_on, t.last_observed_on, h.shares,
           l.rule_id, l.rule_revision, l.label, l.classes, l.min_share, l.min_clear_share,
           l.min_coverage, l.evaluated_rules, l.source, l.description, u.problem, p.geom
    FROM sclzonal.polygon AS p
    LEFT JOIN tally AS t ON t.polygon_id = p.id
    LEFT JOIN latest AS l ON l.polygon_id = p.id
    LEFT JOIN held AS h ON h.polygon_id = p.id
    LEFT JOIN uncountable AS u ON u.polygon_id = p.id
    WHERE p.id = ANY (polygon_ids);
END;
$$;

-- After a refresh wrote many verdict rows the planner's statistics may not know of (half as
-- many as they counted, or a first fill), the statistics of the verdict tables are renewed at
-- once: the next refresh reads them by polygon, and with the estimates of an empty table it
-- joined 25,000 polygons to 25,000 rows by a nested loop (90 s instead of 6 s). Rows rewritten
-- in place (a new scene's polygons) change no estimate, and analyzing after each scene cost
-- 0.8 s of a 6 s refresh at 100,000 polygons. ANALYZE samples at most 30,000 rows a table.
CREATE OR REPLACE FUNCTION sclzonal.analyze_verdicts_after(rewritten bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF rewritten >= 1000 AND rewritten * 2 >= (
            SELECT greatest(c.reltuples, 0) FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'sclzonal.polygon_verdict'::regclass) THEN
        ANALYZE sclzonal.polygon_verdict, sclzonal.polygon_month_verdict;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
AS $$
DECLARE
    whole bigint[];
    in_months bigint[];
    months date[];
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
        -- statistics for the refreshes that follow, which read these tables by polygon
        ANALYZE sclzonal.polygon_verdict, sclzonal.polygon_month_verdict;
        RETURN (SELECT count(*) FROM sclzonal.polygon_verdict);
    END IF;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_polygon RETURNING polygon_id)
    SELECT coalesce(array_agg(polygon_id), '{}') INTO whole FROM taken;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_month RETURNING polygon_id, month_start)
    SELECT coalesce(array_agg(DISTINCT polygon_id) FILTER (WHERE polygon_id <> ALL (whole)), '{}'),
           coalesce(array_agg(DISTINCT month_start), '{}')
    INTO in_months, months FROM taken;
    -- Polygons noted whole: all their months and their verdict from the definitions.
    IF cardinality(whole) > 0 THEN
        DELETE FROM sclzonal.polygon_month_verdict WHERE polygon_id = ANY (whole);
        INSERT INTO sclzonal.polygon_month_verdict
        SELECT * FROM sclzonal.polygon_month_verdict_view WHERE polygon_id = ANY (whole);
        DELETE FROM sclzonal.polygon_verdict WHERE polygon_id = ANY (whole);
        INSERT INTO sclzonal.polygon_verdict
        SELECT * FROM sclzonal.polygon_verdict_between('-infinity', 'infinity', whole);
        PERFORM sclzonal.analyze_verdicts_after(cardinality(whole));
    END IF;
    -- Polygons with new counts: the noted months (for each such polygon every noted month: a few
    -- at most, made again alike), then their verdicts from their months.
    IF cardinality(in_months) > 0 THEN
        DELETE FROM sclzonal.polygon_month_verdict
        WHERE polygon_id = ANY (in_months) AND month_start = ANY (months);
        INSERT INTO sclzonal.polygon_month_verdict
        SELECT * FROM sclzonal.polygon_month_verdict_view
        WHERE polygon_id = ANY (in_months) AND month_start = ANY (months);
        CREATE TEMPORARY TABLE made_from_months ON COMMIT DROP AS
        SELECT * FROM sclzonal.polygon_verdict_from_months(in_months, months);
        DELETE FROM sclzonal.polygon_verdict WHERE polygon_id = ANY (in_months);
        INSERT INTO sclzonal.polygon_verdict SELECT * FROM pg_temp.made_from_months;
        DROP TABLE pg_temp.made_from_months;
        PERFORM sclzonal.analyze_verdicts_after(cardinality(in_months));
    END IF;
    RETURN cardinality(whole) + cardinality(in_months);
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
REVOKE ALL ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[], date[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.analyze_verdicts_after(bigint) FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'Make again the verdicts (polygon_verdict, polygon_month_verdict) of the polygons and months whose inputs changed, or all after a rule change, as their owner; returns how many polygons. Run by `sclzonal refresh`.';
COMMENT ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[], date[]) IS
    'polygon_verdict rows of polygons whose counts changed only in the given months, from their (up to date) polygon_month_verdict rows and their old rows; equals polygon_verdict_between over all dates.';
COMMENT ON FUNCTION sclzonal.rebuild_polygon_verdict() IS
    'Decide every verdict again from the definitions; returns how many polygons. `sclzonal refresh --rebuild-verdicts`.';
