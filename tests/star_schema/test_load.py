from datetime import date

import psycopg
import pytest

from fake_spotify.generate import generate, write_to_source
from ingestion.editions import add_recording_rule
from star_schema.load import REEVALUATE_RECORDINGS, LoadError, load_main
from testkit.sourcedata import add_play, add_track, add_user
from warehouse.db import connect

MAIN_TABLES = ("dim_user", "dim_track", "dim_album", "dim_album_track", "dim_artist", "fact_play", "etl.load_runs")


def checksums(settings):
    with connect("main", settings) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {table} t").fetchone()
            for table in MAIN_TABLES
        }


def facts(settings, *columns):
    with connect("main", settings) as conn:
        return conn.execute(f"SELECT {', '.join(columns)} FROM fact_play ORDER BY played_at").fetchall()


def test_generated_listening_loads_whole_and_idempotently(dbs):
    listening = generate(seed=3, users=3, days=60)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    report = load_main(dbs)
    track_plays = [p for p in listening.plays if p.track_id]
    episodes = [p for p in listening.plays if p.episode]
    assert len(episodes) > 0 and len(track_plays) + len(episodes) == len(listening.plays)
    assert report.plays_loaded == len(listening.plays)  # podcast episodes are facts too
    assert report.users_changed == 3 and report.tracks_changed == len(listening.tracks)
    before = checksums(dbs)
    assert before["fact_play"][0] == len(listening.plays)
    again = load_main(dbs)
    assert again.load_id is None and again.plays_loaded == 0
    assert checksums(dbs) == before
    with connect("main", dbs) as conn:
        streams, short = conn.execute(
            "SELECT count(*) FILTER (WHERE is_stream), count(*) FILTER (WHERE ms_played < 30000) "
            "FROM fact_play").fetchone()
        shows = dict(conn.execute("SELECT name, show_id FROM dim_show").fetchall())
        episode_facts = conn.execute(
            "SELECT e.name, s.name, f.ms_played, f.is_stream, f.track_id FROM fact_play f "
            "JOIN dim_episode e USING (episode_id) JOIN dim_show s ON s.show_id = f.show_id AND s.show_id = e.show_id "
            "WHERE f.content_type = 'episode'").fetchall()
    assert streams == sum(p.ms_played >= 30_000 for p in track_plays)  # an episode is never a stream
    assert short > 0
    assert sorted(episode_facts) == sorted((p.episode[1], p.episode[2], p.ms_played, False, None) for p in episodes)
    assert set(shows) == {p.episode[2] for p in episodes}
    assert all(show_id.startswith("sur:show:") for show_id in shows.values())


def test_album_track_lists_are_copied_once_each_and_only_the_new_ones_are_read(dbs):
    listening = generate(seed=4, users=1, days=10)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
        listed = {album_id for (album_id,) in conn.execute("SELECT DISTINCT album_id FROM album_tracks")}
        source_rows = conn.execute("SELECT album_id, disc_number, track_number, track_id, name, duration_ms "
                                   "FROM album_tracks ORDER BY 1, 2, 3").fetchall()
        # a list that arrives after the first load, and one that source lacks (its album stays unlisted)
        late, unlisted = sorted(listed)[:2]
        late_rows = [row for row in source_rows if row[0] == late]
        conn.execute("DELETE FROM album_tracks WHERE album_id IN (%s, %s)", (late, unlisted))
    assert 0 < len(listed) < len(listening.albums)
    first = load_main(dbs)
    assert first.album_track_lists == len(listed) - 2
    with connect("main", dbs) as conn:
        main_rows = conn.execute("SELECT * FROM dim_album_track ORDER BY 1, 2, 3").fetchall()
    assert main_rows == [row for row in source_rows if row[0] not in (late, unlisted)]
    assert load_main(dbs).load_id is None  # nothing new: the load changes nothing
    with connect("source", dbs) as conn:
        for row in late_rows:
            conn.execute("INSERT INTO album_tracks (album_id, disc_number, track_number, track_id, name, "
                         "duration_ms) VALUES (%s, %s, %s, %s, %s, %s)", row)
        # a stored list is never re-read: a change in source (which enrichment never makes) stays there
        conn.execute("UPDATE album_tracks SET name = 'renamed' WHERE album_id = %s", (main_rows[0][0],))
    second = load_main(dbs)
    assert (second.album_track_lists, second.plays_loaded, second.tracks_changed) == (1, 0, 0)
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT album_track_lists FROM etl.load_runs WHERE load_id = %s",
                            (second.load_id,)).fetchone() == (1,)
        rows = conn.execute("SELECT * FROM dim_album_track ORDER BY 1, 2, 3").fetchall()
    assert sorted(rows) == sorted(main_rows + late_rows)
    assert not any(row[0] == unlisted for row in rows)


