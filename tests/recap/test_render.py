"""What a recap says: every number equals the replica's, missing metadata reads well, `python -m recap render`."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime

from recap.data import load_recap
from recap.render import dashboard_link, render_recap
from recap.send import send_due
from tests.recap_support import FEB_2, publish_run
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT, Settings

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def text_part(message) -> str:
    return message.get_payload()[0].get_payload(decode=True).decode()


def html_part(message) -> str:
    return message.get_payload()[1].get_payload(decode=True).decode()


def parse_minutes(text: str) -> int:
    """'12 h 03 min' or '39 min' (optionally signed) -> minutes."""
    match = re.fullmatch(r"([+-]?)(?:(\d+) h )?(\d+) min", text)
    assert match, f"not a duration: {text!r}"
    total = int(match[2] or 0) * 60 + int(match[3])
    return -total if match[1] == "-" else total


def parse_day(text: str) -> date:
    """'Sunday 4 January 2026' -> date."""
    _, day, month, year = text.split()
    return date(int(year), MONTHS.index(month) + 1, int(day))


def sections(text: str) -> dict[str, list[str]]:
    """The text part's sections by their upper-case heading."""
    found, current = {}, None
    for line in text.splitlines():
        if line and line == line.upper() and any(c.isalpha() for c in line) and not line.startswith("HTTP"):
            current = found.setdefault(line, [])
        elif current is not None and line:
            current.append(line)
        elif not line:
            current = None
    return found


def replica_numbers(settings, user: str, month: str) -> dict:
    """The numbers a recap must show, read from the replica independently of recap/."""
    params = {"user": user, "month": month}
    with connect("replica", settings) as conn:
        def one(query):
            return conn.execute(query, params).fetchone()

        def all_rows(query):
            return conn.execute(query, params).fetchall()

        year, number = int(month[:4]), int(month[5:])
        params["previous"] = f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"
        return {
            "overview": one("SELECT streams, listening_ms, distinct_tracks, distinct_artists, active_days, "
                            "new_artists, new_tracks, mainstream_score FROM analytics.overview "
                            "WHERE user_id = %(user)s AND period = %(month)s"),
            "previous": one("SELECT streams, listening_ms FROM analytics.overview "
                            "WHERE user_id = %(user)s AND period = %(previous)s"),
            "sessions": one("SELECT sessions, avg_session_ms, longest_session_ms FROM analytics.session_summary "
                            "WHERE user_id = %(user)s AND period = %(month)s"),
            "day": one("SELECT local_date, listening_ms, streams FROM analytics.longest_days "
                       "WHERE user_id = %(user)s AND period = %(month)s AND rank = 1"),
            "hours": all_rows("SELECT hour, streams FROM analytics.hour_of_day "
                              "WHERE user_id = %(user)s AND period = %(month)s"),
            "streak": one("SELECT a.name, s.days, s.streak_start, s.streak_end FROM analytics.artist_streaks s "
                          "JOIN dim_artist a USING (artist_id) "
                          "WHERE s.user_id = %(user)s AND s.period = %(month)s AND s.rank = 1"),
            "tracks": all_rows("SELECT t.rank, d.name, a.name, t.streams FROM analytics.top_tracks t "
                               "JOIN dim_track d USING (track_id) JOIN dim_artist a ON a.artist_id = "
                               "d.primary_artist_id WHERE t.user_id = %(user)s AND t.period = %(month)s "
                               "ORDER BY t.rank LIMIT 5"),
            "artists": all_rows("SELECT t.rank, a.name, t.streams FROM analytics.top_artists t "
                                "JOIN dim_artist a USING (artist_id) "
                                "WHERE t.user_id = %(user)s AND t.period = %(month)s ORDER BY t.rank LIMIT 5"),
            "album": one("SELECT al.name, a.name, t.streams, coalesce(c.total_tracks, al.total_tracks), "
                         "c.tracks_played, c.completion "
                         "FROM analytics.top_albums t JOIN dim_album al USING (album_id) "
                         "JOIN dim_artist a ON a.artist_id = al.primary_artist_id "
                         "LEFT JOIN analytics.album_completion c ON (c.user_id, c.period, c.album_id) = "
                         "(t.user_id, t.period, t.album_id) "
                         "WHERE t.user_id = %(user)s AND t.period = %(month)s AND t.rank = 1"),
        }


