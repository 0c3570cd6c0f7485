"""The JSON API against a filled replica: exact rows, clear 404s, who may see what."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.error
import urllib.request
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from dashboard.app import create_app
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, replica_rows, replicate_share_links
from warehouse.catalog import ROLLING_PERIODS, STATISTICS
from warehouse.share_links import create_share_link, list_share_links, revoke_share_link

ADMIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()}


def get(url: str, headers: dict | None = None) -> tuple[int, dict | str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            status, body, head = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, body, head = error.code, error.read().decode(), dict(error.headers)
    if head.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(body), head
    return status, body, head


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def primary_key(settings, table: str) -> list[str]:
    rows = replica_rows(settings, """
        SELECT a.attname AS name FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
                        (f"analytics.{table}",))
    return [row["name"] for row in rows]


def as_python(value, like):
    """An API value (JSON) as the Python type of the replica's value `like`."""
    if isinstance(like, datetime):
        return datetime.fromisoformat(value)
    if isinstance(like, date):
        return date.fromisoformat(value)
    return value


def rolling_start(settings, user: str, period: str) -> datetime:
    """When a rolling period starts: the local midnight of its first_day, as its overview row holds it
    (docs/metrics.md, statistic 1)."""
    (row,) = replica_rows(settings, "SELECT o.first_day, u.timezone FROM analytics.overview o "
                                    "JOIN dim_user u USING (user_id) WHERE o.user_id = %s AND o.period = %s",
                          (user, period))
    return datetime.combine(row["first_day"], time(), ZoneInfo(row["timezone"]))


def in_period(settings, user: str, session: dict, period: str) -> bool:
    """docs/metrics.md: a session (keyed by its month) belongs to that month, its year and 'all', and to a
    rolling period when it starts in it."""
    if period in ROLLING_PERIODS:
        return session["session_start"] >= rolling_start(settings, user, period)
    return period == "all" or session["period"] == period or session["period"].startswith(period + "-")


def periods_of(settings, user: str) -> list[str]:
    return [r["period"] for r in replica_rows(
        settings, "SELECT period FROM analytics.overview WHERE user_id = %s", (user,))]


# The rows the admin gets of a statistic whose rows name another user: those of two users who both allow
# comparison now (docs/metrics.md, "Comparing users").
CONSENTING = "(SELECT user_id FROM dim_user WHERE compare_consent)"
COMPARED_ROWS = {"taste_overlap": f" AND user_id IN {CONSENTING} AND other_user_id IN {CONSENTING}"}


def test_every_endpoint_returns_exactly_the_replica_rows(server, filled):
    users = [r["user_id"] for r in replica_rows(filled, "SELECT DISTINCT user_id FROM analytics.overview")]
    assert len(users) >= 2
    checked, compared = 0, 0
    for statistic in STATISTICS:
        key = primary_key(filled, statistic)
        for user in users:
            everything = replica_rows(filled, f"SELECT * FROM analytics.{statistic} WHERE user_id = %s"
                                              + COMPARED_ROWS.get(statistic, ""), (user,))
            for period in periods_of(filled, user):
                expected = {tuple(r[k] for k in key): r for r in everything if in_period(filled, user, r, period)} \
                    if statistic == "sessions" else \
                    {tuple(r[k] for k in key): r for r in everything if r["period"] == period}
                status, body, head = get(f"{server.url}/api/users/{user}/{statistic}?period={period}", ADMIN)
                assert status == 200, body
                assert (body["user_id"], body["statistic"], body["period"]) == (user, statistic, period)
                # taste_overlap has rows only for two users who allow comparison and both have the period
                assert expected or statistic in COMPARED_ROWS, f"the test data has no {statistic} of {user} {period}"
                compared += len(expected) if statistic in COMPARED_ROWS else 0
                assert len(body["rows"]) == len(expected)
                for row in body["rows"]:
                    assert set(row) == set(next(iter(expected.values()))), statistic
                    like = expected[tuple(as_python(row[k], next(iter(expected.values()))[k]) for k in key)]
                    assert {c: as_python(v, like[c]) for c, v in row.items()} == like
                checked += 1
    assert checked == len(STATISTICS) * sum(len(periods_of(filled, u)) for u in users)
    assert compared >= 2, "the test data has no taste_overlap rows"


