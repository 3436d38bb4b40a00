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
-- SHARE ROW EXCLUSIVE lock of the empty table verdict_refresh_turn below. It returns how many
-- polygons' verdicts it made again.
--
-- The loader role (sql/roles.sql) must not own or write the verdict tables: these functions
-- run with their owner's rights (SECURITY DEFINER) and do nothing else, so EXECUTE on them is
-- the only right it needs. search_path is pinned to pg_catalog, pg_temp and every object is
-- named with its schema, so nothing a caller creates is picked up. JIT off: the planner's row
-- estimates are far too high before new counts are analysed, and compiling then costs more than
-- running. Custom plans always: PL/pgSQL keeps its statements' plans for the session, and after
-- five calls PostgreSQL may switch to a generic plan made without the lists' lengths; in a
-- session that refreshed after every scene, the seventh refresh took 104 s instead of 6 s.

-- Refreshes take turns on this table, which holds nothing. Not on polygon_verdict itself: a
-- lock of that strength there also conflicts with autovacuum, which PostgreSQL then cancels, so
-- a schedule of back-to-back refreshes never vacuumed polygon_verdict (1,000,000 polygons, 72
-- refreshes: 2.9 million dead rows, 1.8 GB, and each refresh slower than the one before).
CREATE TABLE IF NOT EXISTS sclzonal.verdict_refresh_turn ();
COMMENT ON TABLE sclzonal.verdict_refresh_turn IS
    'Empty: refresh_polygon_verdict() locks it so that two refreshes take turns.';

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
    SELECT array_agg(DISTINCT d.latest_on),
           array_agg(sclzonal.observation_key(d.polygon_id, d.latest_on))
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
          AND sclzonal.observation_key(o.polygon_id, o.acquired_on) = ANY (fresh_keys)
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

-- A share of a month's clear pixels, for two parts of the month together, from each part's share
-- and clear pixels: the parts' pixels are share * clear pixels, whole numbers that a double
-- holds exactly, so the sum divided as the month view divides gives the same double. A part
-- without clear pixels adds 0; a NULL share with clear pixels (a class that is not clear, no
-- vegetation rule) makes the result NULL, as in the view.
CREATE OR REPLACE FUNCTION sclzonal.summed_share(share_a double precision, clear_a numeric,
                                                 share_b double precision, clear_b numeric)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT (CASE WHEN clear_a = 0 THEN 0 ELSE round(share_a * clear_a) END
        + CASE WHEN clear_b = 0 THEN 0 ELSE round(share_b * clear_b) END)
       / nullif(clear_a + clear_b, 0)::double precision
$$;

