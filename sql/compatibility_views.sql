-- Views under the names that revision 0005 gave up, for queries written against them.
--
-- zonal_count (now the table counted_pair) and class_count (now the view stored_class_counts)
-- were documented. zonal_count is a plain view of one table, so PostgreSQL can also write
-- through it; grants follow sql/roles.sql (readable by the loader, not by the reader).
CREATE OR REPLACE VIEW sclzonal.zonal_count AS
SELECT * FROM sclzonal.counted_pair;

COMMENT ON VIEW sclzonal.zonal_count IS
    'Old name of the table sclzonal.counted_pair (kept for compatibility; use counted_pair).';

CREATE OR REPLACE VIEW sclzonal.class_count AS
SELECT * FROM sclzonal.stored_class_counts;

COMMENT ON VIEW sclzonal.class_count IS
    'Old name of the view sclzonal.stored_class_counts (kept for compatibility; use stored_class_counts).';
