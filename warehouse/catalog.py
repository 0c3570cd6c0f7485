"""The statistics of docs/metrics.md, by the one name each carries everywhere:
its Spark module's output, its `analytics.<name>` table, its Soda checks file,
its API endpoint and its dashboard panel."""

STATISTICS: tuple[str, ...] = (
    "overview",
    "top_tracks",
    "top_artists",
    "top_albums",
    "hour_of_day",
    "day_of_week",
    "listening_clock",
    "album_completion",
    "artist_streaks",
    "sessions",
    "session_summary",
    "play_gaps",
    "popularity_distribution",
    "duration_preference",
    "explicit_preference",
    "release_years",
    "longest_days",
    "genre_distribution",
)