def test_rows_come_in_rank_and_key_order(server):
    _, body, _ = get(f"{server.url}/api/users/alice/top_tracks?period=2025", ADMIN)
    assert [r["rank"] for r in body["rows"]] == sorted(r["rank"] for r in body["rows"])
    _, body, _ = get(f"{server.url}/api/users/alice/hour_of_day?period=all", ADMIN)
    assert [r["hour"] for r in body["rows"]] == list(range(24))
    _, body, _ = get(f"{server.url}/api/users/alice/genre_distribution?period=all", ADMIN)
    assert body["rows"][-1]["genre"] == "unknown" and body["rows"][-1]["rank"] is None
    _, body, _ = get(f"{server.url}/api/users/alice/sessions?period=2025", ADMIN)
    assert {r["period"] for r in body["rows"]} == {"2025-11", "2025-12"}
    starts = [r["session_start"] for r in body["rows"]]
    assert starts == sorted(starts) and len(starts) == 6


def test_periods_and_users(server, filled):
    status, body, _ = get(f"{server.url}/api/users/alice/periods", ADMIN)
    assert status == 200
    assert body == {"user_id": "alice", "timezone": "Europe/Berlin",
                    "periods": ["all", "last-4-weeks", "last-6-months", "last-12-months", "2026", "2025", "2026-01",
                                "2025-12", "2025-11"]}
    status, body, _ = get(f"{server.url}/api/users", ADMIN)
    assert status == 200
    assert [u["user_id"] for u in body["users"]] == ["alice", "bob", "carol", "erin"]
    alice = body["users"][0]
    overview_all = replica_rows(filled, "SELECT streams FROM analytics.overview "
                                        "WHERE user_id = 'alice' AND period = 'all'")[0]
    assert (alice["streams"], alice["timezone"], alice["periods"]) == (overview_all["streams"], "Europe/Berlin", 9)


@pytest.mark.parametrize("path, message", [
    ("/api/users/nobody/overview", "unknown user 'nobody'"),
    ("/api/users/nobody/periods", "unknown user 'nobody'"),
    ("/api/users/alice/overview?period=2024-13", "bad period '2024-13'"),
    ("/api/users/alice/overview?period=last-week", "bad period 'last-week'"),
    ("/api/users/alice/overview?period=last-3-months", "bad period 'last-3-months'"),
    ("/api/users/bob/overview?period=last-4-weeks", "no statistics for user 'bob' and period 'last-4-weeks'"),
    ("/api/users/alice/top_tracks?period=2019", "no statistics for user 'alice' and period '2019'"),
    ("/api/users/alice/sessions?period=2019-02", "no statistics for user 'alice' and period '2019-02'"),
    ("/api/users/carol/overview", "no statistics for user 'carol' and period 'all'"),
    ("/api/users/alice/top_genres", "unknown statistic 'top_genres'"),
    ("/api/nothing/here", "not found"),
])
def test_bad_user_period_or_statistic_is_a_clear_404(server, path, message):
    status, body, head = get(server.url + path, ADMIN)
    assert status == 404
    assert head["Content-Type"] == "application/json"
    assert body["status"] == 404 and message.lower() in body["message"].lower()


