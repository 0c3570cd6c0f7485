-- The dashboard's entity pages and search (docs/dashboard.md), read from the replica only: indexes and
-- a search key, none of which changes a replicated row.

-- An item's rows in every period (its month-by-month history).
CREATE INDEX track_ranking_item ON analytics.track_ranking (user_id, track_id);
CREATE INDEX artist_ranking_item ON analytics.artist_ranking (user_id, artist_id);
CREATE INDEX album_ranking_item ON analytics.album_ranking (user_id, album_id);
-- An artist's tracks and albums, an album's tracks, in a period, by rank.
CREATE INDEX track_ranking_artist ON analytics.track_ranking (user_id, period, artist_id, rank);
CREATE INDEX track_ranking_album ON analytics.track_ranking (user_id, period, album_id, rank);
CREATE INDEX album_ranking_artist ON analytics.album_ranking (user_id, period, artist_id, rank);

-- Search folds case and accents: search_key('Beyoncé') = search_key('BEYONCE') = 'beyonce'. unaccent()
-- is only STABLE (its dictionary could change); named explicitly, the dictionary is fixed, which makes
-- the key IMMUTABLE and indexable. Trigram indexes find names containing a query's words.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE FUNCTION public.search_key(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, name));
CREATE INDEX dim_artist_search ON dim_artist USING gin (public.search_key(name) public.gin_trgm_ops);
CREATE INDEX dim_album_search ON dim_album USING gin (public.search_key(name) public.gin_trgm_ops);
CREATE INDEX dim_track_search ON dim_track USING gin (public.search_key(name) public.gin_trgm_ops);
