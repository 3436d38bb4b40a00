-- One table per scene for the SCL tiles. sclzonal.scene_tile is partitioned by scene_id (LIST);
-- each scene's tiles are in their own table sclzonal.scl_<YYYY_MM_DD>_scene_<id>, which carries
-- PostGIS's raster constraints (AddRasterConstraints: SRID, pixel size, alignment, nodata,
-- extent), so raster_columns describes it and QGIS opens it as one georeferenced raster of one
-- CRS, at once. The parent holds every scene, CRSs mixed: it is what the counting reads.
--
-- A load makes its scene's table empty, with the partition's CHECK, and attaches it (ATTACH takes
-- SHARE UPDATE EXCLUSIVE on scene_tile, which readers and the refresh never wait for; CREATE
-- TABLE ... PARTITION OF would take ACCESS EXCLUSIVE), fills it through the parent, then adds the
-- raster constraints, all in the load's transaction. The functions run as their owner (SECURITY
-- DEFINER): the loader creates nothing itself. A deleted scene leaves an empty table (its rows go
-- with the scene); dropping a partition needs ACCESS EXCLUSIVE on scene_tile, so
-- drop_empty_scene_tile_partitions() drops them later, each only if the lock comes at once.

CREATE OR REPLACE FUNCTION sclzonal.scene_tile_partition_name(scene_id bigint, acquired_on date)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('scl_%s_scene_%s', to_char(acquired_on, 'YYYY_MM_DD'), scene_id)
$$;

COMMENT ON FUNCTION sclzonal.scene_tile_partition_name(bigint, date) IS
    'The name of a scene''s table of SCL tiles in schema sclzonal (a partition of scene_tile).';

-- The partition of each scene, with what QGIS users need to pick one.
CREATE OR REPLACE VIEW sclzonal.scene_tile_partition AS
SELECT s.id AS scene_id,
       s.acquired_on,
       c.relname::text AS table_name,
       s.srid,
       s.tile_id
FROM pg_catalog.pg_inherits AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
JOIN sclzonal.scene AS s
  ON s.id = substring(c.relname FROM '_scene_([0-9]+)$')::bigint
WHERE i.inhparent = 'sclzonal.scene_tile'::regclass
  AND c.relnamespace = 'sclzonal'::regnamespace;

COMMENT ON VIEW sclzonal.scene_tile_partition IS
    'Each scene''s own table of SCL tiles (a partition of scene_tile with raster constraints), '
    'to open in QGIS as one raster.';

CREATE OR REPLACE FUNCTION sclzonal.add_scene_tile_partition(scene bigint)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    table_name text;
    acquired date;
    reader text;
BEGIN
    SELECT s.acquired_on INTO acquired FROM sclzonal.scene AS s WHERE s.id = scene;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sclzonal: there is no scene %', scene;
    END IF;
    table_name := sclzonal.scene_tile_partition_name(scene, acquired);
    EXECUTE format('CREATE TABLE sclzonal.%I (LIKE sclzonal.scene_tile INCLUDING DEFAULTS '
                   'INCLUDING STORAGE INCLUDING COMPRESSION, '
                   'CONSTRAINT %I CHECK (scene_id IS NOT NULL AND scene_id = %s))',
                   table_name, table_name || '_scene_id_check', scene);
    EXECUTE format('ALTER TABLE sclzonal.scene_tile ATTACH PARTITION sclzonal.%I FOR VALUES IN (%s)',
                   table_name, scene);
    -- Readers see what the QGIS project shows; the loader reads all tables by default privilege.
    FOR reader IN
        SELECT r.role_name FROM sclzonal.database_role AS r
        JOIN pg_catalog.pg_roles AS pr ON pr.rolname = r.role_name
        WHERE r.purpose = 'reader'
    LOOP
        EXECUTE format('GRANT SELECT ON sclzonal.%I TO %I', table_name, reader);
    END LOOP;
    RETURN table_name;
END
$$;

COMMENT ON FUNCTION sclzonal.add_scene_tile_partition(bigint) IS
    'Make and attach the empty table of a scene''s SCL tiles; the load fills it through '
    'scene_tile, then calls finish_scene_tile_partition.';

CREATE OR REPLACE FUNCTION sclzonal.finish_scene_tile_partition(scene bigint)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part record;
    postgis_schema name;
BEGIN
    SELECT p.table_name, p.acquired_on, p.srid, p.tile_id INTO part
    FROM sclzonal.scene_tile_partition AS p WHERE p.scene_id = scene;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sclzonal: scene % has no table of tiles', scene;
    END IF;
    SELECT e.extnamespace::regnamespace::name INTO postgis_schema
    FROM pg_catalog.pg_extension AS e WHERE e.extname = 'postgis_raster';
    -- AddRasterConstraints runs PostGIS's functions unqualified: for this call only (the
    -- function's own SET restores the path when it returns).
    PERFORM pg_catalog.set_config('search_path', format('pg_catalog, %I, pg_temp', postgis_schema),
                                  true);
    -- Every constraint QGIS reads from raster_columns; regular_blocking and the block size hold
    -- only when the scene's size is a multiple of the tile size (edge tiles are smaller), and
    -- AddRasterConstraints leaves out, with a notice, a constraint the tiles do not meet.
    EXECUTE format('SELECT %I.AddRasterConstraints(%L, %L, %L, '
                   'srid => true, scale_x => true, scale_y => true, blocksize_x => true, '
                   'blocksize_y => true, same_alignment => true, regular_blocking => false, '
                   'num_bands => true, pixel_types => true, nodata_values => true, '
                   'out_db => true, extent => true)',
                   postgis_schema, 'sclzonal', part.table_name, 'rast');
    EXECUTE format('COMMENT ON TABLE sclzonal.%I IS %L', part.table_name,
                   format('SCL of the scene acquired on %s%s (scene %s, EPSG:%s)', part.acquired_on,
                          coalesce(', tile ' || part.tile_id, ''), scene, part.srid));
END
$$;

COMMENT ON FUNCTION sclzonal.finish_scene_tile_partition(bigint) IS
    'Add the raster constraints to a filled table of a scene''s SCL tiles.';

CREATE OR REPLACE FUNCTION sclzonal.drop_empty_scene_tile_partitions()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '100ms'
AS $$
DECLARE
    orphan record;
    dropped integer := 0;
BEGIN
    FOR orphan IN
        SELECT c.relname
        FROM pg_catalog.pg_inherits AS i
        JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'sclzonal.scene_tile'::regclass
          AND NOT EXISTS (SELECT 1 FROM sclzonal.scene AS s
                          WHERE s.id = substring(c.relname FROM '_scene_([0-9]+)$')::bigint)
    LOOP
        BEGIN
            EXECUTE format('DROP TABLE sclzonal.%I', orphan.relname);
            dropped := dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            NULL;  -- a reader holds scene_tile: the next load or refresh tries again
        END;
    END LOOP;
    RETURN dropped;
END
$$;

COMMENT ON FUNCTION sclzonal.drop_empty_scene_tile_partitions() IS
    'Drop the tables of tiles whose scene was deleted, each only if scene_tile can be locked '
    'within 100 ms; returns how many were dropped.';