def test_a_rolling_period_has_its_own_rows_and_the_sessions_starting_in_it(server, filled):
    rows = replica_rows(filled, "SELECT * FROM analytics.overview WHERE user_id = 'alice' "
                                "AND period IN ('all', 'last-12-months') ORDER BY period = 'all'")
    status, body, _ = get(f"{server.url}/api/users/alice/overview?period=last-12-months", ADMIN)
    assert status == 200 and body["period"] == "last-12-months"
    assert [r["streams"] for r in body["rows"]] == [rows[0]["streams"]] != [rows[1]["streams"]]
    # Alice's last stream is on 21 January 2026 in Berlin: her last 4 weeks start on 25 December, 00:00 local
    # (23:00 UTC), whatever month holds their first sessions.
    edge = [datetime.fromisoformat("2025-12-24T22:59:59+00:00"), datetime.fromisoformat("2025-12-24T23:00:00+00:00")]
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO analytics.sessions (user_id, session_id, period, session_start, session_end, streams, "
            "distinct_tracks, listening_ms, computed_at, source_max_played_at) "
            "VALUES ('alice', %s, %s, %s, %s, 3, 3, 600000, now(), now())",
            [(int(start.timestamp() * 1000), "2025-12", start, start + timedelta(minutes=10)) for start in edge])
    january = [r["session_start"] for r in replica_rows(
        filled, "SELECT session_start FROM analytics.sessions WHERE user_id = 'alice' AND period = '2026-01' "
                "ORDER BY session_start")]
    status, body, _ = get(f"{server.url}/api/users/alice/sessions?period=last-4-weeks", ADMIN)
    assert status == 200
    assert [datetime.fromisoformat(r["session_start"]) for r in body["rows"]] == [edge[1], *january]
    every = get(f"{server.url}/api/users/alice/sessions?period=all", ADMIN)[1]["rows"]
    assert get(f"{server.url}/api/users/alice/sessions?period=last-6-months", ADMIN)[1]["rows"] == every
    # The first day is the overview row's, not worked out again: moved to 3 January, the period's sessions
    # are those starting from 3 January, 00:00 in Berlin.
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.overview SET first_day = '2026-01-03' "
                     "WHERE user_id = 'alice' AND period = 'last-4-weeks'")
    status, body, _ = get(f"{server.url}/api/users/alice/sessions?period=last-4-weeks", ADMIN)
    assert status == 200
    assert [datetime.fromisoformat(r["session_start"]) for r in body["rows"]] == january[1:]
    assert january[0] < datetime.fromisoformat("2026-01-02T23:00:00+00:00") <= january[1]


# docs/metrics.md, statistic 1: Alice streamed from 1 November 2025 to 21 January 2026 (local dates), Bob in
# January 2026 only.
PERIOD_DAYS = {
    "alice": {"all": ("2025-11-01", "2026-01-21"), "last-4-weeks": ("2025-12-25", "2026-01-21"),
              "last-6-months": ("2025-07-22", "2026-01-21"), "last-12-months": ("2025-01-22", "2026-01-21"),
              "2026": ("2026-01-01", "2026-12-31"), "2025": ("2025-01-01", "2025-12-31"),
              "2026-01": ("2026-01-01", "2026-01-31"), "2025-12": ("2025-12-01", "2025-12-31"),
              "2025-11": ("2025-11-01", "2025-11-30")},
    "bob": {"all": ("2026-01-01", "2026-01-21"), "2026": ("2026-01-01", "2026-12-31"),
            "2026-01": ("2026-01-01", "2026-01-31")},
}
USER_ZONES = {"alice": "Europe/Berlin", "bob": "America/New_York"}


@pytest.mark.parametrize("user", PERIOD_DAYS)
def test_the_overview_answers_the_days_each_period_spans(server, filled, user):
    assert periods_of(filled, user) and set(periods_of(filled, user)) == set(PERIOD_DAYS[user])
    for period, days in PERIOD_DAYS[user].items():
        status, body, _ = get(f"{server.url}/api/users/{user}/overview?period={period}", ADMIN)
        assert status == 200
        (row,) = body["rows"]
        assert (row["first_day"], row["last_day"]) == days, period
        # the period's plays lie within its days (local dates)
        zone = ZoneInfo(USER_ZONES[user])
        played = [datetime.fromisoformat(row[c]).astimezone(zone).date().isoformat()
                  for c in ("first_played_at", "last_played_at")]
        assert days[0] <= played[0] <= played[1] <= days[1], period
        if period == "all":  # from the first to the latest local date with a stream
            assert played == list(days)
        if period in ROLLING_PERIODS:  # to the latest local date with a stream
            assert played[1] == days[1] == PERIOD_DAYS[user]["all"][1]


