"""The songs' change log (song_changes, schema version 7): a row for each change to a song,
written in the change's own transaction, so that a write and its record commit together or
not at all. Each row holds the song as it was after the change (for a delete, as it was
when deleted) as the JSON text the API answers with, who made it (a token's name, or
`anonymous`, or `command:<name>` for the command line) and the request's id."""

import json
from typing import NamedTuple

OPS = ("create", "update", "delete", "restore")
HISTORY_COLUMNS = "version, op, at, actor, request_id, song"
LOGGED_COLUMNS = ("song_id", "version", "op", "at", "actor", "request_id", "song")


class Author(NamedTuple):
    """Who makes a change, and in which request (None from the command line)."""

    actor: str
    request_id: str | None = None


LOG_CHANGE = (
    "INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)"
    " SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ? FROM song_changes WHERE song_id = ?"
)


def log_change(conn, op, song, at, by):
    """Records `op` on `song` (its values after the change; for a delete, before it), the
    song's next version. Its writer holds the song's row (or, for a new song, its new id)."""
    text = json.dumps(song, ensure_ascii=False)
    conn.execute(LOG_CHANGE, (song["id"], op, at, by.actor, by.request_id, text, song["id"]))


def log_created_songs(conn, after_id, actor):
    """Records the songs with an id above `after_id`, just added in bulk, each as created at
    its updated_at: one statement, whatever their number."""
    conn.execute(CREATED.format(song=conn.song_json, where="id > ?"), (actor, after_id))


def log_unlogged_songs(conn, actor):
    """Records each song that has no version yet as created at its updated_at."""
    unlogged = "NOT EXISTS (SELECT 1 FROM song_changes WHERE song_id = songs.id)"
    conn.execute(CREATED.format(song=conn.song_json, where=unlogged), (actor,))


CREATED = (
    "INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)"
    " SELECT id, 1, 'create', updated_at, ?, NULL, {song} FROM songs WHERE {where} ORDER BY id"
)


def last_song_id(conn):
    """The highest id a song has now, 0 for none: songs this transaction adds in bulk will be
    above it, and no other's (on PostgreSQL, other writers of songs wait for its end; on
    SQLite they always do)."""
    if conn.lock_songs:
        conn.execute(conn.lock_songs)
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM songs").fetchall()[0][0]


def song_history(conn, song_id, before, limit):
    """Up to `limit` of the song's versions below `before`, newest first: (version, op, at,
    actor, request_id, the song's JSON text) each."""
    return conn.execute(
        f"SELECT {HISTORY_COLUMNS} FROM song_changes WHERE song_id = ? AND version < ?"
        " ORDER BY version DESC LIMIT ?",
        (song_id, before, limit),
    ).fetchall()


def has_history(conn, song_id):
    """Whether the log holds any version of the song."""
    rows = conn.execute("SELECT 1 FROM song_changes WHERE song_id = ? LIMIT 1", (song_id,))
    return bool(rows.fetchall())


def deleted_songs(conn, before, limit):
    """Up to `limit` songs deleted and not restored, the latest deletion first, from those
    below position `before`: (position, then as song_history's rows) each."""
    return conn.execute(
        f"SELECT position, {HISTORY_COLUMNS} FROM song_changes AS deleted"
        " WHERE op = 'delete' AND position < ?"
        " AND NOT EXISTS (SELECT 1 FROM song_changes AS later"
        " WHERE later.song_id = deleted.song_id AND later.version > deleted.version)"
        " ORDER BY position DESC LIMIT ?",
        (before, limit),
    ).fetchall()