def rounded_minutes(ms) -> int:
    return int((ms + 30_000) // 60_000)


def assert_matches_replica(settings, user: str, month: str, message) -> None:
    """Every number of the message's text part (and the main ones of its HTML part) equals the replica's."""
    expected = replica_numbers(settings, user, month)
    text = text_part(message)
    parts = sections(text)
    fields = dict(line.split(": ", 1) for line in parts["THE NUMBERS"])
    streams, listening_ms, tracks, artists, days, new_artists, new_tracks, mainstream = expected["overview"]
    assert parse_minutes(fields["Listening time"]) == rounded_minutes(listening_ms)
    assert fields["Streams"] == f"{streams:,}"
    assert (fields["Different tracks"], fields["Different artists"]) == (f"{tracks:,}", f"{artists:,}")
    assert fields["Days with music"] == str(days)
    assert (fields["New artists"], fields["New tracks"]) == (f"{new_artists:,}", f"{new_tracks:,}")
    assert fields["Mainstream score"] == ("unknown" if mainstream is None else f"{round(mainstream)} / 100")

    sessions, avg_ms, longest_ms = expected["sessions"]
    assert fields["Sessions"] == f"{sessions:,}"
    assert parse_minutes(fields["Average session"]) == rounded_minutes(avg_ms)
    assert parse_minutes(fields["Longest session"]) == rounded_minutes(longest_ms)

    day_text, day_time, day_streams = fields["Busiest day"].split(", ")
    local_date, day_ms, expected_day_streams = expected["day"]
    assert parse_day(day_text) == local_date
    assert parse_minutes(day_time) == rounded_minutes(day_ms)
    assert day_streams == f"{expected_day_streams:,} streams"

    top_streams = max(s for _, s in expected["hours"])
    top_hour = min(h for h, s in expected["hours"] if s == top_streams)
    assert fields["Busiest hour"] == f"{top_hour:02d}:00-{(top_hour + 1) % 24:02d}:00, {top_streams:,} streams"

    if expected["streak"] is None:
        assert fields["Longest streak"] == "none (no artist two days in a row)"
    else:
        name, streak_days, start, end = expected["streak"]
        assert fields["Longest streak"] == (f"{name}, {streak_days} days ({start.day} {MONTHS[start.month - 1]} "
                                            f"to {end.day} {MONTHS[end.month - 1]})")

    comparison_key = next(key for key in fields if key.startswith("Compared with"))
    if expected["previous"] is None:
        assert fields[comparison_key] == "no streams then"
    else:
        before_streams, before_ms = expected["previous"]
        change, stream_change = fields[comparison_key].split(" listening, ")
        assert parse_minutes(change) == rounded_minutes(listening_ms) - rounded_minutes(before_ms)
        assert stream_change == f"{streams - before_streams:+,} streams"

    top = len(expected["tracks"])
    assert parts[f"TOP {top} TRACKS"] == [f"{rank}. {track} - {artist} ({s:,} streams)"
                                          for rank, track, artist, s in expected["tracks"]]
    assert parts[f"TOP {len(expected['artists'])} ARTISTS"] == [f"{rank}. {artist} ({s:,} streams)"
                                                                 for rank, artist, s in expected["artists"]]
    album, album_artist, album_streams, total, played, completion = expected["album"]
    assert parts["TOP ALBUM"][0] == f"{album} - {album_artist} ({album_streams:,} streams)"
    if played is not None:
        assert parts["TOP ALBUM"][1] == f"Completion: {played} of {total} tracks ({round(completion * 100)}%)"
    elif total is None:
        assert parts["TOP ALBUM"][1] == "Completion: not counted (number of tracks unknown)"
    else:
        assert parts["TOP ALBUM"][1] == f"Completion: not counted (only {total} tracks; counted from 5)"

    # The written recap says the same numbers.
    story = text.split("THE NUMBERS")[0]
    assert f"you listened to {fields['Listening time']} of music: {streams:,} streams on {days} " in story
    assert f"{expected['artists'][0][1]} was your artist of the month with {expected['artists'][0][2]:,} " \
           "streams" in story
    if new_artists:
        assert f"You discovered {new_artists:,} new artist" in story and f" and {new_tracks:,} new track" in story
    elif new_tracks:
        assert f"You discovered {new_tracks:,} new track" in story and "all by artists you already knew" in story
    else:
        assert "no new artists or tracks this month" in story

    link = f"http://127.0.0.1:8050/users/{user}?period={month}"
    assert link in text
    # The HTML part shows the same numbers, with every name escaped.
    page = html_part(message)
    assert f'href="{link}"' in page
    assert f"<b>{fields['Listening time']}</b>" in page and f"<b>{fields['Streams']}</b>" in page


def test_every_number_in_the_message_equals_the_replicas(recap_settings, smtp):
    _, inbox = smtp
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    sent = send_due(recap_settings, FEB_2)
    assert len(sent) == len(inbox.received) == 3
    for result, (_, message) in zip(sent, inbox.received, strict=True):
        assert_matches_replica(recap_settings, result.user_id, result.month, message)
        page = html_part(message)
        assert "<script>" not in page and "&lt;/script&gt;&lt;script&gt;alert(" in page
    assert "Hi Bob &lt;b&gt;&#34;the builder&#34;&lt;/b&gt;," in html_part(inbox.received[2][1])


def add_listener_without_metadata(settings) -> None:
    """dave: a month with no album facts at all and no popularity, tracks and artists the dimensions do not
    name; a month whose top album has an unknown number of tracks; one whose top album is short."""
    computed = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 5, 31, tzinfo=UTC))
    with connect("replica", settings) as conn:
        conn.execute("INSERT INTO dim_user (user_id, display_name, timezone) VALUES ('dave', NULL, 'UTC')")
        conn.execute("INSERT INTO dim_album (album_id, name, primary_artist_id, artist_ids, total_tracks, "
                     "is_surrogate) VALUES ('al5', 'Three Songs EP', 'ar5', ARRAY['ar5'], 3, false)")
        for month, album in (("2026-03", None), ("2026-04", "al4"), ("2026-05", "al5")):
            conn.execute(
                "INSERT INTO analytics.overview VALUES ('dave', %s, 40, 9000000, 3, 2, 0, 1, %s, %s, 40, NULL, "
                "NULL, 0, 0, %s, %s)", (month, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC),
                                        *computed))
            for rank, track, streams in ((1, "unnamed-track-id", 25), (2, "tr6", 15)):
                conn.execute("INSERT INTO analytics.top_tracks VALUES ('dave', %s, %s, %s, %s, %s, %s, %s)",
                             (month, rank, track, streams, streams * 200_000, *computed))
            for rank, artist, streams in ((1, "unnamed-artist-id", 25), (2, "ar4", 15)):
                conn.execute("INSERT INTO analytics.top_artists VALUES ('dave', %s, %s, %s, %s, %s, %s, %s)",
                             (month, rank, artist, streams, streams * 200_000, *computed))
            conn.execute("INSERT INTO analytics.hour_of_day SELECT 'dave', %s, h, CASE h WHEN 2 THEN 40 ELSE 0 END, "
                         "CASE h WHEN 2 THEN 9000000 ELSE 0 END, CASE h WHEN 2 THEN 1 ELSE 0 END, %s, %s "
                         "FROM generate_series(0, 23) h", (month, *computed))
            if album:
                conn.execute("INSERT INTO analytics.top_albums VALUES ('dave', %s, 1, %s, 15, 3000000, %s, %s)",
                             (month, album, *computed))


