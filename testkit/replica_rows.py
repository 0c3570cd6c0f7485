"""Hand-written replica rows for the dashboard tests: dimensions and every statistic table.

`fill_replica(settings)` writes them into the (empty, migrated) replica with the
admin URL, and the users into source (share links are created for users of
source). The tests read back whatever the replica holds, so a replica filled by
the real pipeline can stand in for this helper.

Three users with statistics (alice in Berlin, bob in New York, erin in London)
and one without (carol); names with markup and quotes check that pages escape
them. Alice also has the rolling periods. Alice, bob and carol allow comparison
(`dim_user.compare_consent`), erin does not: `taste_overlap` holds a row each way
for alice and bob in each period both have (docs/metrics.md, statistic 17),
computed from their artist and track rankings here.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from warehouse.catalog import ROLLING_PERIODS
from warehouse.db import connect
from warehouse.settings import Settings

COMPUTED_AT = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
SOURCE_MAX_PLAYED_AT = datetime(2026, 1, 31, 22, 59, 58, tzinfo=UTC)
IMAGE_HOST = "https://i.scdn.co"
# Alice's rolling periods end with her last stream, on 21 January 2026 (local date), start on these days and
# overlap these months (docs/metrics.md, "Rolling periods").
ROLLING_FIRST_DAYS = {"last-4-weeks": date(2025, 12, 25), "last-6-months": date(2025, 7, 22),
                      "last-12-months": date(2025, 1, 22)}
ROLLING_MONTHS = {"last-4-weeks": ("2025-12", "2026-01"), "last-6-months": ("2025-11", "2025-12", "2026-01"),
                  "last-12-months": ("2025-11", "2025-12", "2026-01")}

USERS = {
    "alice": ("Alice", "Europe/Berlin", ("all", *ROLLING_PERIODS, "2025", "2025-11", "2025-12", "2026", "2026-01")),
    "bob": ('Bob <b>"the builder"</b>', "America/New_York", ("all", "2026", "2026-01")),
    "carol": ("Carol", "UTC", ()),
    # erin does not allow comparison; 2025-10 is a period no user who does has
    "erin": ("Erin", "Europe/London", ("all", "2025", "2025-10", "2026", "2026-01")),
}
COMPARE_CONSENT = {"alice": True, "bob": True, "carol": True, "erin": False}
ARTISTS = [  # artist_id, name, genres, popularity, image_url
    ("ar1", "Nova Ridge", ["indie rock", "alternative rock"], 71, f"{IMAGE_HOST}/image/artist-1"),
    ("ar2", "Kalo & the Echoes", ["jazz"], 44, f"{IMAGE_HOST}/image/artist-2"),
    ("ar3", "Élodie Mirà", ["j-pop", "pop"], 88, None),
    ("ar4", "Surrogate Band", None, None, None),
    ("ar5", "Quiet Harbour", [], 12, f"{IMAGE_HOST}/image/artist-5"),
]
# Each user's artists by streams, most first: ARTISTS' order, but bob's (so that alice and bob share every artist
# in other shares, and rank them differently).
ARTIST_ORDER = {"bob": ["ar3", "ar1", "ar5", "ar4", "ar2"]}
ALBUMS = [  # album_id, name, primary_artist_id, release_date, release_year, total_tracks, image_url
    ("al1", "Golden Echo", "ar1", "2019-05-03", 2019, 10, f"{IMAGE_HOST}/image/album-1"),
    ("al2", "Blue Night Sessions", "ar2", "1965", 1965, 6, f"{IMAGE_HOST}/image/album-2"),
    ("al3", "Neon City", "ar3", "2024-11", 2024, 12, None),
    ("al4", "Untitled (export)", "ar4", None, None, None, None),
]
# Spotify's track lists (dim_album_track): al2's, on two discs, holds its two streamed tracks and four never
# streamed (ids not in dim_track); the other albums' lists are not known.
ALBUM_TRACK_LISTS = {  # album_id: [(disc_number, track_number, track_id, name, duration_ms)]
    "al2": [(1, 1, "tr3", "</script><script>alert('x')</script>", 172_000), (1, 2, "al2-t2", "Slow Tide", 201_000),
            (1, 3, "al2-t3", "Midnight Ferry", 65_000), (2, 1, "tr7", "Sugar & \"Glass\"", 189_000),
            (2, 2, "al2-t5", "Lantern", 244_000), (2, 3, "al2-t6", "Coda (live)", 1_000)],
}
TRACKS = [  # track_id, name, album_id, primary_artist_id, duration_ms, explicit, popularity
    ("tr1", "Paper River", "al1", "ar1", 215_000, False, 70),
    ("tr2", "Ghost Light", "al1", "ar1", 305_000, True, 65),
    ("tr3", "</script><script>alert('x')</script>", "al2", "ar2", 172_000, False, 40),
    ("tr4", "Velvet Stone", "al3", "ar3", 198_000, None, 90),
    ("tr5", "Open Ocean", "al3", "ar3", 241_000, False, None),
    ("tr6", "Distant Fire", "al4", "ar4", None, None, None),
    ("tr7", "Sugar & \"Glass\"", "al2", "ar2", 189_000, False, 38),
    ("tr8", "Harbour Lights", None, "ar5", 260_000, False, 12),
]
# Tracks of no ranking row of their own: tr9, the single of tr1's song (docs/metrics.md, "One song across
# editions"), counted in tr1's rows.
OTHER_EDITIONS = [("tr9", "Paper River (Single)", None, "ar1", 214_000, False, 51)]
RECORDINGS = {"tr1": ("isrc:QZABC2400001", ["tr1", "tr9"])}  # track_ranking's recording_id and editions


def artist_order(user: str) -> list[str]:
    return ARTIST_ORDER.get(user, [artist[0] for artist in ARTISTS])


def _size(user: str, period: str) -> int:
    """Streams of the user in the period: differs for every user and period."""
    sizes = {"all": 1200, "last-12-months": 1100, "last-6-months": 900, "last-4-weeks": 140, 4: 700, 7: 150}
    base = sizes[period] if period in sizes else sizes[len(period)]
    return base + 37 * sum(map(ord, user + period)) % 97


def month_plays(month: str) -> tuple[datetime, datetime]:
    """The first and last play of a month with streams: the 1st at 07:00:13 and the 21st at 21:00, UTC (the
    same local dates in the users' zones)."""
    start = datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC)
    return start + timedelta(hours=7, seconds=13), start + timedelta(days=20, hours=21)


