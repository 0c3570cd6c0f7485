"""Comparing users, only with consent (docs/metrics.md, statistic 17 and "Comparing users"), against a filled replica
(testkit/replica_rows.py: alice, bob and carol allow comparison, erin does not; carol has no statistics): a
browser keeping several share links, the comparison and the leaderboard as pages and JSON, and that nothing of a
user who does not consent, or whom the viewer may not see, shows."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.dashboard.dashboard_helpers import replica_rows, replicate_share_links
from tests.dashboard.test_dashboard_api import ADMIN, bearer, get
from warehouse.share_links import create_share_link, revoke_share_link

SORTS = {"listening_time": "listening_ms", "streams": "streams", "distinct_artists": "distinct_artists",
         "longest_streak": "longest_streak"}


def links(settings, *users: str) -> dict[str, str]:
    """A new share link of each user (replicated): {user: token}."""
    tokens = {user: create_share_link(settings, user) for user in users}
    replicate_share_links(settings)
    return tokens


def open_links(url: str, *tokens: str, cookie: str = "") -> str:
    """The share cookie a browser holds after opening the links in turn (starting from `cookie`)."""
    for token in tokens:
        status, _, head = get(f"{url}/s/{token}", {"Cookie": cookie} if cookie else {})
        assert status == 302, token
        cookie = head["Set-Cookie"].split(";")[0]
    return cookie


def held(cookie: str) -> list[str]:
    return cookie.split("=", 1)[1].split(".")


def consent(settings, user: str, allows: bool) -> None:
    """The user's consent changed in the replica (as the replication brings it from the account page)."""
    with psycopg.connect(settings.replica_database_url) as conn:
        conn.execute("UPDATE dim_user SET compare_consent = %s WHERE user_id = %s", (allows, user))


def page_users(page: str, table: str) -> list[str]:
    """The data-user attributes of a table's rows, in order."""
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-user="([^"]+)"', body)


def test_a_browser_keeps_several_share_links(server, filled):
    tokens = links(filled, "alice", "bob", "carol")
    cookie = open_links(server.url, tokens["alice"], tokens["bob"])
    assert held(cookie) == [tokens["bob"], tokens["alice"]]  # the newest first
    for user in ("alice", "bob"):
        assert get(f"{server.url}/users/{user}", {"Cookie": cookie})[0] == 200, user
        assert get(f"{server.url}/api/users/{user}/overview", {"Cookie": cookie})[0] == 200, user
    assert get(f"{server.url}/users/erin", {"Cookie": cookie})[0] == 404
    assert get(f"{server.url}/users", {"Cookie": cookie})[0] == 404
    status, _, head = get(f"{server.url}/", {"Cookie": cookie})
    assert status == 302 and head["Location"].endswith("/users/bob")  # the newest link's user
    # Opening a link again makes it the newest; a wrong one changes nothing.
    again = open_links(server.url, tokens["alice"], cookie=cookie)
    assert held(again) == [tokens["alice"], tokens["bob"]]
    assert get(f"{server.url}/s/not-a-token", {"Cookie": again})[0] == 404
    # A Bearer token opens its one user, whatever the cookie holds.
    assert get(f"{server.url}/api/users/bob/overview", {**bearer(tokens["alice"]), "Cookie": again})[0] == 404

    # Revoking alice's link closes alice only; the next link opened drops the dead token from the cookie.
    revoke_share_link(filled, tokens["alice"])
    replicate_share_links(filled)
    assert get(f"{server.url}/users/alice", {"Cookie": again})[0] == 404
    assert get(f"{server.url}/users/bob", {"Cookie": again})[0] == 200
    status, _, head = get(f"{server.url}/", {"Cookie": again})
    assert status == 302 and head["Location"].endswith("/users/bob")
    after = open_links(server.url, tokens["carol"], cookie=again)
    assert held(after) == [tokens["carol"], tokens["bob"]]


