"""Playlists (docs/metrics.md, statistic 20; docs/dashboard.md, "Playlists"): the playlists page, a playlist's page
and their API, over the hand-written playlists of tests/dashboard/playlist_rows.py and, in the slow test at the
end, over generated listening run through the real pipeline, against plain SQL on main's plays."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from psycopg.rows import dict_row

from fake_spotify.generate import generate, write_to_source
from pipeline import analytics
from star_schema.load import load_main
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, RunningServer, replica_rows, replicate_share_links
from tests.dashboard.playlist_rows import BUILDER, NIGHT, PENDING, QUIET, ROAD, utc
from tests.dashboard.test_dashboard_api import ADMIN, bearer, get
from tests.dashboard.test_dashboard_entities import page_data
from tests.recap_support import copy_main_to_replica
from warehouse.db import connect
from warehouse.share_links import create_share_link

NIGHT_NAME = 'Late Night <Mix> & "Chill"'


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def numbers(row: dict) -> tuple:
    """A playlist_completion row's numbers, its timestamps as datetimes."""
    return (row["rank"], row["tracks_played"], row["total_tracks"], row["completion"], row["streams"],
            row["listening_ms"], when(row["first_played_at"]), when(row["last_played_at"]), row["context_streams"],
            row["context_listening_ms"], when(row["context_first_played_at"]), when(row["context_last_played_at"]))


def test_the_statistic_endpoint_answers_the_playlist_completion_rows(server, filled):
    """The generic endpoint of the catalog (docs/api.md), for the new statistic: rows by rank, every column."""
    status, body, _ = get(f"{server.url}/api/users/alice/playlist_completion?period=2025-12", ADMIN)
    assert status == 200 and (body["statistic"], body["period"]) == ("playlist_completion", "2025-12")
    assert [(r["playlist_id"], r["rank"], r["heard_track_ids"]) for r in body["rows"]] == [
        (ROAD, 1, ["tr4", "tr5", "tr8"]), (NIGHT, 2, ["tr1"])]
    # In December alice streamed three of Road Trip's four tracks, each started from it: 190 + 230 + 250 s.
    assert numbers(body["rows"][0]) == (1, 3, 4, 0.75, 3, 670_000, utc("2025-12-10T21:30:00"),
                                        utc("2025-12-10T21:38:00"), 3, 670_000, utc("2025-12-10T21:30:00"),
                                        utc("2025-12-10T21:38:00"))
    stored = replica_rows(filled, "SELECT * FROM analytics.playlist_completion WHERE user_id = 'alice' "
                                  "AND period = '2025-12' ORDER BY rank")
    assert [set(r) for r in body["rows"]] == [set(r) for r in stored]


