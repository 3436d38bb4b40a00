-- Which verdicts a refresh must decide again.
--
-- A polygon's verdict (and its months) depends on its own row, its stored counts, the scenes
-- they come from, whether it could be counted, the rules and the classes. Triggers note every
-- change to these: counts added note (polygon, scene) in verdict_new_pair, counts changed note
-- (polygon, month of the scene) in verdict_stale_month; other changes to a polygon's inputs (its row, deleted counts, whether it
-- can be counted, its scenes' origin) note the polygon in verdict_stale_polygon; a change that
-- may touch every polygon (a rule, a class, a TRUNCATE) puts a row in verdict_rebuild_request.
-- sclzonal.refresh_polygon_verdict() takes all four. Statement-level
-- triggers over transition tables: a COPY of 280,000 counts adds one INSERT ... SELECT
-- DISTINCT. The trigger functions run as their owner (SECURITY DEFINER), so the roles that write
-- counts and polygons need no right on these two tables.
CREATE TABLE IF NOT EXISTS sclzonal.verdict_stale_polygon (
    polygon_id bigint PRIMARY KEY
);

COMMENT ON TABLE sclzonal.verdict_stale_polygon IS
    'Polygons whose verdict inputs changed since the last `sclzonal refresh`; emptied by it.';

CREATE TABLE IF NOT EXISTS sclzonal.verdict_stale_month (
    polygon_id bigint NOT NULL,
    month_start date NOT NULL,
    PRIMARY KEY (polygon_id, month_start)
);

COMMENT ON TABLE sclzonal.verdict_stale_month IS
    'Polygons and months whose counts were added or changed since the last `sclzonal refresh`; emptied by it.';

CREATE TABLE IF NOT EXISTS sclzonal.verdict_new_pair (
    polygon_id bigint NOT NULL,
    scene_id bigint NOT NULL,
    PRIMARY KEY (polygon_id, scene_id)
);

COMMENT ON TABLE sclzonal.verdict_new_pair IS
    'Stored counts added since the last `sclzonal refresh` (polygon, scene); emptied by it, which adds their observations to the months.';

CREATE TABLE IF NOT EXISTS sclzonal.verdict_rebuild_request (
    requested_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL
);

COMMENT ON TABLE sclzonal.verdict_rebuild_request IS
    'A row here: the next `sclzonal refresh` decides every verdict again (a rule or class changed).';

CREATE OR REPLACE FUNCTION sclzonal.note_stale_polygons() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- TG_ARGV[0]: the column holding the polygon id in the transition table `changed`
    EXECUTE format('INSERT INTO sclzonal.verdict_stale_polygon (polygon_id)'
                   ' SELECT DISTINCT %I FROM changed WHERE %I IS NOT NULL'
                   ' ON CONFLICT DO NOTHING', TG_ARGV[0], TG_ARGV[0]);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.note_stale_months() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO sclzonal.verdict_stale_month (polygon_id, month_start)
    SELECT DISTINCT c.polygon_id, date_trunc('month', s.acquired_on)::date
    FROM changed AS c
    JOIN sclzonal.scene AS s ON s.id = c.scene_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.note_new_pairs() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- no join: the counting's COPY pays only this insert
    INSERT INTO sclzonal.verdict_new_pair (polygon_id, scene_id)
    SELECT c.polygon_id, c.scene_id FROM changed AS c
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.note_stale_scenes() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A scene's date, source or origin shows in the verdicts of the polygons it holds pixels
    -- of; `refresh` moving counted_seq on does not. The scenes are compared first, on their
    -- own (a refresh updates every scene's counted_seq; compared row by row after a join with
    -- the counts, the comparison cost seconds per refresh).
    WITH edited AS MATERIALIZED (
        SELECT s.id
        FROM changed AS s
        JOIN before AS b ON b.id = s.id
        WHERE to_jsonb(s) - 'counted_seq' IS DISTINCT FROM to_jsonb(b) - 'counted_seq'
    )
    INSERT INTO sclzonal.verdict_stale_polygon (polygon_id)
    SELECT DISTINCT cp.polygon_id
    FROM edited AS e
    JOIN sclzonal.counted_pair AS cp ON cp.scene_id = e.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION sclzonal.request_verdict_rebuild() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO sclzonal.verdict_rebuild_request (reason)
    VALUES (format('%s on %s', lower(TG_OP), TG_TABLE_NAME));
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION sclzonal.note_stale_polygons() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.note_stale_scenes() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.note_stale_months() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.note_new_pairs() FROM PUBLIC;
REVOKE ALL ON FUNCTION sclzonal.request_verdict_rebuild() FROM PUBLIC;

-- A transition table needs one trigger per event.
DO $$
DECLARE
    watched record;
BEGIN
    -- counts added: the pairs; changed: their months; every other change: the whole polygon
    FOR watched IN SELECT * FROM (VALUES ('counted_pair', 'insert', 'note_new_pairs()'),
                                         ('counted_pair', 'update', 'note_stale_months()'),
                                         ('counted_pair', 'delete', 'note_stale_polygons(polygon_id)'),
                                         ('uncountable_polygon', 'insert', 'note_stale_polygons(polygon_id)'),
                                         ('uncountable_polygon', 'update', 'note_stale_polygons(polygon_id)'),
                                         ('uncountable_polygon', 'delete', 'note_stale_polygons(polygon_id)'),
                                         ('polygon', 'insert', 'note_stale_polygons(id)'),
                                         ('polygon', 'update', 'note_stale_polygons(id)'),
                                         ('polygon', 'delete', 'note_stale_polygons(id)'))
                                  AS w(tbl, event, call)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON sclzonal.%I',
                       watched.tbl || '_' || watched.event || '_stales_verdicts', watched.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON sclzonal.%I'
                       ' REFERENCING %s TABLE AS changed FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION sclzonal.%s',
                       watched.tbl || '_' || watched.event || '_stales_verdicts', watched.event,
                       watched.tbl, CASE watched.event WHEN 'delete' THEN 'OLD' ELSE 'NEW' END,
                       watched.call);
    END LOOP;
END;
$$;

DROP TRIGGER IF EXISTS scene_update_stales_verdicts ON sclzonal.scene;
CREATE TRIGGER scene_update_stales_verdicts AFTER UPDATE ON sclzonal.scene
    REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION sclzonal.note_stale_scenes();

DO $$
DECLARE
    watched text;
BEGIN
    FOREACH watched IN ARRAY ARRAY['verdict_rule', 'scl_class'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON sclzonal.%I',
                       watched || '_change_rebuilds_verdicts', watched);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
                       ' ON sclzonal.%I FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION sclzonal.request_verdict_rebuild()',
                       watched || '_change_rebuilds_verdicts', watched);
    END LOOP;
    FOREACH watched IN ARRAY ARRAY['counted_pair', 'polygon', 'uncountable_polygon'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON sclzonal.%I',
                       watched || '_truncate_rebuilds_verdicts', watched);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON sclzonal.%I FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION sclzonal.request_verdict_rebuild()',
                       watched || '_truncate_rebuilds_verdicts', watched);
    END LOOP;
END;
$$;