def test_the_cookie_keeps_the_ten_newest_links(server, filled):
    bob = links(filled, "bob")["bob"]
    alice = [create_share_link(filled, "alice") for _ in range(10)]
    replicate_share_links(filled)
    cookie = open_links(server.url, bob, *alice[:9])
    assert len(held(cookie)) == 10 and get(f"{server.url}/users/bob", {"Cookie": cookie})[0] == 200
    cookie = open_links(server.url, alice[9], cookie=cookie)
    assert held(cookie) == alice[::-1]  # bob's, the oldest, is gone
    assert get(f"{server.url}/users/bob", {"Cookie": cookie})[0] == 404
    assert get(f"{server.url}/users/alice", {"Cookie": cookie})[0] == 200
    # A cookie made by hand holds no more either: only its first ten tokens count.
    crafted = "wrapped_share=" + ".".join([*alice, bob])
    assert get(f"{server.url}/users/bob", {"Cookie": crafted})[0] == 404


def stored_comparison(settings, a: str, b: str, period: str) -> dict:
    (row,) = replica_rows(settings, "SELECT * FROM analytics.taste_overlap WHERE user_id = %s AND other_user_id = %s "
                                    "AND period = %s", (a, b, period))
    return row


def ranking_row(settings, kind: str, user: str, period: str, item: str) -> dict:
    (row,) = replica_rows(settings, f"SELECT * FROM analytics.{kind}_ranking WHERE user_id = %s AND period = %s "
                                    f"AND {kind}_id = %s", (user, period, item))
    return row


@pytest.mark.parametrize("period", ["all", "2026", "2026-01"])
def test_the_comparison_answers_the_stored_row_with_each_user_s_ranking(server, filled, period):
    tokens = links(filled, "alice", "bob")
    cookie = open_links(server.url, tokens["alice"], tokens["bob"])
    status, body, _ = get(f"{server.url}/api/compare/alice/bob?period={period}", {"Cookie": cookie})
    assert status == 200, body
    assert get(f"{server.url}/api/compare/alice/bob?period={period}", ADMIN)[1] == body
    row = stored_comparison(filled, "alice", "bob", period)
    assert (body["period"], body["periods"]) == (period, ["all", "2026", "2026-01"])
    assert [(u["user_id"], u["display_name"]) for u in body["users"]] == [
        ("alice", "Alice"), ("bob", 'Bob <b>"the builder"</b>')]
    found = body["comparison"]
    assert (found["overlap"], found["shared_artists"], found["shared_tracks"]) == (
        row["overlap"], row["shared_artists"], row["shared_tracks"])
    assert [a["artist_id"] for a in found["top_shared_artists"]] == row["top_shared_artists"]
    assert [a["first_streamed_by"] for a in found["top_shared_artists"]] == row["first_streamed_by"]
    assert [t["track_id"] for t in found["top_shared_tracks"]] == row["top_shared_tracks"]
    for artist in found["top_shared_artists"]:
        for user in ("alice", "bob"):
            ranked = ranking_row(filled, "artist", user, period, artist["artist_id"])
            assert artist["by_user"][user] == {"streams": ranked["streams"], "rank": ranked["rank"]}
    for track in found["top_shared_tracks"]:
        for user in ("alice", "bob"):
            ranked = ranking_row(filled, "track", user, period, track["track_id"])
            assert track["by_user"][user] == {"streams": ranked["streams"], "rank": ranked["rank"]}
    assert found["top_shared_artists"][0]["name"] == "Nova Ridge"
    # The other way round: the same row, the users in the order asked.
    _, other_way, _ = get(f"{server.url}/api/compare/bob/alice?period={period}", {"Cookie": cookie})
    assert [u["user_id"] for u in other_way["users"]] == ["bob", "alice"]
    assert other_way["comparison"]["overlap"] == found["overlap"]


