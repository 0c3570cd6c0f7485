"""Entity pages (an artist, album or track of a user) and search, over the API and as pages, against a
filled replica (testkit/replica_rows.py): exact rows, accent-insensitive search, and who may see what."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import psycopg
import pytest

from testkit.replica_rows import ALBUM_TRACK_LISTS, statistic_rows
from tests.dashboard.dashboard_helpers import replica_rows, replicate_share_links
from tests.dashboard.test_dashboard_api import ADMIN, bearer, get
from warehouse.share_links import create_share_link


def ranking_rows(settings, kind: str, where: str, params: tuple) -> list[dict]:
    return replica_rows(settings, f"SELECT * FROM analytics.{kind}_ranking WHERE {where}", params)


def written_profile(user: str, period: str, artist_id: str) -> tuple[list[int], list[int]]:
    """The hour_streams and weekday_streams the testkit wrote for the artist (its row's last two columns)."""
    (row,) = [row for row in statistic_rows(user, period)["artist_ranking"] if row[0] == artist_id]
    return row[-2], row[-1]


def page_data(page: str) -> dict | None:
    """The JSON a page gives dashboard.js to draw from, if any."""
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1)) if found else None


def test_an_artist_page_holds_its_ranking_row_months_and_top_tracks_and_albums(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/artists/ar1?period=2025", ADMIN)
    assert status == 200
    assert (body["user_id"], body["period"]) == ("alice", "2025")
    assert body["artist"] == {"artist_id": "ar1", "name": "Nova Ridge", "image_url": "https://i.scdn.co/image/artist-1",
                              "genres": ["indie rock", "alternative rock"]}
    (row,) = ranking_rows(filled, "artist", "user_id = 'alice' AND period = '2025' AND artist_id = 'ar1'", ())
    ranking = body["ranking"]
    assert (ranking["streams"], ranking["rank"], ranking["months_at_top"], ranking["longest_streak"],
            ranking["longest_streak_end"]) == (row["streams"], 1, 2, row["longest_streak"],
                                               row["longest_streak_end"].isoformat())
    # Every month of the user's history, whatever the period shown.
    assert [(m["period"], m["streams"], m["rank"]) for m in body["months"]] == [
        (r["period"], r["streams"], r["rank"]) for r in sorted(
            ranking_rows(filled, "artist", "user_id = 'alice' AND artist_id = 'ar1' AND length(period) = 7", ()),
            key=lambda r: r["period"])]
    assert [m["period"] for m in body["months"]] == ["2025-11", "2025-12", "2026-01"]
    # The artist's tracks and albums of the period, in rank order, with their names.
    assert [(t["track_id"], t["name"]) for t in body["top_tracks"]] == [("tr1", "Paper River"), ("tr2", "Ghost Light")]
    assert [(a["album_id"], a["name"]) for a in body["top_albums"]] == [("al1", "Golden Echo")]


def test_an_artist_in_a_rolling_period_keeps_its_history_by_month(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/artists/ar1?period=last-4-weeks", ADMIN)
    assert status == 200 and body["period"] == "last-4-weeks"
    (row,) = ranking_rows(filled, "artist", "user_id = 'alice' AND period = 'last-4-weeks' AND artist_id = 'ar1'", ())
    assert (body["ranking"]["streams"], body["ranking"]["months_at_top"]) == (row["streams"], 2)
    assert [m["period"] for m in body["months"]] == ["2025-11", "2025-12", "2026-01"]  # months only
    status, page, _ = get(f"{server.url}/users/alice/artists/ar1?period=last-4-weeks", ADMIN)
    assert status == 200 and "In Last 4 weeks" in page and 'href="/users/alice/tracks/tr1?period=last-4-weeks"' in page


def test_an_album_page_holds_its_completion_and_tracks(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/albums/al2?period=2025-12", ADMIN)
    assert status == 200
    assert (body["album"]["name"], body["album"]["artist"], body["album"]["total_tracks"]) == (
        "Blue Night Sessions", "Kalo & the Echoes", 6)
    assert (body["completion"]["tracks_played"], body["completion"]["status"]) == (2, "partial")
    assert [t["track_id"] for t in body["tracks"]] == ["tr3", "tr7"]  # by rank
    assert body["tracks"][0]["name"] == "</script><script>alert('x')</script>"
    # Spotify's track list, in disc and track order, with the period's streams of the tracks heard
    streams = {t["track_id"]: (t["streams"], t["listening_ms"]) for t in body["tracks"]}
    assert body["track_list"] == [
        {"disc_number": disc, "track_number": number, "track_id": track_id, "name": name, "duration_ms": ms,
         "streams": streams.get(track_id, (None, None))[0], "listening_ms": streams.get(track_id, (None, None))[1]}
        for disc, number, track_id, name, ms in ALBUM_TRACK_LISTS["al2"]]
    assert [t["track_id"] for t in body["track_list"] if t["streams"]] == ["tr3", "tr7"]
    status, body, _ = get(f"{server.url}/api/users/alice/albums/al4", ADMIN)  # size unknown: no completion
    assert status == 200 and body["completion"] is None and [t["track_id"] for t in body["tracks"]] == ["tr6"]
    assert body["track_list"] == []  # its list is not known


def test_an_album_page_marks_each_track_of_its_list_heard_or_not(server, filled):
    status, page, _ = get(f"{server.url}/users/alice/albums/al2?period=2025-12", ADMIN)
    assert status == 200
    rows = re.findall(r'<tr data-id="([^"]+)" class="(heard|unheard)">\s*<td class="num">([^<]+)</td>', page)
    assert rows == [("tr3", "heard", "1-1"), ("al2-t2", "unheard", "1-2"), ("al2-t3", "unheard", "1-3"),
                    ("tr7", "heard", "2-1"), ("al2-t5", "unheard", "2-2"), ("al2-t6", "unheard", "2-3")]
    assert 'href="/users/alice/tracks/tr3?period=2025-12"' in page  # a heard track links to its page
    assert 'href="/users/alice/tracks/al2-t2' not in page  # one never streamed has no page
    assert "1:05" in page and "0:01" in page and "<script>alert" not in page
    assert "is not known yet" not in page
    status, page, _ = get(f"{server.url}/users/alice/albums/al1?period=2025-12", ADMIN)
    assert 'id="table-track_list"' not in page and "is not known yet" in page


def test_a_track_page_holds_its_skip_rate_and_months(server, filled):
    status, body, _ = get(f"{server.url}/api/users/bob/tracks/tr3?period=2026-01", ADMIN)
    assert status == 200
    assert (body["track"]["name"], body["track"]["album"], body["track"]["artist"]) == (
        "</script><script>alert('x')</script>", "Blue Night Sessions", "Kalo & the Echoes")
    (row,) = ranking_rows(filled, "track", "user_id = 'bob' AND period = '2026-01' AND track_id = 'tr3'", ())
    assert body["ranking"]["skip_rate"] == row["skip_rate"] == 0.2
    assert [m["period"] for m in body["months"]] == ["2026-01"]
    assert get(f"{server.url}/api/users/bob/tracks/tr6", ADMIN)[1]["ranking"]["skip_rate"] is None


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/users/alice/artists/ar9", 404, "no streams of artist 'ar9' by user 'alice'"),
    ("/api/users/alice/artists/ar1?period=2019", 404, "no statistics for user 'alice' and period '2019'"),
    ("/api/users/alice/tracks/tr1?period=20x", 404, "bad period '20x'"),
    ("/api/users/alice/search?q=%21%3F%21", 400, "nothing to search for in '!?!'"),
    ("/api/users/alice/search?q=" + "a" * 101, 400, "the search is too long: 101 characters, at most 100"),
])
def test_unknown_items_periods_and_bad_searches_are_clear(server, path, status, message):
    got, body, _ = get(server.url + path, ADMIN)
    assert got == status and message in body["message"]


@pytest.mark.parametrize(("query", "artists", "albums", "tracks"), [
    ("elodie", ["ar3"], [], []),                   # É folded: found without the accent
    ("ÉLODIE mira", ["ar3"], [], []),              # case, accents, every word, any order
    ("odie", [], [], []),                          # a word's start only
    ("the echoes", ["ar2"], [], []),
    ("echoes kalo", ["ar2"], [], []),
    ("golden", [], ["al1"], []),
    ("l", [], [], ["tr2", "tr8"]),                 # Ghost Light, Harbour Lights: the most streamed first
    ("script", [], [], ["tr3"]),                   # words after punctuation count
])
def test_search_folds_case_and_accents_and_ranks_by_streams(server, query, artists, albums, tracks):
    status, body, _ = get(f"{server.url}/api/users/alice/search?{urlencode({'q': query})}", ADMIN)
    assert status == 200 and body["q"] == query
    assert ([r["artist_id"] for r in body["artists"]], [r["album_id"] for r in body["albums"]],
            [r["track_id"] for r in body["tracks"]]) == (artists, albums, tracks)


def test_a_share_link_opens_its_users_entity_pages_and_search_only(server, filled):
    token = create_share_link(filled, "alice")
    replicate_share_links(filled)
    unknown = get(f"{server.url}/api/users/nobody/artists/ar1", bearer(token))
    assert unknown[0] == 404
    assert get(f"{server.url}/api/users/alice/artists/ar1", bearer(token))[0] == 200
    assert get(f"{server.url}/api/users/alice/search?q=nova", bearer(token))[0] == 200
    for path in ("/api/users/bob/artists/ar1", "/api/users/bob/albums/al1", "/api/users/bob/tracks/tr1",
                 "/api/users/bob/search?q=nova"):
        assert get(server.url + path, bearer(token))[:2] == unknown[:2], path  # as if bob did not exist
    cookie = get(f"{server.url}/s/{token}")[2]["Set-Cookie"].split(";")[0]
    assert get(f"{server.url}/users/alice/artists/ar1", {"Cookie": cookie})[0] == 200
    for path in ("/users/bob/artists/ar1", "/users/bob/tracks/tr1", "/users/bob/search?q=nova"):
        assert get(server.url + path, {"Cookie": cookie})[0] == 404, path


def test_entity_pages_render_the_rows_and_link_to_each_other(server, filled):
    status, page, _ = get(f"{server.url}/users/alice/artists/ar1?period=2025-12", ADMIN)
    assert status == 200 and "Nova Ridge" in page
    assert 'href="/users/alice/tracks/tr1?period=2025-12"' in page
    assert 'href="/users/alice/albums/al1?period=2025-12"' in page
    assert 'id="months-at-top">1<' in page
    status, page, _ = get(f"{server.url}/users/alice/albums/al1", ADMIN)
    assert status == 200 and 'href="/users/alice/artists/ar1"' in page and "10 of 10" in page
    status, page, _ = get(f"{server.url}/users/alice/tracks/tr3", ADMIN)
    assert status == 200 and "<script>alert" not in page  # the name is escaped
    assert 'id="skip-rate">20 %<' in page
    status, page, _ = get(f"{server.url}/users/alice/search?q=elodie", ADMIN)
    assert status == 200 and 'href="/users/alice/artists/ar3"' in page and "Élodie Mirà" in page
    # The ranking pages link every row to its item's page.
    status, page, _ = get(f"{server.url}/users/alice/artists?period=2026", ADMIN)
    assert 'href="/users/alice/artists/ar2?period=2026"' in page


def test_an_artist_answer_has_its_hour_and_weekday_profile(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/artists/ar1?period=2025-12", ADMIN)
    assert status == 200
    hours, weekdays = written_profile("alice", "2025-12", "ar1")
    assert hours == [3, 0, 0, 0, 0, 0, 0, 4, 1, 4, 1, 3, 0, 3, 0, 2, 5, 2, 21, 7, 9, 7, 9, 0]
    assert weekdays == [2, 4, 6, 9, 11, 22, 27]
    ranking = body["ranking"]
    assert (ranking["hour_streams"], ranking["weekday_streams"]) == (hours, weekdays)
    assert sum(hours) == sum(weekdays) == ranking["streams"] == 81
    # Every period's row has its own; the whole ranking answers them too.
    _, body, _ = get(f"{server.url}/api/users/bob/artists/ar3?period=2026", ADMIN)
    ranking = body["ranking"]
    assert (ranking["hour_streams"], ranking["weekday_streams"]) == written_profile("bob", "2026", "ar3")
    _, body, _ = get(f"{server.url}/api/users/alice/artist_ranking?period=2025-12", ADMIN)
    first = body["rows"][0]
    assert (first["artist_id"], first["hour_streams"], first["weekday_streams"]) == ("ar1", hours, weekdays)


def test_an_artist_page_charts_its_hour_and_weekday_profile(server, filled):
    status, page, _ = get(f"{server.url}/users/alice/artists/ar1?period=2025-12", ADMIN)
    assert status == 200
    hours, weekdays = written_profile("alice", "2025-12", "ar1")
    # The two panels and their charts, drawn by dashboard.js with Plotly (as the overview's hour and day
    # charts) from the stored arrays: at 18:00 (index 18) the artist's 21 streams, none at 03:00.
    assert '<h2 id="hour_streams-title">Hour of day</h2>' in page
    assert "The artist&#39;s streams per local hour, Europe/Berlin, in December 2025." in page
    assert '<div class="chart" id="chart-hour_streams"></div>' in page
    assert '<h2 id="weekday_streams-title">Day of week</h2>' in page
    assert '<div class="chart" id="chart-weekday_streams"></div>' in page
    data = page_data(page)
    assert data == {"hour_streams": hours, "weekday_streams": weekdays}
    assert (data["hour_streams"][18], data["hour_streams"][3], data["weekday_streams"][6]) == (21, 0, 27)
    assert '<script src="/vendor/plotly.min.js">' in page and "dashboard.js" in page
    # Album and track pages have no profile, nor Plotly.
    status, page, _ = get(f"{server.url}/users/alice/albums/al1?period=2025-12", ADMIN)
    assert status == 200 and "chart-hour_streams" not in page and "plotly" not in page and page_data(page) is None


def test_an_artist_row_without_its_profile_shows_no_profile(server, filled):
    """Rows published before the analytics computed the profile hold NULL there: the page shows the rest."""
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.artist_ranking SET hour_streams = NULL, weekday_streams = NULL "
                     "WHERE user_id = 'alice' AND period = '2025-12' AND artist_id = 'ar1'")
    status, body, _ = get(f"{server.url}/api/users/alice/artists/ar1?period=2025-12", ADMIN)
    assert status == 200 and (body["ranking"]["hour_streams"], body["ranking"]["weekday_streams"]) == (None, None)
    status, page, _ = get(f"{server.url}/users/alice/artists/ar1?period=2025-12", ADMIN)
    assert status == 200 and 'id="months-at-top">1<' in page and 'href="/users/alice/tracks/tr1?period=2025-12"' in page
    assert "hour_streams" not in page and "weekday_streams" not in page and "Hour of day" not in page
    assert page_data(page) is None and "plotly" not in page
    # Another period's row still has it.
    status, page, _ = get(f"{server.url}/users/alice/artists/ar1?period=2025-11", ADMIN)
    hours, weekdays = written_profile("alice", "2025-11", "ar1")
    assert page_data(page) == {"hour_streams": hours, "weekday_streams": weekdays}


def test_a_tracks_other_edition_opens_the_songs_row_with_its_editions(server, filled):
    """tr9, the single of tr1's song, has no row of its own: its page shows the song's row (docs/metrics.md, "One
    song across editions") and lists both editions, the shown one first."""
    status, body, _ = get(f"{server.url}/api/users/alice/tracks/tr9?period=2025-12", ADMIN)
    (row,) = ranking_rows(filled, "track", "user_id = 'alice' AND period = '2025-12' AND track_id = 'tr1'", ())
    assert status == 200 and body["track"]["name"] == "Paper River (Single)"
    assert (body["ranking"]["track_id"], body["ranking"]["streams"], body["ranking"]["recording_id"]) == (
        "tr1", row["streams"], "isrc:QZABC2400001")
    assert [(e["track_id"], e["name"]) for e in body["editions"]] == [("tr1", "Paper River"),
                                                                      ("tr9", "Paper River (Single)")]
    assert [m["period"] for m in body["months"]] == [m["period"] for m in get(
        f"{server.url}/api/users/alice/tracks/tr1", ADMIN)[1]["months"]]
    status, page, _ = get(f"{server.url}/users/alice/tracks/tr9?period=2025-12", ADMIN)
    assert status == 200 and 'id="edition-list"' in page
    assert 'href="/users/alice/tracks/tr1?period=2025-12">Paper River</a>' in page
    # A track of one edition has no such list.
    status, page, _ = get(f"{server.url}/users/alice/tracks/tr3", ADMIN)
    assert status == 200 and 'id="edition-list"' not in page and get(
        f"{server.url}/api/users/alice/tracks/tr3", ADMIN)[1]["editions"] == [
        {"track_id": "tr3", "name": "</script><script>alert('x')</script>", "album_id": "al2",
         "album": "Blue Night Sessions"}]
