"""The songs' change log (song_changes, schema version 7): a row for each change to a song,
written in the change's own transaction, so that a write and its record commit together or
not at all. Each row holds the song as it was after the change (for a delete, as it was
when deleted) as the JSON text the API answers with, who made it (a token's name, or
`anonymous`, or `command:<name>` for the command line) and the request's id."""

import functools
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from itertools import takewhile
from typing import NamedTuple

from songs.storage.common import SELECT_COLUMNS

HISTORY_COLUMNS = "version, op, at, actor, request_id, song"
LOGGED_COLUMNS = ("song_id", "version", "op", "at", "actor", "request_id", "song")
log = logging.getLogger("songs")
PAST_EVERY_ONE = 2**62  # a `before` past every version and every position
PURGE_INTERVAL_SECONDS = 60  # a process purges at most this often
PURGE_BATCH = 1000  # versions a transaction: the service's writes go between batches
PURGE_BUDGET_SECONDS = 0.2  # the most one purge takes, batch after batch


class Author(NamedTuple):
    """Who makes a change, and in which request (None from the command line)."""

    actor: str
    request_id: str | None = None


def log_change(conn, op, song, at, by):
    """Records `op` on `song` (its values after the change; for a delete, before it) as the
    song's next version: one INSERT, whose number it takes from the index of (song_id,
    version), so a song changed a thousand times costs what one changed once does. Its
    writer holds the song's row (or, for a new song, its new id), so no other writer adds a
    version of it meanwhile. SQLite's writes call it after their statement; PostgreSQL's
    make the same record in the write's own statement (logged_statement)."""
    text = json.dumps(song, ensure_ascii=False)
    lock_log(conn)
    if op == "create":
        conn.execute(LOG_CREATE, (song["id"], op, at, by.actor, by.request_id, text))
    else:
        values = (song["id"], op, at, by.actor, by.request_id, text, song["id"])
        conn.execute(LOG_CHANGE, values)


LOG_CREATE = (
    "INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)"
    " VALUES (?, 1, ?, ?, ?, ?, ?)"
)
LOG_CHANGE = (  # one more than the song's last version (1 for a song added by hand, with none)
    "INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)"
    " SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ? FROM song_changes WHERE song_id = ?"
)


@functools.lru_cache(maxsize=16)
def logged_statement(write, song_json, lock):
    """`write` (one song's INSERT, UPDATE or DELETE, RETURNING SELECT_COLUMNS) and the record
    of its change, in one statement (PostgreSQL's data-modifying WITH): what log_change
    appends, with the song's JSON written by the server from the row written (song_json).
    The log's lock (`lock`) is taken before the record's position is given: the join
    reads `turn` before it yields the row to insert. Its parameters: the write's, then the
    op, the time, the actor and the request id."""
    return (
        f"WITH written AS ({write}), turn AS MATERIALIZED ({lock}),"
        " logged AS (INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)"
        " SELECT id, (SELECT COALESCE(MAX(version), 0) + 1 FROM song_changes"
        f" WHERE song_id = written.id), ?, ?, ?, ?, {song_json} FROM written, turn"
        " ORDER BY written.id)"  # many songs' records (storage/many.py) in their ids' order
        f" SELECT {SELECT_COLUMNS} FROM written"
    )


def lock_log(conn):
    """The log's lock, on PostgreSQL, from the append to the commit, shared with the other
    writers: a position is given at the INSERT and seen at the COMMIT, so one given later
    can be seen first, and a reader that finds a position missing waits, by taking the lock
    alone, for the writers in flight (changes_after). SQLite's writers take turns already."""
    if conn.lock_log:
        conn.execute(conn.lock_log)


def log_created_songs(conn, after_id, actor):
    """Records the songs with an id above `after_id`, just added in bulk, each as created at
    its updated_at: one statement, whatever their number."""
    lock_log(conn)
    conn.execute(CREATED.format(song=conn.song_json, where="id > ?"), (actor, after_id))


def log_unlogged_songs(conn, actor):
    """Records each song that has no version yet as created at its updated_at."""
    unlogged = "NOT EXISTS (SELECT 1 FROM song_changes WHERE song_id = songs.id)"
    lock_log(conn)
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


def song_history(conn, song_id, before, limit, columns=HISTORY_COLUMNS):
    """Up to `limit` of the song's versions below `before`, newest first: (version, op, at,
    actor, request_id, the song's JSON text) each, or the `columns` given (conn.version_json:
    each version's JSON text)."""
    return conn.execute(
        f"SELECT {columns} FROM song_changes WHERE song_id = ? AND version < ?"
        " ORDER BY version DESC LIMIT ?",
        (song_id, before, limit),
    ).fetchall()


def has_history(conn, song_id):
    """Whether the log holds any version of the song."""
    rows = conn.execute("SELECT 1 FROM song_changes WHERE song_id = ? LIMIT 1", (song_id,))
    return bool(rows.fetchall())


def deleted_songs(conn, before, limit, columns=HISTORY_COLUMNS):
    """Up to `limit` songs deleted and not restored, the latest deletion first, from those
    below position `before`: (position, then as song_history's rows) each."""
    return conn.execute(
        f"SELECT position, {columns} FROM song_changes"
        " WHERE op = 'delete' AND position < ?"
        " AND NOT EXISTS (SELECT 1 FROM song_changes AS later"
        " WHERE later.song_id = song_changes.song_id AND later.version > song_changes.version)"
        " ORDER BY position DESC LIMIT ?",
        (before, limit),
    ).fetchall()