def test_who_streamed_a_shared_artist_first(server, filled):
    """testkit: alice streamed in 2025 already, bob from 2026 on; in 2026 each came first to the artists they
    rank higher, and both to Surrogate Band (ranked 4th by both) at the same moment."""
    expected = {"all": ["alice"] * 5, "2026": ["alice", "bob", None, "alice", "bob"]}
    for period, first in expected.items():
        body = get(f"{server.url}/api/compare/alice/bob?period={period}", ADMIN)[1]["comparison"]
        assert [a["first_streamed_by"] for a in body["top_shared_artists"]] == first
    status, page, _ = get(f"{server.url}/compare/alice/bob?period=2026", ADMIN)
    assert status == 200
    cells = dict(re.findall(r'<tr data-id="(ar\d)">.*?<td class="first">([^<]+)</td>', page, re.S))
    bob = "Bob &lt;b&gt;&#34;the builder&#34;&lt;/b&gt;"  # escaped
    assert cells == {"ar1": "Alice", "ar3": bob, "ar4": "both at the same moment", "ar2": "Alice", "ar5": bob}


def test_the_comparison_page_shows_the_row_and_links_each_user_s_pages(server, filled):
    row = stored_comparison(filled, "alice", "bob", "2026-01")
    status, page, _ = get(f"{server.url}/compare/alice/bob?period=2026-01", ADMIN)
    assert status == 200
    assert f'id="overlap-value">{row["overlap"] * 100:.1f} %<' in page
    assert f'id="shared-artists">{row["shared_artists"]}<' in page
    assert f'id="shared-tracks">{row["shared_tracks"]}<' in page
    assert re.findall(r'<tr data-id="(ar\d)">', page) == row["top_shared_artists"]
    assert re.findall(r'<tr data-id="(tr\d)">', page) == row["top_shared_tracks"]
    ranked = ranking_row(filled, "artist", "bob", "2026-01", "ar3")
    assert f'<a href="/users/bob/artists/ar3?period=2026-01">{ranked["streams"]:,}</a> <span class="meta">#1<' in page
    assert 'href="/users/alice/tracks/tr3?period=2026-01"' in page
    assert "<script>alert" not in page and "Bob <b>" not in page  # names are escaped
    picker = page.split('<select id="period-picker"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]+)"', picker) == ["all", "2026", "2026-01"]
    # A period without a row (bob has no 2025): the empty state, and the periods that have one.
    status, page, _ = get(f"{server.url}/compare/alice/bob?period=2025", ADMIN)
    assert status == 200 and 'id="no-comparison"' in page and "No comparison for 2025" in page
    assert 'id="overlap-value"' not in page and '<option value="2026-01">' in page
    body = get(f"{server.url}/api/compare/alice/bob?period=2025", ADMIN)[1]
    assert (body["comparison"], body["periods"]) == (None, ["all", "2026", "2026-01"])
    # carol allows comparison but has no statistics: nothing to compare yet, in any period.
    status, page, _ = get(f"{server.url}/compare/alice/carol", ADMIN)
    assert status == 200 and 'id="no-comparison"' in page and 'id="period-picker"' not in page
    assert get(f"{server.url}/api/compare/alice/bob?period=2025-13", ADMIN)[1]["message"].startswith(
        "bad period '2025-13'")


