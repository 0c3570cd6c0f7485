-- How many albums' track lists each star-schema load copied (star_schema/load.py).
ALTER TABLE etl.load_runs ADD COLUMN album_track_lists integer NOT NULL DEFAULT 0;
