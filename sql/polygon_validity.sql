-- Polygon geometry stays valid whoever writes it (polygons load, SQL, QGIS).
--
-- The rule of `sclzonal polygons load`: a valid geometry is kept as it is; an invalid one is
-- repaired with ST_MakeValid's structure method (outlines united, holes subtracted: overlapping
-- parts of a multipolygon count once, where the default linework method would make their
-- overlap a hole) and its polygon parts are kept (ST_CollectionExtract(..., 3)), as a
-- MultiPolygon. A geometry with no area left once repaired (a line, a point, a ring folded
-- onto itself) is refused with the polygon's id: the load skips such features and reports them;
-- an INSERT or UPDATE from SQL fails with this message and changes nothing.
--
-- Without it an UPDATE could store, say, two overlapping squares as one MultiPolygon: the
-- counting (even-odd) would then take the overlap for a hole and the definition view would
-- fail with a GEOS TopologyException. The trigger is named so that it fires before
-- polygon_geometry_changed (triggers fire in name order), which then compares the repaired
-- geometry with the old one.
-- The rule itself, which `polygons load` also applies (ingest/polygons.py): NULL stays NULL.
CREATE OR REPLACE FUNCTION sclzonal.polygon_made_valid(geom geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN geom IS NULL THEN NULL
            WHEN ST_IsValid(geom) THEN ST_Multi(geom)
            ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(geom, 'method=structure'), 3)) END
$$;

CREATE OR REPLACE FUNCTION sclzonal.make_polygon_geometry_valid() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    repaired geometry;
BEGIN
    IF NEW.geom IS NULL OR (ST_IsValid(NEW.geom) AND NOT ST_IsEmpty(NEW.geom)) THEN
        RETURN NEW;
    END IF;
    repaired := sclzonal.polygon_made_valid(NEW.geom);
    IF repaired IS NULL OR ST_IsEmpty(repaired) OR ST_Area(repaired) = 0 THEN
        RAISE EXCEPTION 'polygon % (source %, source_fid %): its geometry has no area once made valid (%); not stored',
                NEW.id, quote_literal(NEW.source), quote_literal(NEW.source_fid),
                ST_IsValidReason(NEW.geom)
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.geom := repaired;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS polygon_geom_made_valid ON sclzonal.polygon;
CREATE TRIGGER polygon_geom_made_valid
    BEFORE INSERT OR UPDATE OF geom ON sclzonal.polygon
    FOR EACH ROW
    EXECUTE FUNCTION sclzonal.make_polygon_geometry_valid();