def test_a_rolling_period_is_each_user_s_own(server, filled):
    """A pair's rolling period compares each user's own days (docs/metrics.md, statistic 17): the page says which.
    testkit's bob has no rolling period: his last 4 weeks are made here, from 25 Dec 2025 to 21 Jan 2026 too."""
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("INSERT INTO analytics.overview SELECT user_id, 'last-4-weeks', streams, listening_ms, "
                     "distinct_tracks, distinct_artists, distinct_albums, active_days, first_played_at, "
                     "last_played_at, streams_per_active_day, skip_rate, mainstream_score, new_artists, new_tracks, "
                     "computed_at, source_max_played_at, '2025-12-28', last_day, longest_streak "
                     "FROM analytics.overview WHERE user_id = 'bob' AND period = 'all'")
        conn.execute("INSERT INTO analytics.taste_overlap SELECT user_id, 'last-4-weeks', other_user_id, overlap, "
                     "shared_artists, shared_tracks, top_shared_artists, top_shared_tracks, first_streamed_by, "
                     "computed_at, source_max_played_at FROM analytics.taste_overlap WHERE period = 'all'")
    status, page, _ = get(f"{server.url}/compare/alice/bob?period=last-4-weeks", ADMIN)
    assert status == 200 and "<h1>Alice and Bob &lt;b&gt;&#34;the builder&#34;&lt;/b&gt; · Last 4 weeks</h1>" in page
    assert ("A rolling period is each user's own: Alice's 25 Dec 2025 – 21 Jan 2026,\n      "
            "Bob &lt;b&gt;&#34;the builder&#34;&lt;/b&gt;'s 28 Dec 2025 – 21 Jan 2026.") in page
    assert '<option value="last-4-weeks" selected>Last 4 weeks</option>' in page
    body = get(f"{server.url}/api/compare/alice/bob?period=last-4-weeks", ADMIN)[1]
    assert [(u["first_day"], u["last_day"]) for u in body["users"]] == [("2025-12-25", "2026-01-21"),
                                                                         ("2025-12-28", "2026-01-21")]
    assert body["periods"] == ["all", "last-4-weeks", "2026", "2026-01"]
    # Not a rolling period: no such note.
    assert "each user's own" not in get(f"{server.url}/compare/alice/bob", ADMIN)[1]


def test_a_link_opens_neither_another_user_s_pages_nor_a_comparison_without_both_links_and_consents(server, filled):
    tokens = links(filled, "alice", "bob", "erin")
    unknown = get(f"{server.url}/api/users/nobody/overview", bearer(tokens["alice"]))
    assert unknown[0] == 404

    def answers(cookie: str, path: str) -> tuple[int, dict | str]:
        return get(server.url + path, {"Cookie": cookie})[:2]

    # alice's link alone: bob consented, yet neither his pages nor a comparison with him open.
    alone = open_links(server.url, tokens["alice"])
    for path in ("/users/bob/artists/ar1", "/users/bob/tracks/tr1", "/compare/alice/bob", "/compare/bob/alice",
                 "/compare/alice/bob?period=2026"):
        assert answers(alone, path)[0] == 404, path
    for path in ("/api/users/bob/artists/ar1", "/api/users/bob/tracks/tr1", "/api/compare/alice/bob",
                 "/api/compare/bob/alice", "/api/compare/alice/nobody", "/api/compare/alice/alice"):
        assert answers(alone, path) == unknown[:2], path  # the same answer as for a user who does not exist
    # With bob's link too, it opens, and so do the entity pages it links to.
    both = open_links(server.url, tokens["bob"], cookie=alone)
    status, page = answers(both, "/compare/alice/bob")
    assert status == 200 and "Nova Ridge" in page
    for path in re.findall(r'href="(/users/(?:alice|bob)/(?:artists|tracks)/[^"]+)"', page):
        assert answers(both, path)[0] == 200, path
    # erin does not allow comparison: holding her link opens her pages, never a comparison with her.
    with_erin = open_links(server.url, tokens["erin"], cookie=both)
    assert answers(with_erin, "/users/erin/artists/ar1")[0] == 200
    for path in ("/api/compare/alice/erin", "/api/compare/erin/bob"):
        assert answers(with_erin, path) == unknown[:2], path
    assert answers(with_erin, "/compare/erin/alice")[0] == 404
    assert answers(with_erin, "/compare/alice/bob")[0] == 200
    # Consent is read on every request: bob withdrawing closes the comparison at once, rows or not.
    consent(filled, "bob", False)
    assert answers(with_erin, "/api/compare/alice/bob") == unknown[:2]
    assert answers(with_erin, "/users/bob")[0] == 200  # his own pages stay open to his link
    # A Bearer token opens its one user: no comparison.
    consent(filled, "bob", True)
    assert get(f"{server.url}/api/compare/alice/bob", bearer(tokens["alice"]))[:2] == unknown[:2]


