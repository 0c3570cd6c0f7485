"""Podcasts (docs/metrics.md, "Podcasts", statistics 18 and 19): episode plays of 30 s or more are listens of
their shows and episodes, in the periods music streams make; music statistics do not change with them."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from fake_spotify.generate import generate, write_to_source
from pipeline import analytics
from spark_scripts import publish
from spark_scripts.statistics import COMPUTE
from star_schema.load import load_main
from tests.spark_scripts.conftest import rows, tables
from tests.spark_scripts.test_job import snapshot
from warehouse.catalog import ROLLING_PERIODS, STATISTICS
from warehouse.db import connect

TRACKS = {"t1": ("a1", "r1", 200_000, True, 100), "t2": ("a2", "r2", 300_000, False, 50)}
PLAYS = [("ana", "t1", "2024-03-01T09:00:00Z", 200_000), ("ana", "t2", "2024-03-20T09:00:00Z", 300_000),
         ("ana", "t1", "2024-04-05T09:00:00Z", 200_000)]
EPISODES = [
    ("ana", "e1", "s1", "2024-03-01T10:00:00Z", 600_000),
    ("ana", "e1", "s1", "2024-03-02T10:00:00Z", 20_000),  # under 30 s: not a listen
    ("ana", "e2", "s1", "2024-03-03T10:00:00Z", 1_200_000),
    ("ana", "e3", "s2", "2024-03-04T10:00:00Z", 1_500_000),
    ("ana", "e4", "s2", "2024-02-10T10:00:00Z", 900_000),  # February has no music stream: no period of its own
]
PODCAST = {"top_shows", "top_episodes"}
PODCAST_COLUMNS = ("podcast_listens", "podcast_listening_ms")


def by_period(frame) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for row in rows(frame, "period", "rank"):
        found[row.pop("period")].append({k: v for k, v in row.items() if k != "user_id"})
    return dict(found)


def test_shows_and_episodes_by_listening_time_in_the_periods_of_the_music(spark):
    t = tables(spark, PLAYS, TRACKS, episodes=EPISODES)
    shows = by_period(COMPUTE["top_shows"](t))
    assert set(shows) == {"all", "2024", "2024-03", "last-6-months", "last-12-months"}  # not 2024-02 or -04
    assert shows["all"] == shows["2024"] == shows["last-6-months"] == [
        {"rank": 1, "show_id": "s2", "listens": 2, "listening_ms": 2_400_000, "episodes": 2},
        {"rank": 2, "show_id": "s1", "listens": 2, "listening_ms": 1_800_000, "episodes": 2}]
    assert shows["2024-03"] == [
        {"rank": 1, "show_id": "s1", "listens": 2, "listening_ms": 1_800_000, "episodes": 2},
        {"rank": 2, "show_id": "s2", "listens": 1, "listening_ms": 1_500_000, "episodes": 1}]
    episodes = by_period(COMPUTE["top_episodes"](t))
    assert [(e["episode_id"], e["show_id"], e["listens"], e["listening_ms"]) for e in episodes["all"]] == [
        ("e3", "s2", 1, 1_500_000), ("e2", "s1", 1, 1_200_000), ("e4", "s2", 1, 900_000), ("e1", "s1", 1, 600_000)]
    overview = {r["period"]: (r["podcast_listens"], r["podcast_listening_ms"]) for r in rows(COMPUTE["overview"](t))}
    assert overview == {"all": (4, 4_200_000), "2024": (4, 4_200_000), "2024-03": (3, 3_300_000),
                        "2024-04": (0, 0), "last-4-weeks": (0, 0), "last-6-months": (4, 4_200_000),
                        "last-12-months": (4, 4_200_000)}
    assert set(ROLLING_PERIODS) <= set(overview)
    # That the music's statistics are those of the music alone is checked through the whole pipeline below.


@pytest.fixture(scope="module")
def listening():
    return generate(seed=21, users=2, days=90)


@pytest.mark.slow
def test_episodes_arriving_later_change_only_the_podcast_numbers_and_incremental_equals_full(dbs, spark, listening):
    episodes = [p for p in listening.plays if p.episode]
    assert len(episodes) > 3
    with connect("source", dbs) as conn:
        write_to_source(conn, dataclasses.replace(listening, plays=[p for p in listening.plays if not p.episode]))
    load_main(dbs)
    analytics.run(dbs, full=True, spark=spark)
    without = music_snapshot(dbs)
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.top_shows").fetchone()[0] == 0

    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    load_main(dbs)
    assert analytics.run(dbs, spark=spark).mode == "incremental"
    assert music_snapshot(dbs) == without
    incremental = snapshot(dbs)
    analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs) == incremental

    # Each user's shows of all time, from the generated plays by the document's words: listens of 30 s or more.
    expected = defaultdict(lambda: [0, 0, set()])
    for play in episodes:
        if play.ms_played >= 30_000:
            show = expected[(play.user_id, play.episode[2])]
            show[0], show[1] = show[0] + 1, show[1] + play.ms_played
            show[2].add(play.episode[0])
    with connect("main", dbs) as conn:
        found = {(user, name): [listens, ms, episodes] for user, name, listens, ms, episodes in conn.execute(
            "SELECT t.user_id, s.name, t.listens, t.listening_ms, t.episodes FROM analytics.top_shows t "
            "JOIN dim_show s USING (show_id) WHERE t.period = 'all'")}
        streams = conn.execute("SELECT count(*) FROM fact_play WHERE content_type = 'episode' AND is_stream"
                               ).fetchone()[0]
    assert found == {key: [listens, ms, len(heard)] for key, (listens, ms, heard) in expected.items()}
    assert streams == 0


def music_snapshot(settings) -> dict:
    """`snapshot` of every statistic but the podcast ones, the overview without its podcast columns."""
    found = {}
    with connect("main", settings) as conn:
        for table in set(STATISTICS) - PODCAST:
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
                "AND table_name = %s ORDER BY ordinal_position", (table,))
                if c not in publish.FRESHNESS and c not in PODCAST_COLUMNS]
            row = ", ".join(columns)
            found[table] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(({row})::text, '|' ORDER BY ({row})::text), '')) "
                f"FROM analytics.{table}").fetchone()
    return found