ROLLING_LABELS = [("last-4-weeks", "Last 4 weeks · 25 Dec 2025 – 21 Jan 2026"),
                  ("last-6-months", "Last 6 months · 22 Jul 2025 – 21 Jan 2026"),
                  ("last-12-months", "Last 12 months · 22 Jan 2025 – 21 Jan 2026")]


def test_the_period_picker_offers_the_rolling_periods_after_all_time(server):
    status, page, _ = get(f"{server.url}/users/alice?period=last-4-weeks", ADMIN)
    assert status == 200 and "<h1>Alice · Last 4 weeks · 25 Dec 2025 – 21 Jan 2026</h1>" in page
    assert "<title>Alice · Last 4 weeks · 25 Dec 2025 – 21 Jan 2026" in page
    picker = page.split('<select id="period-picker"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', picker, re.S)
    assert [label for label, _ in groups] == ["All time", "Rolling", "Years", "Months"]
    assert re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', groups[1][1]) == [
        (period, " selected" if period == "last-4-weeks" else "", label) for period, label in ROLLING_LABELS]
    assert 'id="chart-months"' not in page  # its months are not whole months of it
    assert 'id="chart-months"' in get(f"{server.url}/users/alice?period=2026", ADMIN)[1]
    assert '<optgroup label="Rolling">' not in get(f"{server.url}/users/bob", ADMIN)[1]  # bob has none here


def test_a_rolling_period_s_pages_show_the_days_it_spans(server, filled):
    """Its overview, rankings and entity pages name it with the days its overview row spans; the other periods
    and a rolling row without days (published before the analytics wrote them) by name only."""
    heading = "Last 6 months · 22 Jul 2025 – 21 Jan 2026"
    for path, h1 in (("/users/alice", f"Alice · {heading}"), ("/users/alice/tracks", f"Alice · Tracks · {heading}"),
                     ("/users/alice/artists/ar1", f"Nova Ridge · {heading}"),
                     ("/users/alice/albums/al1", f"Golden Echo · {heading}"),
                     ("/users/alice/tracks/tr1", f"Paper River · {heading}")):
        status, page, _ = get(f"{server.url}{path}?period=last-6-months", ADMIN)
        assert status == 200 and f"<h1>{h1}</h1>" in page, path
        assert f'<option value="last-6-months" selected>{heading}</option>' in page
    status, page, _ = get(f"{server.url}/users/alice/artists?period=2025-12", ADMIN)
    assert "<h1>Alice · Artists · December 2025</h1>" in page and "Last 4 weeks · 25 Dec 2025 – 21 Jan 2026" in page
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.overview SET first_day = NULL, last_day = NULL "
                     "WHERE user_id = 'alice' AND period = 'last-6-months'")
    status, page, _ = get(f"{server.url}/users/alice/artists?period=last-6-months", ADMIN)
    assert status == 200 and "<h1>Alice · Artists · Last 6 months</h1>" in page
    assert '<option value="last-6-months" selected>Last 6 months</option>' in page