def test_a_month_with_missing_metadata_reads_well(recap_settings):
    add_listener_without_metadata(recap_settings)
    rendered = render_recap(load_recap(recap_settings, "dave", "2026-03"), recap_settings)
    text = rendered.text
    assert text.startswith("Hi there,\n")
    for sentence in [
        "In March 2026 you listened to 2 h 30 min of music: 40 streams on 1 day.",
        "You had no streams in the month before, so this is a fresh start.",
        "1. A track without a name (25 streams)",
        "2. Distant Fire - Surrogate Band (15 streams)",
        "1. An artist without a name (25 streams)",
        "2. Surrogate Band (15 streams)",
        "No artist kept you company two days in a row this month.",
        "Your plays this month came without album details, so there is no album of the month.",
        "No album this month: your plays came without album details.",
        "A night listener: you streamed most between 02:00 and 03:00.",
        "You stayed with the music you know: no new artists or tracks this month.",
        "Spotify did not tell us how popular your tracks are, so there is no mainstream score this month.",
        "Mainstream score: unknown",
        "Longest streak: none (no artist two days in a row)",
        "Compared with the month before: no streams then",
    ]:
        assert sentence in text, sentence
    # Neither ids nor Python's None nor template syntax ever show; no line for what is not known.
    for wrong in ["unnamed-track-id", "unnamed-artist-id", "tr6", "None ", " None", "{{", "{%", "Sessions:",
                  "Busiest day:"]:
        assert wrong not in text and wrong not in rendered.html, wrong
    assert rendered.subject == "Your March 2026 in music: 2 h 30 min"

    april = render_recap(load_recap(recap_settings, "dave", "2026-04"), recap_settings).text
    assert "Your album of the month was Untitled (export) by Surrogate Band (its number of tracks is unknown, " \
           "so its completion is not counted)." in april
    assert "Completion: not counted (number of tracks unknown)" in april
    assert "Compared with March 2026: +0 min listening, +0 streams" in april
    assert "Exactly as long as in March 2026." in april
    may = render_recap(load_recap(recap_settings, "dave", "2026-05"), recap_settings).text
    assert "Your album of the month was Three Songs EP by Quiet Harbour (with 3 tracks it is too short for " \
           "completion, counted from 5 tracks)." in may


