-- One table per statistic of docs/metrics.md, named and shaped as it says.
-- Every table carries user_id, period ('all' | 'YYYY' | 'YYYY-MM', local time),
-- computed_at and the source_max_played_at it was computed from.
-- The replica holds the same tables (this file is linked from migrations/replica).

CREATE SCHEMA analytics;

CREATE TABLE analytics.overview (
    user_id                 text NOT NULL,
    period                  text NOT NULL,
    streams                 bigint NOT NULL,
    listening_ms            bigint NOT NULL,
    distinct_tracks         integer NOT NULL,
    distinct_artists        integer NOT NULL,
    distinct_albums         integer NOT NULL,
    active_days             integer NOT NULL,
    first_played_at         timestamptz NOT NULL,
    last_played_at          timestamptz NOT NULL,
    streams_per_active_day  double precision NOT NULL,
    skip_rate               double precision,
    mainstream_score        double precision,
    new_artists             integer NOT NULL,
    new_tracks              integer NOT NULL,
    computed_at             timestamptz NOT NULL,
    source_max_played_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, period)
);

CREATE TABLE analytics.top_tracks (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    track_id text NOT NULL, streams bigint NOT NULL, listening_ms bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);

CREATE TABLE analytics.top_artists (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    artist_id text NOT NULL, streams bigint NOT NULL, listening_ms bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);

CREATE TABLE analytics.top_albums (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    album_id text NOT NULL, streams bigint NOT NULL, listening_ms bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);

CREATE TABLE analytics.hour_of_day (
    user_id text NOT NULL, period text NOT NULL,
    hour smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    streams bigint NOT NULL, listening_ms bigint NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, hour)
);

CREATE TABLE analytics.day_of_week (
    user_id text NOT NULL, period text NOT NULL,
    day_of_week smallint NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),  -- ISO, 1 = Monday
    streams bigint NOT NULL, distinct_tracks integer NOT NULL, distinct_artists integer NOT NULL,
    track_variety double precision NOT NULL, artist_variety double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, day_of_week)
);

CREATE TABLE analytics.listening_clock (
    user_id text NOT NULL, period text NOT NULL,
    day_of_week smallint NOT NULL CHECK (day_of_week BETWEEN 1 AND 7),
    hour smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    streams bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, day_of_week, hour)
);

CREATE TABLE analytics.album_completion (
    user_id text NOT NULL, period text NOT NULL, album_id text NOT NULL,
    total_tracks integer NOT NULL, tracks_played integer NOT NULL,
    completion double precision NOT NULL,
    status text NOT NULL CHECK (status IN ('complete', 'most', 'half', 'partial')),
    streams bigint NOT NULL, rank integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, album_id)
);

CREATE TABLE analytics.artist_streaks (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    artist_id text NOT NULL, days integer NOT NULL,
    streak_start date NOT NULL, streak_end date NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);

-- A session is never cut at a period's edge: it belongs to 'all', and to the
-- year and month of its local start; `period` holds that month ('YYYY-MM').
-- session_id = Unix ms of session_start, unique per user.
CREATE TABLE analytics.sessions (
    user_id text NOT NULL, session_id bigint NOT NULL, period text NOT NULL,
    session_start timestamptz NOT NULL, session_end timestamptz NOT NULL,
    streams integer NOT NULL, distinct_tracks integer NOT NULL, listening_ms bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, session_id)
);

CREATE TABLE analytics.session_summary (
    user_id text NOT NULL, period text NOT NULL,
    sessions integer NOT NULL, avg_session_ms double precision NOT NULL,
    longest_session_ms bigint NOT NULL, avg_streams_per_session double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period)
);

CREATE TABLE analytics.play_gaps (
    user_id text NOT NULL, period text NOT NULL,
    gap_class text NOT NULL CHECK (gap_class IN ('continuous', 'short_break', 'long_break')),
    gaps bigint NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, gap_class)
);

CREATE TABLE analytics.popularity_distribution (
    user_id text NOT NULL, period text NOT NULL,
    bracket text NOT NULL CHECK (bracket IN ('0','1','2','3','4','5','6','7','8','9','unknown')),
    streams bigint NOT NULL, distinct_tracks integer NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, bracket)
);

CREATE TABLE analytics.duration_preference (
    user_id text NOT NULL, period text NOT NULL,
    duration_class text NOT NULL CHECK (duration_class IN ('short', 'medium', 'long', 'unknown')),
    streams bigint NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, duration_class)
);

CREATE TABLE analytics.explicit_preference (
    user_id text NOT NULL, period text NOT NULL,
    explicit text NOT NULL CHECK (explicit IN ('true', 'false', 'unknown')),
    streams bigint NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, explicit)
);

CREATE TABLE analytics.release_years (
    user_id text NOT NULL, period text NOT NULL, release_year smallint NOT NULL,
    streams bigint NOT NULL, distinct_albums integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, release_year)
);

CREATE TABLE analytics.longest_days (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    local_date date NOT NULL, listening_ms bigint NOT NULL, streams bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);

CREATE TABLE analytics.genre_distribution (
    user_id text NOT NULL, period text NOT NULL, genre text NOT NULL,
    rank integer,                                  -- NULL for the 'unknown' row
    streams bigint NOT NULL, share double precision NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, genre)
);