def months_streamed(user: str, period: str) -> list[str]:
    """The user's months with a stream in the period, oldest first: for a rolling period, those whose last play
    is on or after its first day (the last 4 weeks start after December's last play)."""
    months = sorted(p for p in USERS[user][2] if len(p) == 7)
    if period in ROLLING_PERIODS:
        zone = ZoneInfo(USERS[user][1])
        return [m for m in months if month_plays(m)[1].astimezone(zone).date() >= ROLLING_FIRST_DAYS[period]]
    return [m for m in months if period == "all" or m.startswith(period)]


def period_days(user: str, period: str) -> tuple[date, date]:
    """The overview's first_day and last_day (docs/metrics.md, statistic 1): a year's and a month's calendar
    days, a rolling period's first day to the user's latest local date with a stream, all time's first to
    latest local date with a stream."""
    if len(period) == 4:
        return date(int(period), 1, 1), date(int(period), 12, 31)
    if len(period) == 7:
        year, month = int(period[:4]), int(period[5:])
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    zone = ZoneInfo(USERS[user][1])
    months = months_streamed(user, "all")
    first, last = (month_plays(months[0])[0].astimezone(zone).date(),
                   month_plays(months[-1])[1].astimezone(zone).date())
    return (first if period == "all" else ROLLING_FIRST_DAYS[period]), last


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
SHOWS = [("sur:show:a1", "Deep <i>Dive</i> Weekly"), ("sur:show:b2", "Café Talks")]  # show_id, name
EPISODES = [  # episode_id, name, show_id
    ("4rOoJ6Egrf8K2IrywzwOMk", 'Episode 1: "Origins"', "sur:show:a1"),
    ("5xYxgOqmKQJ3XkRj0JtU6n", "Le café du matin", "sur:show:b2"),
    ("sur:episode:9f2c4", None, "sur:show:b2"),  # an Account-data episode: no URI, no name kept
]


