-- Verdicts from the rules in sclzonal.verdict_rule.
--
-- Per (polygon, scene): a rule is evaluated when the scene is clear enough for it
-- (clear pixels / all pixels >= min_clear_share); it holds when its classes make at least
-- min_share of the clear pixels. The scene's verdict is the label of the holding rule with the
-- lowest priority value; 'other' when the scene was clear enough for a rule but none held;
-- 'not_clear' when it was clear enough for none.
CREATE OR REPLACE VIEW sclzonal.scene_verdict AS
WITH rules AS MATERIALIZED (
    -- weights[k + 1] = 1 when class k is one of the rule's classes
    SELECT r.id, r.label, r.priority, r.min_share, r.min_clear_share,
           ARRAY(SELECT (k = ANY (r.classes))::integer FROM generate_series(0, 11) AS k
                 ORDER BY k) AS weights
    FROM sclzonal.verdict_rule AS r
    WHERE r.enabled
), evaluated AS (
    SELECT s.polygon_id,
           s.scene_id,
           s.acquired_on,
           s.total_pixels,
           s.clear_pixels,
           s.clear_share,
           s.vegetation_share,
           holding.rule_id,
           holding.label,
           holding.rule_share,
           s.clear_pixels > 0
               AND s.clear_share >= (SELECT min(min_clear_share) FROM rules) AS clear_for_any_rule
    FROM sclzonal.zonal_class_summary AS s
    LEFT JOIN LATERAL (
        SELECT r.id AS rule_id, r.label, share.value AS rule_share
        FROM rules AS r
        CROSS JOIN LATERAL (
            SELECT (s.class_0 * r.weights[1] +
                    s.class_1 * r.weights[2] +
                    s.class_2 * r.weights[3] +
                    s.class_3 * r.weights[4] +
                    s.class_4 * r.weights[5] +
                    s.class_5 * r.weights[6] +
                    s.class_6 * r.weights[7] +
                    s.class_7 * r.weights[8] +
                    s.class_8 * r.weights[9] +
                    s.class_9 * r.weights[10] +
                    s.class_10 * r.weights[11] +
                    s.class_11 * r.weights[12])::float8
                   / nullif(s.clear_pixels, 0) AS value
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
