-- Verdicts from the rules in sclzonal.verdict_rule.
--
-- Per (polygon, scene): a rule is evaluated when the scene is clear enough for it
-- (clear pixels / all pixels >= min_clear_share); it holds when its classes make at least
-- min_share of the clear pixels. The scene's verdict is the label of the holding rule with the
-- lowest priority value; 'other' when the scene was clear enough for a rule but none held;
-- 'not_clear' when it was clear enough for none.
CREATE OR REPLACE VIEW sclzonal.scene_verdict AS
WITH rules AS MATERIALIZED (
    SELECT r.id, r.label, r.priority, r.min_share, r.min_clear_share,
           sclzonal.class_weights(r.classes) AS weights
    FROM sclzonal.verdict_rule AS r
    WHERE r.enabled
), weights AS MATERIALIZED (
    SELECT * FROM sclzonal.class_weights_in_use
), pairs AS (
    -- zonal_class_summary's numbers, from counted_pair directly: the rules need the pair's row
    SELECT cp AS pair,
           cp.polygon_id,
           cp.scene_id,
           sclzonal.pixels_of(cp, w.every_class) AS total_pixels,
           sclzonal.pixels_of(cp, w.clear) AS clear_pixels,
           sclzonal.pixels_of(cp, w.vegetation) AS vegetation_pixels,
           sclzonal.pixels_of(cp, w.clear)::float8
               / nullif(sclzonal.pixels_of(cp, w.every_class), 0) AS clear_share
    FROM sclzonal.counted_pair AS cp
    CROSS JOIN weights AS w
), evaluated AS (
    SELECT s.polygon_id,
           s.scene_id,
           sc.acquired_on,
           s.total_pixels,
           s.clear_pixels,
           s.clear_share,
           s.vegetation_pixels::float8 / nullif(s.clear_pixels, 0) AS vegetation_share,
           holding.rule_id,
           holding.label,
           holding.rule_share,
           s.clear_pixels > 0
               AND s.clear_share >= (SELECT min(min_clear_share) FROM rules) AS clear_for_any_rule
    FROM pairs AS s
    JOIN sclzonal.scene AS sc ON sc.id = s.scene_id
    LEFT JOIN LATERAL (
        SELECT r.id AS rule_id, r.label, share.value AS rule_share
        FROM rules AS r
        CROSS JOIN LATERAL (
            SELECT sclzonal.pixels_of(s.pair, r.weights)::float8 / nullif(s.clear_pixels, 0) AS value
        ) AS share
        WHERE s.clear_pixels > 0
          AND s.clear_share >= r.min_clear_share
          AND share.value >= r.min_share
        ORDER BY r.priority, r.id
        LIMIT 1
    ) AS holding ON true
    WHERE s.total_pixels > 0
)
SELECT polygon_id,
       scene_id,
       acquired_on,
       CASE
           WHEN rule_id IS NOT NULL THEN label
           WHEN clear_for_any_rule THEN 'other'
           ELSE 'not_clear'
       END AS verdict,
       rule_id,
       rule_share,
       total_pixels,
       clear_pixels,
       clear_share,
       vegetation_share
FROM evaluated;

COMMENT ON VIEW sclzonal.scene_verdict IS
    'Verdict per (polygon, scene) with at least one pixel: a rule label, other, or not_clear.';

-- One row per polygon: the verdict of its most recent scene that is not 'not_clear';
-- 'no_clear_observation' when it has pixels but no such scene; 'no_pixels' when no scene has a
-- pixel centre inside it.
CREATE OR REPLACE VIEW sclzonal.polygon_verdict_view AS
WITH scene_verdicts AS MATERIALIZED (
    SELECT * FROM sclzonal.scene_verdict
), best AS (
    SELECT DISTINCT ON (sv.polygon_id) sv.*
    FROM scene_verdicts AS sv
    WHERE sv.verdict <> 'not_clear'
    ORDER BY sv.polygon_id, sv.acquired_on DESC, sv.scene_id DESC
), observed AS (
    SELECT sv.polygon_id,
           count(*) AS observed_scenes,
           count(*) FILTER (WHERE sv.verdict <> 'not_clear') AS clear_scenes,
           max(sv.acquired_on) AS last_observed_on
    FROM scene_verdicts AS sv
    GROUP BY sv.polygon_id
)
SELECT p.id AS polygon_id,
       p.source,
       p.source_fid,
       p.name,
       CASE
           WHEN b.polygon_id IS NOT NULL THEN b.verdict
           WHEN o.polygon_id IS NOT NULL THEN 'no_clear_observation'
           ELSE 'no_pixels'
       END AS verdict,
       b.acquired_on,
       b.scene_id,
       b.rule_share,
       b.clear_share,
       b.vegetation_share,
       b.total_pixels AS pixels,
       b.clear_pixels,
       coalesce(o.observed_scenes, 0)::integer AS observed_scenes,
       coalesce(o.clear_scenes, 0)::integer AS clear_scenes,
       o.last_observed_on,
       p.geom
FROM sclzonal.polygon AS p
LEFT JOIN best AS b ON b.polygon_id = p.id
LEFT JOIN observed AS o ON o.polygon_id = p.id;

COMMENT ON VIEW sclzonal.polygon_verdict_view IS
    'Live definition of the materialized view sclzonal.polygon_verdict.';

-- CREATE MATERIALIZED VIEW IF NOT EXISTS keeps an existing view as it is: when its columns are
-- no longer those of polygon_verdict_view, drop it here so that it is made again below.
DO $$
BEGIN
    IF pg_catalog.to_regclass('sclzonal.polygon_verdict') IS NOT NULL AND (
        SELECT array_agg(format('%s %s', attname, atttypid::regtype) ORDER BY attnum)
        FROM pg_catalog.pg_attribute
        WHERE attrelid = pg_catalog.to_regclass('sclzonal.polygon_verdict') AND attnum > 0 AND NOT attisdropped
    ) IS DISTINCT FROM (
        SELECT array_agg(format('%s %s', attname, atttypid::regtype) ORDER BY attnum)
        FROM pg_catalog.pg_attribute
        WHERE attrelid = pg_catalog.to_regclass('sclzonal.polygon_verdict_view') AND attnum > 0 AND NOT attisdropped
    ) THEN
        DROP MATERIALIZED VIEW sclzonal.polygon_verdict;
    END IF;
END
$$;

CREATE MATERIALIZED VIEW IF NOT EXISTS sclzonal.polygon_verdict AS
SELECT * FROM sclzonal.polygon_verdict_view;

CREATE UNIQUE INDEX IF NOT EXISTS polygon_verdict_polygon_id_key
    ON sclzonal.polygon_verdict (polygon_id);
CREATE INDEX IF NOT EXISTS polygon_verdict_geom_idx
    ON sclzonal.polygon_verdict USING gist (geom);
CREATE INDEX IF NOT EXISTS polygon_verdict_verdict_idx
    ON sclzonal.polygon_verdict (verdict);

COMMENT ON MATERIALIZED VIEW sclzonal.polygon_verdict IS
    'One row per polygon: verdict, the scene date and shares behind it. Refreshed by `sclzonal refresh`.';
