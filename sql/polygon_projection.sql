-- How a polygon (stored in EPSG:4326) is put into a raster's CRS: one rule for the counting
-- (pixel maps and expected pixels, sclzonal.counting) and the definition view
-- zonal_class_counts, so both count the same pixels.
--
-- Edges are first cut into pieces of at most 0.01 degree (about 1 km), then the corners are
-- transformed: a long edge, straight in EPSG:4326, then stays where it was instead of becoming
-- one straight line in the raster's CRS between its transformed ends (a box over a whole scene,
-- or 2 degrees wide, bent enough to miss pixels). Field-sized polygons are not changed.
CREATE OR REPLACE FUNCTION sclzonal.polygon_in_srid(geom geometry, srid integer)
RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT ST_Transform(ST_Segmentize(geom, 0.01), srid)
$$;

-- The same, but NULL where PROJ cannot transform the polygon (a corner outside the projection's
-- domain, e.g. a box reaching 90 degrees from a UTM zone's central meridian on the equator):
-- such a polygon is not counted on that raster's grid, and never stops the others.
CREATE OR REPLACE FUNCTION sclzonal.polygon_in_srid_or_null(geom geometry, srid integer)
RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN sclzonal.polygon_in_srid(geom, srid);
EXCEPTION WHEN OTHERS THEN  -- not QUERY_CANCELED: a statement timeout still stops the query
    RETURN NULL;
END;
$$;

-- Why a polygon cannot be put into a CRS (PROJ's message through PostGIS), or NULL when it can.
CREATE OR REPLACE FUNCTION sclzonal.polygon_projection_problem(geom geometry, srid integer)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM sclzonal.polygon_in_srid(geom, srid);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END;
$$;
