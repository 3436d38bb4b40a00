-- The default verdict rule: vegetation when class 4 is at least 80 % of the clear pixels of a
-- scene in which at least 50 % of the polygon's pixels are clear. Users add rows of their own.
INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share, priority)
VALUES ('vegetation', ARRAY[4]::smallint[], 0.8, 0.5, 100)
ON CONFLICT (label) DO NOTHING;
