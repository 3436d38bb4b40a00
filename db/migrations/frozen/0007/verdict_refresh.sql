-- Refreshing sclzonal.polygon_verdict and sclzonal.polygon_month_verdict as their owner.
--
-- REFRESH MATERIALIZED VIEW needs the view's owner, and the loader role (sql/roles.sql) must not
-- own anything: this function runs the refresh with its owner's rights (SECURITY DEFINER) and
-- does nothing else, so EXECUTE on it is the only right the loader role needs to refresh the
-- verdicts. The body names every object with its schema and search_path is pinned to pg_catalog
-- (then pg_temp, which REFRESH ... CONCURRENTLY uses for its diff), so no object a caller
-- creates can be picked up. CONCURRENTLY: readers of the view are never blocked. JIT off: the
-- planner's row estimates for the verdict views are far too high before the new counts are
-- analysed, and compiling the query then costs more than running it.
CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY sclzonal.polygon_verdict;
    REFRESH MATERIALIZED VIEW CONCURRENTLY sclzonal.polygon_month_verdict;
END;
$$;

-- Only the roles granted EXECUTE in sql/roles.sql (and the owner) may call it.
REVOKE ALL ON FUNCTION sclzonal.refresh_polygon_verdict() FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'REFRESH MATERIALIZED VIEW CONCURRENTLY sclzonal.polygon_verdict and sclzonal.polygon_month_verdict as their owner; run by `sclzonal refresh`.';
