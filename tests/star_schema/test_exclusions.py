"""Exclusion rules and deleted plays through the source -> main load (docs/metrics.md, "What counts"):
which facts each rule kind marks, on hand-written plays."""

import pytest

from ingestion.deletions import delete_plays
from ingestion.exclusions import RuleError, add_rule, remove_rule
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from warehouse.db import connect

PLAYLIST = "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"


def excluded(settings) -> dict[int, bool]:
    """play_id -> excluded, of every fact."""
    with connect("main", settings) as conn:
        return dict(conn.execute("SELECT play_id, excluded FROM fact_play"))


def play_ids(settings) -> dict[str, int]:
    """'<track>@<played_at UTC>' (ann's) or 'bob:<track>@<played_at UTC>' -> play_id of source's plays."""
    with connect("source", settings) as conn:
        return {f"{'' if u == 'ann' else u + ':'}{t}@{at:%m-%d %H:%M}": i for i, u, t, at in conn.execute(
            "SELECT play_id, user_id, track_id, played_at AT TIME ZONE 'UTC' FROM plays")}


@pytest.fixture
def source(dbs):
    """Two users; 'ann' in Berlin has eight plays, 'bob' one of the same track."""
    with connect("source", dbs) as conn:
        add_user(conn, "ann", "Europe/Berlin")
        add_user(conn, "bob", "UTC")
        add_track(conn, "t1", "ar1", "al1")
        add_track(conn, "t2", "ar2", "al1")
        add_track(conn, "t3", "ar2", "al2")
        # t4: a duet, ar3 first and ar1 second
        conn.execute("INSERT INTO artists (artist_id, name) VALUES ('ar3', 'Three')")
        conn.execute("INSERT INTO tracks (track_id, name, album_id, artist_ids) VALUES ('t4', 'Duet', 'al2', "
                     "'{ar3,ar1}')")
        for track, at in (("t1", "2024-03-01T10:00:00Z"), ("t2", "2024-03-01T11:00:00Z"),
                          ("t3", "2024-03-01T22:30:00Z"),  # 23:30 in Berlin, 1 March
                          ("t3", "2024-03-01T23:30:00Z"),  # 00:30 in Berlin, 2 March
                          ("t4", "2024-03-02T09:00:00Z"), ("t1", "2024-03-03T09:00:00Z"),
                          ("t2", "2024-07-01T21:59:00Z"),  # 23:59 summer time, 1 July
                          ("t2", "2024-07-01T22:00:00Z")):  # 00:00, 2 July
            add_play(conn, "ann", track, at)
        add_play(conn, "bob", "t1", "2024-03-01T10:00:00Z")
        conn.execute("UPDATE plays SET context_uri = %s WHERE track_id = 't2' AND user_id = 'ann'", (PLAYLIST,))
    load_main(dbs)
    return play_ids(dbs)


@pytest.mark.parametrize(("kind", "value", "matched"), [
    ("artist", "https://open.spotify.com/artist/ar1", None),  # not a 22-character id: refused below
    ("artist", "ar1", {"t1@03-01 10:00", "t4@03-02 09:00", "t1@03-03 09:00"}),  # t4 too: ar1 is its second artist
    ("album", "spotify:album:al2", None),
    ("album", "al2", {"t3@03-01 22:30", "t3@03-01 23:30", "t4@03-02 09:00"}),
    ("track", "t2", {"t2@03-01 11:00", "t2@07-01 21:59", "t2@07-01 22:00"}),
    ("context", PLAYLIST.replace("spotify:playlist:", "https://open.spotify.com/playlist/") + "?si=x",
     {"t2@03-01 11:00", "t2@07-01 21:59", "t2@07-01 22:00"}),
    ("time", ("2024-03-02", "2024-03-02"), {"t3@03-01 23:30", "t4@03-02 09:00"}),  # a whole local day
    ("time", ("2024-03-01 23:00", "2024-03-02 01:00"), {"t3@03-01 22:30", "t3@03-01 23:30"}),  # a night
    ("time", ("2024-06-01", "2024-07-01"), {"t2@07-01 21:59"}),  # a span of dates, both included
])
def test_each_rule_kind_marks_exactly_its_plays_and_removing_it_unmarks_them(dbs, source, kind, value, matched):
    with connect("source", dbs) as conn:
        if matched is None:
            with pytest.raises(RuleError):
                add_rule(conn, "ann", kind, "ann", target=value)
            return
        if kind == "time":
            rule = add_rule(conn, "ann", kind, "ann", local_from=value[0], local_to=value[1])
        else:
            rule = add_rule(conn, "ann", kind, "ann", target=value)
    report = load_main(dbs)
    assert report.users_rules_changed == 1 and report.plays_loaded == len(matched)
    expected = {play_id: name in matched for name, play_id in source.items()}
    assert excluded(dbs) == expected  # bob's play of t1 and every other play count
    assert load_main(dbs).load_id is None  # nothing changed: nothing to load
    with connect("source", dbs) as conn:
        assert remove_rule(conn, "ann", rule) and not remove_rule(conn, "ann", rule)
    assert load_main(dbs).plays_loaded == len(matched)
    assert not any(excluded(dbs).values())