def test_the_playlists_answer_lists_every_playlist_followed_by_rank_then_the_others(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/playlists?period=2025-12", ADMIN)
    assert status == 200 and (body["user_id"], body["period"]) == ("alice", "2025-12")
    # Ranked ones first; then those without a row in the period by name (code point order: "Q" before "p"); the
    # playlist whose dim_playlist row has not arrived is named by its id.
    assert [(p["playlist_id"], p["name"], p["rank"]) for p in body["playlists"]] == [
        (ROAD, "Road Trip", 1), (NIGHT, NIGHT_NAME, 2), (QUIET, "Quiet Hours", None), (PENDING, PENDING, None)]
    road, night, quiet, pending = body["playlists"]
    assert (night["tracks_played"], night["total_tracks"], night["streams"], night["context_streams"]) == (1, 5, 1, 0)
    assert when(night["last_played_at"]) == utc("2025-12-01T18:00:00") and night["context_last_played_at"] is None
    assert (quiet["total_tracks"], quiet["streams"], quiet["owner_name"]) == (2, None, "Erin")
    assert (pending["total_tracks"], pending["owner_name"]) == (None, None)
    # Another period, another order: in January "Late Night" comes first (2 of 5 heard, against 1 of 4).
    _, body, _ = get(f"{server.url}/api/users/alice/playlists?period=2026-01", ADMIN)
    assert [(p["playlist_id"], p["rank"]) for p in body["playlists"]][:2] == [(NIGHT, 1), (ROAD, 2)]
    # Every followed playlist, whoever else follows it; never one the user does not follow.
    _, body, _ = get(f"{server.url}/api/users/bob/playlists", ADMIN)
    assert [(p["playlist_id"], p["rank"], p["tracks_played"]) for p in body["playlists"]] == [
        (BUILDER, 1, 1), (NIGHT, 2, 2)]


def test_a_playlist_answer_holds_its_numbers_and_its_tracks_in_order_marked_heard(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/playlists/{NIGHT}?period=2026-01", ADMIN)
    assert status == 200 and (body["user_id"], body["period"]) == ("alice", "2026-01")
    assert body["playlist"] == {"playlist_id": NIGHT, "name": NIGHT_NAME, "owner_name": "Alice", "total_tracks": 5,
                                "entries": 6}
    # January in Berlin: tr7 from the playlist at 00:30 on New Year's Day (still 2025 in UTC), tr3 from elsewhere;
    # and tr4, not on the playlist, started from it.
    assert numbers(body["playlist_completion"]) == (
        1, 2, 5, 0.4, 2, 189_000 + 172_000, utc("2025-12-31T23:30:00"), utc("2026-01-15T12:00:00"),
        2, 189_000 + 198_000, utc("2025-12-31T23:30:00"), utc("2026-01-21T19:00:00"))
    assert body["playlist_completion"]["heard_track_ids"] == ["tr3", "tr7"]
    assert [(t["position"], t["track_id"], t["name"], t["artist"], t["heard"]) for t in body["tracks"]] == [
        (0, "tr1", "Paper River", "Nova Ridge", False),
        (1, "tr3", "</script><script>alert('x')</script>", "Kalo & the Echoes", True),
        (2, "pl-x1", None, None, False),  # not in dim_track: no name
        (3, "tr7", 'Sugar & "Glass"', "Kalo & the Echoes", True),
        (4, "tr2", "Ghost Light", "Nova Ridge", False),
        (5, "tr1", "Paper River", "Nova Ridge", False)]
    # All time: tr1 heard, so both of its entries are.
    _, body, _ = get(f"{server.url}/api/users/alice/playlists/{NIGHT}", ADMIN)
    assert body["period"] == "all"
    assert [t["track_id"] for t in body["tracks"] if t["heard"]] == ["tr1", "tr3", "tr7", "tr2", "tr1"]
    assert numbers(body["playlist_completion"])[:6] == (1, 4, 5, 0.8, 6, 1_181_000)


def test_a_playlist_streamed_only_from_or_not_at_all_in_a_period(server, filled):
    # November: a stream started from Road Trip of a track not on it: no track heard, no first or last stream.
    status, body, _ = get(f"{server.url}/api/users/alice/playlists/{ROAD}?period=2025-11", ADMIN)
    assert status == 200
    assert numbers(body["playlist_completion"]) == (2, 0, 4, 0.0, 0, 0, None, None, 1, 240_000,
                                                    utc("2025-11-20T08:00:00"), utc("2025-11-20T08:00:00"))
    assert not any(t["heard"] for t in body["tracks"]) and len(body["tracks"]) == 4
    # Followed, never streamed: no row, its tracks (unknown to dim_track) listed, none heard.
    status, body, _ = get(f"{server.url}/api/users/alice/playlists/{QUIET}", ADMIN)
    assert status == 200 and body["playlist_completion"] is None
    assert [(t["track_id"], t["name"], t["heard"]) for t in body["tracks"]] == [("qh-1", None, False),
                                                                              ("qh-2", None, False)]
    # Followed, its dimension rows not replicated yet.
    status, body, _ = get(f"{server.url}/api/users/alice/playlists/{PENDING}", ADMIN)
    assert status == 200 and body["playlist"] == {"playlist_id": PENDING, "name": None, "owner_name": None,
                                                  "total_tracks": None, "entries": 0}
    assert body["tracks"] == [] and body["playlist_completion"] is None


@pytest.mark.parametrize(("path", "message"), [
    (f"/api/users/alice/playlists/{BUILDER}", f"user 'alice' follows no playlist '{BUILDER}'"),  # bob's only
    ("/api/users/alice/playlists/nothing-here", "user 'alice' follows no playlist 'nothing-here'"),
    (f"/api/users/alice/playlists/{NIGHT}?period=2019", "no statistics for user 'alice' and period '2019'"),
    (f"/api/users/alice/playlists/{NIGHT}?period=20x", "bad period '20x'"),
    (f"/api/users/nobody/playlists/{NIGHT}", "unknown user 'nobody'"),
    ("/api/users/alice/playlists?period=2019", "no statistics for user 'alice' and period '2019'"),
])
def test_a_playlist_not_followed_or_a_bad_period_is_a_clear_404(server, path, message):
    status, body, head = get(server.url + path, ADMIN)
    assert status == 404 and head["Content-Type"] == "application/json"
    assert set(body) == {"error", "message", "status"} and body["status"] == 404 and message in body["message"]
    # the same shape as an artist the user never streamed
    assert set(get(f"{server.url}/api/users/alice/artists/ar9", ADMIN)[1]) == set(body)
    page = path.removeprefix("/api")
    status, html, head = get(server.url + page, ADMIN)
    assert status == 404 and head["Content-Type"].startswith("text/html") and 'id="error"' in html


def test_the_playlists_page_ranks_the_streamed_ones_and_lists_the_others_after(server, filled):
    status, page, _ = get(f"{server.url}/users/alice/playlists?period=2025-12", ADMIN)
    assert status == 200
    rows = re.findall(r'<tr data-id="([^"]+)" class="(streamed|unstreamed)">\s*<td class="num">([^<]*)</td>', page)
    assert rows == [(ROAD, "streamed", "1"), (NIGHT, "streamed", "2"), (QUIET, "unstreamed", ""),
                    (PENDING, "unstreamed", "")]
    road = page[page.index(f'data-id="{ROAD}"'):page.index(f'data-id="{NIGHT}"')]
    assert f'href="/users/alice/playlists/{ROAD}?period=2025-12">Road Trip</a>' in road
    for shown in ("3 of 4", "75 %", ">3<", "11 min", "2025-12-10"):  # 670 s is 11 min
        assert shown in road, shown
    quiet = page[page.index(f'data-id="{QUIET}"'):page.index(f'data-id="{PENDING}"')]
    assert "not streamed in December 2025 (2 tracks)" in quiet
    assert "Late Night &lt;Mix&gt; &amp; &#34;Chill&#34;" in page and "<Mix>" not in page  # escaped
    assert "4 followed, 2 streamed in December 2025" in page
    assert '<a href="/users/alice/playlists?period=2025-12" aria-current="page">Playlists</a>' in page
    # The tab is on every page of the user, for the period shown.
    status, page, _ = get(f"{server.url}/users/alice/artists?period=2026", ADMIN)
    assert '<a href="/users/alice/playlists?period=2026">Playlists</a>' in page
    # A user who follows nothing is told how to follow one.
    with connect("replica", filled) as conn:
        conn.execute("DELETE FROM dim_user_playlist WHERE user_id = 'erin'")
    status, page, _ = get(f"{server.url}/users/erin/playlists", ADMIN)
    assert status == 200 and 'id="no-playlists"' in page and "table-playlist_completion" not in page


def test_a_playlist_page_shows_its_numbers_and_marks_each_track_heard_or_not(server, filled):
    status, page, _ = get(f"{server.url}/users/alice/playlists/{NIGHT}?period=2026-01", ADMIN)
    assert status == 200
    assert '<h2 id="entity-name">Late Night &lt;Mix&gt; &amp; &#34;Chill&#34;</h2>' in page
    assert 'id="completion">2 of 5<' in page and "tracks heard (40 %)" in page
    cards = re.findall(r'<span class="value"[^>]*>([^<]+)</span><span class="label">([^<]+)</span>', page)
    assert ("2026-01-01", "first stream") in cards  # 23:30 UTC on 31 December is New Year's Day in Berlin
    assert ("2026-01-15", "last stream") in cards and ("6 min", "listening time") in cards  # 361 s
    context = page[page.index('id="cards-context"'):page.index('id="track_list"')]
    assert re.findall(r'<span class="value">([^<]+)</span>', context) == ["2", "6 min", "2026-01-01", "2026-01-21"]
    rows = re.findall(r'<tr data-id="([^"]+)" class="(heard|unheard)">\s*<td class="num">(\d+)</td>', page)
    assert rows == [("tr1", "unheard", "1"), ("tr3", "heard", "2"), ("pl-x1", "unheard", "3"),
                    ("tr7", "heard", "4"), ("tr2", "unheard", "5"), ("tr1", "unheard", "6")]
    assert 'href="/users/alice/tracks/tr7?period=2026-01">Sugar &amp; &#34;Glass&#34;</a>' in page  # heard: linked
    assert 'href="/users/alice/tracks/tr1' not in page and "<code>pl-x1</code>" in page
    assert "<script>alert" not in page
    assert '<a href="/users/alice/playlists?period=2026-01" aria-current="page">Playlists</a>' in page
    # The period picker keeps the playlist.
    assert f'<form method="get" action="/users/alice/playlists/{NIGHT}">' in page
    # A period with a stream from it only: no first or last stream of its tracks.
    status, page, _ = get(f"{server.url}/users/alice/playlists/{ROAD}?period=2025-11", ADMIN)
    assert status == 200 and 'id="completion">0 of 4<' in page
    assert ("—", "first stream") in re.findall(r'<span class="value"[^>]*>([^<]+)</span><span class="label">([^<]+)'
                                              r'</span>', page)
    status, page, _ = get(f"{server.url}/users/alice/playlists/{QUIET}", ADMIN)
    assert status == 200 and 'id="no-streams"' in page and page.count('class="unheard"') == 2


def test_the_overview_has_a_playlist_completion_panel_linking_to_the_playlists(server, filled):
    status, page, _ = get(f"{server.url}/users/alice?period=2025-12", ADMIN)
    assert status == 200
    assert '<section class="panel" id="playlist_completion"' in page
    assert '<div id="table-playlist_completion"></div>' in page
    assert 'href="/users/alice/playlists?period=2025-12">Every playlist you follow</a>' in page
    data = page_data(page)
    assert [(r["rank"], r["playlist_id"], r["name"], r["tracks_played"], r["total_tracks"], r["context_streams"])
            for r in data["playlist_completion"]] == [(1, ROAD, "Road Trip", 3, 4, 3), (2, NIGHT, NIGHT_NAME, 1, 5, 0)]
    meta = json.loads(re.search(r'<script type="application/json" id="page-meta">(.*?)</script>', page).group(1))
    assert meta["entity_urls"]["playlists"] == "/users/alice/playlists/ENTITY_ID"  # dashboard.js links each row
    # A playlist unfollowed since the analytics ran is left out, as on the playlists page.
    with connect("replica", filled) as conn:
        conn.execute("DELETE FROM dim_user_playlist WHERE user_id = 'alice' AND playlist_id = %s", (ROAD,))
    _, page, _ = get(f"{server.url}/users/alice?period=2025-12", ADMIN)
    assert [r["playlist_id"] for r in page_data(page)["playlist_completion"]] == [NIGHT]
    assert get(f"{server.url}/api/users/alice/playlists/{ROAD}", ADMIN)[0] == 404


def test_a_share_link_opens_its_users_playlists_only(server, filled):
    token = create_share_link(filled, "alice")
    replicate_share_links(filled)
    for path in ("/api/users/alice/playlists", f"/api/users/alice/playlists/{NIGHT}",
                 "/api/users/alice/playlist_completion"):
        assert get(server.url + path, bearer(token))[0] == 200, path
    unknown = get(f"{server.url}/api/users/nobody/playlists/{NIGHT}", bearer(token))
    assert unknown[0] == 404
    for path in ("/api/users/bob/playlists", f"/api/users/bob/playlists/{NIGHT}", f"/api/users/bob/playlists/{BUILDER}",
                 "/api/users/bob/playlist_completion"):
        assert get(server.url + path, bearer(token))[:2] == unknown[:2], path  # as if bob did not exist
    for headers in ({}, bearer("not-a-token")):
        for path in ("/api/users/alice/playlists", f"/api/users/alice/playlists/{NIGHT}", "/users/alice/playlists",
                     f"/users/alice/playlists/{NIGHT}"):
            assert get(server.url + path, headers)[0] == 404, (path, headers)
    cookie = get(f"{server.url}/s/{token}")[2]["Set-Cookie"].split(";")[0]
    status, page, _ = get(f"{server.url}/users/alice/playlists/{NIGHT}", {"Cookie": cookie})
    assert status == 200 and "Late Night" in page
    assert get(f"{server.url}/users/alice/playlists", {"Cookie": cookie})[0] == 200
    for path in ("/users/bob/playlists", f"/users/bob/playlists/{NIGHT}"):
        assert get(server.url + path, {"Cookie": cookie})[0] == 404, path


# -- the real pipeline -------------------------------------------------------------------------------------------

# A stream of the period, as main counts it (docs/metrics.md); %(period)s: 'all', a local year or month.
MAIN_STREAMS = ("SELECT * FROM fact_play WHERE user_id = %(user)s AND content_type = 'track' AND is_stream "
                "AND NOT excluded AND (%(period)s = 'all' OR local_year = %(period)s OR local_month = %(period)s)")
MAIN_EXPECTED = f"""
WITH s AS ({MAIN_STREAMS}),
     tracks AS (SELECT DISTINCT track_id FROM dim_playlist_track WHERE playlist_id = %(playlist)s),
     heard AS (SELECT s.* FROM s JOIN tracks USING (track_id)),
     started AS (SELECT * FROM s WHERE context_uri = 'spotify:playlist:' || %(playlist)s
                                    OR context_uri LIKE 'spotify:user:%%:playlist:' || %(playlist)s)
SELECT (SELECT count(*) FROM tracks) AS total_tracks,
       (SELECT count(DISTINCT track_id) FROM heard) AS tracks_played,
       (SELECT coalesce(array_agg(DISTINCT track_id COLLATE "C" ORDER BY track_id COLLATE "C"), '{{}}')
          FROM heard) AS heard_track_ids,
       (SELECT count(*) FROM heard) AS streams, (SELECT coalesce(sum(ms_played), 0) FROM heard) AS listening_ms,
       (SELECT min(played_at) FROM heard) AS first_played_at, (SELECT max(played_at) FROM heard) AS last_played_at,
       (SELECT count(*) FROM started) AS context_streams,
       (SELECT coalesce(sum(ms_played), 0) FROM started) AS context_listening_ms,
       (SELECT min(played_at) FROM started) AS context_first_played_at,
       (SELECT max(played_at) FROM started) AS context_last_played_at
"""


@pytest.mark.slow
def test_a_generated_listeners_playlists_match_their_plays_in_main(dbs, spark):
    """make demo's generated listening (every listener follows "Generated Hits" and their own "Favourites")
    through the real pipeline: the playlist pages' numbers are those of plain SQL on main's plays."""
    listening = generate(seed=5, users=2, days=60)
    user = listening.users[0].user_id
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
        ((favourites,),) = conn.execute(
            "SELECT p.playlist_id FROM playlists p JOIN user_playlists u USING (playlist_id) "
            "WHERE u.user_id = %s AND p.name LIKE %s", (user, "%'s Favourites")).fetchall()
        # Generated plays name no context; as Web API plays would, a third of the listener's name their Favourites
        # (in the two URI forms), whatever the track.
        conn.execute("UPDATE plays SET context_uri = CASE WHEN play_id %% 2 = 0 THEN 'spotify:playlist:' || %(p)s "
                     "ELSE 'spotify:user:someone:playlist:' || %(p)s END "
                     "WHERE user_id = %(u)s AND play_id %% 3 = 0", {"p": favourites, "u": user})
    load_main(dbs)
    analytics.run(dbs, full=True, spark=spark)
    copy_main_to_replica(dbs)  # the playlists' dimensions with the others

    with connect("main", dbs) as conn:
        followed = [r[0] for r in conn.execute(
            "SELECT playlist_id FROM dim_user_playlist WHERE user_id = %s ORDER BY playlist_id", (user,))]
        months = [r[0] for r in conn.execute(
            "SELECT local_month FROM fact_play WHERE user_id = %s AND context_uri IS NOT NULL "
            "GROUP BY local_month ORDER BY count(*) DESC, local_month LIMIT 1", (user,))]
        entries = {p: [r[0] for r in conn.execute(
            "SELECT track_id FROM dim_playlist_track WHERE playlist_id = %s ORDER BY position", (p,))]
            for p in followed}
    assert len(followed) == 2 and favourites in followed and len(entries[favourites]) == 40 and months

    settings = dbs.model_copy(update={"dashboard_admin_password": ADMIN_PASSWORD})
    with RunningServer(settings) as server:
        compared = []
        for period in ["all", *months]:
            status, listed, _ = get(f"{server.url}/api/users/{user}/playlists?period={period}", ADMIN)
            assert status == 200 and sorted(p["playlist_id"] for p in listed["playlists"]) == followed
            ranks = [p["rank"] for p in listed["playlists"]]
            ranked = [r for r in ranks if r is not None]  # by rank, then those without a row of the period
            assert ranks == list(range(1, len(ranked) + 1)) + [None] * (len(ranks) - len(ranked)), ranks
            for playlist in followed:
                with connect("main", dbs) as conn:
                    expected = conn.cursor(row_factory=dict_row).execute(
                        MAIN_EXPECTED, {"user": user, "period": period, "playlist": playlist}).fetchone()
                status, body, _ = get(f"{server.url}/api/users/{user}/playlists/{playlist}?period={period}", ADMIN)
                assert status == 200, body
                assert [t["track_id"] for t in body["tracks"]] == entries[playlist]
                row = body["playlist_completion"]
                if not expected["streams"] and not expected["context_streams"]:
                    assert row is None and not any(t["heard"] for t in body["tracks"]), (playlist, period)
                    continue
                assert row is not None, (playlist, period)
                compared.append((playlist, period))
                got = {key: when(row[key]) if key.endswith("_at") else row[key] for key in expected}
                assert got == expected, (playlist, period)
                assert row["completion"] == expected["tracks_played"] / expected["total_tracks"]
                assert {t["track_id"] for t in body["tracks"] if t["heard"]} == set(expected["heard_track_ids"])
                assert all(t["name"] for t in body["tracks"])  # generated tracks are all in dim_track
                if playlist == favourites:
                    assert expected["context_streams"] > 0 and expected["tracks_played"] > 0
                    if period == "all":  # its 30 most streamed tracks first, then 10 not streamed 30 s or more
                        assert body["playlist"]["total_tracks"] == 40 and 30 <= expected["tracks_played"] < 40
                        assert [t["heard"] for t in body["tracks"]][:30] == [True] * 30
    # every playlist has its row of all time; the Favourites in the month with the most streams from them too
    assert {(p, "all") for p in followed} | {(favourites, months[0])} <= set(compared)
