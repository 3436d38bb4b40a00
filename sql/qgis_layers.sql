-- Layers for QGIS that the other views lack.
--
-- scene_verdict_layer: sclzonal.scene_verdict (one row per polygon and scene, no geometry) with
-- the polygon's geometry, so QGIS can draw the verdict of every scene and step through the dates
-- with the Temporal Controller (field acquired_on). Its key `id` is stable across refreshes:
-- polygon_id * 1000000 + scene_id (unique while scene ids stay below one million).
-- pixel_shares[k + 1]: the share of class k in the pair's counted pixels (every class, 0 to 11,
-- clouds and no data too), for the class shares over time in a polygon's QGIS form.
CREATE OR REPLACE VIEW sclzonal.scene_verdict_layer AS
SELECT sv.polygon_id * 1000000 + sv.scene_id AS id,
       sv.polygon_id,
       sv.scene_id,
       p.source,
       p.source_fid,
       p.name,
       sv.acquired_on,
       sv.verdict,
       sv.rule_id,
       sv.rule_share,
       sv.clear_share,
       sv.vegetation_share,
       sv.total_pixels AS pixels,
       sv.clear_pixels,
       sv.expected_pixels,
       sv.observed_pixels,
       sv.coverage,
       sv.is_observation,
       p.geom,
       ARRAY(SELECT c.pixels::float8 / nullif(sv.total_pixels, 0)
             FROM unnest(sv.class_pixels) WITH ORDINALITY AS c(pixels, position)
             ORDER BY c.position) AS pixel_shares
FROM sclzonal.scene_verdict AS sv
JOIN sclzonal.polygon AS p ON p.id = sv.polygon_id;

COMMENT ON VIEW sclzonal.scene_verdict_layer IS
    'sclzonal.scene_verdict with the polygon geometry, for QGIS; id = polygon_id * 1000000 + scene_id; pixel_shares[k + 1] = share of class k in the counted pixels.';
