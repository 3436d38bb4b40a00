-- The 12 Sen2Cor Scene Classification classes, their EO Browser colours, and which count as clear.
-- Re-runnable: existing rows keep any is_clear setting a user changed.
INSERT INTO sclzonal.scl_class (value, name, colour, is_clear) VALUES
    (0, 'No data', '#000000', false),
    (1, 'Saturated or defective', '#ff0000', false),
    (2, 'Dark area pixels / topographic shadows', '#2f2f2f', true),
    (3, 'Cloud shadows', '#643200', false),
    (4, 'Vegetation', '#00a000', true),
    (5, 'Not vegetated', '#ffe65a', true),
    (6, 'Water', '#0000ff', true),
    (7, 'Unclassified', '#808080', true),
    (8, 'Cloud, medium probability', '#c0c0c0', false),
    (9, 'Cloud, high probability', '#ffffff', false),
    (10, 'Thin cirrus', '#64c8ff', false),
    (11, 'Snow or ice', '#ff96ff', true)
ON CONFLICT (value) DO NOTHING;
