"""Many songs at once, as a batch adds them and the songs page's selection changes them: on
PostgreSQL each write in one statement whatever the songs' number, their values sent as
arrays (unnest) and each song's record made by the same statement (logged_statement). Each
statement is planned anew there (nothing is prepared, postgres.py), and a statement a song
spent most of a batch's time being planned. SQLite plans nothing worth sparing: there, one
statement a song, as queries.py writes one song."""

from songs.storage.common import SELECT_COLUMNS
from songs.storage.history import logged_statement
from songs.storage.queries import (
    KINDS,
    WRITTEN,
    insert_song,
    remove_song,
    song_from_row,
    update_song,
    written_values,
)


def find_songs(conn, ids, for_update=False):
    """{id: song} of the songs of `ids` that exist, in one statement; `for_update` locks
    them until the commit, in the order of their ids, as every writer of many songs does."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {SELECT_COLUMNS} FROM songs WHERE id IN ({marks}) ORDER BY id"
        f"{conn.lock_row if for_update else ''}",
        tuple(ids),
    ).fetchall()
    return {row[0]: song_from_row(row) for row in rows}


def insert_songs(conn, batch, now, by, last=False):
    """The new songs of `batch` (each a song's fields), in its order, each creation recorded
    as `by`'s. `last`: nothing follows it in the write transaction (execute_last)."""
    if not conn.logs_in_statement:
        final = len(batch) - 1
        return [
            insert_song(conn, fields, now, by, last=last and n == final)
            for n, fields in enumerate(batch)
        ]
    statement = logged_statement(INSERT_SONGS, conn.song_json, conn.lock_log) + " ORDER BY id"
    execute = conn.execute_last if last else conn.execute
    rows = execute(
        statement, (now, now, *columns_of(batch), "create", now, by.actor, by.request_id)
    )
    return [song_from_row(row) for row in rows.fetchall()]


def update_songs(conn, songs, now, by):
    """Each song of `songs` (whole songs, their rows locked by find_songs, with new values)
    written as an update by `by`: the songs as they are now, in the order given."""
    if not conn.logs_in_statement:
        return [update_song(conn, song["id"], song, now, by) for song in songs]
    ids = [song["id"] for song in songs]
    return written_in_order(
        conn, UPDATE_SONGS, (now, ids, *columns_of(songs)), "update", now, by, ids
    )


def remove_songs(conn, ids, now, by):
    """The songs of `ids` (their rows locked by find_songs) deleted by `by`: each song as it
    was, in the order given."""
    if not conn.logs_in_statement:
        return [remove_song(conn, song_id, now, by) for song_id in ids]
    return written_in_order(conn, DELETE_SONGS, (list(ids),), "delete", now, by, ids)


def written_in_order(conn, write, params, op, at, by, ids):
    if not ids:
        return []
    statement = logged_statement(write, conn.song_json, conn.lock_log)
    rows = conn.execute(statement, (*params, op, at, by.actor, by.request_id)).fetchall()
    written = {row[0]: song_from_row(row) for row in rows}
    return [written[song_id] for song_id in ids]


def columns_of(songs):
    """The written_values of `songs`, a list a column: unnest's arrays."""
    return [list(column) for column in zip(*map(written_values, songs), strict=True)]


ARRAYS = ", ".join(f"?::{kind}[]" for kind in KINDS)  # a column of WRITTEN each
INSERT_SONGS = (  # the songs in the arrays' order
    f"INSERT INTO songs ({', '.join((*WRITTEN, 'created_at', 'updated_at'))})"
    f" SELECT {', '.join(WRITTEN)}, ?, ? FROM unnest({ARRAYS})"
    f" WITH ORDINALITY AS given ({', '.join(WRITTEN)}, place) ORDER BY place"
    f" RETURNING {SELECT_COLUMNS}"
)
UPDATE_SONGS = (
    f"UPDATE songs SET {', '.join(f'{name} = given.{name}' for name in WRITTEN)}, updated_at = ?"
    f" FROM unnest(?::INTEGER[], {ARRAYS}) AS given (id, {', '.join(WRITTEN)})"
    " WHERE songs.id = given.id RETURNING "
    + ", ".join(f"songs.{column}" for column in SELECT_COLUMNS.split(", "))
)
DELETE_SONGS = f"DELETE FROM songs WHERE id = ANY(?::INTEGER[]) RETURNING {SELECT_COLUMNS}"