def changes_after(conn, since, limit):
    """Up to `limit` changes past position `since`, in the order of their positions, none of
    which a position given earlier can come before: (position, the change's JSON text, as
    the feed answers it) each.

    On PostgreSQL the changes that follow `since` one by one are given as they are; from a
    missing position on, the rest wait for the next read. Where the very next one is
    missing, the reader takes the log's lock alone, waiting for the writers then in flight
    (each holds it shared from its append to its end): then every position given so far is
    seen or gone for good (a write rolled back), and all it reads is given."""
    rows = read_changes(conn, since, limit)
    if not conn.wait_for_log or not rows:
        return rows
    if rows[0][0] != since + 1:
        return in_turn(conn, lambda: read_changes(conn, since, limit))
    for index, (position, _) in enumerate(rows):
        if position != since + 1 + index:
            return rows[:index]
    return rows


def read_changes(conn, since, limit):
    return conn.execute(
        f"SELECT position, {conn.change_json} FROM song_changes"
        " WHERE position > ? ORDER BY position LIMIT ?",
        (since, limit),
    ).fetchall()


def log_bounds(conn):
    """(the last position a purge took, 0 for none; the last position there is, or the
    former if higher): a cursor below the first has missed changes, one past the second is
    not from this log."""
    purged, last = conn.execute(
        "SELECT up_to, (SELECT MAX(position) FROM song_changes) FROM song_changes_purged"
    ).fetchall()[0]
    return purged, max(purged, last or 0)


def log_end(conn):
    """The last position there is, or the last a purge took if higher, such that no position
    below it is still to come (a cursor for now: on PostgreSQL, read while no writer is in
    flight)."""
    if not conn.wait_for_log:
        return log_bounds(conn)[1]
    return in_turn(conn, lambda: log_bounds(conn)[1])


def in_turn(conn, read):
    """read() while holding the log's lock alone (PostgreSQL), in a transaction of its own."""
    conn.begin()
    try:
        conn.execute(conn.wait_for_log)
        result = read()
        conn.execute("COMMIT")
        return result
    finally:
        conn.end_transaction()


class Retention:
    """HISTORY_DAYS of one database: a version goes that many days after the next one came,
    and a deleted song's whole history that many days after its deletion; a song's latest
    version stays as long as the song does. 0 keeps every version."""

    def __init__(self, days):
        self.days, self.due, self.purging = days, 0.0, threading.Lock()

    def purge_when_due(self, database):
        """After a write: a purge, if this process has had none for PURGE_INTERVAL_SECONDS and
        no other thread is purging. How many versions went."""
        if not self.days or time.monotonic() < self.due:
            return 0
        if not self.purging.acquire(blocking=False):
            return 0
        try:
            self.due = time.monotonic() + PURGE_INTERVAL_SECONDS
            cutoff = datetime.now(timezone.utc) - timedelta(days=self.days)
            return purge_history(database, cutoff.isoformat(timespec="milliseconds")[:23] + "Z")
        except Exception:  # the write before it is done and answered all the same
            log.exception("the change log's purge failed; the next is due in a minute")
            return 0
        finally:
            self.purging.release()


def purge_history(database, cutoff, budget=PURGE_BUDGET_SECONDS):
    """What `cutoff` (an RFC 3339 UTC time, as `at` is written) has put out of the history,
    PURGE_BATCH changes a transaction for at most `budget` seconds: how many versions went.

    The purge walks the log once, in order, from where the last one stopped (walked_to) to
    the first change made after `cutoff`. Each change it passes puts the version before it
    out (that version was replaced before the cutoff), and a delete still the song's latest
    puts the song's whole history out. So a write appends one row and changes none, and a
    purge reads each change once, whatever the log's length."""
    started, purged = time.monotonic(), 0
    while time.monotonic() - started < budget:
        with database.write_transaction() as conn:
            walked_to = conn.execute(WALKED_TO + conn.lock_row).fetchall()[0][0]
            rows = conn.execute(NEXT_CHANGES, (walked_to, PURGE_BATCH)).fetchall()
            passed = [position for position, _ in takewhile(lambda row: row[1] < cutoff, rows)]
            if passed:
                span = (walked_to, passed[-1])
                positions = conn.execute(PURGE_REPLACED, span).fetchall()
                positions += conn.execute(PURGE_DELETED, span).fetchall()
                up_to = max((position for (position,) in positions), default=0)
                conn.execute(WALKED, (passed[-1], up_to, up_to))
                purged += len(positions)
        if len(passed) < PURGE_BATCH:
            break
    return purged


WALKED_TO = "SELECT walked_to FROM song_changes_purged"
NEXT_CHANGES = (  # stopped at the first one after the cutoff, in Python: the log's tail is long
    "SELECT position, at FROM song_changes WHERE position > ? ORDER BY position LIMIT ?"
)
PURGE_REPLACED = (  # the version before each change passed
    "DELETE FROM song_changes WHERE position IN (SELECT replaced.position"
    " FROM song_changes AS passed JOIN song_changes AS replaced"
    " ON replaced.song_id = passed.song_id AND replaced.version = passed.version - 1"
    " WHERE passed.position > ? AND passed.position <= ?) RETURNING position"
)
PURGE_DELETED = (  # every version of a song whose delete, passed, is still its latest
    "DELETE FROM song_changes WHERE song_id IN (SELECT deleted.song_id"
    " FROM song_changes AS deleted WHERE deleted.position > ? AND deleted.position <= ?"
    " AND deleted.op = 'delete' AND NOT EXISTS (SELECT 1 FROM song_changes AS later"
    " WHERE later.song_id = deleted.song_id AND later.version > deleted.version))"
    " RETURNING position"
)
WALKED = (  # and up_to, the feed's 410: the last position a purge took
    "UPDATE song_changes_purged"
    " SET walked_to = ?, up_to = CASE WHEN up_to < ? THEN ? ELSE up_to END"
)
