-- Keeping a materialized view in step with its definition.
--
-- CREATE MATERIALIZED VIEW IF NOT EXISTS keeps an existing view as it is, so a file that makes a
-- materialized view from a live definition view (polygon_verdict from polygon_verdict_view,
-- polygon_month_verdict from polygon_month_verdict_view) first calls this: it drops the
-- materialized view when its columns (names and types, in order) are no longer the
-- definition's, and the file then makes it again. Nothing happens when either does not exist.
CREATE OR REPLACE FUNCTION sclzonal.drop_materialized_view_if_changed(materialized text,
                                                                      definition text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target regclass := pg_catalog.to_regclass(materialized);
    source regclass := pg_catalog.to_regclass(definition);
BEGIN
    IF target IS NULL OR source IS NULL OR (
        SELECT array_agg(format('%s %s', attname, atttypid::regtype) ORDER BY attnum)
        FROM pg_catalog.pg_attribute WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
    ) IS NOT DISTINCT FROM (
        SELECT array_agg(format('%s %s', attname, atttypid::regtype) ORDER BY attnum)
        FROM pg_catalog.pg_attribute WHERE attrelid = source AND attnum > 0 AND NOT attisdropped
    ) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP MATERIALIZED VIEW %s', target);
    RETURN true;
END;
$$;

COMMENT ON FUNCTION sclzonal.drop_materialized_view_if_changed(text, text) IS
    'Drop a materialized view whose columns differ from those of its definition view; true when dropped.';
