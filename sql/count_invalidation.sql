-- Stored counts (counted_pair) and pixel maps (pixel_map) are caches that `sclzonal refresh`
-- writes. They carry no foreign keys (each cost about 40 ms per 10,000 rows written), so these
-- triggers keep them consistent: a polygon whose geometry changes, or that is deleted, loses
-- its counts and maps, and so does a deleted scene; the next refresh counts again.

-- A new geometry takes a new change number, so `refresh` looks at every scene again for it, and
-- loses the counts and pixel maps made from the old one. (The geometry is compared once, here.)
CREATE OR REPLACE FUNCTION sclzonal.forget_counts_of_changed_polygon() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_seq := nextval('sclzonal.polygon_change_seq');
    DELETE FROM sclzonal.counted_pair WHERE polygon_id = NEW.id;
    DELETE FROM sclzonal.pixel_map WHERE polygon_id = NEW.id;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS polygon_geometry_changed ON sclzonal.polygon;
CREATE TRIGGER polygon_geometry_changed
    BEFORE UPDATE OF geom ON sclzonal.polygon
    FOR EACH ROW
    WHEN (ST_AsBinary(OLD.geom) IS DISTINCT FROM ST_AsBinary(NEW.geom))
    EXECUTE FUNCTION sclzonal.forget_counts_of_changed_polygon();

CREATE OR REPLACE FUNCTION sclzonal.forget_counts_of_deleted_polygons() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sclzonal.counted_pair AS cp USING deleted WHERE cp.polygon_id = deleted.id;
    DELETE FROM sclzonal.pixel_map AS pm USING deleted WHERE pm.polygon_id = deleted.id;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS polygon_deleted ON sclzonal.polygon;
CREATE TRIGGER polygon_deleted
    AFTER DELETE ON sclzonal.polygon
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT
    EXECUTE FUNCTION sclzonal.forget_counts_of_deleted_polygons();

CREATE OR REPLACE FUNCTION sclzonal.forget_counts_of_deleted_scenes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sclzonal.counted_pair AS cp USING deleted WHERE cp.scene_id = deleted.id;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS scene_deleted ON sclzonal.scene;
CREATE TRIGGER scene_deleted
    AFTER DELETE ON sclzonal.scene
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT
    EXECUTE FUNCTION sclzonal.forget_counts_of_deleted_scenes();

-- TRUNCATE fires no delete triggers: truncating polygons or scenes empties the caches too.
CREATE OR REPLACE FUNCTION sclzonal.forget_all_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE sclzonal.counted_pair;
    IF TG_TABLE_NAME = 'polygon' THEN
        TRUNCATE sclzonal.pixel_map;
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS polygon_truncated ON sclzonal.polygon;
CREATE TRIGGER polygon_truncated AFTER TRUNCATE ON sclzonal.polygon
    FOR EACH STATEMENT EXECUTE FUNCTION sclzonal.forget_all_counts();
DROP TRIGGER IF EXISTS scene_truncated ON sclzonal.scene;
CREATE TRIGGER scene_truncated AFTER TRUNCATE ON sclzonal.scene
    FOR EACH STATEMENT EXECUTE FUNCTION sclzonal.forget_all_counts();
