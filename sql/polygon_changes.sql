-- When a polygon's geometry changes, its stored class counts are stale: forget them, so the
-- next refresh counts the polygon again on every scene.
CREATE OR REPLACE FUNCTION sclzonal.forget_counts_of_changed_polygon() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sclzonal.class_count WHERE polygon_id = NEW.id;
    DELETE FROM sclzonal.counted_pair WHERE polygon_id = NEW.id;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS polygon_geometry_changed ON sclzonal.polygon;
CREATE TRIGGER polygon_geometry_changed
    AFTER UPDATE OF geom ON sclzonal.polygon
    FOR EACH ROW
    WHEN (ST_AsBinary(OLD.geom) IS DISTINCT FROM ST_AsBinary(NEW.geom))
    EXECUTE FUNCTION sclzonal.forget_counts_of_changed_polygon();
