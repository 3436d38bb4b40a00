-- Where each scene came from, in one row per scene.
--
-- A GeoTIFF: its file name and SHA-256. A Sen2Cor product: the product id, MGRS tile and
-- processing baseline (from the product's MTD_MSIL2A.xml, or its name), and the SCL image's
-- file name and SHA-256. A Sentinel Hub or Copernicus Data Space fetch (any other source: the
-- endpoint's name): the Processing API request (scene.reference: endpoint, collection, band,
-- date, CRS, resolution, bounding box) and the SHA-256 of the merged response.
CREATE OR REPLACE VIEW sclzonal.scene_origin AS
WITH named AS (
    SELECT s.*,
           s.source IN ('geotiff', 'sen2cor') AS from_file,
           regexp_replace(s.reference, '^.*[/\\!]', '') AS base_name
    FROM sclzonal.scene AS s
)
SELECT n.id AS scene_id,
       n.acquired_on,
       n.source,
       CASE WHEN n.from_file THEN n.base_name END AS file_name,
       n.checksum AS sha256,
       CASE WHEN NOT n.from_file THEN n.reference END AS request,
       n.product_id,
       n.tile_id,
       n.processing_baseline,
       CASE
           WHEN n.source = 'sen2cor' THEN format(
               'Sen2Cor product %s (tile %s, processing baseline %s), SCL image %s, SHA-256 %s',
               coalesce(n.product_id, 'unknown'), coalesce(n.tile_id, 'unknown'),
               coalesce(n.processing_baseline, 'unknown'), n.base_name, n.checksum)
           WHEN n.from_file THEN format('file %s, SHA-256 %s', n.base_name, n.checksum)
           ELSE format('%s request: %s', n.source, n.reference)
       END AS description
FROM named AS n;

COMMENT ON VIEW sclzonal.scene_origin IS
    'Per scene: source, file name and SHA-256, Sentinel Hub request, Sen2Cor product id, tile and processing baseline, and a one-line description.';
