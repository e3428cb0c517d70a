"""Schema changes as numbered steps, after the baseline.

schema.sql and schema-postgres.sql make schema version 5, the baseline: a new database, or
one of versions 1 to 4, which those idempotent scripts bring up to it. Every change after it
is a Step from version N to N + 1: SQL for each backend, or for SQLite a function of the
connection where it needs more than SQL (a table rebuild). Steps run in order, each in one
transaction that also records its version (SQLite's user_version, PostgreSQL's
schema_version), so a step is applied once, whole or not at all, and processes starting at
once take turns (SQLite's write lock, PostgreSQL's advisory lock).

To change the schema, append a Step to STEPS: SCHEMA_VERSION follows.
"""

import sqlite3
from typing import NamedTuple

from songs.storage.common import (
    BASELINE_VERSION,
    POSTGRES_SCHEMA,
    POSTGRES_SONG_JSON,
    SQLITE_SCHEMA,
    SQLITE_SONG_JSON,
)


class Step(NamedTuple):
    version: int  # the version it makes, one more than the last step's
    sqlite: object  # a SQL script, or a function of a sqlite3 connection
    postgresql: str  # a SQL script (no parameters)


# 6: the rating counts kept once per statement on PostgreSQL, not once per song. Each update
# of a count row in one transaction leaves a version that the next one walks, so a bulk load
# of N songs by a row trigger cost N²: 300,000 songs took minutes. A statement's songs now
# update each count they touch once, from its transition tables, in rating order (so two
# statements cannot deadlock); the counts are taken afresh. On SQLite, whose row triggers
# update a count in place, nothing changes: the step keeps the versions of the two in step.
COUNTS_PER_STATEMENT = """
CREATE OR REPLACE FUNCTION songs_add_to_counts(ratings integer[], changes bigint[])
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO song_counts (rating, songs) SELECT rating, 0 FROM unnest(ratings) AS rating
        ORDER BY rating ON CONFLICT (rating) DO NOTHING;
    PERFORM FROM song_counts WHERE rating = ANY (ratings) ORDER BY rating FOR UPDATE;
    UPDATE song_counts SET songs = songs + counted.change
        FROM unnest(ratings, changes) AS counted (rating, change)
        WHERE song_counts.rating = counted.rating;
END $$;
CREATE OR REPLACE FUNCTION songs_count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ratings integer[];
    changes bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(rating), array_agg(songs) INTO ratings, changes
            FROM (SELECT rating, count(*) AS songs FROM added GROUP BY rating) AS counted;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(rating), array_agg(-songs) INTO ratings, changes
            FROM (SELECT rating, count(*) AS songs FROM removed GROUP BY rating) AS counted;
    ELSE
        SELECT array_agg(rating), array_agg(songs) INTO ratings, changes FROM (
            SELECT rating, sum(songs) AS songs FROM (
                SELECT rating, count(*) AS songs FROM added GROUP BY rating
                UNION ALL SELECT rating, -count(*) FROM removed GROUP BY rating
            ) AS both_sides GROUP BY rating HAVING sum(songs) <> 0
        ) AS counted;
    END IF;
    IF ratings IS NOT NULL THEN
        PERFORM songs_add_to_counts(ratings, changes);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS song_counts_kept ON songs;
DROP FUNCTION IF EXISTS songs_count_ratings();
CREATE TRIGGER song_counts_added AFTER INSERT ON songs
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION songs_count_statement();
CREATE TRIGGER song_counts_removed AFTER DELETE ON songs
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION songs_count_statement();
CREATE TRIGGER song_counts_changed AFTER UPDATE ON songs
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION songs_count_statement();
LOCK TABLE songs IN SHARE MODE;
DELETE FROM song_counts;
INSERT INTO song_counts (rating, songs) SELECT rating, count(*) FROM songs GROUP BY rating;
"""


def change_log(position, song_json):
    """7: the songs' change log (songs/storage/history.py), with each song there is now as
    its version 1, created at its updated_at by init-db (the history starts here). A
    version's superseded_at was when the next one came (until version 8)."""
    return f"""
CREATE TABLE song_changes (
    position {position},
    song_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore')),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    request_id TEXT,
    song TEXT NOT NULL,
    superseded_at TEXT,
    UNIQUE (song_id, version)
);
CREATE INDEX song_changes_deletes ON song_changes (position) WHERE op = 'delete';
CREATE INDEX song_changes_superseded ON song_changes (superseded_at)
    WHERE superseded_at IS NOT NULL;
INSERT INTO song_changes (song_id, version, op, at, actor, request_id, song)
    SELECT id, 1, 'create', updated_at, 'command:init-db', NULL, {song_json} FROM songs ORDER BY id;
"""


def purge_by_walking(position):
    """8: the purge walks the log in order (storage/history.py's purge_history) from where it
    stopped, walked_to, so a write no longer marks the version it replaces (superseded_at
    and its index go: a PUT wrote two rows of the log where it now appends one); and up_to,
    the last position a purge took, lets the feed tell a cursor that has missed changes
    (410) from one that has not (songs/feed.py)."""
    return f"""
CREATE TABLE song_changes_purged (up_to {position} NOT NULL, walked_to {position} NOT NULL);
INSERT INTO song_changes_purged (up_to, walked_to) VALUES (0, 0);
DROP INDEX song_changes_superseded;
ALTER TABLE song_changes DROP COLUMN superseded_at;
"""