def test_incremental_load_brings_only_new_plays(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ana")
        add_track(conn, "t1")
        add_play(conn, "ana", "t1", "2024-05-01T10:00:00.000Z")
    first = load_main(dbs)
    assert first.plays_loaded == 1
    with connect("source", dbs) as conn:
        add_play(conn, "ana", "t1", "2024-05-01T11:00:00.000Z")
        add_play(conn, "ana", "t1", "2024-05-01T12:00:00.000Z")
    second = load_main(dbs)
    assert (second.plays_loaded, second.tracks_changed, second.users_changed) == (2, 0, 0)
    assert [load_id for (load_id,) in facts(dbs, "load_id")] == [first.load_id, second.load_id, second.load_id]


def test_changed_metadata_updates_only_the_changed_dimension_rows(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ana")
        add_track(conn, "t1")
        add_track(conn, "t2")
    load_main(dbs)
    with connect("source", dbs) as conn:
        conn.execute("UPDATE tracks SET popularity = 100 WHERE track_id = 't2'")
    report = load_main(dbs)
    assert (report.tracks_changed, report.albums_changed, report.artists_changed) == (1, 0, 0)
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT popularity FROM dim_track ORDER BY track_id").fetchall() == [(None,), (100,)]


def test_stream_flag_follows_the_source(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ana")
        add_track(conn, "t1")
        add_play(conn, "ana", "t1", "2024-05-01T10:00:00Z", ms_played=12_000, source="api")
        add_play(conn, "ana", "t1", "2024-05-01T11:00:00Z", ms_played=29_999, source="extended_export")
        add_play(conn, "ana", "t1", "2024-05-01T12:00:00Z", ms_played=30_000, source="extended_export")
    load_main(dbs)
    assert [s for (s,) in facts(dbs, "is_stream")] == [True, False, True]


def test_local_time_follows_dst_and_the_users_zone(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "berlin", "Europe/Berlin")
        add_user(conn, "tokyo", "Asia/Tokyo")
        add_user(conn, "nyc", "America/New_York")
        add_user(conn, "nozone", None)
        add_track(conn, "t1")
        # Berlin springs forward on 2024-03-31 at 01:00 UTC (02:00 -> 03:00 local).
        add_play(conn, "berlin", "t1", "2024-03-31T00:30:00Z")
        add_play(conn, "berlin", "t1", "2024-03-31T01:30:00Z")
        # ... and falls back on 2024-10-27 at 01:00 UTC (03:00 -> 02:00 local).
        add_play(conn, "berlin", "t1", "2024-10-27T00:30:00Z")
        add_play(conn, "berlin", "t1", "2024-10-27T01:30:00Z")
        # Tokyo is a day ahead of UTC here: local Thursday 2024-02-01 05:00.
        add_play(conn, "tokyo", "t1", "2024-01-31T20:00:00Z")
        # New York is still in the old year.
        add_play(conn, "nyc", "t1", "2025-01-01T03:00:00Z")
        add_play(conn, "nozone", "t1", "2025-01-01T03:00:01Z")
    load_main(dbs)
    got = facts(dbs, "user_id", "local_date", "local_hour", "local_dow", "local_year", "local_month")
    assert got == [
        ("tokyo", date(2024, 2, 1), 5, 4, "2024", "2024-02"),
        ("berlin", date(2024, 3, 31), 1, 7, "2024", "2024-03"),
        ("berlin", date(2024, 3, 31), 3, 7, "2024", "2024-03"),
        ("berlin", date(2024, 10, 27), 2, 7, "2024", "2024-10"),
        ("berlin", date(2024, 10, 27), 2, 7, "2024", "2024-10"),
        ("nyc", date(2024, 12, 31), 22, 2, "2024", "2024-12"),
        ("nozone", date(2025, 1, 1), 3, 3, "2025", "2025-01"),
    ]


def test_a_changed_time_zone_moves_the_users_local_fields(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ana", "UTC")
        add_track(conn, "t1")
        add_play(conn, "ana", "t1", "2024-06-30T23:30:00Z")
    load_main(dbs)
    assert facts(dbs, "local_month") == [("2024-06",)]
    with connect("source", dbs) as conn:
        conn.execute("UPDATE users SET timezone = 'Asia/Kolkata' WHERE user_id = 'ana'")
    report = load_main(dbs)
    assert report.users_changed == 1
    assert facts(dbs, "local_date", "local_hour", "local_month") == [(date(2024, 7, 1), 5, "2024-07")]


def test_a_play_of_an_unknown_track_fails_the_load_and_loads_nothing(dbs, clusters):
    with connect("source", dbs) as conn:
        add_user(conn, "ana")
        add_track(conn, "t1")
        add_play(conn, "ana", "t1", "2024-05-01T10:00:00Z")
    source = next(cluster for cluster in clusters if cluster.name == "source")
    with psycopg.connect(source.admin_url("source")) as conn:  # only a superuser may switch foreign keys off
        conn.execute("ALTER TABLE plays DISABLE TRIGGER ALL")
        add_play(conn, "ana", "ghost", "2024-05-01T11:00:00Z")
    with pytest.raises(LoadError, match="ghost"):
        load_main(dbs)
    assert checksums(dbs)["fact_play"][0] == 0
    assert checksums(dbs)["dim_track"][0] == 0


def test_the_demo_commands_twice_leave_main_identical(dbs, capsys):
    from fake_spotify.__main__ import main as fake_spotify
    from star_schema.__main__ import main as star_schema

    for _ in range(2):
        assert fake_spotify(["generate", "--users", "2", "--days", "20", "--seed", "9"]) == 0
        assert star_schema(["load"]) == 0
        if _ == 0:
            first = checksums(dbs)
    assert checksums(dbs) == first
    assert first["fact_play"][0] > 0
    assert "nothing to load" in capsys.readouterr().out


def test_a_play_changed_in_source_after_its_load_is_updated_in_main(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ana")
        add_track(conn, "sur:track:x")
        add_track(conn, "real")
        add_play(conn, "ana", "sur:track:x", "2024-05-01T10:00:00Z", source="extended_export")
        add_play(conn, "ana", "real", "2024-05-01T11:00:00Z")
    first = load_main(dbs)
    with connect("source", dbs) as conn:  # what a merge with an export and a name resolution do
        conn.execute("UPDATE plays SET track_id = 'real' WHERE track_id = 'sur:track:x'")
        conn.execute("UPDATE plays SET skipped = false WHERE source = 'api'")
        conn.execute("UPDATE plays SET platform = platform")  # no real change: no new revision
    second = load_main(dbs)
    assert second.plays_loaded == 2
    assert facts(dbs, "track_id", "skipped", "load_id") == [("real", None, second.load_id),
                                                            ("real", False, second.load_id)]
    assert first.load_id != second.load_id
    assert load_main(dbs).load_id is None


def test_a_changed_isrc_moves_only_the_recordings_of_its_plays(dbs):
    """Two tracks given one new ISRC (as enrichment stores it after their plays were loaded): every play of
    them, and the plays of a track one user merged into one of them, name the new recording; no other play is
    written; and the plays are found by index, not by scanning the history."""
    listening = generate(seed=3, users=3, days=60)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    load_main(dbs)
    user_id = listening.users[0].user_id
    with connect("source", dbs) as conn:
        one, two, three = (track_id for (track_id,) in conn.execute(
            "SELECT track_id FROM plays WHERE user_id = %s AND track_id IS NOT NULL GROUP BY track_id "
            "ORDER BY count(*) DESC, track_id LIMIT 3", (user_id,)))
        add_recording_rule(conn, user_id, "merge", three, "test", into=one)
    load_main(dbs)
    with connect("main", dbs) as conn:
        (three_isrc,) = conn.execute("SELECT isrc FROM dim_track WHERE track_id = %s", (three,)).fetchone()
    with connect("source", dbs) as conn:
        conn.execute("UPDATE tracks SET isrc = 'qzabc2600001' WHERE track_id IN (%s, %s)", (one, two))
    report = load_main(dbs)
    with connect("main", dbs) as conn:
        moved = {(merged, recording_id, now): n for merged, recording_id, now, n in conn.execute(
            "SELECT user_id = %s AND track_id = %s, recording_id, load_id = %s, count(*) FROM fact_play "
            "WHERE track_id IN (%s, %s, %s) GROUP BY 1, 2, 3",
            (user_id, three, report.load_id, one, two, three))}
        (of_one_two, others_of_three, mine) = conn.execute(
            "SELECT count(*) FILTER (WHERE track_id <> %(three)s), count(*) FILTER (WHERE track_id = %(three)s "
            "AND user_id <> %(user)s), count(*) FILTER (WHERE track_id = %(three)s AND user_id = %(user)s) "
            "FROM fact_play WHERE track_id IN (%(one)s, %(two)s, %(three)s)",
            {"one": one, "two": two, "three": three, "user": user_id}).fetchone()
        # So small a table says nothing of the planner's choice at scale: what is checked is that every read of
        # the history can be an index lookup (with scans and whole-table joins priced out, one remains only
        # where no index can serve).
        for method in ("seqscan", "hashjoin", "mergejoin"):
            conn.execute(f"SET enable_{method} = off")
        (plan,) = conn.execute("EXPLAIN (FORMAT JSON) " + REEVALUATE_RECORDINGS,
                               {"load_id": 0, "users": [], "tracks": [one, two]}).fetchone()
    # The plays of one and two (every user's) and the user's merged plays of three: the new recording, written
    # by this load; the other users' plays of three keep theirs, unwritten.
    new, kept = "isrc:QZABC2600001", f"isrc:{three_isrc}" if three_isrc else three
    assert mine > 0 and of_one_two > 0
    assert moved == {key: n for key, n in {(False, new, True): of_one_two, (True, new, True): mine,
                                           (False, kept, False): others_of_three}.items() if n}
    assert report.plays_loaded == of_one_two + mine  # no other play was written
    # Every read of fact_play looks plays up by an index condition: no scan, and no walk of a whole index.
    reads = [node for node in _plan_nodes(plan)
             if node.get("Index Name", "").startswith("fact_play")
             or node.get("Relation Name") == "fact_play"
             and node["Node Type"] not in ("ModifyTable", "Bitmap Heap Scan")]
    assert reads and all(node["Node Type"] != "Seq Scan" and "Index Cond" in node for node in reads), [
        {k: node.get(k) for k in ("Node Type", "Index Name", "Index Cond", "Filter")} for node in reads]


def _plan_nodes(plan):
    for node in plan if isinstance(plan, list) else [plan]:
        node = node.get("Plan", node)
        yield node
        yield from _plan_nodes(node.get("Plans", []))


PLAYLIST_ROWS = {
    "dim_playlist": "SELECT playlist_id, name, owner_name, snapshot_id, total_tracks FROM {} ORDER BY 1",
    "dim_playlist_track": "SELECT playlist_id, position, track_id FROM {} ORDER BY 1, 2",
    "dim_user_playlist": "SELECT user_id, playlist_id FROM {} ORDER BY 1, 2",
}
SOURCE_PLAYLISTS = {
    "dim_playlist": "SELECT p.playlist_id, p.name, p.owner_name, p.snapshot_id, "
                    "(SELECT count(DISTINCT i.track_id) FROM playlist_items i WHERE i.playlist_id = p.playlist_id) "
                    "FROM playlists p WHERE p.fetched_at IS NOT NULL ORDER BY 1",
    "dim_playlist_track": "SELECT i.playlist_id, i.position, i.track_id FROM playlist_items i "
                          "JOIN playlists p USING (playlist_id) WHERE p.fetched_at IS NOT NULL ORDER BY 1, 2",
    "dim_user_playlist": "SELECT u.user_id, u.playlist_id FROM user_playlists u JOIN playlists p USING (playlist_id) "
                         "WHERE p.fetched_at IS NOT NULL ORDER BY 1, 2",
}


def playlists_in(settings) -> tuple[dict, dict]:
    """(main's playlist dimensions, what source says they must hold)."""
    with connect("main", settings) as main, connect("source", settings) as source:
        return ({table: main.execute(query.format(table)).fetchall() for table, query in PLAYLIST_ROWS.items()},
                {table: source.execute(query).fetchall() for table, query in SOURCE_PLAYLISTS.items()})


def test_playlists_follow_source_and_only_changed_snapshots_are_read_again(dbs):
    listening = generate(seed=8, users=2, days=20)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
        conn.execute("INSERT INTO playlists (playlist_id, name, status) VALUES ('pending1', 'Never fetched', "
                     "'pending')")
        conn.execute("INSERT INTO user_playlists (user_id, playlist_id) VALUES (%s, 'pending1')",
                     (listening.users[0].user_id,))
    first = load_main(dbs)
    main_rows, wanted = playlists_in(dbs)
    assert main_rows == wanted and len(main_rows["dim_playlist"]) == 3  # the shared one and one each
    assert len(main_rows["dim_playlist_track"]) == 250 + 2 * 40 and first.playlist_rows_changed > 0
    assert "pending1" not in {p for p, *_ in main_rows["dim_playlist"]}
    assert load_main(dbs).load_id is None  # nothing changed: nothing to load

    shared = next(playlist for playlist, name, *_ in main_rows["dim_playlist"] if name == "Generated Hits")
    own = listening.users[1].user_id
    with connect("source", dbs) as conn:
        # A new snapshot of one playlist (one entry removed, a duplicate added), one unfollowed, a rename without
        # a new snapshot (names are staged whole; items are not read again).
        first_track = conn.execute("SELECT track_id FROM playlist_items WHERE playlist_id = %s AND position = 0",
                                   (shared,)).fetchone()[0]
        conn.execute("DELETE FROM playlist_items WHERE playlist_id = %s AND position = 1", (shared,))
        conn.execute("INSERT INTO playlist_items (playlist_id, position, track_id) VALUES (%s, 250, %s)",
                     (shared, first_track))
        conn.execute("UPDATE playlists SET snapshot_id = 'changed' WHERE playlist_id = %s", (shared,))
        conn.execute("DELETE FROM user_playlists WHERE user_id = %s AND playlist_id = %s", (own, shared))
        others = [p for (p,) in conn.execute("SELECT playlist_id FROM playlists WHERE playlist_id NOT IN (%s, "
                                             "'pending1')", (shared,))]
        conn.execute("UPDATE playlists SET name = 'Renamed' WHERE playlist_id = %s", (others[0],))
        conn.execute("UPDATE playlist_items SET track_id = 'unread' WHERE playlist_id = %s AND position = 0",
                     (others[1],))  # no new snapshot: main keeps what it read
    second = load_main(dbs)
    before, (main_rows, wanted) = main_rows, playlists_in(dbs)
    assert second.load_id is not None and second.plays_loaded == 0
    assert main_rows["dim_user_playlist"] == wanted["dim_user_playlist"]
    assert own not in {u for u, p in main_rows["dim_user_playlist"] if p == shared}
    items = {table: [r for r in rows if r[0] == shared] for table, rows in (("main", main_rows["dim_playlist_track"]),
                                                                           ("source", wanted["dim_playlist_track"]))}
    assert items["main"] == items["source"] and len(items["main"]) == 250
    unread = [r for r in before["dim_playlist_track"] if r[0] == others[1]]
    assert [r for r in main_rows["dim_playlist_track"] if r[0] == others[1]] == unread  # not read again
    names = {playlist: (name, snapshot, total) for playlist, name, _, snapshot, total in main_rows["dim_playlist"]}
    assert names[shared] == ("Generated Hits", "changed", 249)  # 250 entries, one track twice
    assert names[others[0]][0] == "Renamed"
    with connect("main", dbs) as conn:
        # Whose playlist_completion moves: the shared playlist's followers (it was read again; `own` unfollowed
        # it); not the renamed playlist's (a name is in no statistic). No other dimension row changed.
        assert conn.execute("SELECT dims_updated, playlist_users FROM etl.load_runs WHERE load_id = %s",
                            (second.load_id,)).fetchone() == (0, sorted(u.user_id for u in listening.users))
    with connect("source", dbs) as conn:
        conn.execute("UPDATE playlists SET snapshot_id = 'again' WHERE playlist_id = %s", (others[1],))
    third = load_main(dbs)
    assert third.playlist_rows_changed == 40 + 40 + 1  # its entries replaced, its snapshot
    assert (others[1], 0, "unread") in playlists_in(dbs)[0]["dim_playlist_track"]  # read with the new snapshot
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT playlist_users FROM etl.load_runs WHERE load_id = %s",
                            (third.load_id,)).fetchone()[0] == [
            follower for follower, playlist in main_rows["dim_user_playlist"] if playlist == others[1]]