def podcast_rows(n: int) -> tuple[list[tuple], list[tuple]]:
    """(top_shows, top_episodes) rows of a period with `n` streams: by listening time, 30 s or more a listen."""
    episodes = [(1, EPISODES[0][0], EPISODES[0][2], 2 + n // 20, (2 + n // 20) * 1_800_000),
                (2, EPISODES[1][0], EPISODES[1][2], 2, 2 * 1_500_000),
                (3, EPISODES[2][0], EPISODES[2][2], 1, 45_000)]
    shows = [(1, SHOWS[0][0], episodes[0][3], episodes[0][4], 1),
             (2, SHOWS[1][0], episodes[1][3] + episodes[2][3], episodes[1][4] + episodes[2][4], 2)]
    return shows, episodes


def statistic_rows(user: str, period: str) -> dict[str, list[tuple]]:
    """The rows of every statistic table but sessions and taste_overlap (`session_rows`, `taste_overlap_rows`),
    for one user and period: the table's columns
    in their order, without user_id and period before them nor computed_at and source_max_played_at after."""
    n = _size(user, period)
    hours = [(h * 7 + n) % 23 + (12 if 18 <= h <= 22 else 0) for h in range(24)]
    scale = n / sum(hours)
    hours = [round(h * scale) for h in hours]
    hours[21] += n - sum(hours)
    days = [n // 7 + (d * 3 if d < 6 else 0) for d in range(1, 8)]
    days[6] += n - sum(days)
    clock = [(d, h, (hours[h] * (d + 2)) // 9) for d in range(1, 8) for h in range(24)]
    # The last track is a long one: most streamed last, but first by listening time.
    top_tracks = [(rank, tid, n // (rank + 1), n // (rank + 1) * 201_000 * (30 if rank == len(TRACKS) else 1))
                  for rank, (tid, *_rest) in enumerate(TRACKS, start=1)]
    top_artists = [(rank, aid, n // (rank + 1), n // (rank + 1) * 199_500)
                   for rank, aid in enumerate(artist_order(user), start=1)]
    top_albums = [(rank, alid, n // (rank + 2), n // (rank + 2) * 190_000)
                  for rank, (alid, *_rest) in enumerate(ALBUMS, start=1)]
    popularity = [(str(b), n // 40 * (b % 4 + 1), 3 + b) for b in range(10)]
    popularity.append(("unknown", n - sum(row[1] for row in popularity), 9))
    durations = [("short", n // 3), ("medium", n // 2), ("long", n // 10)]
    durations.append(("unknown", n - sum(row[1] for row in durations)))
    explicit = [("true", n // 5), ("false", n // 2)]
    explicit.append(("unknown", n - sum(row[1] for row in explicit)))
    gaps = [("continuous", n * 7 // 10), ("short_break", n // 5)]
    gaps.append(("long_break", n - 1 - sum(row[1] for row in gaps)))
    genres = [(1, "indie rock", n // 3), (2, "jazz", n // 4), (3, "j-pop", n // 6)]
    unknown_genre = n // 5
    with_genre = n - unknown_genre
    months = months_streamed(user, period)
    first_day = date.fromisoformat(months[0] + "-01")  # the other tables' days lie in the period's first month
    shows, episodes = podcast_rows(n)
    return {
        "overview": [(n, n * 200_000 + 123, n // 3, n // 10, n // 8, min(28, n // 20),
                      month_plays(months[0])[0], month_plays(months[-1])[1],
                      n / min(28, n // 20), None if user == "bob" and period == "2026-01" else 0.125 + n / 10_000,
                      48.5 + n / 1000, n // 40, n // 9, *period_days(user, period),
                      1 + n * 13 % min(28, n // 20),  # longest_streak: at most active_days
                      sum(s[2] for s in shows), sum(s[3] for s in shows))],  # podcast listens and time
        "top_tracks": top_tracks,
        "top_artists": top_artists,
        "top_albums": top_albums,
        "hour_of_day": [(h, s, s * 200_000, _share(s, n)) for h, s in enumerate(hours)],
        "day_of_week": [(d, s, s // 2, s // 5, _share(s // 2, s), _share(s // 5, s))
                        for d, s in enumerate(days, start=1)],
        "listening_clock": clock,
        "album_completion": [("al1", 10, 10, 1.0, "complete", n // 4, 1),
                             ("al3", 12, 7, 7 / 12, "half", n // 5, 2),
                             ("al2", 6, 2, 2 / 6, "partial", n // 6, 3)],
        "artist_streaks": [(1, "ar1", 6 + n % 5, first_day + timedelta(days=2), first_day + timedelta(days=7 + n % 5)),
                           (2, "ar3", 4, first_day + timedelta(days=10), first_day + timedelta(days=13)),
                           (3, "ar1", 2, first_day + timedelta(days=20), first_day + timedelta(days=21))],
        "session_summary": [(n // 6, 2_345_678.5, 9_876_543, 6.0 + n % 7 / 7)],
        "play_gaps": [(c, g, _share(g, n - 1)) for c, g in gaps],
        "popularity_distribution": [(b, s, t, _share(s, n)) for b, s, t in popularity],
        "duration_preference": [(c, s, _share(s, n)) for c, s in durations],
        "explicit_preference": [(c, s, _share(s, n)) for c, s in explicit],
        "release_years": [(1965, n // 6, 1), (2019, n // 3, 1), (2024, n // 5, 2)],
        "longest_days": [(rank, first_day + timedelta(days=rank * 3), 14_400_000 // rank + n, 60 // rank + 1)
                         for rank in range(1, 4)],
        "genre_distribution": [*((g, rank, s, _share(s, with_genre)) for rank, g, s in genres),
                               ("unknown", None, unknown_genre, _share(unknown_genre, n))],
        "track_ranking": _ranking(top_tracks, n, first_day, {t[0]: t[2:4] for t in TRACKS},
                                  {tid: (None if tid == "tr6" else rank / 10, *RECORDINGS.get(tid, (tid, [tid])))
                                   for rank, (tid, *_rest) in enumerate(TRACKS)}),
        "artist_ranking": _ranking(top_artists, n, first_day, {}, {
            aid: ((months_in(user, period), 6 + n % 5, first_day + timedelta(days=2),
                   first_day + timedelta(days=7 + n % 5)) if rank == 1 else
                  (0, 1, first_day + timedelta(days=rank), first_day + timedelta(days=rank)))
            + artist_profile(n // (rank + 1), rank)
            for rank, aid in enumerate(artist_order(user), start=1)}),
        "album_ranking": _ranking(top_albums, n, first_day, {a[0]: a[2:3] for a in ALBUMS}, {}),
        "top_shows": shows,
        "top_episodes": episodes,
    }


def _spread(total: int, weights: list[int]) -> list[int]:
    """`total` split by whole `weights` (rounded down), the rest on the heaviest: it sums to `total`."""
    parts = [total * w // sum(weights) for w in weights]
    parts[weights.index(max(weights))] += total - sum(parts)
    return parts


def artist_profile(streams: int, rank: int) -> tuple[list[int], list[int]]:
    """An artist's hour_streams (24, by local hour) and weekday_streams (7, Monday first) of its `streams`
    (docs/metrics.md, statistic 16): evenings above all, no stream between 2:00 and 6:59, and the weekdays
    rising to the weekend; a different shape for every rank."""
    hours = [0 if 2 <= h <= 6 else (h * 5 + rank * 7) % 11 + 1 + (12 if 18 <= h <= 22 else 0) for h in range(24)]
    days = [d + rank % 3 + (4 if d >= 5 else 0) for d in range(7)]
    return _spread(streams, hours), _spread(streams, days)


def months_in(user: str, period: str) -> int:
    """The user's months within the period, or that a rolling period overlaps (ar1, first of every ranking here,
    topped each of them)."""
    if period in ROLLING_PERIODS:
        return len(ROLLING_MONTHS[period])
    return sum(1 for p in USERS[user][2] if len(p) == 7 and (period == "all" or p.startswith(period)))


def _ranking(top: list[tuple], n: int, first_day: date, named: dict[str, tuple],
             more: dict[str, tuple]) -> list[tuple]:
    """A whole ranking from the rows of its top list (all of it: these lists are short), `named`: the id's
    columns between it and streams, `more`: its columns after time_rank. Shares are of the ranking's own
    streams: the top lists' streams here add up to more than the overview's `n`, and shares that add up to
    more than 1 would make a taste overlap above 1."""
    by_time = sorted(top, key=lambda row: (-row[3], -row[2], row[1]))
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    streamed = sum(row[2] for row in top)
    return [(item, *named.get(item, ()), streams, ms, _share(streams, streamed), start + timedelta(hours=rank),
             start + timedelta(days=9, hours=rank), rank, by_time.index((rank, item, streams, ms)) + 1,
             *more.get(item, ()))
            for rank, item, streams, ms in top]


def compared(user: str, other: str, period: str) -> bool:
    """Whether taste_overlap has a row of the two users and the period: two users who both allow comparison
    and both have the period."""
    return (user != other and COMPARE_CONSENT[user] and COMPARE_CONSENT[other]
            and period in USERS[user][2] and period in USERS[other][2])


TOP_SHARED = 10  # top_shared_artists and top_shared_tracks


def taste_overlap_rows(user: str, period: str) -> list[tuple]:
    """The user's taste_overlap rows of the period (docs/metrics.md, statistic 17), from the two users'
    artist and track rankings: the table's columns after user_id and period, without computed_at and
    source_max_played_at."""
    rows = []
    for other in sorted(USERS):
        if not compared(user, other, period):
            continue
        mine, theirs = statistic_rows(user, period), statistic_rows(other, period)
        # the ranking rows by id: (share, first_played_at); an artist's share is its 4th column, a track's
        # its 6th (after album_id and artist_id), first_played_at the next
        artists = [{row[0]: (row[3], row[4]) for row in r["artist_ranking"]} for r in (mine, theirs)]
        tracks = [{row[0]: (row[5], row[6]) for row in r["track_ranking"]} for r in (mine, theirs)]

        def by_smaller_share(items: list[dict]) -> list[str]:
            shared = items[0].keys() & items[1].keys()
            return sorted(shared, key=lambda i: (-min(items[0][i][0], items[1][i][0]), i))

        shared_artists, shared_tracks = by_smaller_share(artists), by_smaller_share(tracks)
        overlap = sum(min(artists[0][a][0], artists[1][a][0]) for a in shared_artists)
        top_artists = shared_artists[:TOP_SHARED]
        first = [user if artists[0][a][1] < artists[1][a][1] else other if artists[1][a][1] < artists[0][a][1]
                 else None for a in top_artists]
        rows.append((other, overlap, len(shared_artists), len(shared_tracks), top_artists,
                     shared_tracks[:TOP_SHARED], first))
    return rows


def session_rows(user: str, month: str) -> list[tuple]:
    """Three sessions starting in the month (local start = UTC start here, mid-day): the table's columns
    after user_id, without computed_at and source_max_played_at."""
    start = datetime(int(month[:4]), int(month[5:]), 1, 12, tzinfo=UTC) + timedelta(hours=len(user))
    rows = []
    for i, (minutes, streams) in enumerate([(25, 7), (75, 19), (250, 60)]):
        begin = start + timedelta(days=3 * i + 1)
        rows.append((int(begin.timestamp() * 1000), month, begin, begin + timedelta(minutes=minutes),
                     streams, streams - 1, minutes * 60_000 - 1234))
    return rows


def fill_replica(settings: Settings) -> None:
    """Write the dimensions and every statistic's rows into the replica; the users into source."""
    with connect("source", settings) as conn:
        conn.cursor().executemany(
            "INSERT INTO users (user_id, display_name, timezone, compare_consent) VALUES (%s, %s, %s, %s)",
            [(user, name, tz, COMPARE_CONSENT[user]) for user, (name, tz, _) in USERS.items()])
    with connect("replica", settings) as conn:
        cur = conn.cursor()
        cur.executemany("INSERT INTO dim_user (user_id, display_name, timezone, compare_consent) "
                        "VALUES (%s, %s, %s, %s)",
                        [(user, name, tz, COMPARE_CONSENT[user]) for user, (name, tz, _) in USERS.items()])
        cur.executemany(
            "INSERT INTO dim_artist (artist_id, name, genres, popularity, image_url, is_surrogate) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(*row, row[0] == "ar4") for row in ARTISTS])
        cur.executemany(
            "INSERT INTO dim_album (album_id, name, primary_artist_id, artist_ids, release_date, release_year, "
            "total_tracks, image_url, is_surrogate) VALUES (%s, %s, %s, ARRAY[%s], %s, %s, %s, %s, %s)",
            [(aid, name, artist, artist, rd, ry, tt, img, aid == "al4")
             for aid, name, artist, rd, ry, tt, img in ALBUMS])
        cur.executemany(
            "INSERT INTO dim_track (track_id, name, album_id, primary_artist_id, artist_ids, duration_ms, "
            "explicit, popularity, is_surrogate) VALUES (%s, %s, %s, %s, ARRAY[%s], %s, %s, %s, %s)",
            [(tid, name, al, ar, ar, dur, ex, pop, tid == "tr6")
             for tid, name, al, ar, dur, ex, pop in TRACKS + OTHER_EDITIONS])
        cur.executemany(
            "INSERT INTO dim_album_track (album_id, disc_number, track_number, track_id, name, duration_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(album_id, *row) for album_id, rows in ALBUM_TRACK_LISTS.items() for row in rows])
        cur.executemany("INSERT INTO dim_show (show_id, name) VALUES (%s, %s)", SHOWS)
        cur.executemany("INSERT INTO dim_episode (episode_id, name, show_id) VALUES (%s, %s, %s)", EPISODES)
        for user, (_, _, periods) in USERS.items():
            for period in periods:
                for table, rows in statistic_rows(user, period).items():
                    _copy(cur, table, [(user, period, *row, COMPUTED_AT, SOURCE_MAX_PLAYED_AT) for row in rows])
                _copy(cur, "taste_overlap", [(user, period, *row, COMPUTED_AT, SOURCE_MAX_PLAYED_AT)
                                             for row in taste_overlap_rows(user, period)])
                if len(period) == 7:
                    _copy(cur, "sessions",
                          [(user, *row, COMPUTED_AT, SOURCE_MAX_PLAYED_AT) for row in session_rows(user, period)])


BOOKKEEPING = ("computed_at", "source_max_played_at")


def _copy(cur, table: str, rows: list[tuple]) -> None:
    """COPY rows holding every column of analytics.<table> in the table's order, but computed_at and
    source_max_played_at last (columns added by later migrations follow those two in the table)."""
    columns = [c for (c,) in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' AND table_name = %s "
        "ORDER BY ordinal_position", (table,)).fetchall() if c not in BOOKKEEPING]
    with cur.copy(f"COPY analytics.{table} ({', '.join([*columns, *BOOKKEEPING])}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
