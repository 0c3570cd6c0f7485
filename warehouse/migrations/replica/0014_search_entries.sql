-- Search reads one small table per user instead of joining names at query time (docs/dashboard.md,
-- "Search"): public.dashboard_search holds, for each artist, album and track of a user's all-time
-- ranking, its rank, streams and listening time and its folded name (public.search_key, 0009). A search walks the user's entries of
-- a kind in rank order through one index, names included, and stops at the tenth match: the bench
-- (bench/dashboard.py) measured a user's 2,000 tracks read in under 1 ms, where fetching and folding each
-- name at query time took 4-7 µs a row and the trigram indexes (0009, dropped here) needed a name fetch and
-- fold for every candidate and slowed by 20 times while their pending list held fresh inserts.
--
-- The replica keeps the table itself: statement triggers with transition tables follow every change the
-- applier makes to the rankings (rows of period 'all') and to the names in the dimensions, in the same
-- transaction, so a search always agrees with the replicated rows. Not replicated, not compared with main.
DROP INDEX dim_artist_search, dim_album_search, dim_track_search;

CREATE TABLE public.dashboard_search (
    user_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('artist', 'album', 'track')),
    item_id text NOT NULL,
    rank integer NOT NULL,
    streams bigint NOT NULL,
    listening_ms bigint NOT NULL,
    name_key text,  -- NULL while the dimension has no row of the item
    PRIMARY KEY (user_id, kind, item_id)
);
CREATE INDEX dashboard_search_rank ON public.dashboard_search (user_id, kind, rank) INCLUDE (name_key, item_id, streams, listening_ms);
CREATE INDEX dashboard_search_item ON public.dashboard_search (kind, item_id);

-- A ranking's rows of period 'all' changed: TG_ARGV[0] is the kind; old_rows and new_rows as the event has them.
CREATE FUNCTION public.dashboard_search_rankings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM public.dashboard_search s WHERE s.kind = TG_ARGV[0];
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('DELETE FROM public.dashboard_search s USING old_rows o WHERE o.period = ''all'' '
                       'AND s.user_id = o.user_id AND s.kind = %L AND s.item_id = o.%I', kind, kind || '_id');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO public.dashboard_search AS s (user_id, kind, item_id, rank, streams, '
                       'listening_ms, name_key) SELECT n.user_id, %1$L, n.%2$I, n.rank, n.streams, n.listening_ms, '
                       'public.search_key(d.name) FROM new_rows n '
                       'LEFT JOIN public.%3$I d ON d.%2$I = n.%2$I WHERE n.period = ''all'' '
                       'ON CONFLICT (user_id, kind, item_id) DO UPDATE SET rank = excluded.rank, '
                       'streams = excluded.streams, listening_ms = excluded.listening_ms, name_key = excluded.name_key', kind, kind || '_id', 'dim_' || kind);
    END IF;
    RETURN NULL;
END $$;

-- A dimension's rows changed: the entries of their items take the new names (NULL when the row is gone).
CREATE FUNCTION public.dashboard_search_names() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE public.dashboard_search s SET name_key = NULL WHERE s.kind = TG_ARGV[0];
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('UPDATE public.dashboard_search s SET name_key = NULL FROM old_rows o '
                       'WHERE s.kind = %L AND s.item_id = o.%I', kind, kind || '_id');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('UPDATE public.dashboard_search s SET name_key = public.search_key(n.name) FROM new_rows n '
                       'WHERE s.kind = %L AND s.item_id = n.%I', kind, kind || '_id');
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    kind text;
    target text;
    fn text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['artist', 'album', 'track'] LOOP
        FOREACH target IN ARRAY ARRAY[format('analytics.%I', kind || '_ranking'), format('public.%I', 'dim_' || kind)]
        LOOP
            fn := CASE WHEN target LIKE 'analytics.%' THEN 'public.dashboard_search_rankings'
                       ELSE 'public.dashboard_search_names' END;
            EXECUTE format('CREATE TRIGGER dashboard_search_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                           'FOR EACH STATEMENT EXECUTE FUNCTION %s(%L)', target, fn, kind);
            EXECUTE format('CREATE TRIGGER dashboard_search_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
                           'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s(%L)', target, fn, kind);
            EXECUTE format('CREATE TRIGGER dashboard_search_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                           'FOR EACH STATEMENT EXECUTE FUNCTION %s(%L)', target, fn, kind);
            EXECUTE format('CREATE TRIGGER dashboard_search_truncate AFTER TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION %s(%L)', target, fn, kind);
        END LOOP;
        -- The rows the replica already holds.
        EXECUTE format('INSERT INTO public.dashboard_search (user_id, kind, item_id, rank, streams, '
                       'listening_ms, name_key) SELECT t.user_id, %1$L, t.%2$I, t.rank, t.streams, t.listening_ms, '
                       'public.search_key(d.name) FROM analytics.%3$I t '
                       'LEFT JOIN public.%4$I d ON d.%2$I = t.%2$I WHERE t.period = ''all''',
                       kind, kind || '_id', kind || '_ranking', 'dim_' || kind);
    END LOOP;
END $$;
ANALYZE public.dashboard_search;
