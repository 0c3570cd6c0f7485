"""Deleting plays in source (ingestion/deletions.py) and the commands of ingestion/your_data.py: the audit row,
the identities kept, an import of the same export that does not bring a deleted play back."""

from __future__ import annotations

import pytest

from ingestion.__main__ import main as ingestion_main
from ingestion.deletions import delete_plays
from ingestion.exclusions import RuleError
from ingestion.export_loader import import_export
from tests.ingestion.conftest import REAL_EXPORT, source_checksums
from warehouse.db import connect


def test_deleted_plays_stay_deleted_when_the_same_export_comes_again(dbs):
    import_export([REAL_EXPORT], "me", dbs, create_user=True, timezone="Asia/Kolkata")
    with connect("source", dbs) as conn:
        (day,) = conn.execute("SELECT (played_at AT TIME ZONE 'Asia/Kolkata')::date FROM plays "
                              "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
        (on_day,) = conn.execute("SELECT count(*) FROM plays WHERE (played_at AT TIME ZONE 'Asia/Kolkata')::date = %s",
                                 (day,)).fetchone()
        (total,) = conn.execute("SELECT count(*) FROM plays").fetchone()
        deletion = delete_plays(conn, "me", "me", "UTC", local_from=str(day), local_to=str(day))
    assert deletion.plays == on_day > 1
    with connect("source", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == total - on_day
        assert conn.execute("SELECT user_id, deleted_by, plays, deleted_at > now() - interval '1 minute' "
                            "FROM play_deletions").fetchall() == [("me", "me", on_day, True)]
        assert conn.execute("SELECT count(*) FROM deleted_plays").fetchone()[0] == on_day
    before = source_checksums(dbs)
    again = import_export([REAL_EXPORT], "me", dbs)
    assert (again.deleted_before, again.plays_loaded, again.import_id) == (on_day, 0, None)
    assert again.already_present == 1470 - on_day
    assert source_checksums(dbs) == before


def test_a_deletion_takes_only_the_users_own_plays_and_all_or_nothing(dbs):
    import_export([REAL_EXPORT], "me", dbs, create_user=True, timezone="Asia/Kolkata")
    with connect("source", dbs) as conn:
        conn.execute("INSERT INTO users (user_id) VALUES ('other')")
        first, second = [i for (i,) in conn.execute("SELECT play_id FROM plays ORDER BY played_at LIMIT 2")]
    before = source_checksums(dbs)
    for kwargs in ({"play_ids": [first, 10**12]}, {"play_ids": []}, {"local_from": "2020-01-01", "local_to": "x"},
                   {"local_from": "2020-02-01", "local_to": "2020-01-01"}, {},
                   {"local_from": "2010-01-01", "local_to": "2010-01-01"}):  # no play that day
        with connect("source", dbs) as conn, pytest.raises(RuleError):
            delete_plays(conn, "me", "me", "UTC", **kwargs)
    with connect("source", dbs) as conn, pytest.raises(RuleError, match="not plays of 'other'"):
        delete_plays(conn, "other", "other", "UTC", play_ids=[first])
    assert source_checksums(dbs) == before
    assert ingestion_main(["delete-plays", "--user", "me", "--play", str(first), "--play", str(second),
                           "--yes"]) == 0
    with connect("source", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM plays WHERE play_id IN (%s, %s)", (first, second)).fetchone() == (0,)
        assert conn.execute("SELECT deleted_by LIKE 'cli:%%', plays FROM play_deletions").fetchone() == (True, 2)


def test_the_exclude_command_adds_lists_and_removes_rules(dbs, capsys):
    with connect("source", dbs) as conn:
        conn.execute("INSERT INTO users (user_id) VALUES ('me')")
    link = "https://open.spotify.com/artist/0OdUWJ0sBjDrqHygGUXeCF"
    assert ingestion_main(["exclude", "add", "--user", "me", "--artist", link]) == 0
    assert ingestion_main(["exclude", "add", "--user", "me", "--from", "2024-12-24", "--to", "2024-12-26"]) == 0
    assert ingestion_main(["exclude", "add", "--user", "me", "--album", "not an album"]) == 1
    assert ingestion_main(["exclude", "add", "--user", "nobody", "--track", "4uLU6hMCjMI75M1A2tKUQC"]) == 1
    capsys.readouterr()
    assert ingestion_main(["exclude", "list", "--user", "me"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in listed] == [["artist", "0OdUWJ0sBjDrqHygGUXeCF"], ["plays", "ending"]]
    assert "from 2024-12-24 00:00 to 2024-12-27 00:00" in listed[1]
    rule_id = listed[0].split()[0]
    assert ingestion_main(["exclude", "remove", "--user", "me", rule_id]) == 0
    assert ingestion_main(["exclude", "remove", "--user", "me", rule_id]) == 1
    with connect("source", dbs) as conn:
        assert conn.execute("SELECT kind FROM exclusion_rules").fetchall() == [("time",)]