@pytest.mark.parametrize("statistic", ["track_ranking", "artist_ranking", "album_ranking"])
def test_a_ranking_comes_a_page_at_a_time_in_either_order(server, filled, statistic):
    item = statistic.replace("_ranking", "_id")
    stored = replica_rows(filled, f"SELECT * FROM analytics.{statistic} WHERE user_id = 'alice' AND period = 'all'")
    for sort, rank in (("streams", "rank"), ("listening_time", "time_rank")):
        seen = []
        for page in range(1, 5):
            status, body, _ = get(f"{server.url}/api/users/alice/{statistic}?sort={sort}&page={page}&per_page=3",
                                  ADMIN)
            assert status == 200, body
            assert (body["sort"], body["page"], body["per_page"], body["rows_total"]) == (sort, page, 3, len(stored))
            assert body["pages"] == -(-len(stored) // 3) >= 2
            assert [r[rank] for r in body["rows"]] == list(range(3 * page - 2, 3 * page + 1))[:len(body["rows"])]
            seen += [r[item] for r in body["rows"]]
        assert seen == [r[item] for r in sorted(stored, key=lambda r: r[rank])]  # every item once, in order
    by_time = get(f"{server.url}/api/users/alice/{statistic}?sort=listening_time", ADMIN)[1]["rows"]
    assert by_time[0][item] == max(stored, key=lambda r: (r["listening_ms"], r["streams"]))[item]


@pytest.mark.parametrize("query, message", [
    ("sort=plays", "bad sort 'plays': track_ranking sorts by streams or listening_time"),
    ("page=0", "bad page '0'"), ("page=two", "bad page 'two'"), ("per_page=501", "bad per_page '501'"),
    ("page=-1", "bad page '-1'"),
])
def test_a_bad_order_or_page_of_a_ranking_is_a_clear_400(server, query, message):
    status, body, _ = get(f"{server.url}/api/users/alice/track_ranking?{query}", ADMIN)
    assert status == 400 and message in body["message"]


def test_nothing_opens_without_a_token_or_the_password(server):
    wrong_password = {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}
    for headers in ({}, wrong_password, bearer("not-a-token")):
        for path in ("/api/users", "/api/users/alice/overview", "/api/users/alice/periods",
                     "/users", "/users/alice", "/users/alice/wrapped/2025"):
            status, body, _ = get(server.url + path, headers)
            # The fifth wrong password starts a back-off (test_dashboard_hardening): 429, still nothing shown.
            assert status == 404 or (headers is wrong_password and status == 429), (path, headers)
            assert "alice" not in json.dumps(body).lower().replace("/api/users/alice", "")


def test_a_share_link_opens_its_user_only(server, filled):
    token = create_share_link(filled, "alice")
    replicate_share_links(filled)
    unknown_body = get(f"{server.url}/api/users/nobody/overview", bearer(token))[1]
    for statistic in STATISTICS:
        status, body, _ = get(f"{server.url}/api/users/alice/{statistic}?period=2025-12", bearer(token))
        # taste_overlap: no row names a user the link does not open (test_dashboard_compare)
        assert status == 200 and bool(body["rows"]) is (statistic != "taste_overlap"), statistic
        status, body, _ = get(f"{server.url}/api/users/bob/{statistic}?period=2026-01", bearer(token))
        assert (status, body) == (404, unknown_body), statistic  # indistinguishable from a user who does not exist
    assert get(f"{server.url}/api/users/bob/periods", bearer(token))[0] == 404
    assert get(f"{server.url}/api/users", bearer(token))[0] == 404

    # In a browser: the link sets a cookie and leads to the user's page; other users stay closed.
    status, _, head = get(f"{server.url}/s/{token}")
    assert status == 302 and head["Location"].endswith("/users/alice")
    cookie = head["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in head["Set-Cookie"]
    status, page, _ = get(f"{server.url}/users/alice?period=2026", {"Cookie": cookie})
    assert status == 200 and "Alice" in page
    assert "bob" not in page.lower() and "carol" not in page.lower()
    assert get(f"{server.url}/users/bob", {"Cookie": cookie})[0] == 404
    assert get(f"{server.url}/users/carol", {"Cookie": cookie})[0] == 404
    assert get(f"{server.url}/users", {"Cookie": cookie})[0] == 404


def test_a_revoked_link_stops_working_at_once(server, filled):
    token = create_share_link(filled, "alice")
    other = create_share_link(filled, "alice")
    replicate_share_links(filled)
    status, _, head = get(f"{server.url}/s/{token}")
    cookie = head["Set-Cookie"].split(";")[0]
    assert get(f"{server.url}/api/users/alice/overview", bearer(token))[0] == 200
    assert get(f"{server.url}/users/alice", {"Cookie": cookie})[0] == 200

    revoked = revoke_share_link(filled, token)
    replicate_share_links(filled)
    assert revoked.revoked_at is not None and revoked.user_id == "alice"
    assert get(f"{server.url}/api/users/alice/overview", bearer(token))[0] == 404
    assert get(f"{server.url}/users/alice", {"Cookie": cookie})[0] == 404
    assert get(f"{server.url}/s/{token}")[0] == 404
    assert get(f"{server.url}/api/users/alice/overview", bearer(other))[0] == 200  # the other link lives on


def test_share_links_store_only_a_hash(filled):
    token = create_share_link(filled, "bob")
    with psycopg.connect(filled.main_database_url) as conn:
        rows = conn.execute("SELECT token_hash, user_id, revoked_at FROM dashboard_share_links").fetchall()
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), "bob", None)]
    assert len(token) >= 43
    link = list_share_links(filled, "bob")[0]
    assert revoke_share_link(filled, link.id).token_hash == rows[0][0]  # by the id `list` shows
    again = revoke_share_link(filled, token)  # revoking again changes nothing
    assert again.revoked_at == list_share_links(filled, "bob")[0].revoked_at