def test_new_plays_are_marked_as_they_arrive_and_time_rules_follow_the_zone(dbs, source):
    with connect("source", dbs) as conn:
        add_rule(conn, "ann", "time", "ann", local_from="2024-03-04", local_to="2024-03-04")
        assert add_rule(conn, "ann", "album", "ann", target="al2") == add_rule(conn, "ann", "album", "ann",
                                                                               target="al2")  # one rule
    load_main(dbs)
    with connect("source", dbs) as conn:
        add_play(conn, "ann", "t1", "2024-03-03T23:30:00Z")  # 00:30 on 4 March in Berlin
        add_play(conn, "ann", "t1", "2024-03-04T23:30:00Z")  # 00:30 on 5 March
    load_main(dbs)
    ids = play_ids(dbs)
    marks = excluded(dbs)
    assert marks[ids["t1@03-03 23:30"]] and not marks[ids["t1@03-04 23:30"]]
    # In UTC the two plays are on 3 and 4 March: the time rule now matches the other one.
    with connect("source", dbs) as conn:
        conn.execute("UPDATE users SET timezone = 'UTC' WHERE user_id = 'ann'")
    load_main(dbs)
    marks = excluded(dbs)
    assert not marks[ids["t1@03-03 23:30"]] and marks[ids["t1@03-04 23:30"]]
    # The album rule still holds; a track moved to another album leaves it.
    assert marks[ids["t4@03-02 09:00"]]
    with connect("source", dbs) as conn:
        conn.execute("UPDATE tracks SET album_id = 'al1' WHERE track_id = 't4'")
    load_main(dbs)
    assert not excluded(dbs)[ids["t4@03-02 09:00"]]


def test_a_deleted_play_leaves_main_with_a_trace_for_the_next_run(dbs, source):
    with connect("source", dbs) as conn:
        deletion = delete_plays(conn, "ann", "ann", "UTC", local_from="2024-03-02", local_to="2024-03-02")
    assert deletion.plays == 2  # Berlin's 2 March, the user's zone, not the default UTC
    report = load_main(dbs)
    assert report.plays_deleted == 2
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM fact_play").fetchone()[0] == len(source) - 2
        assert sorted(conn.execute("SELECT play_id, load_id FROM etl.deleted_plays")) == sorted(
            (source[name], report.load_id) for name in ("t3@03-01 23:30", "t4@03-02 09:00"))
    assert load_main(dbs).load_id is None


def test_a_rule_targets_only_well_formed_values(dbs, source):
    with connect("source", dbs) as conn:
        for kind, target in (("artist", "spotify:track:4uLU6hMCjMI75M1A2tKUQC"), ("context", "spotify:track:"
                             "4uLU6hMCjMI75M1A2tKUQC"), ("track", "' OR 1=1 --"), ("album", "sur:album:nope"),
                             ("genre", "pop")):
            with pytest.raises(RuleError):
                add_rule(conn, "ann", kind, "ann", target=target)
        for start, end in (("2024-03-02", "2024-03-01"), ("yesterday", "2024-03-01"), ("1999-01-01", "2000-01-01"),
                           ("2024-03-01T10:00+01:00", "2024-03-02")):
            with pytest.raises(RuleError):
                add_rule(conn, "ann", "time", "ann", local_from=start, local_to=end)
        assert add_rule(conn, "ann", "track", "ann", target="https://open.spotify.com/intl-de/track/"
                        "4uLU6hMCjMI75M1A2tKUQC?si=abc") > 0
        assert conn.execute("SELECT target FROM exclusion_rules").fetchall() == [("4uLU6hMCjMI75M1A2tKUQC",)]