# 9: the trigram indexes take writes into a pending list again, of at most 64 kB (the least
# PostgreSQL allows; its default is 4 MB), which the write that fills it merges into the
# index in one sorted pass. Written into directly (fastupdate off, since version 5), each
# song's dozens of trigrams were a random update of the index apiece: an INSERT of 300,000
# songs spent 29 of its 40 s there, 4 s with the list. A search reads the list whole, so it
# stays short: what a burst of single writes leaves is merged by the write that passes it.
# On SQLite, which has no such index, nothing changes.
TRIGRAM_PENDING_LISTS = """
ALTER INDEX songs_search_artist_key SET (fastupdate = on, gin_pending_list_limit = 64);
ALTER INDEX songs_search_title_key SET (fastupdate = on, gin_pending_list_limit = 64);
"""


STEPS = (
    Step(6, "", COUNTS_PER_STATEMENT),
    Step(
        7,
        change_log("INTEGER PRIMARY KEY AUTOINCREMENT", SQLITE_SONG_JSON),
        change_log("bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", POSTGRES_SONG_JSON),
    ),
    Step(8, purge_by_walking("INTEGER"), purge_by_walking("bigint")),
    Step(9, "", TRIGRAM_PENDING_LISTS),
)


def pending(version, steps):
    """The steps a database at `version` lacks, in order; their versions must run on from the
    baseline one by one."""
    expected = list(range(BASELINE_VERSION + 1, latest(steps) + 1))
    if [step.version for step in steps] != expected:
        raise ValueError(f"schema steps must be numbered {expected}, one each")
    return [step for step in steps if step.version > version]


def latest(steps):
    """The version a database has once every one of `steps` is applied."""
    return BASELINE_VERSION + len(steps)


SCHEMA_VERSION = latest(STEPS)


# SQLite


# The columns schema.sql's CREATE TABLE has that a songs table made before may lack: SQLite
# has no ADD COLUMN IF NOT EXISTS, so they are added here, in the script's transaction.
ADDED_COLUMNS = {  # column: its definition, added by that schema version
    "artist_key": "TEXT NOT NULL DEFAULT ''",  # 5
    "title_key": "TEXT NOT NULL DEFAULT ''",  # 5
}


def apply_sqlite_baseline(conn):
    """schema.sql, after adding the columns it expects, in one BEGIN IMMEDIATE transaction
    (conn in autocommit), unless the file is at the baseline or past it by then: another
    process may have taken it there, steps and all, since this one looked."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if sqlite_version(conn) < BASELINE_VERSION:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(songs)")}
            for name, definition in ADDED_COLUMNS.items():
                if columns and name not in columns:
                    conn.execute(f"ALTER TABLE songs ADD COLUMN {name} {definition}")
            for statement in sql_statements(SQLITE_SCHEMA.read_text()):
                conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def apply_sqlite_steps(conn, steps):
    """Each step the file lacks, in its own BEGIN IMMEDIATE transaction (conn in autocommit)."""
    for step in pending(sqlite_version(conn), steps):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if sqlite_version(conn) < step.version:  # else another process applied it
                if callable(step.sqlite):
                    step.sqlite(conn)
                else:
                    for statement in sql_statements(step.sqlite):
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")


def sqlite_version(conn):
    return conn.execute("PRAGMA user_version").fetchone()[0]


def sql_statements(script):
    """A script's statements, one at a time (a trigger's BEGIN … END is one), so that they
    run inside the step's transaction: sqlite3's executescript would commit it first."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    rest = "".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
    if rest.strip():
        raise ValueError(f"a schema script ends inside a statement: {rest.strip()[:80]}")


# PostgreSQL


def apply_postgres_baseline(conn, lock):
    """schema-postgres.sql in one transaction under the advisory lock `lock`, unless the
    schema is at the baseline or past it. A script this database refuses (pg_trgm out of the
    search_path, no right to create the extension) is a RuntimeError that says why, which
    init-db prints in one line."""
    conn.begin()
    conn.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
    if conn.schema_version() < BASELINE_VERSION:
        try:
            conn.raw.execute(POSTGRES_SCHEMA.read_text())  # no parameters: a script
        except conn.psycopg.ProgrammingError as error:
            raise RuntimeError(f"{SCRIPT_REFUSED}: {error}") from error
    conn.execute("COMMIT")


SCRIPT_REFUSED = (
    "schema-postgres.sql cannot be applied (it needs pg_trgm in a schema on the search_path,"
    " and the right to create tables there)"
)


def apply_postgres_steps(conn, steps, lock):
    """Each step the schema lacks, in its own transaction under the advisory lock `lock`."""
    for step in pending(conn.schema_version(), steps):
        conn.begin()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
            if conn.schema_version() < step.version:  # else another process applied it
                conn.raw.execute(step.postgresql)  # no parameters: a script
                conn.execute("UPDATE schema_version SET version = ?", (step.version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
