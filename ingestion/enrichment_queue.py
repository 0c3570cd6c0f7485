"""Source's `enrichment_queue`: what Spotify could not give yet (an id's metadata, an album's track list),
with its attempts and last error; an entry refused MAX_ATTEMPTS times is left alone."""

from __future__ import annotations

import psycopg

MAX_ATTEMPTS = 5


def record_failures(conn: psycopg.Connection, kind: str, ids: list[str], error: str) -> None:
    """Queue `ids` of entity type `kind` with `error`, one attempt more for those queued already."""
    conn.cursor().executemany(
        """INSERT INTO enrichment_queue (entity_type, entity_id, attempts, last_error) VALUES (%s, %s, 1, %s)
           ON CONFLICT (entity_type, entity_id) DO UPDATE SET attempts = enrichment_queue.attempts + 1,
               last_error = EXCLUDED.last_error""", [(kind, i, error) for i in ids])
