-- Verdicts from the rules in sclzonal.verdict_rule.
--
-- For each counted (polygon, scene) pair with at least one pixel:
--   coverage     = observed pixels (class not 0) / expected pixels (sclzonal.coverage_of);
--   clear_share  = clear pixels / pixels;
--   rule_share   = pixels of the rule's classes / clear pixels.
-- Each enabled rule has an outcome on the pair (sclzonal.rule_outcome): 'partially_observed'
-- when coverage < min_coverage, else 'not_clear' when there is no clear pixel or
-- clear_share < min_clear_share, else 'held' when rule_share >= min_share, else
-- 'share_below_threshold'. The pair's verdict is the label of the holding rule with the lowest
-- priority value (then lowest id); 'other' when some rule was evaluated (held or share below
-- threshold) but none held; 'not_clear' when the pair covered enough for some rule but was clear
-- enough for none; 'partially_observed' when it covered too little for every rule.
--
-- held_rules and evaluated_rules list labels in priority order. The holding rule is found by
-- its rank, with what the verdict takes from it, in the pair's one pass over the rules: the
-- least of the held rules' arrays [rank, id, revision, share] (arrays compare element by
-- element, and ranks differ), its label by its rank from the rules' labels; so no per-pair sort
-- and no join back to the rules (that join, a hash built for each pair, cost a quarter of this
-- view's time: 6.0 s against 4.4 s for 656,000 pairs; revision 0013).
--
-- One observation per acquisition date: when several scenes of one date hold pixels of a
-- polygon (overlapping tiles, two UTM zones, several fetch areas), the polygon's observation
-- of that date is the pair with the highest coverage, then the most clear pixels, then the
-- lowest scene id (is_observation); the other pairs of that date are not used for it.

-- The outcome of one rule on one pair (see above). A NULL coverage (pairs counted before
-- revision 0007, until the next refresh) is judged as if the polygon were covered.
CREATE OR REPLACE FUNCTION sclzonal.rule_outcome(coverage double precision, clear_pixels bigint,
                                                 clear_share double precision,
                                                 rule_share double precision,
                                                 min_coverage double precision,
                                                 min_clear_share double precision,
                                                 min_share double precision)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN coverage < min_coverage THEN 'partially_observed'
    WHEN clear_pixels = 0 OR clear_share < min_clear_share THEN 'not_clear'
    WHEN rule_share >= min_share THEN 'held'
    ELSE 'share_below_threshold'
END
$$;

-- The rows of scene_verdict, from the pairs of the scenes `scene_ids` only (NULL: every scene).
-- A polygon's observation of a date is chosen among all its pairs of that date, so for a
-- polygon whose pairs of a date all lie in those scenes, its rows of that date are the view's;
-- the refresh passes the scenes that hold every pair of the polygons and dates it reads, and the
-- counts are then read for those scenes only. The polygon and date of a pair are the columns
-- of the observation's window, so a condition on them reaches the counts through the view; one
-- on the scene cannot (it would change which pair is the observation): hence the argument. At
-- 1,000,000 polygons over 30 tiles, a new scene's polygons have pairs in 2 of the 30 scenes of
-- its date, and the refresh read the counts of all 30 for them (1.3 million pairs, to keep
-- 43,000; revision 0014). A plain SQL function, inlined into the query that calls it.
CREATE OR REPLACE FUNCTION sclzonal.scene_verdict_rows(scene_ids bigint[] DEFAULT NULL)
RETURNS TABLE (
    polygon_id bigint,
    scene_id bigint,
    acquired_on date,
    verdict text,
    rule_id integer,
    rule_share double precision,
    total_pixels bigint,
    clear_pixels bigint,
    clear_share double precision,
    vegetation_share double precision,
    expected_pixels integer,
    observed_pixels bigint,
    coverage double precision,
    is_observation boolean,
    rule_revision integer,
    evaluated_rules text[],
    held_rules text[],
    vegetation_pixels bigint,
    class_pixels integer[]
)
LANGUAGE sql STABLE
AS $$
WITH rules AS MATERIALIZED (
    SELECT (row_number() OVER (ORDER BY r.priority, r.id))::integer AS rank,
           r.id, r.label, r.priority, r.revision, r.min_share, r.min_clear_share, r.min_coverage,
           sclzonal.class_weights(r.classes) AS weights
    FROM sclzonal.verdict_rule AS r
    WHERE r.enabled
    ORDER BY rank
), rule_labels AS MATERIALIZED (
    SELECT array_agg(ru.label ORDER BY ru.rank) AS by_rank FROM rules AS ru
), weights AS MATERIALIZED (
    SELECT * FROM sclzonal.class_weights_in_use
), pairs AS (
    SELECT cp AS pair,
           cp.polygon_id,
           cp.scene_id,
           cp.expected_pixels,
           sclzonal.pixels_of(cp, w.every_class) AS total_pixels,
           sclzonal.pixels_of(cp, w.clear) AS clear_pixels,
           sclzonal.pixels_of(cp, w.observed) AS observed_pixels,
           sclzonal.pixels_of(cp, w.vegetation) AS vegetation_pixels
    FROM sclzonal.counted_pair AS cp
    CROSS JOIN weights AS w
), measured AS (
    SELECT p.*,
           sc.acquired_on,
           sclzonal.coverage_of(p.observed_pixels, p.expected_pixels) AS coverage,
           p.clear_pixels::float8 / p.total_pixels AS clear_share
    FROM pairs AS p
    JOIN sclzonal.scene AS sc ON sc.id = p.scene_id
    WHERE p.total_pixels > 0
      -- on the scene's id, not the count's: the counts' statistics may not know a new scene
      -- yet (taken when its id was not there, they give it no rows: 1 row for 35,000, and the
      -- refresh's joins went by nested loop, 50-80 s instead of 1 s); the scenes' know each
      -- id, and each scene's share of the counts
      AND (scene_ids IS NULL OR sc.id = ANY (scene_ids))
), ranked AS (
    SELECT m.*,
           row_number() OVER (PARTITION BY m.polygon_id, m.acquired_on
                              ORDER BY m.coverage DESC NULLS LAST, m.clear_pixels DESC,
                                       m.scene_id) = 1 AS is_observation
    FROM measured AS m
)
SELECT r.polygon_id,
       r.scene_id,
       r.acquired_on,
       CASE
           WHEN e.held IS NOT NULL THEN rl.by_rank[e.held[1]::integer]
           WHEN e.evaluated_rules IS NOT NULL THEN 'other'
           WHEN e.covered_for_a_rule IS FALSE THEN 'partially_observed'
           ELSE 'not_clear'
       END AS verdict,
       e.held[2]::integer AS rule_id,
       e.held[4] AS rule_share,
       r.total_pixels,
       r.clear_pixels,
       r.clear_share,
       r.vegetation_pixels::float8 / nullif(r.clear_pixels, 0) AS vegetation_share,
       r.expected_pixels,
       r.observed_pixels,
       r.coverage,
       r.is_observation,
       e.held[3]::integer AS rule_revision,
       e.evaluated_rules,
       e.held_rules,
       r.vegetation_pixels,
       sclzonal.class_pixels(r.pair) AS class_pixels
FROM ranked AS r
CROSS JOIN rule_labels AS rl
CROSS JOIN LATERAL (
    -- the holding rule: [rank, id, revision, share] of the held rule of lowest rank
    SELECT min(ARRAY[o.rank, o.id, o.revision, o.share]) FILTER (WHERE o.outcome = 'held') AS held,
           array_agg(o.label) FILTER (WHERE o.outcome = 'held') AS held_rules,
           array_agg(o.label) FILTER (WHERE o.outcome IN ('held', 'share_below_threshold'))
               AS evaluated_rules,
           bool_or(o.outcome <> 'partially_observed') AS covered_for_a_rule
    FROM (
        SELECT ru.rank, ru.id, ru.revision, ru.label, s.share,
               sclzonal.rule_outcome(r.coverage, r.clear_pixels, r.clear_share, s.share,
                                     ru.min_coverage, ru.min_clear_share, ru.min_share) AS outcome
        FROM rules AS ru
        CROSS JOIN LATERAL (SELECT sclzonal.pixels_of(r.pair, ru.weights)::float8
                                   / nullif(r.clear_pixels, 0) AS share) AS s
    ) AS o
) AS e
$$;

COMMENT ON FUNCTION sclzonal.scene_verdict_rows(bigint[]) IS
    'scene_verdict from the counts of the given scenes only (NULL: all): the view''s rows for each polygon and date whose pairs all lie in those scenes.';

-- The view is the function's body with every scene, made from the function's text so that the
-- two cannot differ. A view, not a call of the function: a view reads what it names with its
-- owner's rights, and QGIS's reader role may read scene_verdict_layer (on this view) but not the
-- counts, while an inlined function's body is read with the caller's.
DO $$
DECLARE
    body text := (SELECT p.prosrc FROM pg_catalog.pg_proc AS p
                  WHERE p.oid = 'sclzonal.scene_verdict_rows(bigint[])'::pg_catalog.regprocedure);
    scene_condition text := 'AND (scene_ids IS NULL OR sc.id = ANY (scene_ids))';
BEGIN
    IF pg_catalog.strpos(body, scene_condition) = 0 THEN
        RAISE EXCEPTION 'sclzonal: scene_verdict_rows no longer holds "%"', scene_condition;
    END IF;
    EXECUTE 'CREATE OR REPLACE VIEW sclzonal.scene_verdict AS '
            || pg_catalog.replace(body, scene_condition, '-- every scene');
END
$$;

COMMENT ON VIEW sclzonal.scene_verdict IS
    'Verdict per (polygon, scene) with at least one pixel: a rule label, other, not_clear or partially_observed; coverage; is_observation marks the pair used for the polygon on its date.';

-- One row per (polygon, acquisition date): the pair chosen for that date.
CREATE OR REPLACE VIEW sclzonal.polygon_observation AS
SELECT sv.*
FROM sclzonal.scene_verdict AS sv
WHERE sv.is_observation;

COMMENT ON VIEW sclzonal.polygon_observation IS
    'One observation per (polygon, acquisition date): the scene_verdict row of the scene with the highest coverage that date.';

-- Every enabled rule's outcome on every pair: why a rule held or did not (`sclzonal explain`).
CREATE OR REPLACE VIEW sclzonal.scene_rule_outcome AS
SELECT sv.polygon_id,
       sv.scene_id,
       sv.acquired_on,
       sv.is_observation,
       r.id AS rule_id,
       r.revision AS rule_revision,
       r.label,
       r.priority,
       share.value AS rule_share,
       sclzonal.rule_outcome(sv.coverage, sv.clear_pixels, sv.clear_share, share.value,
                             r.min_coverage, r.min_clear_share, r.min_share) AS outcome
FROM sclzonal.scene_verdict AS sv
CROSS JOIN sclzonal.verdict_rule AS r
CROSS JOIN LATERAL (
    SELECT (SELECT sum(px)
            FROM unnest(sv.class_pixels) WITH ORDINALITY AS c(px, position)
            WHERE (c.position - 1)::smallint = ANY (r.classes))::float8
           / nullif(sv.clear_pixels, 0) AS value
) AS share
WHERE r.enabled;

COMMENT ON VIEW sclzonal.scene_rule_outcome IS
    'Per (polygon, scene, enabled rule): the rule''s share of the clear pixels and its outcome: held, share_below_threshold, not_clear or partially_observed.';

-- Why a polygon cannot be counted, when a refresh found that its current geometry cannot be put
-- into some grid's CRS (uncountable_polygon): one line per polygon, grid by grid.
CREATE OR REPLACE VIEW sclzonal.polygon_problem AS
SELECT u.polygon_id,
       string_agg(format('grid %s (EPSG:%s): %s', u.grid_id, g.srid, u.reason), '; '
                  ORDER BY u.grid_id) AS problem
FROM sclzonal.uncountable_polygon AS u
JOIN sclzonal.polygon AS up ON up.id = u.polygon_id AND up.changed_seq = u.polygon_version
JOIN sclzonal.scene_grid AS g ON g.id = u.grid_id
GROUP BY u.polygon_id;

COMMENT ON VIEW sclzonal.polygon_problem IS
    'Per polygon that cannot be counted on some grid (its current geometry): which grids and why.';

-- The verdict of each polygon over a period, one row per polygon: 'not_countable' when a
-- refresh could not put the polygon's current geometry into some scene's CRS (`problem` says
-- which grid and why; uncountable_polygon), else the verdict of the latest
-- observation inside [from_date, to_date] on which a rule was evaluated (a rule label or
-- 'other'); else 'partially_observed' when every observation of the period covered too little,
-- 'no_clear_observation' when some covered enough but none was clear enough, 'no_pixels' when
-- no scene of the period holds a pixel centre inside the polygon. rule_held_shares gives, for
-- each rule evaluated in the period, the share of the observations on which it was evaluated
-- where it held. The rule's thresholds and the scene's origin say what the verdict rests on.
-- With polygon_ids, only those polygons (NULL: all): `sclzonal refresh` re-decides the polygons
-- whose inputs changed this way. polygon_verdict is this function over all dates.
CREATE OR REPLACE FUNCTION sclzonal.polygon_verdict_between(from_date date, to_date date,
                                                            polygon_ids bigint[] DEFAULT NULL)
RETURNS TABLE (
    polygon_id bigint,
    source text,
    source_fid text,
    name text,
    verdict text,
    acquired_on date,
    scene_id bigint,
    coverage double precision,
    clear_share double precision,
    rule_share double precision,
    vegetation_share double precision,
    pixels bigint,
    clear_pixels bigint,
    expected_pixels integer,
    observed_pixels bigint,
    observations integer,
    clear_observations integer,
    partial_observations integer,
    first_observed_on date,
    last_observed_on date,
    rule_held_shares jsonb,
    rule_id integer,
    rule_revision integer,
    rule_label text,
    rule_classes smallint[],
    rule_min_share double precision,
    rule_min_clear_share double precision,
    rule_min_coverage double precision,
    evaluated_rules text[],
    scene_source text,
    scene_origin text,
    problem text,
    geom geometry
)
LANGUAGE sql STABLE AS $$
WITH observation AS (
    SELECT o.polygon_id, o.scene_id, o.acquired_on, o.verdict, o.rule_id, o.rule_revision,
           o.rule_share, o.total_pixels, o.clear_pixels, o.clear_share, o.vegetation_share,
           o.expected_pixels, o.observed_pixels, o.coverage, o.evaluated_rules, o.held_rules,
           o.verdict NOT IN ('not_clear', 'partially_observed') AS evaluated
    FROM sclzonal.polygon_observation AS o
    WHERE o.acquired_on BETWEEN from_date AND to_date
      AND (polygon_ids IS NULL OR o.polygon_id = ANY (polygon_ids))
), latest AS (
    SELECT DISTINCT ON (o.polygon_id) o.*
    FROM observation AS o
    WHERE o.evaluated
    ORDER BY o.polygon_id, o.acquired_on DESC
), tally AS (
    SELECT o.polygon_id,
           count(*)::integer AS observations,
           count(*) FILTER (WHERE o.evaluated)::integer AS clear_observations,
           count(*) FILTER (WHERE o.verdict = 'partially_observed')::integer AS partial_observations,
           min(o.acquired_on) AS first_observed_on,
           max(o.acquired_on) AS last_observed_on
    FROM observation AS o
    GROUP BY o.polygon_id
), held AS (
    SELECT h.polygon_id, jsonb_object_agg(h.label, h.held::float8 / h.evaluated) AS shares
    FROM (
        SELECT o.polygon_id, e.label, count(*) AS evaluated,
               count(*) FILTER (WHERE e.label = ANY (o.held_rules)) AS held
        FROM observation AS o
        CROSS JOIN LATERAL unnest(o.evaluated_rules) AS e(label)
        GROUP BY o.polygon_id, e.label
    ) AS h
    GROUP BY h.polygon_id
), uncountable AS (
    SELECT pp.polygon_id, pp.problem
    FROM sclzonal.polygon_problem AS pp
    WHERE polygon_ids IS NULL OR pp.polygon_id = ANY (polygon_ids)
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
LEFT JOIN latest AS l ON l.polygon_id = p.id
LEFT JOIN tally AS t ON t.polygon_id = p.id
LEFT JOIN held AS h ON h.polygon_id = p.id
LEFT JOIN sclzonal.verdict_rule_revision AS rr
       ON rr.rule_id = l.rule_id AND rr.revision = l.rule_revision
LEFT JOIN sclzonal.scene_origin AS so ON so.scene_id = l.scene_id
LEFT JOIN uncountable AS u ON u.polygon_id = p.id
WHERE polygon_ids IS NULL OR p.id = ANY (polygon_ids)
$$;

COMMENT ON FUNCTION sclzonal.polygon_verdict_between(date, date, bigint[]) IS
    'One row per polygon (of polygon_ids; NULL: every polygon): the verdict of its latest evaluated observation between the two dates (inclusive), the counts of observations, the share of observations each rule held on, and what the verdict rests on.';

-- One row per polygon, as of its latest evaluated observation: polygon_verdict_between over
-- every date, with the geometry column typed for QGIS.
CREATE OR REPLACE VIEW sclzonal.polygon_verdict_view AS
SELECT v.polygon_id, v.source, v.source_fid, v.name, v.verdict, v.acquired_on, v.scene_id,
       v.coverage, v.clear_share, v.rule_share, v.vegetation_share, v.pixels, v.clear_pixels,
       v.expected_pixels, v.observed_pixels, v.observations, v.clear_observations,
       v.partial_observations, v.first_observed_on, v.last_observed_on, v.rule_held_shares,
       v.rule_id, v.rule_revision, v.rule_label, v.rule_classes, v.rule_min_share,
       v.rule_min_clear_share, v.rule_min_coverage, v.evaluated_rules, v.scene_source,
       v.scene_origin, v.problem,
       v.geom::geometry(MultiPolygon, 4326) AS geom
FROM sclzonal.polygon_verdict_between('-infinity', 'infinity') AS v;

COMMENT ON VIEW sclzonal.polygon_verdict_view IS
    'Live definition of the table sclzonal.polygon_verdict, which `sclzonal refresh` keeps equal to it.';