def test_share_link_errors_are_clear(filled):
    with pytest.raises(ValueError, match="unknown user 'nobody'"):
        create_share_link(filled, "nobody")
    with pytest.raises(ValueError, match="no share link matches"):
        revoke_share_link(filled, "not-a-token")


def test_pages_read_through_the_read_only_role(server, filled):
    assert get(f"{server.url}/api/users/alice/overview", ADMIN)[0] == 200
    sessions = replica_rows(filled, "SELECT usename FROM pg_stat_activity WHERE application_name = 'dashboard'")
    assert sessions and {s["usename"] for s in sessions} == {"dashboard"}


def test_a_replica_that_does_not_answer_is_a_503_not_a_500(reader):
    down = reader.model_copy(update={"replica_reader_url": "postgresql://dashboard:x@127.0.0.1:1/replica"})
    client = create_app(down).test_client()
    response = client.get("/api/users/alice/overview", headers=ADMIN)
    assert response.status_code == 503
    assert "replica" in response.get_json()["message"]
    assert client.get("/", headers=ADMIN).status_code == 503


def test_a_share_link_made_before_any_data_shows_the_empty_state(server, filled):
    with psycopg.connect(filled.source_database_url) as conn:
        conn.execute("INSERT INTO users (user_id, timezone) VALUES ('dave', 'UTC')")
    token = create_share_link(filled, "dave")
    replicate_share_links(filled)
    status, page, _ = get(f"{server.url}/users/dave", {"Cookie": f"wrapped_share={token}"})
    assert status == 200 and "No statistics yet for dave" in page
    status, body, _ = get(f"{server.url}/api/users/dave/overview", bearer(token))
    assert status == 404 and "no statistics for user 'dave' and period 'all'" in body["message"]
    assert get(f"{server.url}/api/users/dave/periods", bearer(token))[1]["periods"] == []
    assert "unknown user 'dave'" in get(f"{server.url}/api/users/dave/overview", ADMIN)[1]["message"]


def test_pages_show_the_replica_lag_when_the_replication_keeps_its_position(server, filled):
    status, page, _ = get(f"{server.url}/users/alice", ADMIN)
    assert status == 200 and "Replica lag" not in page  # no replication position yet: computed_at only
    with psycopg.connect(filled.replica_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cdc.applied_position (slot_name, lsn, committed_at, applied_at, changes, "
                     "snapshot_done) VALUES ('wrapped', '0/16B3748', now() - interval '90 seconds', now(), 12, true)")
    status, page, _ = get(f"{server.url}/users/alice", ADMIN)
    lag = re.search(r"Replica lag: ([\d.,]+) s", page)
    assert status == 200 and lag and 90 <= float(lag.group(1).replace(",", "")) < 150
