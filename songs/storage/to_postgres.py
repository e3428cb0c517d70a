"""Moving house: a SQLite file's songs, ids, timestamps and idempotency keys into PostgreSQL."""

import sqlite3

from songs.storage.common import (
    KEY_FIELDS,
    SELECT_COLUMNS,
    SONG_FIELDS,
    TEXT_FIELDS,
    composed_and_keyed,
)
from songs.storage.history import LOGGED_COLUMNS, lock_log, log_unlogged_songs


def migrate_from_sqlite(path, database, counted=lambda rows, total: rows):
    """Copy every song of the SQLite file at `path` into PostgreSQL `database`, with its id and
    timestamps, and its idempotency keys; move the id sequence past every id the file used.

    In one transaction, with writers to songs held off: songs already copied are left as they
    are, so it can run again; a song whose id holds a different song stops it (ValueError)
    before anything is kept. Returns (songs in the file, songs added, the next id).
    The file's songs pass through counted(rows, total) on their way (to show progress).
    """
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        source.execute("BEGIN")  # one snapshot of the file
        total = source.execute("SELECT count(*) FROM songs").fetchone()[0]
    except sqlite3.Error as error:
        raise ValueError(f"{path}: not a songs database that can be read ({error})") from None
    try:
        with database.write_transaction() as conn:
            conn.execute("LOCK TABLE songs IN EXCLUSIVE MODE")  # reads go on, writes wait
            conn.execute("CREATE TEMPORARY TABLE incoming (LIKE songs) ON COMMIT DROP")
            rows = map(keyed, source.execute(f"SELECT {SELECT_COLUMNS} FROM songs"))
            conn.insert_rows("incoming", (*SONG_FIELDS, *KEY_FIELDS), counted(rows, total))
            columns = ", ".join((*SONG_FIELDS, *KEY_FIELDS))
            added = conn.execute(
                f"INSERT INTO songs ({columns}) SELECT {columns} FROM incoming"
                " ON CONFLICT (id) DO NOTHING"
            ).rowcount
            different = [
                tuple(row)
                for row in conn.execute(
                    "SELECT incoming.id, count(*) OVER () FROM incoming LEFT JOIN songs USING (id)"
                    f" WHERE {fields_of('songs')} IS DISTINCT FROM {fields_of('incoming')}"
                    " ORDER BY incoming.id LIMIT 10"
                )
            ]
            if different:
                count = different[0][1]
                ids = ", ".join(str(song_id) for song_id, _ in different)
                raise ValueError(
                    f"{count} {'song differs' if count == 1 else 'songs differ'} between {path}"
                    f" and {database.name}, with ids {ids}{' and more' if count > 10 else ''};"
                    " nothing was copied"
                )
            matched = conn.execute(
                f"SELECT count(*) FROM incoming JOIN songs USING ({SELECT_COLUMNS})"
            ).fetchone()[0]
            if matched != total:
                raise ValueError(f"{matched} of {total} songs matched; nothing was copied")
            copy_change_log(source, conn)
            copy_idempotency_keys(source, conn)
            next_id = move_id_sequence(source, conn)
    finally:
        source.close()
    return total, added, next_id


def copy_change_log(source, conn):
    """The file's change log, for each song of which PostgreSQL holds no version yet (so a
    second run copies nothing twice); then each song with no version at all (a file from
    before schema version 7) as created by this command."""
    try:
        changes = source.execute(
            f"SELECT {', '.join(LOGGED_COLUMNS)} FROM song_changes ORDER BY position"
        )
    except sqlite3.OperationalError:
        changes = ()  # a file from before schema version 7 has none
    conn.execute(
        "CREATE TEMPORARY TABLE incoming_changes (line bigint GENERATED ALWAYS AS IDENTITY,"
        " song_id bigint, version integer, op text, at text, actor text, request_id text,"
        " song text) ON COMMIT DROP"
    )
    conn.insert_rows("incoming_changes", LOGGED_COLUMNS, changes)
    columns = ", ".join(LOGGED_COLUMNS)
    lock_log(conn)
    conn.execute(
        f"INSERT INTO song_changes ({columns}) SELECT {columns} FROM incoming_changes AS i"
        " WHERE NOT EXISTS (SELECT 1 FROM song_changes WHERE song_id = i.song_id) ORDER BY line"
    )
    log_unlogged_songs(conn, "command:migrate-to-postgres")


def copy_idempotency_keys(source, conn):
    """The file's remembered Idempotency-Keys, so that a retry across the move is still safe."""
    try:
        keys = source.execute("SELECT key, request, song, created_at FROM idempotency_keys")
    except sqlite3.OperationalError:
        return  # a file from before schema version 3 has none
    columns = ("key", "request", "song", "created_at")
    conn.execute("CREATE TEMPORARY TABLE incoming_keys (LIKE idempotency_keys) ON COMMIT DROP")
    conn.insert_rows("incoming_keys", columns, keys)
    conn.execute(
        "INSERT INTO idempotency_keys SELECT * FROM incoming_keys ON CONFLICT (key) DO NOTHING"
    )


def move_id_sequence(source, conn):
    """Past the largest id the file ever gave (AUTOINCREMENT's record, deleted songs too)."""
    try:
        row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'songs'").fetchone()
    except sqlite3.OperationalError:
        row = None
    sequence = conn.execute("SELECT pg_get_serial_sequence('songs', 'id')").fetchone()[0]
    last, largest = conn.execute(
        "SELECT coalesce(pg_sequence_last_value(?::regclass), 0), coalesce(max(id), 0) FROM songs",
        (sequence,),
    ).fetchone()
    target = max(row[0] if row else 0, largest, last)
    if target > last:
        conn.execute("SELECT setval(?::regclass, ?)", (sequence, target))
    return target + 1


def fields_of(table):
    """A row value of every field of a song but its id, in `table`."""
    return f"({', '.join(f'{table}.{name}' for name in SONG_FIELDS if name != 'id')})"


def keyed(row):
    """A song of the file, its text in NFC (as the service writes it), with its search keys."""
    song = dict(zip(SONG_FIELDS, row, strict=True))
    composed = composed_and_keyed(*(song.pop(name) for name in TEXT_FIELDS))
    song.update(zip((*TEXT_FIELDS, *KEY_FIELDS), composed, strict=True))
    return tuple(song[name] for name in (*SONG_FIELDS, *KEY_FIELDS))
