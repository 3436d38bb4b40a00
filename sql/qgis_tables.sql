-- The tables QGIS itself keeps in a PostgreSQL database, created here when missing with the
-- definitions QGIS 3.22 uses when it creates them (read back with psql from tables QGIS made).
-- They belong to QGIS and live in schema public, where QGIS looks for them; `sclzonal qgis styles`,
-- `qgis project` and `qgis role` run this file at run time (no migration), and dropping the
-- sclzonal schema leaves the users' own styles and projects alone.

-- Layer styles: QGIS applies the row with useasdefault = true when a PostGIS layer is added.
CREATE TABLE IF NOT EXISTS public.layer_styles (
    id serial PRIMARY KEY,
    f_table_catalog varchar,
    f_table_schema varchar,
    f_table_name varchar,
    f_geometry_column varchar,
    stylename text,
    styleqml xml,
    stylesld xml,
    useasdefault boolean,
    description text,
    owner varchar(63) DEFAULT CURRENT_USER,
    ui xml,
    update_time timestamp DEFAULT CURRENT_TIMESTAMP,
    type varchar
);
-- Tables made by older QGIS versions lack the geometry type column.
ALTER TABLE public.layer_styles ADD COLUMN IF NOT EXISTS type varchar;

-- Projects stored in the database (Project > Open From > PostgreSQL).
CREATE TABLE IF NOT EXISTS public.qgis_projects (
    name text PRIMARY KEY,
    metadata jsonb,
    content bytea
);