@pytest.mark.parametrize(("path", "message"), [
    ("/api/compare/alice/alice", "a user is not compared with themselves"),
    ("/api/compare/alice/nobody", "unknown user 'nobody'"),
    ("/api/compare/erin/alice", "user 'erin' does not allow comparison"),
    ("/api/compare/alice/erin", "user 'erin' does not allow comparison"),
    ("/api/leaderboard?sort=plays", "bad sort 'plays': the leaderboard sorts by listening_time, streams, "
                                    "distinct_artists, longest_streak"),
    ("/api/leaderboard?period=2026-13", "bad period '2026-13'"),
])
def test_the_admin_learns_why(server, path, message):
    status, body, _ = get(server.url + path, ADMIN)
    assert status in (400, 404) and body["message"].startswith(message), body


def overlap_rows(url: str, headers: dict, user: str = "alice", period: str = "all") -> list[str]:
    status, body, _ = get(f"{url}/api/users/{user}/taste_overlap?period={period}", headers)
    assert status == 200, body
    return [row["other_user_id"] for row in body["rows"]]


def test_the_taste_overlap_endpoint_shows_only_consenting_users_the_viewer_may_see(server, filled):
    tokens = links(filled, "alice", "bob", "erin")
    assert overlap_rows(server.url, ADMIN) == ["bob"]
    assert overlap_rows(server.url, bearer(tokens["alice"])) == []  # bob is not the link's to see
    both = open_links(server.url, tokens["alice"], tokens["bob"])
    assert overlap_rows(server.url, {"Cookie": both}) == ["bob"]
    assert overlap_rows(server.url, {"Cookie": both}, "bob", "2026-01") == ["alice"]
    # A row left from before erin withdrew (rows go at the next analytics run): never shown, not even to the
    # admin or to a holder of her link.
    with psycopg.connect(filled.replica_database_url) as conn:
        for a, b in (("alice", "erin"), ("erin", "alice")):
            conn.execute("INSERT INTO analytics.taste_overlap SELECT %s::text, period, %s::text, overlap, "
                         "shared_artists, shared_tracks, top_shared_artists, top_shared_tracks, first_streamed_by, "
                         "computed_at, source_max_played_at FROM analytics.taste_overlap WHERE user_id = 'alice' AND "
                         "other_user_id = 'bob' AND period = 'all'", (a, b))
    every = open_links(server.url, tokens["erin"], cookie=both)
    assert overlap_rows(server.url, ADMIN) == overlap_rows(server.url, {"Cookie": every}) == ["bob"]
    assert overlap_rows(server.url, ADMIN, "erin") == overlap_rows(server.url, {"Cookie": every}, "erin") == []
    # Either user withdrawing takes the row away at once.
    consent(filled, "bob", False)
    assert overlap_rows(server.url, ADMIN) == [] and overlap_rows(server.url, ADMIN, "bob") == []
    consent(filled, "bob", True)
    consent(filled, "alice", False)
    assert overlap_rows(server.url, ADMIN) == [] and overlap_rows(server.url, ADMIN, "bob") == []


def consenting_overview(settings, period: str) -> list[dict]:
    return replica_rows(settings, "SELECT o.* FROM analytics.overview o JOIN dim_user u USING (user_id) "
                                  "WHERE u.compare_consent AND o.period = %s", (period,))


