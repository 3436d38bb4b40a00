-- The privileges of the roles registered in sclzonal.database_role (by `sclzonal db roles` and
-- `sclzonal qgis role`; creating roles needs CREATEROLE, so it is not done here). Re-runnable:
-- every run sets exactly these privileges, so a migration that adds or re-creates objects
-- applies this file again. Registered names that are no longer roles are passed over.
--
--   owner   owns schema sclzonal and everything in it: runs `sclzonal db upgrade`, changes the
--           configuration (verdict_rule, scl_class), writes QGIS styles and projects.
--   loader  reads everything in sclzonal; writes the data tables (polygons, scenes and tiles,
--           and the caches `refresh` fills); refreshes polygon_verdict only through
--           sclzonal.refresh_polygon_verdict() and rebuild_polygon_verdict(); creates, alters
--           and drops nothing.
--   reader  (QGIS) reads what the QGIS project shows, and nothing else.
--
-- Statements the role running this file may not issue (it neither owns the object nor is a
-- superuser) become warnings, so a migration never fails on them: `sclzonal db roles`, run by
-- an administrator, does them.
DO $roles$
DECLARE
    registered record;
    registry jsonb;
    item record;
    db text := pg_catalog.current_database();
    owner_name text;
    data_tables text[] := ARRAY['polygon', 'scene', 'scene_grid', 'scene_tile', 'counted_pair',
                                'pixel_map', 'uncountable_polygon', 'refresh_lock',
                                'ingest_lock'];
    reader_relations text[] := ARRAY['polygon_verdict', 'scene_verdict_layer',
                                     'polygon_month_verdict', 'polygon', 'scene',
                                     'scl_class', 'alembic_version'];
    qgis_catalogue text[] := ARRAY['layer_styles', 'qgis_projects', 'spatial_ref_sys',
                                   'geometry_columns', 'raster_columns'];
    name text;