-- Two parts' rule_tallies ({"label": {"held": h, "evaluated": e}}) added label by label.
CREATE OR REPLACE FUNCTION sclzonal.summed_tallies(tallies_a jsonb, tallies_b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT jsonb_object_agg(t.label, jsonb_build_object('held', t.held, 'evaluated', t.evaluated))
FROM (SELECT e.key AS label, sum((e.value ->> 'held')::bigint) AS held,
             sum((e.value ->> 'evaluated')::bigint) AS evaluated
      FROM (SELECT * FROM jsonb_each(tallies_a) UNION ALL SELECT * FROM jsonb_each(tallies_b)) AS e
      GROUP BY e.key) AS t
$$;

-- The months a refresh brings up to date, in temporary tables of the refresh's transaction:
--   * month_remade: (polygon, month) made again from all its observations: counts changed in
--     it (verdict_stale_month); a new count on a date that has another stored pair of the
--     polygon (another tile of that day: which pair is the observation may change); or a
--     polygon's first observations in that month;
--   * month_added: for every other (polygon, month) with new counts, the month row of the new
--     observations alone (polygon_month_rows over those dates), added to the stored row: counts
--     and pixels summed, shares from the summed pixels, the later verdict kept, rule tallies
--     summed. So a new scene costs its own pairs, not the month's earlier observations.
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
    added_ids bigint[];
    added_dates date[];
    added_keys text[];
    remade_ids bigint[];
    remade_months date[];
BEGIN
    LOCK TABLE sclzonal.verdict_refresh_turn IN SHARE ROW EXCLUSIVE MODE;
    -- Everything again when asked, and when at least half the polygons are noted whole (a date's
    -- counts deleted, say): the definition views over all polygons then cost less than over a
    -- list of most of them (1,000,000 polygons noted whole: minutes, against 26 s for all).
    IF EXISTS (SELECT FROM sclzonal.verdict_rebuild_request)
       OR (SELECT count(*) FROM sclzonal.verdict_stale_polygon) * 2
          >= greatest((SELECT count(*) FROM sclzonal.polygon), 1) THEN
        DELETE FROM sclzonal.verdict_rebuild_request;
        DELETE FROM sclzonal.verdict_stale_polygon;
        DELETE FROM sclzonal.verdict_stale_month;
        DELETE FROM sclzonal.verdict_new_pair;
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
    CREATE TEMPORARY TABLE month_remade (polygon_id bigint, month_start date,
                                         PRIMARY KEY (polygon_id, month_start)) ON COMMIT DROP;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_month RETURNING polygon_id, month_start)
    INSERT INTO pg_temp.month_remade
    SELECT DISTINCT t.polygon_id, t.month_start FROM taken AS t WHERE t.polygon_id <> ALL (whole);
    -- Counts added: the polygons, dates and (polygon, date) keys that got one.
    WITH taken AS (DELETE FROM sclzonal.verdict_new_pair RETURNING polygon_id, scene_id),
    added AS (
        SELECT t.polygon_id, t.scene_id, s.acquired_on
        FROM taken AS t
        JOIN sclzonal.scene AS s ON s.id = t.scene_id
        WHERE t.polygon_id <> ALL (whole)
    )
    SELECT coalesce(array_agg(DISTINCT a.polygon_id), '{}'),
           coalesce(array_agg(DISTINCT a.acquired_on), '{}'),
           coalesce(array_agg(DISTINCT sclzonal.observation_key(a.polygon_id, a.acquired_on)), '{}')
    INTO added_ids, added_dates, added_keys
    FROM added AS a;
    CREATE TEMPORARY TABLE month_added ON COMMIT DROP AS
    SELECT * FROM sclzonal.polygon_month_verdict WITH NO DATA;
    IF cardinality(added_ids) > 0 THEN
        -- Every stored pair of these polygons on these dates, new or old, with or without
        -- pixels: a (polygon, date) with more than one is made again whole (to be sure which
        -- pair is its observation), as is a month without a row yet.
        CREATE TEMPORARY TABLE date_pair ON COMMIT DROP AS
        SELECT cp.polygon_id, s.acquired_on, date_trunc('month', s.acquired_on)::date AS month_start,
               count(*) AS pairs
        FROM sclzonal.counted_pair AS cp
        JOIN sclzonal.scene AS s ON s.id = cp.scene_id
        WHERE cp.polygon_id = ANY (added_ids) AND s.acquired_on = ANY (added_dates)
          AND sclzonal.observation_key(cp.polygon_id, s.acquired_on) = ANY (added_keys)
        GROUP BY cp.polygon_id, s.acquired_on;
        ANALYZE pg_temp.date_pair;
        -- The stored months of these polygons only, found by polygon: written as NOT EXISTS,
        -- the planner hashed the whole month table (1,000,000 polygons: 1.3 s of a 17 s refresh).
        INSERT INTO pg_temp.month_remade
        SELECT DISTINCT d.polygon_id, d.month_start
        FROM pg_temp.date_pair AS d
        LEFT JOIN (SELECT m.polygon_id, m.month_start FROM sclzonal.polygon_month_verdict AS m
                   WHERE m.polygon_id = ANY (added_ids)) AS m
               ON m.polygon_id = d.polygon_id AND m.month_start = d.month_start
        WHERE d.pairs > 1 OR m.polygon_id IS NULL
        ON CONFLICT DO NOTHING;
        SELECT coalesce(array_agg(DISTINCT d.polygon_id), '{}'),
               coalesce(array_agg(DISTINCT sclzonal.observation_key(d.polygon_id, d.acquired_on)), '{}')
        INTO added_ids, added_keys
        FROM pg_temp.date_pair AS d
        WHERE NOT EXISTS (SELECT FROM pg_temp.month_remade AS r
                          WHERE r.polygon_id = d.polygon_id AND r.month_start = d.month_start);
        IF cardinality(added_ids) > 0 THEN
            INSERT INTO pg_temp.month_added
            SELECT o.id, o.polygon_id, o.source, o.source_fid, o.name, o.month_start, o.month_end,
                   CASE WHEN l.latest_on IS NOT NULL THEN l.latest_verdict
                        WHEN o.partial_observations + a.partial_observations
                             = o.observations + a.observations THEN 'partially_observed'
                        ELSE 'no_clear_observation' END,
                   l.latest_on,
                   o.observations + a.observations,
                   o.clear_observations + a.clear_observations,
                   o.partial_observations + a.partial_observations,
                   o.pixels + a.pixels,
                   o.clear_pixels + a.clear_pixels,
                   sclzonal.summed_share(o.vegetation_share, o.clear_pixels,
                                         a.vegetation_share, a.clear_pixels),
                   -- class by class, written out: a subquery per row cost 25 us
                   ARRAY[sclzonal.summed_share(o.class_shares[1], o.clear_pixels, a.class_shares[1], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[2], o.clear_pixels, a.class_shares[2], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[3], o.clear_pixels, a.class_shares[3], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[4], o.clear_pixels, a.class_shares[4], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[5], o.clear_pixels, a.class_shares[5], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[6], o.clear_pixels, a.class_shares[6], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[7], o.clear_pixels, a.class_shares[7], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[8], o.clear_pixels, a.class_shares[8], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[9], o.clear_pixels, a.class_shares[9], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[10], o.clear_pixels, a.class_shares[10], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[11], o.clear_pixels, a.class_shares[11], a.clear_pixels),
                         sclzonal.summed_share(o.class_shares[12], o.clear_pixels, a.class_shares[12], a.clear_pixels)],
                   least(o.first_observed_on, a.first_observed_on),
                   greatest(o.last_observed_on, a.last_observed_on),
                   sclzonal.summed_tallies(o.rule_tallies, a.rule_tallies),
                   o.geom
            FROM sclzonal.polygon_month_rows(added_ids, added_keys) AS a
            JOIN sclzonal.polygon_month_verdict AS o
              ON o.polygon_id = a.polygon_id AND o.month_start = a.month_start
            CROSS JOIN LATERAL (
                SELECT CASE WHEN a.verdict_acquired_on > o.verdict_acquired_on
                                 OR o.verdict_acquired_on IS NULL THEN a.verdict_acquired_on
                            ELSE o.verdict_acquired_on END AS latest_on,
                       CASE WHEN a.verdict_acquired_on > o.verdict_acquired_on
                                 OR o.verdict_acquired_on IS NULL THEN a.verdict
                            ELSE o.verdict END AS latest_verdict
            ) AS l;
        END IF;
    END IF;
    ANALYZE pg_temp.month_remade;
    SELECT coalesce(array_agg(DISTINCT r.polygon_id), '{}'),
           coalesce(array_agg(DISTINCT r.month_start), '{}')
    INTO remade_ids, remade_months
    FROM pg_temp.month_remade AS r;
    IF cardinality(remade_ids) > 0 THEN
        DELETE FROM sclzonal.polygon_month_verdict AS m
        USING pg_temp.month_remade AS r
        WHERE m.polygon_id = r.polygon_id AND m.month_start = r.month_start;
        INSERT INTO sclzonal.polygon_month_verdict
        SELECT v.* FROM sclzonal.polygon_month_verdict_view AS v
        WHERE v.polygon_id = ANY (remade_ids) AND v.month_start = ANY (remade_months)
          AND EXISTS (SELECT FROM pg_temp.month_remade AS r
                      WHERE r.polygon_id = v.polygon_id AND r.month_start = v.month_start);
    END IF;
    DELETE FROM sclzonal.polygon_month_verdict AS m
    USING pg_temp.month_added AS a
    WHERE m.polygon_id = a.polygon_id AND m.month_start = a.month_start;
    INSERT INTO sclzonal.polygon_month_verdict SELECT * FROM pg_temp.month_added;
    -- Polygons with new or changed counts: their verdicts from their months.
    SELECT coalesce(array_agg(DISTINCT c.polygon_id), '{}'),
           coalesce(array_agg(DISTINCT c.month_start), '{}')
    INTO in_months, months
    FROM (SELECT r.polygon_id, r.month_start FROM pg_temp.month_remade AS r
          UNION ALL
          SELECT a.polygon_id, a.month_start FROM pg_temp.month_added AS a) AS c;
    DROP TABLE pg_temp.month_remade, pg_temp.month_added;
    DROP TABLE IF EXISTS pg_temp.date_pair;
    IF cardinality(in_months) > 0 THEN
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
REVOKE ALL ON FUNCTION sclzonal.summed_share(double precision, numeric, double precision, numeric) FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.summed_tallies(jsonb, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'Make again the verdicts (polygon_verdict, polygon_month_verdict) of the polygons and months whose inputs changed, or all after a rule change, as their owner; returns how many polygons. Run by `sclzonal refresh`.';
COMMENT ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[], date[]) IS
    'polygon_verdict rows of polygons whose counts changed only in the given months, from their (up to date) polygon_month_verdict rows and their old rows; equals polygon_verdict_between over all dates.';
COMMENT ON FUNCTION sclzonal.rebuild_polygon_verdict() IS
    'Decide every verdict again from the definitions; returns how many polygons. `sclzonal refresh --rebuild-verdicts`.';
