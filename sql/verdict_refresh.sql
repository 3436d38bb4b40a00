-- Bringing sclzonal.polygon_verdict and sclzonal.polygon_month_verdict up to date, as their owner.
--
-- refresh_polygon_verdict() re-decides the polygons noted in verdict_stale_polygon (their rows
-- deleted and made again from the definitions, polygon_verdict_between and
-- polygon_month_verdict_view, for those polygons only), or every polygon when
-- verdict_rebuild_request holds a row (sql/verdict_staleness.sql). It runs in the caller's
-- transaction: readers see the old rows until it commits, never a half-updated table, and are
-- never blocked (row locks only). Two refreshes take turns on a SHARE ROW EXCLUSIVE lock of
-- polygon_verdict, which readers (ACCESS SHARE) do not wait for. It returns how many polygons
-- it re-decided.
--
-- The loader role (sql/roles.sql) must not own or write the verdict tables: these functions
-- run with their owner's rights (SECURITY DEFINER) and do nothing else, so EXECUTE on them is
-- the only right it needs. search_path is pinned to pg_catalog, pg_temp and every object is
-- named with its schema, so nothing a caller creates is picked up. JIT off: the planner's row
-- estimates are far too high before new counts are analysed, and compiling then costs more than
-- running.
CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    ids bigint[];
BEGIN
    LOCK TABLE sclzonal.polygon_verdict IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT FROM sclzonal.verdict_rebuild_request) THEN
        DELETE FROM sclzonal.verdict_rebuild_request;
        DELETE FROM sclzonal.verdict_stale_polygon;
        DELETE FROM sclzonal.polygon_verdict;
        INSERT INTO sclzonal.polygon_verdict SELECT * FROM sclzonal.polygon_verdict_view;
        DELETE FROM sclzonal.polygon_month_verdict;
        INSERT INTO sclzonal.polygon_month_verdict
        SELECT * FROM sclzonal.polygon_month_verdict_view;
        RETURN (SELECT count(*) FROM sclzonal.polygon_verdict);
    END IF;
    WITH taken AS (DELETE FROM sclzonal.verdict_stale_polygon RETURNING polygon_id)
    SELECT array_agg(polygon_id) INTO ids FROM taken;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM sclzonal.polygon_verdict WHERE polygon_id = ANY (ids);
    INSERT INTO sclzonal.polygon_verdict
    SELECT * FROM sclzonal.polygon_verdict_between('-infinity', 'infinity', ids);
    DELETE FROM sclzonal.polygon_month_verdict WHERE polygon_id = ANY (ids);
    INSERT INTO sclzonal.polygon_month_verdict
    SELECT * FROM sclzonal.polygon_month_verdict_view WHERE polygon_id = ANY (ids);
    RETURN cardinality(ids);
END;
$$;

-- Every verdict decided again from the definitions: `sclzonal refresh --rebuild-verdicts`.
CREATE OR REPLACE FUNCTION sclzonal.rebuild_polygon_verdict() RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO sclzonal.verdict_rebuild_request (reason) VALUES ('asked for');
    RETURN sclzonal.refresh_polygon_verdict();
END;
$$;

-- Only the roles granted EXECUTE in sql/roles.sql (and the owner) may call them.
REVOKE ALL ON FUNCTION sclzonal.refresh_polygon_verdict() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.rebuild_polygon_verdict() FROM PUBLIC;

COMMENT ON FUNCTION sclzonal.refresh_polygon_verdict() IS
    'Re-decide the verdicts (polygon_verdict, polygon_month_verdict) of the polygons whose inputs changed, or all after a rule change, as their owner; returns how many polygons. Run by `sclzonal refresh`.';
COMMENT ON FUNCTION sclzonal.rebuild_polygon_verdict() IS
    'Decide every verdict again from the definitions; returns how many polygons. `sclzonal refresh --rebuild-verdicts`.';
