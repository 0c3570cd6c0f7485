"""The dashboard in a real headless Chromium (Debian's, through Playwright's Python API).

Every request that leaves the test server is caught: album art and artist photos
(external URLs) get a small local PNG, or fail as when offline; anything else
would be a CDN or a leak and fails the test. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from testkit.replica_rows import COMPUTED_AT
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, replica_rows, replicate_share_links
from warehouse.share_links import create_share_link

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA"
                       "WjR9awAAAABJRU5ErkJggg==")
IMAGE_HOST = "i.scdn.co"


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (make system-deps)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Page:
    """A page of a fresh browser context that records console errors and outside requests."""

    def __init__(self, browser, server, offline_images: bool = False):
        self.base = server.url
        self.context = browser.new_context(viewport={"width": 1366, "height": 900})
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.image_requests: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", lambda route: self._route(route, offline_images))
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def _route(self, route, offline_images):
        url = route.request.url
        if url.startswith(self.base + "/"):
            route.continue_()
        elif urlsplit(url).hostname == IMAGE_HOST:
            self.image_requests.append(url)
            if offline_images:
                route.abort("internetdisconnected")
            else:
                route.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            self.outside.append(url)
            route.abort()

    def _console(self, message):
        if message.type != "error":
            return
        source = message.location.get("url", "") if message.location else ""
        self.errors.append(f"{message.text} ({source})")

    def goto(self, path: str):
        response = self.page.goto(self.base + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return response

    def login_as_admin(self):
        self.goto("/admin/login")
        self.page.fill("#password", ADMIN_PASSWORD)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_url(re.compile(r"/users$"))

    def wait_for_charts(self) -> int:
        """Wait until every chart of the page is drawn; return how many there are."""
        charts = self.page.locator("div.chart")
        count = charts.count()
        for i in range(count):
            charts.nth(i).locator(".main-svg").first.wait_for(state="attached", timeout=20_000)
        return count

    def card(self, container: str, label: str) -> str:
        card = self.page.locator(f"#{container} .card", has=self.page.locator(".label", has_text=label))
        return card.locator(".value").first.inner_text()

    def screenshot(self, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)

    def close(self):
        self.context.close()

    def assert_clean(self):
        assert self.errors == [], self.errors
        assert self.outside == [], f"requests left the machine: {self.outside}"
        assert self.dialogs == [], f"a script from the data ran: {self.dialogs}"


@pytest.fixture
def page_factory(browser):
    opened = []

    def open_page(server, **kwargs) -> Page:
        opened.append(Page(browser, server, **kwargs))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


def test_overview_page_draws_every_panel_with_the_replica_data(server, filled, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    p.page.clock.set_fixed_time(COMPUTED_AT + timedelta(minutes=3, seconds=20))  # the browser's "now"
    p.goto("/users/alice?period=all")
    charts = p.wait_for_charts()
    assert charts >= 18
    assert p.page.locator("div.chart .main-svg").count() >= charts
    overview = replica_rows(filled, "SELECT * FROM analytics.overview WHERE user_id = 'alice' AND period = 'all'")[0]
    assert p.card("cards-overview", "Streams") == f"{overview['streams']:,}"
    assert p.card("cards-overview", "Listening time") == f"{overview['listening_ms'] / 3_600_000:,.1f} h"
    assert p.card("cards-overview", "Skip rate") == f"{overview['skip_rate'] * 100:.1f} %"
    # Data in the charts: 24 hour bars, 7 weekday bars, the 7x24 heatmap, 11 popularity brackets.
    assert p.page.locator("#chart-hour_of_day .point").count() == 24
    assert p.page.locator("#chart-day_of_week .bars .point").count() == 7
    assert p.page.locator("#chart-listening_clock .hm image").count() == 1
    assert p.page.locator("#chart-popularity_distribution .point").count() == 11
    assert p.page.locator("#chart-months .bars .point").count() == 3  # 2025-11, 2025-12, 2026-01
    assert p.page.locator("#chart-duration_preference .slice").count() == 4
    # Names from the dimensions, escaped; album art as <img> with alt text.
    tracks = p.page.locator("#table-top_tracks")
    assert tracks.get_by_text("</script><script>alert('x')</script>").count() >= 1
    assert tracks.locator("img[alt='Cover of Golden Echo']").count() >= 1
    assert "Europe/Berlin" in p.page.locator("#timezone").inner_text()
    # Podcasts: the overview's listens and time, the shows and episodes named from the dimensions (as text).
    assert p.card("cards-podcasts", "Podcast listens") == f"{overview['podcast_listens']:,}"
    assert p.card("cards-podcasts", "Podcast time") == f"{overview['podcast_listening_ms'] / 3_600_000:,.1f} h"
    shows = p.page.locator("#table-top_shows tbody tr")
    assert shows.count() == 2 and shows.first.get_by_text("Deep <i>Dive</i> Weekly").count() == 1
    episodes = p.page.locator("#table-top_episodes tbody tr")
    assert episodes.count() == 3 and "Café Talks" in episodes.nth(1).inner_text()
    assert "sur:episode:9f2c4" in episodes.nth(2).inner_text()  # no name kept: its id
    # How fresh, in alice's zone, and how long ago by the browser's clock; again when the tab is shown again.
    freshness = p.page.locator("#freshness")
    assert freshness.inner_text() == (
        "Updated 3 min ago: computed 1 Feb 2026, 04:00 from plays up to 31 Jan 2026, 23:59.")
    p.page.clock.set_fixed_time(COMPUTED_AT + timedelta(hours=5, minutes=59))
    p.page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    assert freshness.inner_text().startswith("Updated 5 h ago: computed 1 Feb 2026, 04:00")
    assert p.image_requests, "album art was shown"
    p.screenshot("overview-alice-all")
    p.assert_clean()


def test_names_with_markup_are_text_in_the_charts(server, filled, page_factory):
    name = '<a href="https://evil.example/">x</a>'
    top = replica_rows(filled, "SELECT track_id FROM analytics.top_tracks "
                               "WHERE user_id = 'alice' AND period = 'all' AND rank = 1")[0]["track_id"]
    with psycopg.connect(filled.replica_database_url) as conn:
        conn.execute("UPDATE dim_track SET name = %s WHERE track_id = %s", (name, top))
    p = page_factory(server)
    p.login_as_admin()
    p.goto("/users/alice?period=all")
    p.wait_for_charts()
    chart = p.page.locator("#chart-top_tracks .main-svg").first
    assert f"1. {name}" in chart.evaluate("svg => svg.textContent")  # Plotly shows the name as it is
    assert p.page.locator("#chart-top_tracks a").count() == 0  # and makes no link of it
    assert p.page.locator("#table-top_tracks").get_by_text(name).count() >= 1
    p.assert_clean()


def test_pickers_change_what_is_shown(server, filled, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    p.goto("/users/alice?period=all")
    p.wait_for_charts()
    month = replica_rows(filled, "SELECT streams FROM analytics.overview "
                                 "WHERE user_id = 'alice' AND period = '2025-12'")[0]["streams"]
    assert p.card("cards-overview", "Streams") != f"{month:,}"

    p.page.select_option("#period-picker", "2025-12")
    p.page.wait_for_url(re.compile(r"/users/alice\?period=2025-12$"))
    p.page.wait_for_load_state("networkidle")
    p.wait_for_charts()
    assert p.card("cards-overview", "Streams") == f"{month:,}"
    assert "December 2025" in p.page.locator("h1").inner_text()
    assert p.page.locator("#chart-months").count() == 0  # a month has no month-by-month chart
    p.screenshot("overview-alice-2025-12")

    # The rolling periods come right after all time; the last 4 weeks show their own rows.
    rolling = p.page.locator("#period-picker optgroup[label='Rolling'] option")
    assert [(o.get_attribute("value"), o.text_content()) for o in rolling.all()] == [
        ("last-4-weeks", "Last 4 weeks · 25 Dec 2025 – 21 Jan 2026"),
        ("last-6-months", "Last 6 months · 22 Jul 2025 – 21 Jan 2026"),
        ("last-12-months", "Last 12 months · 22 Jan 2025 – 21 Jan 2026")]
    assert p.page.locator("#period-picker optgroup").first.get_attribute("label") == "All time"
    weeks = replica_rows(filled, "SELECT streams FROM analytics.overview "
                                 "WHERE user_id = 'alice' AND period = 'last-4-weeks'")[0]["streams"]
    p.page.select_option("#period-picker", "last-4-weeks")
    p.page.wait_for_url(re.compile(r"/users/alice\?period=last-4-weeks$"))
    p.page.wait_for_load_state("networkidle")
    p.wait_for_charts()
    assert p.card("cards-overview", "Streams") == f"{weeks:,}"
    assert p.page.locator("h1").inner_text() == "Alice · Last 4 weeks · 25 Dec 2025 – 21 Jan 2026"
    assert p.page.locator("#chart-months").count() == 0  # nor has a rolling period: its first month is cut
    p.screenshot("overview-alice-last-4-weeks")

    p.page.select_option("#user-picker", "bob")
    p.page.wait_for_url(re.compile(r"/users/bob$"))
    p.page.wait_for_load_state("networkidle")
    p.wait_for_charts()
    assert 'Bob <b>"the builder"</b>' in p.page.locator("h1").inner_text()
    assert p.page.locator("#timezone").inner_text() == "America/New_York"
    bob = replica_rows(filled, "SELECT streams FROM analytics.overview WHERE user_id = 'bob' AND period = 'all'")
    assert p.card("cards-overview", "Streams") == f"{bob[0]['streams']:,}"
    p.screenshot("overview-bob-all")
    p.assert_clean()


def test_from_the_top_artists_to_the_whole_ranking_sorted_and_paged(server, filled, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    p.goto("/users/alice?period=2025")
    p.page.locator("#top_artists .more a").click()
    p.page.wait_for_url(re.compile(r"/users/alice/artists\?period=2025$"))
    stored = replica_rows(filled, "SELECT a.*, d.name FROM analytics.artist_ranking a "
                                  "LEFT JOIN dim_artist d USING (artist_id) "
                                  "WHERE a.user_id = 'alice' AND a.period = '2025' ORDER BY a.rank")
    table = p.page.locator("#table-artist_ranking tbody tr")
    assert [row.get_attribute("data-id") for row in table.all()] == [r["artist_id"] for r in stored]
    first = table.first.locator("td")
    assert first.nth(1).inner_text() == stored[0]["name"]
    assert first.nth(2).inner_text() == f"{stored[0]['streams']:,}"
    assert first.nth(4).inner_text() == f"{stored[0]['share'] * 100:.1f} %"
    assert first.nth(5).inner_text() == stored[0]["first_played_at"].astimezone(ZoneInfo("Europe/Berlin")).strftime(
        "%Y-%m-%d")
    assert p.page.locator("nav.tabs a[aria-current=page]").inner_text() == "Artists"

    # Tracks by listening time, three a page: the long last track comes first, then the pages follow the ranks.
    p.goto("/users/alice/tracks?period=all&sort=listening_time&per_page=3")
    tracks = replica_rows(filled, "SELECT track_id FROM analytics.track_ranking "
                                  "WHERE user_id = 'alice' AND period = 'all' ORDER BY time_rank")
    seen = []
    while True:
        seen += [row.get_attribute("data-id") for row in p.page.locator("#table-track_ranking tbody tr").all()]
        following = p.page.locator("nav.pager a[rel=next]")
        if not following.count():
            break
        following.click()
        p.page.wait_for_load_state("networkidle")
    assert seen == [r["track_id"] for r in tracks] and seen[0] == "tr8"
    assert p.page.locator("nav.pager span").inner_text() == f"Page {-(-len(tracks) // 3)} of {-(-len(tracks) // 3)}"
    p.page.get_by_role("link", name="Streams").first.click()
    p.page.wait_for_load_state("networkidle")
    assert "sort=streams" in p.page.url and "page=1" in p.page.url
    assert p.page.locator("#table-track_ranking tbody tr").first.get_attribute("data-id") == "tr1"
    p.screenshot("ranking-alice-tracks")
    p.assert_clean()


def test_from_the_top_artists_to_an_artist_its_album_and_a_track(server, filled, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    p.goto("/users/alice?period=2025-12")
    p.wait_for_charts()
    p.page.locator("#table-top_artists a", has_text="Nova Ridge").click()
    p.page.wait_for_url(re.compile(r"/users/alice/artists/ar1\?period=2025-12$"))
    assert p.page.locator("#entity-name").inner_text() == "Nova Ridge"
    (row,) = replica_rows(filled, "SELECT * FROM analytics.artist_ranking "
                                  "WHERE user_id = 'alice' AND period = '2025-12' AND artist_id = 'ar1'")
    assert p.card("cards-entity", "streams") == f"{row['streams']:,}"
    assert p.page.locator("#months-at-top").inner_text() == "1"
    assert p.page.locator("#longest-streak").inner_text() == f"{row['longest_streak']} days"
    assert [r.get_attribute("data-period") for r in p.page.locator("#table-months tbody tr").all()] == [
        "2026-01", "2025-12", "2025-11"]
    p.wait_for_charts()
    assert p.page.locator("#chart-hour_streams .bars .point").count() == 24  # its profile by hour, 0:00-23:00
    p.screenshot("artist-alice-ar1")
    p.page.locator("#table-albums a", has_text="Golden Echo").click()
    p.page.wait_for_url(re.compile(r"/users/alice/albums/al1\?period=2025-12$"))
    assert p.page.locator("#completion").inner_text() == "10 of 10"
    assert [r.get_attribute("data-id") for r in p.page.locator("#table-tracks tbody tr").all()] == ["tr1", "tr2"]
    p.page.locator("#table-tracks a", has_text="Ghost Light").click()
    p.page.wait_for_url(re.compile(r"/users/alice/tracks/tr2\?period=2025-12$"))
    assert p.page.locator("#skip-rate").inner_text() == "10 %"
    # The period picker keeps the track; a click on a top-list bar of the overview opens the item too.
    p.page.select_option("#period-picker", "2026")
    p.page.wait_for_url(re.compile(r"/users/alice/tracks/tr2\?period=2026$"))
    p.goto("/users/alice?period=2026")
    p.wait_for_charts()
    first = p.page.locator("#chart-top_tracks .bars .point path").last  # the bars go bottom up
    first.scroll_into_view_if_needed()
    bar = first.bounding_box()
    x, y = bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2
    p.page.mouse.move(x, y)  # Plotly knows the bar under the pointer from its hover
    p.page.locator("#chart-top_tracks .hoverlayer .hovertext").wait_for()
    p.page.mouse.click(x, y)
    p.page.wait_for_url(re.compile(r"/users/alice/tracks/tr1\?period=2026$"))
    p.assert_clean()


def test_from_the_overview_to_a_playlist_its_tracks_and_every_playlist_followed(server, filled, page_factory):
    """The overview's playlist_completion panel, a playlist's page (tests/dashboard/playlist_rows.py) and the
    Playlists tab, through a share link."""
    token = create_share_link(filled, "alice")
    replicate_share_links(filled)
    p = page_factory(server)
    p.goto(f"/s/{token}")
    p.goto("/users/alice?period=2026-01")
    p.wait_for_charts()
    panel = p.page.locator("#table-playlist_completion tbody tr")
    assert panel.count() == 2
    assert [c.inner_text() for c in panel.first.locator("td").all()] == [
        "1", "LN", 'Late Night <Mix> & "Chill"', "2 of 5", "40.0 %", "2", "2"]
    assert panel.nth(1).locator("td").nth(2).inner_text() == "Road Trip"
    panel.first.locator("a").click()
    p.page.wait_for_url(re.compile(r"/users/alice/playlists/pl-night\?period=2026-01$"))
    assert p.page.locator("#entity-name").inner_text() == 'Late Night <Mix> & "Chill"'
    assert p.page.locator("#completion").inner_text() == "2 of 5"
    assert p.card("cards-entity", "first stream") == "2026-01-01"  # 23:30 UTC on New Year's Eve, in Berlin
    assert p.card("cards-context", "streams from the playlist") == "2"
    assert p.card("cards-context", "last stream") == "2026-01-21"
    tracks = p.page.locator("#table-track_list tbody tr")
    assert [(r.get_attribute("data-id"), r.locator("td").nth(3).inner_text()) for r in tracks.all()] == [
        ("tr1", "not heard"), ("tr3", "heard"), ("pl-x1", "not heard"), ("tr7", "heard"), ("tr2", "not heard"),
        ("tr1", "not heard")]
    assert tracks.nth(1).locator("td").nth(1).inner_text() == "</script><script>alert('x')</script>"
    p.screenshot("playlist-alice-night")
    # The period picker keeps the playlist: all time, four of its five tracks heard.
    p.page.select_option("#period-picker", "all")
    p.page.wait_for_url(re.compile(r"/users/alice/playlists/pl-night\?period=all$"))
    assert p.page.locator("#completion").inner_text() == "4 of 5"
    assert p.page.locator("#table-track_list tr.heard").count() == 5
    # A heard track opens its page; the Playlists tab lists every playlist followed.
    p.page.locator("#table-track_list a", has_text="Ghost Light").click()
    p.page.wait_for_url(re.compile(r"/users/alice/tracks/tr2$"))  # all time: no ?period
    p.page.locator("nav.tabs a", has_text="Playlists").click()
    p.page.wait_for_url(re.compile(r"/users/alice/playlists\?period=all$"))
    rows = p.page.locator("#table-playlist_completion tbody tr")
    assert [(r.get_attribute("data-id"), r.get_attribute("class")) for r in rows.all()] == [
        ("pl-night", "streamed"), ("pl-road", "streamed"), ("pl-quiet", "unstreamed"), ("pl-pending", "unstreamed")]
    assert rows.nth(2).locator("td").nth(3).inner_text() == "not streamed in All time (2 tracks)"
    p.screenshot("playlists-alice")
    p.goto("/users/alice/playlists/pl-builder")  # bob's, not followed by alice
    assert "404" in p.page.locator("h1").inner_text()
    p.errors = [e for e in p.errors if "404" not in e]  # the refused page itself
    p.assert_clean()


def test_search_finds_an_accented_artist_from_an_unaccented_query(server, filled, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    p.goto("/users/alice/artists?period=2026")
    p.page.fill("#search-box", "elodie")
    p.page.locator("form[role=search] button").click()
    p.page.wait_for_url(re.compile(r"/users/alice/search\?q=elodie$"))
    assert [li.get_attribute("data-id") for li in p.page.locator("#results-artists li").all()] == ["ar3"]
    assert p.page.locator("#search-albums .empty").inner_text() == "No albums match."
    p.screenshot("search-alice")
    p.page.locator("#results-artists a").click()
    p.page.wait_for_url(re.compile(r"/users/alice/artists/ar3$"))
    assert p.page.locator("#entity-name").inner_text() == "Élodie Mirà"
    p.assert_clean()


def test_wrapped_page_through_a_share_link(server, filled, page_factory):
    token = create_share_link(filled, "alice")
    replicate_share_links(filled)
    p = page_factory(server)
    p.goto(f"/s/{token}")
    assert p.page.url.endswith("/users/alice")
    p.page.click("nav.tabs >> text=Wrapped")
    p.page.wait_for_url(re.compile(r"/users/alice/wrapped/2026$"))
    p.page.wait_for_load_state("networkidle")
    assert p.wait_for_charts() >= 4
    for year in ("2026", "2025"):
        if year == "2025":
            p.page.select_option("#year-picker", "2025")
            p.page.wait_for_url(re.compile(r"/users/alice/wrapped/2025$"))
            p.page.wait_for_load_state("networkidle")
            p.wait_for_charts()
        ms = replica_rows(filled, "SELECT listening_ms FROM analytics.overview "
                                  "WHERE user_id = 'alice' AND period = %s", (year,))[0]["listening_ms"]
        assert f"{round(ms / 60000):,} minutes" in p.page.locator("#wrapped-minutes").inner_text()
        assert "Nova Ridge" in p.page.locator("#top-artist").inner_text()
        assert "Deep <i>Dive</i> Weekly" in p.page.locator("#top-podcast").inner_text()
        p.screenshot(f"wrapped-alice-{year}")
    assert p.page.locator("#user-picker").count() == 0  # a share link shows no other user
    p.goto("/users/bob/wrapped/2026")
    assert "404" in p.page.locator("h1").inner_text()
    p.errors = [e for e in p.errors if "404" not in e]  # the refused page itself
    p.assert_clean()


def test_comparing_two_users_through_their_share_links(server, filled, page_factory):
    """Both users' links opened in one browser: from alice's page to the comparison with bob (docs/metrics.md,
    statistic 17), its period picker and the leaderboard; a pair with a user who does not consent is a 404."""
    tokens = {user: create_share_link(filled, user) for user in ("alice", "bob", "erin")}
    replicate_share_links(filled)
    p = page_factory(server)
    p.goto(f"/s/{tokens['alice']}")
    assert p.page.locator("#compare").count() == 0  # nobody else to compare with yet
    p.goto(f"/s/{tokens['bob']}")
    assert p.page.url.endswith("/users/bob")
    p.goto("/users/alice")
    p.page.locator("#compare-links a", has_text="Bob").click()
    p.page.wait_for_url(re.compile(r"/compare/alice/bob$"))
    (row,) = replica_rows(filled, "SELECT * FROM analytics.taste_overlap WHERE user_id = 'alice' "
                                  "AND other_user_id = 'bob' AND period = 'all'")
    assert p.page.locator("#overlap-value").inner_text() == f"{row['overlap'] * 100:.1f} %"
    assert p.page.locator("#shared-artists").inner_text() == str(row["shared_artists"])
    artists = p.page.locator("#table-shared-artists tbody tr")
    assert [r.get_attribute("data-id") for r in artists.all()] == row["top_shared_artists"]
    nova = p.page.locator("#table-shared-artists tr[data-id=ar1]")
    assert "Nova Ridge" in nova.inner_text()
    assert nova.locator("td.first").inner_text() == "Alice"  # alice streamed in 2025 already, bob from 2026
    p.screenshot("compare-alice-bob")
    # In 2026 bob came first to his top artist, and both to Surrogate Band at the same moment.
    p.page.select_option("#period-picker", "2026")
    p.page.wait_for_url(re.compile(r"/compare/alice/bob\?period=2026$"))
    assert p.page.locator("#table-shared-artists tr[data-id=ar3] td.first").inner_text() == 'Bob <b>"the builder"</b>'
    assert p.page.locator("#table-shared-artists tr[data-id=ar4] td.first").inner_text() == "both at the same moment"
    # Each user's streams lead to that user's artist page.
    p.page.locator("#table-shared-artists tr[data-id=ar3] td[data-user=bob] a").click()
    p.page.wait_for_url(re.compile(r"/users/bob/artists/ar3\?period=2026$"))
    assert p.page.locator("#entity-name").inner_text() == "Élodie Mirà"
    # The leaderboard, from the comparison: alice and bob, never erin.
    p.goto("/compare/alice/bob?period=2026-01")
    p.page.locator("nav.tabs a", has_text="Leaderboard").click()
    p.page.wait_for_url(re.compile(r"/leaderboard\?period=2026-01$"))
    board = replica_rows(filled, "SELECT o.user_id FROM analytics.overview o JOIN dim_user u USING (user_id) "
                                 "WHERE u.compare_consent AND o.period = '2026-01' "
                                 "ORDER BY o.listening_ms DESC, o.user_id")
    rows = p.page.locator("#table-leaderboard tbody tr")
    assert [r.get_attribute("data-user") for r in rows.all()] == [r["user_id"] for r in board] == ["alice", "bob"]
    p.page.get_by_role("link", name="Longest streak").first.click()
    p.page.wait_for_url(re.compile(r"sort=longest_streak"))
    assert "erin" not in [r.get_attribute("data-user") for r in rows.all()]
    p.screenshot("leaderboard")
    # erin's link opens her pages, but she does not allow comparison: the same 404 as an unknown user.
    p.goto(f"/s/{tokens['erin']}")
    assert p.page.url.endswith("/users/erin")
    response = p.goto("/compare/alice/erin")
    assert response.status == 404 and "404" in p.page.locator("h1").inner_text()
    assert "no such user, or this link does not open it" in p.page.locator("#error").inner_text()
    p.errors = [e for e in p.errors if "404" not in e]  # the refused page itself
    p.assert_clean()


def test_pages_work_offline_without_the_images(server, page_factory):
    p = page_factory(server, offline_images=True)
    p.login_as_admin()
    p.goto("/users/alice?period=2026")
    p.wait_for_charts()
    p.page.wait_for_function("document.querySelectorAll('#table-top_tracks img').length === 0")
    assert p.page.locator("#table-top_tracks .thumb.placeholder").count() >= 8
    p.errors = [e for e in p.errors if IMAGE_HOST not in e]  # the failed image loads themselves
    p.screenshot("overview-offline-images")
    p.assert_clean()


def test_api_page_and_user_list(server, page_factory):
    p = page_factory(server)
    p.login_as_admin()
    assert p.page.locator("table.data tbody tr").count() == 4
    p.goto("/api")
    assert p.page.locator("#api-listening_clock").inner_text().count("hour") >= 1
    p.screenshot("api")
    p.assert_clean()


def test_empty_replica_shows_how_to_get_data_in(empty_server, page_factory):
    p = page_factory(empty_server)
    p.goto("/")
    state = p.page.locator("#empty-state")
    assert "No listening statistics yet" in state.inner_text()
    assert "make demo" in state.inner_text()
    p.screenshot("empty")
    p.assert_clean()