def test_make_recap_renders_one_month_to_files_without_sending(recap_settings, smtp, tmp_path):
    out = tmp_path / "recaps"
    done = subprocess.run([sys.executable, "-m", "recap", "render", "--user", "alice", "--month", "2026-01",
                           "--out", str(out)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out / "alice-2026-01.html"), str(out / "alice-2026-01.txt")]
    expected = render_recap(load_recap(recap_settings, "alice", "2026-01"), recap_settings)
    saved = (out / "alice-2026-01.txt").read_text()
    assert saved == f"Subject: {expected.subject}\n\n{expected.text}"
    assert "Streams: 223" in saved
    assert (out / "alice-2026-01.html").read_text().startswith("<!DOCTYPE html>")
    assert smtp[1].received == []

    missing = subprocess.run([sys.executable, "-m", "recap", "render", "--user", "carol", "--month", "2026-01"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert "no statistics for user 'carol' in 2026-01" in missing.stderr
    bad = subprocess.run([sys.executable, "-m", "recap", "render", "--user", "alice", "--month", "2026-13"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "bad month '2026-13'" in bad.stderr


def test_the_dashboard_link_uses_the_public_address_when_there_is_one():
    local = Settings(_env_file=None, dashboard_port=8050)
    assert dashboard_link(local, "a b", "2026-01") == "http://127.0.0.1:8050/users/a%20b?period=2026-01"
    public = local.model_copy(update={"dashboard_public_url": "https://wrapped.example.org/"})
    assert dashboard_link(public, "a b", "2026-01") == "https://wrapped.example.org/users/a%20b?period=2026-01"
