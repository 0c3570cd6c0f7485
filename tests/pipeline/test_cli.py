"""`python -m pipeline etl`: a failing gate stops the chain before anything downstream runs."""

from __future__ import annotations

from pipeline.__main__ import main
from testkit.sourcedata import add_play, add_track, add_user
from warehouse.db import connect


def test_etl_stops_at_a_failing_source_gate_before_loading_main(dbs, capsys):
    with connect("source", dbs) as conn:
        add_user(conn, "ann")
        add_track(conn, "t1")
        add_play(conn, "ann", "t1", "2026-01-01T10:00:00Z")
        add_play(conn, "ann", "t1", "2026-01-01T10:00:00Z", source="extended_export")  # the same play twice
    assert main(["etl"]) == 1
    assert "source gate failed 1 check(s): " in capsys.readouterr().err
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT (SELECT count(*) FROM etl.load_runs), (SELECT count(*) FROM fact_play), "
                            "(SELECT count(*) FROM etl.analytics_runs)").fetchone() == (0, 0, 0)
