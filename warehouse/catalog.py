"""The statistics catalog: every statistic of docs/metrics.md, in one place.

A statistic carries one name everywhere: its Spark module
(`spark_scripts/statistics/<name>.py`, a function `<name>`), its table
(`analytics.<name>` in main and the replica, made by a migration), its Soda
contract (`soda/analytics/<name>.yml`), its API endpoint
(`/api/users/<id>/<name>`) and its dashboard panel. Everything else (the API
description, the order of rows, the rows a fixed-size result always has, the
Soda variables that count them) is read from the entries below.

To add a statistic: its definition in docs/metrics.md, an entry here, its Spark
module, its Soda file, its migration (and its plain-SQL and DuckDB references).
`tests/warehouse/test_catalog.py` fails while any of the four parts is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Statistic:
    name: str
    description: str  # one line for the API page; docs/metrics.md has the definition
    row_order: str  # SQL ORDER BY of one user's and period's rows (a table alias-free expression)
    # A fixed-size result has a row for each of these values of `fixed_column`, streams or not.
    fixed_column: str | None = None
    fixed_values: tuple = ()
    # A paged statistic (PAGE_SIZE rows a page) can be read in each of these orders: name -> its ORDER BY.
    sorts: dict[str, str] | None = None

    @property
    def fixed_rows(self) -> int | None:
        """How many rows each (user, period) has, for a fixed-size result; None otherwise."""
        return len(self.fixed_values) if self.fixed_column else None


def _in_listed_order(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"array_position(ARRAY[{listed}], {column})"


PAGE_SIZE = 50
RANKING_SORTS = {"streams": "rank", "listening_time": "time_rank"}
HOURS = tuple(range(24))
ISO_DAYS = tuple(range(1, 8))  # 1 = Monday
GAP_CLASSES = ("continuous", "short_break", "long_break")
POPULARITY_BRACKETS = (*(str(b) for b in range(10)), "unknown")
DURATION_CLASSES = ("short", "medium", "long", "unknown")
EXPLICIT_VALUES = ("true", "false", "unknown")
# The rolling periods (docs/metrics.md, "Local time and periods"): name -> (how far back, unit), each ending on
# the user's latest local date with a stream and starting the day after that date minus this much.
ROLLING_PERIODS = {"last-4-weeks": (4, "weeks"), "last-6-months": (6, "months"), "last-12-months": (12, "months")}

CATALOG: tuple[Statistic, ...] = (
    Statistic("overview", "totals: streams, listening time, distinct tracks/artists/albums, active days, "
                          "longest streak, skip rate, mainstream score, new artists and tracks, podcast listens "
                          "and listening time", "period"),
    Statistic("top_tracks", "top 50 tracks by streams", "rank"),
    Statistic("top_artists", "top 50 primary artists by streams", "rank"),
    Statistic("top_albums", "top 50 albums by streams", "rank"),
    Statistic("hour_of_day", "24 rows, local hour 0..23", "hour", "hour", HOURS),
    Statistic("day_of_week", "7 rows, ISO day 1 (Monday) .. 7, with variety", "day_of_week",
              "day_of_week", ISO_DAYS),
    Statistic("listening_clock", "168 rows, the 7x24 (ISO day, local hour) streams", "day_of_week, hour",
              "day_of_week, hour", tuple((day, hour) for day in ISO_DAYS for hour in HOURS)),
    Statistic("album_completion", "albums with enough tracks: tracks played of the album, status, rank",
              "rank, album_id"),
    Statistic("artist_streaks", "top 10 runs of consecutive local days streaming one artist", "rank"),
    Statistic("sessions", "every session starting in the period (a month, the months of a year, or all)",
              "session_start, session_id"),
    Statistic("session_summary", "sessions, average and longest session, streams per session", "period"),
    Statistic("play_gaps", "3 rows: continuous, short_break, long_break",
              _in_listed_order("gap_class", GAP_CLASSES), "gap_class", GAP_CLASSES),
    Statistic("popularity_distribution", "11 rows: brackets 0..9 and unknown", "bracket = 'unknown', bracket",
              "bracket", POPULARITY_BRACKETS),
    Statistic("duration_preference", "4 rows: short, medium, long, unknown",
              _in_listed_order("duration_class", DURATION_CLASSES), "duration_class", DURATION_CLASSES),
    Statistic("explicit_preference", "3 rows: true, false, unknown",
              _in_listed_order("explicit", EXPLICIT_VALUES), "explicit", EXPLICIT_VALUES),
    Statistic("release_years", "streams by album release year", "release_year"),
    Statistic("longest_days", "top 10 local dates by listening time", "rank"),
    Statistic("genre_distribution", "top 30 genres of the primary artists, plus the unknown row",
              "rank NULLS LAST, genre"),
    *(Statistic(f"{item}_ranking", f"every {label} streamed: share, first and last stream, rank by streams "
                                   "(rank) and by listening time (time_rank)", "rank", sorts=RANKING_SORTS)
      for item, label in (("track", "track"), ("artist", "primary artist"), ("album", "album"))),
    Statistic("top_shows", "top 50 podcast shows by listening time: listens, episodes heard", "rank"),
    Statistic("top_episodes", "top 50 podcast episodes by listening time", "rank"),
    Statistic("taste_overlap", "for each other user who allows comparison (as this one does): taste overlap, "
                               "shared artists and tracks, who streamed a shared artist first",
              "overlap DESC, other_user_id"),
    Statistic("playlist_completion", "each playlist followed with a track streamed or a stream from it: tracks "
                                     "heard of its tracks, streams of them, streams started from it", "rank"),
)

BY_NAME: dict[str, Statistic] = {statistic.name: statistic for statistic in CATALOG}
STATISTICS: tuple[str, ...] = tuple(BY_NAME)


def soda_variables() -> dict[str, str]:
    """`<NAME>_ROWS` for every fixed-size statistic: the row count its Soda contract checks."""
    return {f"{s.name.upper()}_ROWS": str(s.fixed_rows) for s in CATALOG if s.fixed_rows}
