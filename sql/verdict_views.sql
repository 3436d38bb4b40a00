-- Verdicts from the rules in sclzonal.verdict_rule.
--
-- Per (polygon, scene): a rule is evaluated when the scene is clear enough for it
-- (clear pixels / all pixels >= min_clear_share); it holds when its classes make at least
-- min_share of the clear pixels. The scene's verdict is the label of the holding rule with the
-- lowest priority value; 'other' when the scene was clear enough for a rule but none held;
-- 'not_clear' when it was clear enough for none.
CREATE OR REPLACE VIEW sclzonal.scene_verdict AS
WITH rule_evaluation AS (
    SELECT s.polygon_id,
           s.scene_id,
           s.acquired_on,
           s.total_pixels,
           s.clear_pixels,
           s.clear_share,
           s.vegetation_share,
           r.id AS rule_id,
           r.label,
           r.priority,
           s.clear_pixels > 0 AND s.clear_share >= r.min_clear_share AS clear_enough,
           (SELECT coalesce(sum(s.class_pixels[c + 1]), 0)
              FROM unnest(r.classes) AS c)::float8 / nullif(s.clear_pixels, 0) AS rule_share,
           r.min_share
    FROM sclzonal.zonal_class_summary AS s
    CROSS JOIN sclzonal.verdict_rule AS r
    WHERE s.total_pixels > 0 AND r.enabled
), ranked AS (
    SELECT e.*,
           bool_or(e.clear_enough) OVER pair AS clear_for_any_rule,
           row_number() OVER (
               PARTITION BY e.polygon_id, e.scene_id
               ORDER BY (e.clear_enough AND e.rule_share >= e.min_share) DESC, e.priority, e.rule_id
           ) AS rank
    FROM rule_evaluation AS e
    WINDOW pair AS (PARTITION BY e.polygon_id, e.scene_id)
)
SELECT polygon_id,
       scene_id,
       acquired_on,
       CASE
           WHEN clear_enough AND rule_share >= min_share THEN label
           WHEN clear_for_any_rule THEN 'other'
           ELSE 'not_clear'
       END AS verdict,
       CASE WHEN clear_enough AND rule_share >= min_share THEN rule_id END AS rule_id,
       CASE WHEN clear_enough AND rule_share >= min_share THEN rule_share END AS rule_share,
       total_pixels,
       clear_pixels,
       clear_share,
       vegetation_share
FROM ranked
WHERE rank = 1;

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
