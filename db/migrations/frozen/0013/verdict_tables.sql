-- The verdict tables QGIS and SQL read: polygon_verdict (one row per polygon) and
-- polygon_month_verdict (one row per polygon and month with observations).
--
-- Each has exactly the columns of its live definition view (polygon_verdict_view,
-- polygon_month_verdict_view) and holds what that view would return: `sclzonal refresh` keeps
-- them so, re-deciding only the polygons whose inputs changed (sql/verdict_staleness.sql,
-- sql/verdict_refresh.sql). Tables rather than materialized views so that a refresh can rewrite
-- some rows instead of recomputing all of them; and a table's key can be NOT NULL, which QGIS
-- checks for its feature ids.
--
-- A refresh rewrites the rows of the polygons and months a new scene touched in place
-- (sql/verdict_refresh.sql). Pages are filled to half so that such an update finds room on the
-- row's own page: it then adds no entry to any index (PostgreSQL's heap-only tuple update) and
-- its old version is pruned from the page when room runs short there, without waiting for vacuum.
-- Half, because a scene covers a region, and parcel files number their parcels region by region:
-- a new scene then updates every row of a page at once, and every one of them needs room there.
-- At 80 % (revision 0012) one update in four or five stayed on its page; at half, 98 % of the
-- months' updates and those of polygons whose verdict did not change, unless a row grew (a
-- polygon's first observation; revision 0013; docs/scaling.md).
CREATE TABLE IF NOT EXISTS sclzonal.polygon_verdict AS
SELECT * FROM sclzonal.polygon_verdict_view WITH NO DATA;

ALTER TABLE sclzonal.polygon_verdict ALTER COLUMN polygon_id SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS polygon_verdict_polygon_id_key
    ON sclzonal.polygon_verdict (polygon_id);
CREATE INDEX IF NOT EXISTS polygon_verdict_geom_idx
    ON sclzonal.polygon_verdict USING gist (geom);
CREATE INDEX IF NOT EXISTS polygon_verdict_verdict_idx
    ON sclzonal.polygon_verdict (verdict);
ALTER TABLE sclzonal.polygon_verdict SET (fillfactor = 50);

COMMENT ON TABLE sclzonal.polygon_verdict IS
    'One row per polygon: verdict as of the latest evaluated observation, its coverage and shares, and what it rests on (rule revision and thresholds, scene origin). Equal to polygon_verdict_view after each `sclzonal refresh`.';

CREATE TABLE IF NOT EXISTS sclzonal.polygon_month_verdict AS
SELECT * FROM sclzonal.polygon_month_verdict_view WITH NO DATA;

ALTER TABLE sclzonal.polygon_month_verdict ALTER COLUMN id SET NOT NULL;
ALTER TABLE sclzonal.polygon_month_verdict ALTER COLUMN polygon_id SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS polygon_month_verdict_id_key
    ON sclzonal.polygon_month_verdict (id);
CREATE INDEX IF NOT EXISTS polygon_month_verdict_polygon_id_idx
    ON sclzonal.polygon_month_verdict (polygon_id);
CREATE INDEX IF NOT EXISTS polygon_month_verdict_geom_idx
    ON sclzonal.polygon_month_verdict USING gist (geom);
CREATE INDEX IF NOT EXISTS polygon_month_verdict_month_start_idx
    ON sclzonal.polygon_month_verdict (month_start);
ALTER TABLE sclzonal.polygon_month_verdict SET (fillfactor = 50);

COMMENT ON TABLE sclzonal.polygon_month_verdict IS
    'Per polygon and month with observations: counts of observations, class shares over the month''s clear pixels, the month''s verdict; month_start/month_end for the QGIS Temporal Controller. Equal to polygon_month_verdict_view after each `sclzonal refresh`.';
