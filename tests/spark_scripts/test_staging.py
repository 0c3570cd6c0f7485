"""The job's load (spark_scripts/staging.py): rows out of Spark as CSV lines, COPY'd into main as they were."""

from spark_scripts.staging import as_lines, copy_lines
from warehouse.db import connect


def test_arrays_of_any_text_and_of_numbers_arrive_as_they_were(dbs, spark):
    texts = ['a,b', 'say "hi"', None, "back\\slash", "NULL", "{braces}", " spaced ", "", "Beyoncé"]
    frame = spark.createDataFrame([(1, texts, [0, 2, 40]), (2, [], []), (3, ["x"], None)],
                                  "id int, names array<string>, counts array<int>")
    lines = as_lines(frame).toArrow()["line"]
    with connect("main", dbs) as conn:
        conn.execute("CREATE TEMP TABLE staged (id int, names text[], counts int[])")
        copy_lines(conn, "staged", frame.columns, lines)
        got = conn.execute("SELECT id, names, counts FROM staged ORDER BY id").fetchall()
    assert got == [(1, texts, [0, 2, 40]), (2, [], []), (3, ["x"], None)]
