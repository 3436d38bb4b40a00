-- Bringing sclzonal.polygon_verdict and sclzonal.polygon_month_verdict up to date, as their owner.
--
-- refresh_polygon_verdict() takes what the triggers of sql/verdict_staleness.sql noted:
--   * (polygon, scene) pairs whose counts were added (verdict_new_pair): their observations are
--     added to their months' stored rows, or, where another tile's pair of the same date was the
--     observation, take its place or leave the month as it is (see the refresh below);
--   * (polygon, month) pairs whose counts changed (verdict_stale_month): those months are made
--     again from their definition, polygon_month_verdict_view, which then reads only the
--     observations of those polygons;
--   * polygons that changed otherwise (verdict_stale_polygon: their row, deleted counts, whether
--     they can be counted, their scenes' origin): all their months are made again;
--   * a request to decide everything again (verdict_rebuild_request, after a rule or class
--     change): both tables are made again from their definition views.
-- The polygons noted whole get their polygon_verdict rows from the definition; the others from
-- their months (polygon_verdict_from_months below): sums of the months' tallies, and the latest
-- clear observation, taken from the pairs this refresh evaluated, else kept or read again. A
-- refresh after a new scene thus costs the new scene's pairs (and the other pairs of their dates where tiles overlap), not
-- the polygons' whole history. What this gives equals the definition, polygon_verdict_view
-- (tests/test_incremental_verdicts.py and tests/test_overlapping_tiles.py check it).
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
-- Random page reads priced at 1.1, not 4: the refresh reads a few rows of each listed polygon
-- or new scene from tables a scheduled refresh finds in memory, and at the default price the
-- planner read every stored pair instead (three statements, each a sequential scan of 5.25
-- million pairs at 1,000,000 polygons and 4 dates, 0.7-1.3 s, growing with the season; by
-- index, 0.4-0.8 s; revision 0012).

-- Refreshes take turns on this table, which holds nothing. Not on polygon_verdict itself: a
-- lock of that strength there also conflicts with autovacuum, which PostgreSQL then cancels, so
-- a schedule of back-to-back refreshes never vacuumed polygon_verdict (1,000,000 polygons, 72
-- refreshes: 2.9 million dead rows, 1.8 GB, and each refresh slower than the one before).
CREATE TABLE IF NOT EXISTS sclzonal.verdict_refresh_turn ();
COMMENT ON TABLE sclzonal.verdict_refresh_turn IS
    'Empty: refresh_polygon_verdict() locks it so that two refreshes take turns.';

-- polygon_verdict rows of polygons whose counts changed only in some months, made while their
-- old rows are still there, after polygon_month_verdict has been brought up to date for them:
-- the same values as polygon_verdict_between('-infinity', 'infinity', polygon_ids), but for the
-- polygon's own columns (source, source_fid, name, geom), which are NULL: the refresh updates
-- the rows in place and keeps those (a polygon whose row changed is noted whole and made from
-- the definition), so the polygons are not read (one row per id given; revision 0015's version
-- read each polygon and its geometry, which its upsert then wrote back: with the shares below,
-- these rows took 0.92 s against 1.24 s for 35,000 polygons of 1,000,000).
-- Their months are read once, into a table of per-polygon sums (tallies, the date of the
-- latest clear observation: the latest of the months' verdict_acquired_on, and the months' rule
-- tallies). The latest clear observation is then:
--   * taken from pg_temp.evaluated_pair, the pairs refresh_polygon_verdict evaluated (the
--     (polygon, date) keys with new counts, every pair of them, evaluated once for all the
--     refresh's uses), when its (polygon, date) is there: most polygons, the new scene's date;
--   * else kept from the old row when it is the old row's date and its month was not made again
--     whole (remade_month_keys: '<polygon id> <month start>');
--   * else read again from scene_verdict_rows for those polygons and dates only (given to the
--     query as lists, so the conditions reach the counts), from the counts of the scenes of
--     those polygons' pairs on those dates, looked up in the pairs' key.
-- The old rows are read for the polygons of the last two cases only.
-- Revision 0010's version took (polygon_ids, changed_months) and read every polygon whose latest
-- clear observation lay in a changed month; revision 0013's took the touched keys and read every
-- scene of their dates; revision 0014's took the touched keys' scenes and evaluated those
-- observations again, and read the months three times and every old row.
DROP FUNCTION IF EXISTS sclzonal.polygon_verdict_from_months(bigint[], date[]);
DROP FUNCTION IF EXISTS sclzonal.polygon_verdict_from_months(bigint[], text[], text[]);
DROP FUNCTION IF EXISTS sclzonal.polygon_verdict_from_months(bigint[], text[], text[], bigint[]);
CREATE OR REPLACE FUNCTION sclzonal.polygon_verdict_from_months(polygon_ids bigint[],
                                                                remade_month_keys text[])
RETURNS SETOF sclzonal.polygon_verdict
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unevaluated_ids bigint[];
    kept_ids bigint[];
    other_ids bigint[];
    other_dates date[];
    other_keys text[];
    other_scenes bigint[] := '{}';
    fresh_scenes bigint[];
    -- the label of the one enabled rule, when there is one (the usual case): a polygon whose
    -- months' tallies hold that label only gets its share at once, not label by label below
    only_label text := (SELECT CASE WHEN count(*) = 1 THEN min(r.label) END
                        FROM sclzonal.verdict_rule AS r WHERE r.enabled);
BEGIN
    CREATE TEMPORARY TABLE polygon_tally ON COMMIT DROP AS
    SELECT m.polygon_id,
           sum(m.observations)::integer AS observations,
           sum(m.clear_observations)::integer AS clear_observations,
           sum(m.partial_observations)::integer AS partial_observations,
           min(m.first_observed_on) AS first_observed_on,
           max(m.last_observed_on) AS last_observed_on,
           max(m.verdict_acquired_on) AS latest_on,
           array_agg(m.rule_tallies) FILTER (WHERE m.rule_tallies IS NOT NULL) AS month_tallies,
           -- (a rule change decides every month again, so tallies hold the enabled rules' labels
           -- only; checked all the same, as the label-by-label way is right for any)
           only_label IS NOT NULL
           AND bool_and(m.rule_tallies IS NULL
                        OR coalesce(m.rule_tallies - only_label = '{}'::jsonb, false)) AS one_label,
           sum((m.rule_tallies -> only_label ->> 'held')::bigint) AS only_held,
           sum((m.rule_tallies -> only_label ->> 'evaluated')::bigint) AS only_evaluated
    FROM sclzonal.polygon_month_verdict AS m
    WHERE m.polygon_id = ANY (polygon_ids)
    GROUP BY m.polygon_id;
    -- (statistics: the queries below join it to the polygons, by nested loop under a low
    -- estimate; of the columns they join and filter on only: of its arrays of JSON, ANALYZE
    -- took 0.13 s, against 0.015 s for these)
    ANALYZE pg_temp.polygon_tally (polygon_id, latest_on);
    -- The latest clear observations in the evaluated pairs. In a table of their own with
    -- statistics: joined in the query below with an estimate of a handful of rows, the planner
    -- joined them to the polygons by a nested loop (50,000 x 50,000 comparisons: 560 s).
    CREATE TEMPORARY TABLE fresh_observation ON COMMIT DROP AS
    SELECT e.polygon_id, e.verdict, e.acquired_on, e.scene_id, e.coverage, e.clear_share,
           e.rule_share, e.vegetation_share, e.total_pixels, e.clear_pixels, e.expected_pixels,
           e.observed_pixels, e.rule_id, e.rule_revision, e.evaluated_rules
    FROM pg_temp.polygon_tally AS t
    JOIN pg_temp.evaluated_pair AS e
      ON e.polygon_id = t.polygon_id AND e.acquired_on = t.latest_on AND e.is_observation;
    SELECT coalesce(array_agg(t.polygon_id), '{}') INTO unevaluated_ids
    FROM pg_temp.polygon_tally AS t
    WHERE t.latest_on IS NOT NULL
      AND NOT EXISTS (SELECT FROM pg_temp.fresh_observation AS f WHERE f.polygon_id = t.polygon_id);
    -- the others: kept, or read again when the latest date moved or its month was made again
    SELECT coalesce(array_agg(c.polygon_id) FILTER (WHERE NOT c.read_again), '{}'),
           coalesce(array_agg(c.polygon_id) FILTER (WHERE c.read_again), '{}'),
           coalesce(array_agg(DISTINCT c.latest_on) FILTER (WHERE c.read_again), '{}'),
           coalesce(array_agg(sclzonal.observation_key(c.polygon_id, c.latest_on))
                        FILTER (WHERE c.read_again), '{}')
    INTO kept_ids, other_ids, other_dates, other_keys
    FROM (SELECT t.polygon_id, t.latest_on,
                 v.acquired_on IS DISTINCT FROM t.latest_on
                 OR (cardinality(remade_month_keys) > 0
                     AND sclzonal.observation_key(t.polygon_id,
                                                  date_trunc('month', t.latest_on)::date)
                         = ANY (remade_month_keys)) AS read_again
          FROM pg_temp.polygon_tally AS t
          LEFT JOIN (SELECT v.polygon_id, v.acquired_on FROM sclzonal.polygon_verdict AS v
                     WHERE v.polygon_id = ANY (unevaluated_ids)) AS v
                 ON v.polygon_id = t.polygon_id
          WHERE t.polygon_id = ANY (unevaluated_ids)) AS c;
    IF cardinality(other_ids) > 0 THEN
        -- their scenes, from the index of the pairs (polygon, scene)
        SELECT coalesce(array_agg(DISTINCT cp.scene_id), '{}')
        INTO other_scenes
        FROM sclzonal.counted_pair AS cp
        JOIN sclzonal.scene AS s ON s.id = cp.scene_id
        WHERE cp.polygon_id = ANY (other_ids) AND s.acquired_on = ANY (other_dates)
          -- (the ids of those dates' scenes, as the refresh reads its pairs per date)
          AND cp.scene_id BETWEEN (SELECT min(f.id) FROM sclzonal.scene AS f
                                   WHERE f.acquired_on = ANY (other_dates))
                              AND (SELECT max(l.id) FROM sclzonal.scene AS l
                                   WHERE l.acquired_on = ANY (other_dates));
        INSERT INTO pg_temp.fresh_observation
        SELECT v.polygon_id, v.verdict, v.acquired_on, v.scene_id, v.coverage, v.clear_share,
               v.rule_share, v.vegetation_share, v.total_pixels, v.clear_pixels,
               v.expected_pixels, v.observed_pixels, v.rule_id, v.rule_revision,
               v.evaluated_rules
        FROM sclzonal.scene_verdict_rows(other_scenes) AS v
        WHERE v.is_observation AND v.polygon_id = ANY (other_ids)
          AND v.acquired_on = ANY (other_dates)
          -- only each polygon's own latest date: this condition names the partition columns
          -- of the observation's window, so it is applied before the rules are evaluated
          AND sclzonal.observation_key(v.polygon_id, v.acquired_on) = ANY (other_keys);
    END IF;
    ANALYZE pg_temp.fresh_observation (polygon_id, scene_id, rule_id, rule_revision);
    -- each scene's origin made once, for the scenes of these observations (a handful), and
    -- looked up by the scene: made per row it cost 4 us a row; joined as a view under a low row
    -- estimate, the planner formatted every scene's origin for every row
    SELECT coalesce(array_agg(DISTINCT f.scene_id), '{}') INTO fresh_scenes
    FROM pg_temp.fresh_observation AS f;
    RETURN QUERY
    WITH fresh_origin AS MATERIALIZED (
        SELECT s.scene_id, s.source, s.description FROM sclzonal.scene_origin AS s
        WHERE s.scene_id = ANY (fresh_scenes)
    ), held AS (
        -- months of one label (the one enabled rule's): its share from the sums at once
        SELECT t.polygon_id, jsonb_build_object(only_label, t.only_held::float8 / t.only_evaluated)
                                 AS shares
        FROM pg_temp.polygon_tally AS t
        WHERE t.one_label AND t.only_evaluated > 0
        UNION ALL
        -- else label by label (two grouping passes: 0.1 s for 35,000 polygons)
        SELECT h.polygon_id, jsonb_object_agg(h.label, h.held::float8 / h.evaluated) AS shares
        FROM (
            SELECT t.polygon_id, r.key AS label, sum((r.value ->> 'evaluated')::bigint) AS evaluated,
                   sum((r.value ->> 'held')::bigint) AS held
            FROM pg_temp.polygon_tally AS t
            CROSS JOIN LATERAL unnest(t.month_tallies) AS mt(tallies)
            CROSS JOIN LATERAL jsonb_each(mt.tallies) AS r
            WHERE NOT t.one_label
            GROUP BY t.polygon_id, r.key
        ) AS h
        GROUP BY h.polygon_id
    ), kept AS (
        SELECT v.polygon_id, v.verdict, v.acquired_on, v.scene_id, v.coverage, v.clear_share,
               v.rule_share, v.vegetation_share, v.pixels, v.clear_pixels, v.expected_pixels,
               v.observed_pixels, v.rule_id, v.rule_revision, v.rule_label, v.rule_classes,
               v.rule_min_share, v.rule_min_clear_share, v.rule_min_coverage, v.evaluated_rules,
               v.scene_source, v.scene_origin
        FROM sclzonal.polygon_verdict AS v
        -- by a list, not a join: joined to the tallies with a low estimate, the planner chose
        -- a nested loop (30,000 x 30,000 comparisons: 78 s at 1,000,000 polygons)
        WHERE v.polygon_id = ANY (kept_ids)
    ), latest AS (
        SELECT f.polygon_id, f.verdict, f.acquired_on, f.scene_id, f.coverage, f.clear_share,
               f.rule_share, f.vegetation_share, f.total_pixels, f.clear_pixels,
               f.expected_pixels, f.observed_pixels, f.rule_id, f.rule_revision, rr.label,
               rr.classes, rr.min_share, rr.min_clear_share, rr.min_coverage, f.evaluated_rules,
               fo.source, fo.description
        FROM pg_temp.fresh_observation AS f
        LEFT JOIN sclzonal.verdict_rule_revision AS rr
               ON rr.rule_id = f.rule_id AND rr.revision = f.rule_revision
        LEFT JOIN fresh_origin AS fo ON fo.scene_id = f.scene_id
        UNION ALL
        SELECT * FROM kept
    ), uncountable AS (
        SELECT pp.polygon_id, pp.problem
        FROM sclzonal.polygon_problem AS pp
        WHERE pp.polygon_id = ANY (polygon_ids)
    )
    SELECT p.id, NULL::text, NULL::text, NULL::text,
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
           l.min_coverage, l.evaluated_rules, l.source, l.description, u.problem,
           (NULL::sclzonal.polygon_verdict).geom
    FROM unnest(polygon_ids) AS p(id)
    LEFT JOIN pg_temp.polygon_tally AS t ON t.polygon_id = p.id
    LEFT JOIN latest AS l ON l.polygon_id = p.id
    LEFT JOIN held AS h ON h.polygon_id = p.id
    LEFT JOIN uncountable AS u ON u.polygon_id = p.id;
    DROP TABLE pg_temp.polygon_tally, pg_temp.fresh_observation;
END;
$$;

-- After a refresh wrote many verdict rows the planner's statistics may not know of (half as
-- many as they counted, or a first fill), the statistics of the verdict tables are renewed at
-- once: the next refresh reads them by polygon, and with the estimates of an empty table it
-- joined 25,000 polygons to 25,000 rows by a nested loop (90 s instead of 6 s). `rewritten` counts
-- the rows a refresh inserted (or deleted and inserted); rows updated in place (a new scene's
-- polygons, the months they already had) change no estimate, and analyzing after each scene cost
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

-- A share of a month's clear pixels after a refresh: the stored month's share and clear pixels,
-- plus the change's pixels of the class and clear pixels (the new observations' less those of
-- the observations they replaced). The stored part's pixels are share * clear pixels, whole
-- numbers that a double holds exactly, so the result divided as the month view divides gives
-- the same double. A stored part without clear pixels adds 0; a NULL share with clear pixels
-- makes the result NULL, as in the view (the caller gives NULL for a class that is not clear).
-- Pixel counts as bigint, not numeric (revision 0013 took numeric, the type of the sums): each
-- numeric went through its conversion to double once or twice per call, 13 calls per month row
-- (0.4 us a call). The change's part as pixels, not as a share: a share made from the pixels
-- and turned back into them cost two operations more per class. Revision 0014's version took
-- the added and the removed parts apart.
DROP FUNCTION IF EXISTS sclzonal.month_share(double precision, numeric, double precision, numeric,
                                             numeric, numeric);
DROP FUNCTION IF EXISTS sclzonal.month_share(double precision, bigint, bigint, bigint, bigint,
                                             bigint);
CREATE OR REPLACE FUNCTION sclzonal.month_share(stored_share double precision, stored_clear bigint,
                                                changed_pixels bigint, changed_clear bigint)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT (CASE WHEN stored_clear = 0 THEN 0 ELSE round(stored_share * stored_clear) END
        + changed_pixels)
       / nullif(stored_clear + changed_clear, 0)::double precision
$$;

-- The SET list of an upsert into `target` that writes every column but `kept_columns` from the
-- row offered ("a = excluded.a, b = excluded.b, ..."), read from the catalogue, so that a column
-- added to a verdict table is written without a hand-kept list to keep in step (revision 0013).
-- The full rebuild keeps the key only; the in-place updates of a refresh keep the polygon's own
-- columns too (revision 0016; revision 0015's version took the key alone).
DROP FUNCTION IF EXISTS sclzonal.upsert_set_list(regclass, name);
CREATE OR REPLACE FUNCTION sclzonal.upsert_set_list(target regclass, kept_columns name[])
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT string_agg(format('%I = excluded.%I', a.attname, a.attname), ', ' ORDER BY a.attnum)
FROM pg_catalog.pg_attribute AS a
WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attname <> ALL (kept_columns)
$$;

-- Revision 0010's helpers: month_share above and a subquery of the refresh replace them.
DROP FUNCTION IF EXISTS sclzonal.summed_share(double precision, numeric, double precision, numeric);
DROP FUNCTION IF EXISTS sclzonal.summed_tallies(jsonb, jsonb);

-- The months a refresh brings up to date, in temporary tables of the refresh's transaction:
--   * month_remade: (polygon, month) made again from all its observations, read through the
--     month view: counts changed in it (verdict_stale_month), or a new pair of another tile on
--     a date took the place of a clear observation that was the month's latest clear one and is
--     not clear itself (which clear observation is now the latest is known only by reading the
--     month again);
--   * month_added: every other (polygon, month) with new counts: the month's change (the new
--     observations, less the observations they took the place of) added to the stored row, if
--     any: counts and pixels summed, shares from the summed pixels, the later verdict kept, rule
--     tallies summed.
-- Every pair of the (polygon, date) keys with new counts is evaluated once (evaluated_pair,
-- scene_verdict_rows over the scenes that hold them); the overlapping keys' pairs, the months'
-- changes and polygon_verdict_from_months's latest clear observations all read that table.
-- A (polygon, date) with more than one pair (overlapping tiles of one day) has one observation,
-- the best pair (sql/verdict_views.sql). When a new pair arrives there, the pairs of that date
-- alone are evaluated: if an old pair stays the best, the month does not change; if the new pair
-- is better, it is added and the old observation taken away. So a new scene costs its own pairs
-- and, where tiles overlap, the other pairs of its date: not the month's earlier dates nor the
-- season before.
CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
SET random_page_cost = 1.1
AS $$
DECLARE
    whole bigint[];
    in_months bigint[];
    new_month_rows bigint;
    noted_whole bigint;
    most_noted_whole boolean := false;
    remade_month_keys text[];
    added_ids bigint[];
    pair_dates date[];
    pair_scenes bigint[] := '{}';
    first_scene bigint;
    last_scene bigint;
    added_keys text[];
    polygon_set_list text := sclzonal.upsert_set_list('sclzonal.polygon_verdict', '{polygon_id}');
    month_set_list text := sclzonal.upsert_set_list('sclzonal.polygon_month_verdict', '{id}');
    polygon_verdict_list text := sclzonal.upsert_set_list(
        'sclzonal.polygon_verdict', '{polygon_id,source,source_fid,name,geom}');
    month_verdict_list text := sclzonal.upsert_set_list(
        'sclzonal.polygon_month_verdict',
        '{id,polygon_id,source,source_fid,name,month_start,month_end,geom}');
    updated_polygons bigint;
    remade_ids bigint[];
    remade_months date[];
BEGIN
    LOCK TABLE sclzonal.verdict_refresh_turn IN SHARE ROW EXCLUSIVE MODE;
    -- Counts written meanwhile wait until this refresh commits (their trigger's insert into
    -- verdict_new_pair does): where tiles overlap, a stored month is changed by taking away the
    -- observation it was made from, so the refresh must see as stored every pair the months were
    -- made from, and as new every other. Only this small table is locked: a lock on counted_pair
    -- strong enough to keep writers out would also cancel its autovacuum at every refresh.
    LOCK TABLE sclzonal.verdict_new_pair IN SHARE ROW EXCLUSIVE MODE;
    -- Everything again when asked, and when at least half the polygons are noted whole (a date's
    -- counts deleted, say): the definition views over all polygons then cost less than over a
    -- list of most of them (1,000,000 polygons noted whole: minutes, against 26 s for all). The
    -- polygons are counted only when some are noted whole: counting 1,000,000 took 0.2 s.
    SELECT count(*) INTO noted_whole FROM sclzonal.verdict_stale_polygon;
    IF noted_whole > 0 THEN
        most_noted_whole := noted_whole * 2 >= greatest((SELECT count(*) FROM sclzonal.polygon), 1);
    END IF;
    IF most_noted_whole OR EXISTS (SELECT FROM sclzonal.verdict_rebuild_request) THEN
        DELETE FROM sclzonal.verdict_rebuild_request;
        DELETE FROM sclzonal.verdict_stale_polygon;
        DELETE FROM sclzonal.verdict_stale_month;
        DELETE FROM sclzonal.verdict_new_pair;
        -- Every row updated in place (pages are half full, so the new versions fit beside the
        -- old), the rows of polygons and months that are gone deleted: deleting every row and
        -- inserting it again (revision 0012) left both tables twice their size until vacuum. A
        -- first fill inserts: the upsert's check of each row cost a tenth more there (26.2 s
        -- against 23.2 s for 200,000 polygons and 3 dates).
        IF NOT EXISTS (SELECT FROM sclzonal.polygon_verdict) THEN
            INSERT INTO sclzonal.polygon_verdict SELECT * FROM sclzonal.polygon_verdict_view;
        ELSE
            EXECUTE format('INSERT INTO sclzonal.polygon_verdict AS v'
                           ' SELECT * FROM sclzonal.polygon_verdict_view'
                           ' ON CONFLICT (polygon_id) DO UPDATE SET %s', polygon_set_list);
            DELETE FROM sclzonal.polygon_verdict AS v
            WHERE NOT EXISTS (SELECT FROM sclzonal.polygon AS p WHERE p.id = v.polygon_id);
        END IF;
        IF NOT EXISTS (SELECT FROM sclzonal.polygon_month_verdict) THEN
            INSERT INTO sclzonal.polygon_month_verdict
            SELECT * FROM sclzonal.polygon_month_verdict_view;
        ELSE
            CREATE TEMPORARY TABLE month_written (id bigint) ON COMMIT DROP;
            EXECUTE format('WITH written AS (INSERT INTO sclzonal.polygon_month_verdict AS m'
                           ' SELECT * FROM sclzonal.polygon_month_verdict_view'
                           ' ON CONFLICT (id) DO UPDATE SET %s RETURNING m.id)'
                           ' INSERT INTO pg_temp.month_written SELECT w.id FROM written AS w',
                           month_set_list);
            ANALYZE pg_temp.month_written;
            DELETE FROM sclzonal.polygon_month_verdict AS m
            WHERE NOT EXISTS (SELECT FROM pg_temp.month_written AS w WHERE w.id = m.id);
            DROP TABLE pg_temp.month_written;
        END IF;
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
    -- Counts added: the pairs, and the polygons, dates and (polygon, date) keys that got one.
    CREATE TEMPORARY TABLE new_pair (polygon_id bigint, scene_id bigint, acquired_on date,
                                     PRIMARY KEY (polygon_id, scene_id)) ON COMMIT DROP;
    WITH taken AS (DELETE FROM sclzonal.verdict_new_pair RETURNING polygon_id, scene_id)
    INSERT INTO pg_temp.new_pair
    SELECT t.polygon_id, t.scene_id, s.acquired_on
    FROM taken AS t
    JOIN sclzonal.scene AS s ON s.id = t.scene_id
    WHERE t.polygon_id <> ALL (whole);
    SELECT coalesce(array_agg(DISTINCT n.polygon_id), '{}'),
           coalesce(array_agg(DISTINCT n.acquired_on), '{}'),
           coalesce(array_agg(DISTINCT sclzonal.observation_key(n.polygon_id, n.acquired_on)), '{}')
    INTO added_ids, pair_dates, added_keys
    FROM pg_temp.new_pair AS n;
    CREATE TEMPORARY TABLE month_added ON COMMIT DROP AS
    SELECT * FROM sclzonal.polygon_month_verdict WITH NO DATA;
    -- (filled below, and read by polygon_verdict_from_months)
    CREATE TEMPORARY TABLE evaluated_pair ON COMMIT DROP AS
    SELECT sv.*, false AS is_new FROM sclzonal.scene_verdict_rows('{}') AS sv WITH NO DATA;
    IF cardinality(added_ids) > 0 THEN
        -- How many stored pairs, new or old, with or without pixels, each of these (polygon,
        -- date) has: more than one where tiles overlap; and in which scenes. Read from the
        -- pairs' key (polygon, scene), each polygon's from the first to the last scene id of
        -- these dates only: scenes are numbered as they are loaded, mostly date after date, so
        -- this reads the pairs of these dates and not each polygon's whole season (a condition
        -- on the ids that only narrows the read: right for scenes loaded in any order). OFFSET 0
        -- keeps the read by polygon: joined to the scenes, the planner read the 30 scenes of
        -- the date whole instead (1.3 million pairs, 0.31 s against 0.16 s).
        SELECT min(s.id), max(s.id) INTO first_scene, last_scene
        FROM sclzonal.scene AS s WHERE s.acquired_on = ANY (pair_dates);
        CREATE TEMPORARY TABLE date_pair ON COMMIT DROP AS
        SELECT cp.polygon_id, s.acquired_on, date_trunc('month', s.acquired_on)::date AS month_start,
               count(*) AS pairs, array_agg(cp.scene_id) AS scenes
        FROM (SELECT c.polygon_id, c.scene_id FROM sclzonal.counted_pair AS c
              WHERE c.polygon_id = ANY (added_ids) AND c.scene_id BETWEEN first_scene AND last_scene
              OFFSET 0) AS cp
        JOIN sclzonal.scene AS s ON s.id = cp.scene_id
        WHERE s.acquired_on = ANY (pair_dates)
          AND sclzonal.observation_key(cp.polygon_id, s.acquired_on) = ANY (added_keys)
        GROUP BY cp.polygon_id, s.acquired_on;
        ANALYZE pg_temp.date_pair (polygon_id, acquired_on, month_start, pairs);
        -- The scenes that hold every pair of these keys: the new scenes and those of their dates
        -- that overlap them (2 of a date's 30 at 1,000,000 polygons), the only counts the
        -- evaluations below read (scene_verdict_rows).
        SELECT coalesce(array_agg(DISTINCT u.scene_id), '{}')
        INTO pair_scenes
        FROM pg_temp.date_pair AS d
        CROSS JOIN LATERAL unnest(d.scenes) AS u(scene_id);
        -- Every pair with pixels of the keys with new counts, new or old, evaluated once
        -- (scene_verdict_rows over the scenes that hold them, its window reading these keys
        -- only): the overlapping keys' pairs below, the new observations added to their months,
        -- and the latest clear observations polygon_verdict_from_months takes all come from
        -- here (revision 0014 evaluated them three times, the scenes' counts read each time).
        INSERT INTO pg_temp.evaluated_pair
        SELECT sv.*,
               EXISTS (SELECT FROM pg_temp.new_pair AS n
                       WHERE n.polygon_id = sv.polygon_id AND n.scene_id = sv.scene_id)
        FROM sclzonal.scene_verdict_rows(pair_scenes) AS sv
        WHERE sv.polygon_id = ANY (added_ids) AND sv.acquired_on = ANY (pair_dates)
          AND sclzonal.observation_key(sv.polygon_id, sv.acquired_on) = ANY (added_keys);
        -- (statistics of the columns the queries below join and filter on only: of every
        -- column, arrays included, ANALYZE took 0.14 s, against 0.03 s)
        ANALYZE pg_temp.evaluated_pair (polygon_id, scene_id, acquired_on, is_observation, is_new);
        -- the pairs of the (polygon, date) keys that have several, in months not made again
        CREATE TEMPORARY TABLE shared_pair ON COMMIT DROP AS
        SELECT e.*, d.month_start
        FROM pg_temp.evaluated_pair AS e
        JOIN pg_temp.date_pair AS d ON d.polygon_id = e.polygon_id AND d.acquired_on = e.acquired_on
        WHERE d.pairs > 1
          AND NOT EXISTS (SELECT FROM pg_temp.month_remade AS r
                          WHERE r.polygon_id = d.polygon_id AND r.month_start = d.month_start);
        -- The observation such a key had before this refresh (the best old pair, ranked as
        -- scene_verdict ranks), where a new pair is now the observation.
        CREATE TEMPORARY TABLE replaced_observation ON COMMIT DROP AS
        SELECT o.*, w.verdict AS new_verdict
        FROM (SELECT DISTINCT ON (p.polygon_id, p.acquired_on) p.*
              FROM pg_temp.shared_pair AS p
              WHERE NOT p.is_new
              ORDER BY p.polygon_id, p.acquired_on, p.coverage DESC NULLS LAST,
                       p.clear_pixels DESC, p.scene_id) AS o
        JOIN pg_temp.shared_pair AS w
          ON w.polygon_id = o.polygon_id AND w.acquired_on = o.acquired_on
         AND w.is_observation AND w.is_new;
        ANALYZE pg_temp.replaced_observation;
        -- Made again whole: a month whose latest clear observation was replaced by one that is
        -- not clear, and (not expected) a month with a replaced observation but no stored row.
        INSERT INTO pg_temp.month_remade
        SELECT DISTINCT r.polygon_id, r.month_start
        FROM pg_temp.replaced_observation AS r
        LEFT JOIN sclzonal.polygon_month_verdict AS m
               ON m.polygon_id = r.polygon_id AND m.month_start = r.month_start
        WHERE m.polygon_id IS NULL
           OR (r.acquired_on = m.verdict_acquired_on
               AND r.verdict NOT IN ('not_clear', 'partially_observed')
               AND r.new_verdict IN ('not_clear', 'partially_observed'))
        ON CONFLICT DO NOTHING;
        -- The polygons of the keys whose observation is new, in months not made again whole.
        SELECT coalesce(array_agg(DISTINCT d.polygon_id), '{}')
        INTO added_ids
        FROM pg_temp.date_pair AS d
        WHERE NOT EXISTS (SELECT FROM pg_temp.month_remade AS r
                          WHERE r.polygon_id = d.polygon_id AND r.month_start = d.month_start)
          AND NOT EXISTS (SELECT FROM pg_temp.shared_pair AS w
                          WHERE w.polygon_id = d.polygon_id AND w.acquired_on = d.acquired_on
                            AND w.is_observation AND NOT w.is_new);
        IF cardinality(added_ids) > 0 THEN
            INSERT INTO pg_temp.month_added
            WITH clear_weights AS MATERIALIZED (
                -- the clear classes as bits (bit k for class k)
                SELECT sclzonal.class_mask(wi.clear) AS clear FROM sclzonal.class_weights_in_use AS wi
            ), changed AS (
                -- the observations the months gain (the new ones, evaluated above) and those they
                -- lose (the ones the new took the place of, -1)
                SELECT e.polygon_id, date_trunc('month', e.acquired_on)::date AS month_start,
                       1 AS sign, e.acquired_on, e.verdict, e.total_pixels, e.clear_pixels,
                       -- (the class pixels copied once: a short array read from a table is
                       -- copied at each subscript, twelve below; 64 ms against 21 ms for 40,000)
                       e.vegetation_pixels, e.class_pixels || '{}'::integer[] AS class_pixels,
                       e.evaluated_rules, e.held_rules
                -- (a new pair that is its date's observation, in a month not made again whole: the
                -- keys above, those with pixels, found by the pair's flags, not by a list of keys)
                FROM pg_temp.evaluated_pair AS e
                WHERE e.is_observation AND e.is_new
                  AND NOT EXISTS (SELECT FROM pg_temp.month_remade AS mr
                                  WHERE mr.polygon_id = e.polygon_id
                                    AND mr.month_start = date_trunc('month', e.acquired_on)::date)
                UNION ALL
                SELECT r.polygon_id, r.month_start, -1, r.acquired_on, r.verdict, r.total_pixels,
                       r.clear_pixels, r.vegetation_pixels, r.class_pixels || '{}'::integer[], r.evaluated_rules,
                       r.held_rules
                FROM pg_temp.replaced_observation AS r
                WHERE NOT EXISTS (SELECT FROM pg_temp.month_remade AS mr
                                  WHERE mr.polygon_id = r.polygon_id AND mr.month_start = r.month_start)
            ), change AS (
                -- Each month's change: counts and pixels summed with their signs; the latest
                -- clear observation and the dates from the gained ones (a lost observation has
                -- the date of the one that took its place); the rule tallies of one observation
                -- made from its lists, of several summed label by label (a month gains several
                -- only when scenes of several dates are refreshed at once, or tiles overlap).
                -- When every observation that evaluated rules evaluated the same one label (one
                -- rule enabled, the usual case), the tallies are sums of that label's (only_label),
                -- and are added to a stored month's of that label alone without a subquery per
                -- month (8 us a month; revision 0016).
                SELECT c.polygon_id, c.month_start,
                       sum(c.sign)::integer AS observations,
                       coalesce(sum(c.sign) FILTER (WHERE c.verdict NOT IN ('not_clear',
                                                                            'partially_observed')),
                                0)::integer AS clear_observations,
                       coalesce(sum(c.sign) FILTER (WHERE c.verdict = 'partially_observed'), 0)::integer
                           AS partial_observations,
                       sum(c.sign * c.total_pixels) AS pixels,
                       sum(c.sign * c.clear_pixels)::bigint AS clear_pixels,
                       sum(c.sign * c.vegetation_pixels)::bigint AS vegetation_pixels,
                       ARRAY[sum(c.sign * c.class_pixels[1]), sum(c.sign * c.class_pixels[2]), sum(c.sign * c.class_pixels[3]),
                             sum(c.sign * c.class_pixels[4]), sum(c.sign * c.class_pixels[5]), sum(c.sign * c.class_pixels[6]),
                             sum(c.sign * c.class_pixels[7]), sum(c.sign * c.class_pixels[8]), sum(c.sign * c.class_pixels[9]),
                             sum(c.sign * c.class_pixels[10]), sum(c.sign * c.class_pixels[11]), sum(c.sign * c.class_pixels[12])]::bigint[]
                           AS class_pixels,
                       max(c.acquired_on) FILTER (WHERE c.sign = 1
                                                    AND c.verdict NOT IN ('not_clear', 'partially_observed'))
                           AS latest_on,
                       (array_agg(c.verdict ORDER BY c.acquired_on DESC)
                           FILTER (WHERE c.sign = 1
                                   AND c.verdict NOT IN ('not_clear', 'partially_observed')))[1]
                           AS latest_verdict,
                       min(c.acquired_on) AS first_observed_on,
                       max(c.acquired_on) AS last_observed_on,
                       jsonb_agg(c.rule_tallies) FILTER (WHERE c.rule_tallies IS NOT NULL)
                           AS tally_list,
                       -- the one label every observation that evaluated rules evaluated, when
                       -- there is one (one rule enabled: the usual case), and its sums
                       CASE WHEN min(c.evaluated_rules) = max(c.evaluated_rules)
                                 AND cardinality(min(c.evaluated_rules)) = 1
                            THEN min(c.evaluated_rules[1]) END AS only_label,
                       coalesce(sum(c.sign) FILTER (WHERE cardinality(c.held_rules) > 0), 0)
                           AS only_label_held,
                       coalesce(sum(c.sign) FILTER (WHERE c.evaluated_rules IS NOT NULL), 0)
                           AS only_label_evaluated
                FROM (SELECT c.*,
                             -- each observation's rule tallies, with its sign (of one label made
                             -- at once: a subquery per row cost 4 us)
                             CASE WHEN c.evaluated_rules IS NULL THEN NULL
                                  WHEN cardinality(c.evaluated_rules) = 1
                                  THEN jsonb_build_object(c.evaluated_rules[1], jsonb_build_object(
                                           'held', c.sign * coalesce(cardinality(c.held_rules) > 0, false)::integer,
                                           'evaluated', c.sign))
                                  ELSE (SELECT jsonb_object_agg(l.label, jsonb_build_object(
                                                   'held', c.sign * coalesce(l.label = ANY (c.held_rules), false)::integer,
                                                   'evaluated', c.sign))
                                        FROM unnest(c.evaluated_rules) AS l(label))
                             END AS rule_tallies
                      -- (OFFSET 0: made once per row, not once per mention below)
                      FROM changed AS c OFFSET 0) AS c
                GROUP BY c.polygon_id, c.month_start
            ), parts AS (
                SELECT a.polygon_id, a.month_start,
                       -- the polygon's columns for a month not stored, from the polygon; NULL
                       -- for a stored month, whose row keeps its own (the upsert below does not
                       -- write them; a polygon whose row changed is made again whole, above)
                       x.source, x.source_fid, x.name, x.geom,
                       coalesce(o.observations, 0) + a.observations AS observations,
                       coalesce(o.clear_observations, 0) + a.clear_observations AS clear_observations,
                       coalesce(o.partial_observations, 0) + a.partial_observations
                           AS partial_observations,
                       coalesce(o.pixels, 0) + a.pixels AS pixels,
                       coalesce(o.clear_pixels, 0)::bigint AS stored_clear,
                       a.clear_pixels AS changed_clear,
                       o.vegetation_share AS stored_vegetation,
                       a.vegetation_pixels AS changed_vegetation,
                       -- (copied once, as the class pixels above; OFFSET 0 below makes each
                       -- of these columns once per row, not once per mention)
                       o.class_shares || '{}'::double precision[] AS stored_classes,
                       a.class_pixels AS changed_classes,
                       least(o.first_observed_on, a.first_observed_on) AS first_observed_on,
                       greatest(o.last_observed_on, a.last_observed_on) AS last_observed_on,
                       -- rule_tallies: stored plus changed, label by label; a label no longer
                       -- evaluated on any observation left out, none at all NULL, as in the month
                       -- view (a subquery, not a function: a function call per row cost 40 us);
                       -- one side's own when the other has none. The labels of the two sides are
                       -- the keys of their union (||); grouping the sides' entries built a hash
                       -- table for each month instead (twice the time; revision 0014).
                       CASE WHEN o.rule_tallies IS NULL OR a.rule_tallies IS NULL
                            THEN coalesce(o.rule_tallies, a.rule_tallies)
                            -- the same one label on both sides: summed at once
                            WHEN a.only_label IS NOT NULL AND o.rule_tallies ? a.only_label
                                 AND o.rule_tallies - a.only_label = '{}'::jsonb
                            THEN CASE WHEN coalesce((o.rule_tallies -> a.only_label ->> 'evaluated')::bigint, 0)
                                           + a.only_label_evaluated > 0
                                      THEN jsonb_build_object(a.only_label, jsonb_build_object(
                                               'held', coalesce((o.rule_tallies -> a.only_label ->> 'held')::bigint, 0)
                                                       + a.only_label_held,
                                               'evaluated', coalesce((o.rule_tallies -> a.only_label ->> 'evaluated')::bigint, 0)
                                                            + a.only_label_evaluated))
                                 END
                            ELSE (SELECT jsonb_object_agg(e.label, jsonb_build_object('held', e.held,
                                                                                      'evaluated', e.evaluated))
                                  FROM (SELECT k.label,
                                               coalesce((o.rule_tallies -> k.label ->> 'held')::bigint, 0)
                                               + coalesce((a.rule_tallies -> k.label ->> 'held')::bigint, 0)
                                                   AS held,
                                               coalesce((o.rule_tallies -> k.label ->> 'evaluated')::bigint, 0)
                                               + coalesce((a.rule_tallies -> k.label ->> 'evaluated')::bigint, 0)
                                                   AS evaluated
                                        FROM jsonb_object_keys(o.rule_tallies || a.rule_tallies) AS k(label)) AS e
                                  WHERE e.evaluated > 0)
                       END AS rule_tallies,
                       -- the later of the two latest clear observations (a replaced one on the
                       -- stored latest date is the new one's when both are clear)
                       CASE WHEN a.latest_on >= o.verdict_acquired_on
                                 OR o.verdict_acquired_on IS NULL THEN a.latest_on
                            ELSE o.verdict_acquired_on END AS latest_on,
                       CASE WHEN a.latest_on >= o.verdict_acquired_on
                                 OR o.verdict_acquired_on IS NULL THEN a.latest_verdict
                            ELSE o.verdict END AS latest_verdict
                FROM (SELECT ch.*,
                             CASE WHEN ch.only_label IS NOT NULL
                                  THEN jsonb_build_object(ch.only_label, jsonb_build_object(
                                           'held', ch.only_label_held, 'evaluated', ch.only_label_evaluated))
                                  WHEN ch.tally_list IS NULL THEN NULL
                                  WHEN jsonb_array_length(ch.tally_list) = 1 THEN ch.tally_list -> 0
                                  ELSE (SELECT jsonb_object_agg(t.label, jsonb_build_object('held', t.held,
                                                                                            'evaluated', t.evaluated))
                                        FROM (SELECT r.key AS label, sum((r.value ->> 'held')::bigint) AS held,
                                                     sum((r.value ->> 'evaluated')::bigint) AS evaluated
                                              FROM jsonb_array_elements(ch.tally_list) AS l(tallies)
                                              CROSS JOIN LATERAL jsonb_each(l.tallies) AS r
                                              GROUP BY r.key) AS t)
                             END AS rule_tallies
                      FROM change AS ch OFFSET 0) AS a
                -- the stored months of these polygons only, found by polygon (a plain join may
                -- hash the whole month table)
                LEFT JOIN (SELECT m.* FROM sclzonal.polygon_month_verdict AS m
                           WHERE m.polygon_id = ANY (added_ids)) AS o
                       ON o.polygon_id = a.polygon_id AND o.month_start = a.month_start
                -- looked up for a month not stored only (the condition on o gates the lookup;
                -- OFFSET 0 keeps it a subquery, which the planner would otherwise join whole)
                LEFT JOIN LATERAL (SELECT p.source, p.source_fid, p.name, p.geom
                                   FROM sclzonal.polygon AS p
                                   WHERE p.id = a.polygon_id AND o.id IS NULL OFFSET 0) AS x ON true
                OFFSET 0
            )
            SELECT sclzonal.month_row_id(p.polygon_id, p.month_start), p.polygon_id, p.source,
                   p.source_fid, p.name, p.month_start, sclzonal.month_last_day(p.month_start),
                   CASE WHEN p.latest_on IS NOT NULL THEN p.latest_verdict
                        WHEN p.partial_observations = p.observations THEN 'partially_observed'
                        ELSE 'no_clear_observation' END,
                   p.latest_on, p.observations, p.clear_observations, p.partial_observations,
                   p.pixels, p.stored_clear + p.changed_clear,
                   sclzonal.month_share(p.stored_vegetation, p.stored_clear, p.changed_vegetation,
                                        p.changed_clear),
                   -- class by class, written out: a subquery per row cost 25 us; NULL for a
                   -- class that is not clear, as in the month view
                   ARRAY[
                         CASE WHEN w.clear >> 0 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[1], p.stored_clear, p.changed_classes[1], p.changed_clear) END,
                         CASE WHEN w.clear >> 1 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[2], p.stored_clear, p.changed_classes[2], p.changed_clear) END,
                         CASE WHEN w.clear >> 2 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[3], p.stored_clear, p.changed_classes[3], p.changed_clear) END,
                         CASE WHEN w.clear >> 3 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[4], p.stored_clear, p.changed_classes[4], p.changed_clear) END,
                         CASE WHEN w.clear >> 4 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[5], p.stored_clear, p.changed_classes[5], p.changed_clear) END,
                         CASE WHEN w.clear >> 5 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[6], p.stored_clear, p.changed_classes[6], p.changed_clear) END,
                         CASE WHEN w.clear >> 6 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[7], p.stored_clear, p.changed_classes[7], p.changed_clear) END,
                         CASE WHEN w.clear >> 7 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[8], p.stored_clear, p.changed_classes[8], p.changed_clear) END,
                         CASE WHEN w.clear >> 8 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[9], p.stored_clear, p.changed_classes[9], p.changed_clear) END,
                         CASE WHEN w.clear >> 9 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[10], p.stored_clear, p.changed_classes[10], p.changed_clear) END,
                         CASE WHEN w.clear >> 10 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[11], p.stored_clear, p.changed_classes[11], p.changed_clear) END,
                         CASE WHEN w.clear >> 11 & 1 = 1 THEN sclzonal.month_share(p.stored_classes[12], p.stored_clear, p.changed_classes[12], p.changed_clear) END],
                   p.first_observed_on, p.last_observed_on, p.rule_tallies, p.geom
            FROM parts AS p
            CROSS JOIN clear_weights AS w;
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
    -- Months with new observations rewritten in place (a month seen for the first time inserted):
    -- an update that changes no indexed column stays on its page and adds no index entry
    -- (PostgreSQL's heap-only tuple update, for which the tables leave room on their pages),
    -- where a delete and an insert added an entry to each of the table's four indexes, the
    -- geometry's GiST among them, and left them for vacuum to clean. The rows new to the table
    -- are counted as they are written (a row the upsert inserted has no xmax; one it updated
    -- carries its lock's), not by a pass of their own (0.09 s at 1,000,000 polygons). A stored
    -- month keeps its polygon's columns (month_verdict_list leaves them out).
    EXECUTE format('WITH written AS (INSERT INTO sclzonal.polygon_month_verdict AS m'
                   ' SELECT * FROM pg_temp.month_added'
                   ' ON CONFLICT (id) DO UPDATE SET %s RETURNING m.xmax = 0 AS inserted)'
                   ' SELECT count(*) FILTER (WHERE w.inserted) FROM written AS w', month_verdict_list)
    INTO new_month_rows;
    -- Polygons with new or changed counts: their verdicts from their months.
    SELECT coalesce(array_agg(DISTINCT c.polygon_id), '{}')
    INTO in_months
    FROM (SELECT r.polygon_id FROM pg_temp.month_remade AS r
          UNION ALL
          SELECT a.polygon_id FROM pg_temp.month_added AS a) AS c;
    SELECT coalesce(array_agg(sclzonal.observation_key(r.polygon_id, r.month_start)), '{}')
    INTO remade_month_keys
    FROM pg_temp.month_remade AS r;
    DROP TABLE pg_temp.month_remade, pg_temp.month_added, pg_temp.new_pair;
    DROP TABLE IF EXISTS pg_temp.date_pair, pg_temp.shared_pair, pg_temp.replaced_observation;
    IF cardinality(in_months) > 0 THEN
        -- rewritten in place, as the months above, the polygon's own columns kept (the function
        -- returns its rows whole before the first is written: PL/pgSQL gathers a RETURN QUERY's
        -- rows first). Every polygon has a row since it was loaded (made when it was noted
        -- whole); one missing all the same (deleted by hand) is made from the definition.
        EXECUTE format('UPDATE sclzonal.polygon_verdict AS v SET %s'
                       ' FROM sclzonal.polygon_verdict_from_months($1, $2) AS excluded'
                       ' WHERE v.polygon_id = excluded.polygon_id', polygon_verdict_list)
        USING in_months, remade_month_keys;
        GET DIAGNOSTICS updated_polygons = ROW_COUNT;
        IF updated_polygons < cardinality(in_months) THEN
            INSERT INTO sclzonal.polygon_verdict
            SELECT * FROM sclzonal.polygon_verdict_between(
                '-infinity', 'infinity',
                ARRAY(SELECT p.id FROM sclzonal.polygon AS p
                      WHERE p.id = ANY (in_months)
                        AND NOT EXISTS (SELECT FROM sclzonal.polygon_verdict AS v
                                        WHERE v.polygon_id = p.id)));
        END IF;
        PERFORM sclzonal.analyze_verdicts_after(new_month_rows + cardinality(remade_month_keys));
    END IF;
    DROP TABLE pg_temp.evaluated_pair;
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
REVOKE ALL ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.analyze_verdicts_after(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.upsert_set_list(regclass, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.month_share(double precision, bigint, bigint, bigint) FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'Make again the verdicts (polygon_verdict, polygon_month_verdict) of the polygons and months whose inputs changed, or all after a rule change, as their owner; returns how many polygons. Run by `sclzonal refresh`.';
COMMENT ON FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[]) IS
    'polygon_verdict rows of polygons whose counts changed in some observations or months (made again), from their (up to date) polygon_month_verdict rows, the pairs the refresh evaluated (pg_temp.evaluated_pair) and their old rows; equals polygon_verdict_between over all dates but for the polygon''s own columns (NULL), which the refresh keeps in place.';
COMMENT ON FUNCTION sclzonal.rebuild_polygon_verdict() IS
    'Decide every verdict again from the definitions; returns how many polygons. `sclzonal refresh --rebuild-verdicts`.';
