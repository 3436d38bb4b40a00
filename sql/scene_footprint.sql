-- A scene's footprint in EPSG:4326: where `refresh` looks for polygons over it.
--
-- The raster's outline, its edges cut to `max_edge` (its CRS's units) and transformed, is right
-- for most scenes. Two cases are not:
-- - across the antimeridian (UTM zones 1 and 60, for example), the outline's longitudes jump
--   from 180 to -180, and as one polygon it would cover the rest of the world instead: the
--   outline is taken in longitudes 0..360 and cut at 180 into two parts, one on each side;
-- - around a pole (a polar stereographic scene over it), no outline in longitude and latitude
--   encloses the pole: the footprint is every longitude from the outline's nearest latitude to
--   the pole.
-- Hence a MultiPolygon. Polygons are matched with &&, and with ST_Intersects too when the
-- footprint has two parts (its bounding box then spans every longitude).
-- Whether a pole (latitude 90 or -90) lies inside an outline given in some CRS; false when the
-- pole has no place in that CRS (PROJ refuses it).
CREATE OR REPLACE FUNCTION sclzonal.holds_pole(outline geometry, pole_latitude double precision)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN ST_Intersects(outline, ST_Transform(ST_SetSRID(ST_MakePoint(0, pole_latitude), 4326),
                                               ST_SRID(outline)));
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.scene_footprint(outline geometry, max_edge double precision)
RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    projected geometry := ST_Transform(ST_Segmentize(outline, max_edge), 4326);
BEGIN
    IF sclzonal.holds_pole(outline, -90) THEN
        RETURN ST_Multi(ST_MakeEnvelope(-180, -90, 180, ST_YMax(projected), 4326));
    ELSIF sclzonal.holds_pole(outline, 90) THEN
        RETURN ST_Multi(ST_MakeEnvelope(-180, ST_YMin(projected), 180, 90, 4326));
    ELSIF ST_XMax(projected) - ST_XMin(projected) > 180 THEN
        RETURN ST_Multi(ST_CollectionExtract(
            ST_WrapX(ST_ShiftLongitude(projected), 180, -360), 3));
    END IF;
    RETURN ST_Multi(projected);
END;
$$;