@pytest.mark.parametrize("period", ["all", "2026-01", "last-4-weeks"])
def test_the_leaderboard_orders_the_consenting_users_overview_rows(server, filled, period):
    rows = consenting_overview(filled, period)
    assert rows and "erin" not in {r["user_id"] for r in rows}
    for sort, column in SORTS.items():
        status, body, _ = get(f"{server.url}/api/leaderboard?period={period}&sort={sort}", ADMIN)
        assert status == 200 and (body["period"], body["sort"]) == (period, sort)
        expected = sorted(rows, key=lambda r, c=column: (-r[c], r["user_id"]))
        assert [r["user_id"] for r in body["rows"]] == [r["user_id"] for r in expected], sort
        assert [r["place"] for r in body["rows"]] == list(range(1, len(expected) + 1))
        for got, stored in zip(body["rows"], expected, strict=True):
            assert {c: got[c] for c in SORTS.values()} == {c: stored[c] for c in SORTS.values()}
            assert got["display_name"] == {"alice": "Alice", "bob": 'Bob <b>"the builder"</b>'}[got["user_id"]]
    assert get(f"{server.url}/api/leaderboard?period={period}", ADMIN)[1]["sort"] == "listening_time"


def test_a_user_who_does_not_consent_is_never_on_the_leaderboard(server, filled):
    # erin has rows in 2026-01 and more streams than anyone there, and 2025-10 to herself.
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.overview SET listening_ms = 10 * listening_ms, streams = 10 * streams "
                     "WHERE user_id = 'erin'")
    body = get(f"{server.url}/api/leaderboard?period=2026-01", ADMIN)[1]
    assert [r["user_id"] for r in body["rows"]] == ["alice", "bob"]
    assert body["periods"] == ["all", "last-4-weeks", "last-6-months", "last-12-months", "2026", "2025", "2026-01",
                               "2025-12", "2025-11"]  # not erin's 2025-10
    assert get(f"{server.url}/api/leaderboard?period=2025-10", ADMIN)[1]["rows"] == []
    status, page, _ = get(f"{server.url}/leaderboard?period=2026-01", ADMIN)
    assert status == 200 and page_users(page, "table-leaderboard") == ["alice", "bob"] and "Erin" not in page
    status, page, _ = get(f"{server.url}/leaderboard?period=2025-10", ADMIN)
    assert status == 200 and 'id="no-leaderboard"' in page and "Erin" not in page
    picker = page.split('<select id="period-picker"')[1].split("</select>")[0]
    assert '"2025-10"' not in picker and '<option value="last-4-weeks">Last 4 weeks</option>' in picker
    # Once erin consents she is on it (the consent is read on every request), first.
    consent(filled, "erin", True)
    assert [r["user_id"] for r in get(f"{server.url}/api/leaderboard?period=2026-01", ADMIN)[1]["rows"]] == [
        "erin", "alice", "bob"]


def test_leaderboard_ties_go_by_user_id_and_a_missing_streak_comes_last(server, filled):
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.overview SET longest_streak = 5 WHERE period = 'all'")
    body = get(f"{server.url}/api/leaderboard?sort=longest_streak", ADMIN)[1]
    assert [(r["user_id"], r["longest_streak"]) for r in body["rows"]] == [("alice", 5), ("bob", 5)]
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE analytics.overview SET longest_streak = NULL WHERE user_id = 'alice'")
    body = get(f"{server.url}/api/leaderboard?sort=longest_streak", ADMIN)[1]
    assert [(r["user_id"], r["longest_streak"]) for r in body["rows"]] == [("bob", 5), ("alice", None)]
    status, page, _ = get(f"{server.url}/leaderboard?sort=longest_streak", ADMIN)
    assert page_users(page, "table-leaderboard") == ["bob", "alice"] and '<td class="num">—</td>' in page