BEGIN
    -- Read whole first: the loop may change the owner of database_role itself.
    SELECT coalesce(jsonb_agg(jsonb_build_object('role_name', r.role_name, 'purpose', r.purpose,
                                                 'oid', pr.oid)
                              ORDER BY r.purpose <> 'owner', r.role_name), '[]')
    INTO registry
    FROM sclzonal.database_role AS r
    JOIN pg_catalog.pg_roles AS pr ON pr.rolname = r.role_name;
    FOR registered IN
        SELECT * FROM jsonb_to_recordset(registry) AS x(role_name text, purpose text, oid oid)
    LOOP
        BEGIN
            IF NOT pg_catalog.has_database_privilege(registered.role_name, db, 'CONNECT') THEN
                EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', db, registered.role_name);
            END IF;
            -- The verdict refresh (as the owner) and polygon loading use temporary tables.
            IF registered.purpose IN ('owner', 'loader') AND NOT
                    pg_catalog.has_database_privilege(registered.role_name, db, 'TEMPORARY') THEN
                EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', db, registered.role_name);
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'sclzonal: cannot grant CONNECT, TEMPORARY on database % to %: %',
                db, registered.role_name, SQLERRM;
        END;

        IF registered.purpose = 'owner' THEN
            owner_name := registered.role_name;
            BEGIN
                IF (SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'sclzonal')
                        <> registered.oid THEN
                    EXECUTE format('ALTER SCHEMA sclzonal OWNER TO %I', registered.role_name);
                END IF;
                -- Sequences of identity and serial columns follow their tables.
                FOR item IN
                    SELECT c.relname,
                           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                          WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
                    FROM pg_catalog.pg_class AS c
                    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'sclzonal' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                      AND c.relowner <> registered.oid
                      AND NOT (c.relkind = 'S' AND EXISTS (
                          SELECT 1 FROM pg_catalog.pg_depend AS d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('a', 'i')))
                LOOP
                    EXECUTE format('ALTER %s sclzonal.%I OWNER TO %I', item.kind, item.relname,
                                   registered.role_name);
                END LOOP;
                FOR item IN
                    SELECT p.oid::regprocedure AS routine
                    FROM pg_catalog.pg_proc AS p
                    JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'sclzonal' AND p.prokind IN ('f', 'p')
                      AND p.proowner <> registered.oid
                LOOP
                    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.routine,
                                   registered.role_name);
                END LOOP;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'sclzonal: cannot give the objects of schema sclzonal to %: %; '
                    'run `sclzonal db roles` as a superuser', registered.role_name, SQLERRM;
            END;

        ELSIF registered.purpose = 'loader' THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA sclzonal FROM %I', registered.role_name);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA sclzonal FROM %I',
                           registered.role_name);
            EXECUTE format('REVOKE CREATE ON SCHEMA sclzonal FROM %I', registered.role_name);
            EXECUTE format('GRANT USAGE ON SCHEMA sclzonal TO %I', registered.role_name);
            EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA sclzonal TO %I', registered.role_name);
            FOREACH name IN ARRAY data_tables LOOP
                IF pg_catalog.to_regclass(format('sclzonal.%I', name)) IS NOT NULL THEN
                    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON sclzonal.%I TO %I', name,
                                   registered.role_name);
                END IF;
            END LOOP;
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA sclzonal TO %I',
                           registered.role_name);
            FOREACH name IN ARRAY ARRAY['refresh_polygon_verdict', 'rebuild_polygon_verdict',
                                        'drop_empty_scene_tile_partitions'] LOOP
                IF pg_catalog.to_regprocedure(format('sclzonal.%I()', name)) IS NOT NULL THEN
                    EXECUTE format('GRANT EXECUTE ON FUNCTION sclzonal.%I() TO %I', name,
                                   registered.role_name);
                END IF;
            END LOOP;
            -- A scene load makes and attaches its table of tiles through these two.
            FOREACH name IN ARRAY ARRAY['add_scene_tile_partition',
                                        'finish_scene_tile_partition'] LOOP
                IF pg_catalog.to_regprocedure(format('sclzonal.%I(bigint)', name)) IS NOT NULL THEN
                    EXECUTE format('GRANT EXECUTE ON FUNCTION sclzonal.%I(bigint) TO %I', name,
                                   registered.role_name);
                END IF;
            END LOOP;
            -- Tables and sequences the owner adds later are readable at once; writes are
            -- granted table by table above, when a migration applies this file again.
            IF owner_name IS NOT NULL THEN
                BEGIN
                    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA sclzonal '
                                   'GRANT SELECT ON TABLES TO %I', owner_name, registered.role_name);
                    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA sclzonal '
                                   'GRANT USAGE, SELECT ON SEQUENCES TO %I', owner_name,
                                   registered.role_name);
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE WARNING 'sclzonal: cannot set default privileges of %: %', owner_name,
                        SQLERRM;
                END;
            END IF;

        ELSE  -- reader
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA sclzonal FROM %I', registered.role_name);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA sclzonal FROM %I',
                           registered.role_name);
            EXECUTE format('REVOKE CREATE ON SCHEMA sclzonal FROM %I', registered.role_name);
            EXECUTE format('GRANT USAGE ON SCHEMA sclzonal TO %I', registered.role_name);
            FOREACH name IN ARRAY reader_relations LOOP
                IF pg_catalog.to_regclass(format('sclzonal.%I', name)) IS NOT NULL THEN
                    EXECUTE format('GRANT SELECT ON sclzonal.%I TO %I', name, registered.role_name);
                END IF;
            END LOOP;
            -- Each scene's own table of tiles (a partition of scene_tile), as QGIS opens it; not
            -- scene_tile itself, which holds all scenes, CRSs mixed, and QGIS cannot draw.
            IF pg_catalog.to_regclass('sclzonal.scene_tile_partition') IS NOT NULL THEN
                FOR item IN SELECT p.table_name FROM sclzonal.scene_tile_partition AS p LOOP
                    EXECUTE format('GRANT SELECT ON sclzonal.%I TO %I', item.table_name,
                                   registered.role_name);
                END LOOP;
                EXECUTE format('GRANT SELECT ON sclzonal.scene_tile_partition TO %I',
                               registered.role_name);
            END IF;
            -- QGIS reads its styles and projects, and PostGIS's catalogue, from schema public.
            BEGIN
                IF NOT pg_catalog.has_schema_privilege(registered.role_name, 'public', 'USAGE') THEN
                    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', registered.role_name);
                END IF;
                FOREACH name IN ARRAY qgis_catalogue LOOP
                    IF pg_catalog.to_regclass(format('public.%I', name)) IS NOT NULL AND NOT
                            pg_catalog.has_table_privilege(registered.role_name,
                                                           format('public.%I', name), 'SELECT') THEN
                        EXECUTE format('GRANT SELECT ON public.%I TO %I', name, registered.role_name);
                    END IF;
                END LOOP;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'sclzonal: cannot grant % SELECT on the QGIS tables in public: %',
                    registered.role_name, SQLERRM;
            END;
        END IF;
    END LOOP;
END
$roles$;