def test_who_may_see_the_leaderboard_and_what_its_rows_link_to(server, filled):
    tokens = links(filled, "alice", "bob", "carol", "erin")
    closed = get(f"{server.url}/api/leaderboard", {})
    assert closed[0] == 404
    assert get(f"{server.url}/api/leaderboard", bearer(tokens["erin"]))[:2] == closed[:2]  # erin does not consent
    assert get(f"{server.url}/leaderboard", {"Cookie": open_links(server.url, tokens["erin"])})[0] == 404
    assert get(f"{server.url}/api/leaderboard", bearer(tokens["carol"]))[0] == 200  # consents, without statistics

    # alice's link: the board lists bob too, but links only alice's pages, and compares with nobody.
    alone = open_links(server.url, tokens["erin"], tokens["alice"])
    status, page, _ = get(f"{server.url}/leaderboard?period=2026", {"Cookie": alone})
    assert status == 200 and page_users(page, "table-leaderboard") == ["alice", "bob"]
    assert 'href="/users/alice?period=2026"' in page and 'href="/users/bob' not in page
    assert "/compare/" not in page and "Erin" not in page
    # alice's and bob's links: each row links its user's pages, and bob's a comparison with alice (the newest
    # link's user); ?with=bob compares with bob instead.
    both = open_links(server.url, tokens["bob"], tokens["alice"], cookie=alone)
    status, page, _ = get(f"{server.url}/leaderboard?period=2026", {"Cookie": both})
    assert 'href="/users/bob?period=2026"' in page
    assert re.findall(r'class="compare" href="([^"]+)"', page) == ["/compare/alice/bob?period=2026"]
    status, page, _ = get(f"{server.url}/leaderboard?period=2026&with=bob", {"Cookie": both})
    assert re.findall(r'class="compare" href="([^"]+)"', page) == ["/compare/bob/alice?period=2026"]
    assert get(server.url + "/compare/bob/alice?period=2026", {"Cookie": both})[0] == 200
    # with= a user the viewer may not see changes nothing.
    status, page, _ = get(f"{server.url}/leaderboard?period=2026&with=erin", {"Cookie": both})
    assert re.findall(r'class="compare" href="([^"]+)"', page) == ["/compare/alice/bob?period=2026"]
    # The admin sees every row's link, and compares with the leader unless told otherwise.
    status, page, _ = get(f"{server.url}/leaderboard", ADMIN)
    leader = page_users(page, "table-leaderboard")[0]
    other = {"alice": "bob", "bob": "alice"}[leader]
    assert re.findall(r'class="compare" href="([^"]+)"', page) == [f"/compare/{leader}/{other}"]


def test_a_user_page_links_to_comparisons_only_when_the_user_consents_and_the_viewer_may_open_them(server, filled):
    tokens = links(filled, "alice", "bob", "erin")

    def compare_links(headers: dict, path: str = "/users/alice") -> list[str] | None:
        status, page, _ = get(server.url + path, headers)
        assert status == 200
        if 'id="compare"' not in page:
            return None
        assert 'id="leaderboard-link"' in page
        return re.findall(r'<li data-user="([^"]+)"><a href="([^"]+)"', page)

    # The admin: every other user who consents (not erin), most overlap first; carol has no comparison yet.
    assert compare_links(ADMIN) == [("bob", "/compare/alice/bob"), ("carol", "/compare/alice/carol")]
    assert compare_links(ADMIN, "/users/alice?period=2026-01") == [
        ("bob", "/compare/alice/bob?period=2026-01"), ("carol", "/compare/alice/carol")]
    assert compare_links(ADMIN, "/users/erin") is None  # erin does not consent
    # alice's link alone: nobody else to compare with, so nothing at all (no leaderboard link either).
    alone = {"Cookie": open_links(server.url, tokens["alice"])}
    assert compare_links(alone) is None
    with_erin = {"Cookie": open_links(server.url, tokens["erin"], cookie=alone["Cookie"])}
    assert compare_links(with_erin) is None and compare_links(with_erin, "/users/erin") is None
    both = {"Cookie": open_links(server.url, tokens["bob"], cookie=with_erin["Cookie"])}
    assert compare_links(both) == [("bob", "/compare/alice/bob")]
    assert compare_links(both, "/users/bob") == [("alice", "/compare/bob/alice")]
    status, page, _ = get(f"{server.url}/users/alice", both)
    overlap = stored_comparison(filled, "alice", "bob", "all")["overlap"]
    assert f"{overlap * 100:.1f} % taste overlap" in page and 'href="/leaderboard?with=alice"' in page
    consent(filled, "alice", False)
    assert compare_links(both) is None and compare_links(both, "/users/bob") is None
