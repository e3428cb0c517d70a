"""Where the songs are kept: a SQLite file (the default) or PostgreSQL, as DATABASE_URL says.

open_database(url) gives a Database: a connection per thread, opened on first use (so after
gunicorn forks) and kept; write_transaction() for the writes; init_schema() to create or
upgrade the schema from schema.sql or schema-postgres.sql. The two backends' connections
speak one interface: execute(sql, parameters) with ? placeholders, and the few fragments of
SQL in which the dialects differ (compare, sort_expression, search_term, ...). Every value
reaches SQL as a bound parameter; only those fragments are formatted into statements.

Passing trouble (a busy SQLite file, a PostgreSQL server restarting or out of reach) is
raised as Unavailable, which the service answers with 503 and Retry-After.

The parts: common.py (what they share), sqlite.py and postgres.py (the backends),
queries.py (the SQL of the service), many.py (many songs a statement), migrations.py (the
schema's numbered steps) and to_postgres.py (from a SQLite file to PostgreSQL).
"""

from songs.storage.common import (
    ANSWER_DEADLINE_SECONDS,
    KEY_FIELDS,
    SONG_FIELDS,
    BrokenConstraint,
    Refused,
    Unavailable,
    search_key,
)
from songs.storage.kept import (
    add_session,
    count_failure,
    find_key,
    forget_failures,
    remember_key,
    remove_session,
    session_token,
    sign_in_waits,
)
from songs.storage.many import find_songs, insert_songs, remove_songs, update_songs
from songs.storage.migrations import SCHEMA_VERSION, STEPS, Step
from songs.storage.postgres import POSTGRES_SCHEMES, PostgresDatabase
from songs.storage.queries import (
    WRITTEN,
    WRITTEN_TYPES,
    count_by_rating,
    count_songs,
    find_song,
    insert_song,
    insert_song_again,
    key_songs,
    remove_song,
    select_json_page,
    select_page,
    song_batches,
    song_from_row,
    update_song,
    written_values,
)
from songs.storage.sqlite import SQLiteDatabase, sqlite_path
from songs.storage.to_postgres import migrate_from_sqlite

__all__ = [
    "KEY_FIELDS",
    "WRITTEN",
    "WRITTEN_TYPES",
    "SCHEMA_VERSION",
    "STEPS",
    "Step",
    "SONG_FIELDS",
    "BrokenConstraint",
    "PostgresDatabase",
    "Refused",
    "SQLiteDatabase",
    "Unavailable",
    "add_session",
    "count_by_rating",
    "count_failure",
    "count_songs",
    "find_key",
    "find_song",
    "find_songs",
    "forget_failures",
    "insert_song",
    "insert_song_again",
    "insert_songs",
    "key_songs",
    "migrate_from_sqlite",
    "open_database",
    "remember_key",
    "remove_session",
    "remove_song",
    "remove_songs",
    "search_key",
    "select_json_page",
    "select_page",
    "session_token",
    "sign_in_waits",
    "song_batches",
    "song_from_row",
    "update_song",
    "update_songs",
    "written_values",
]


def open_database(url, serving=False):
    """The Database DATABASE_URL names: sqlite:///FILE, or postgresql:// (or postgres://).

    serving: for the web service, whose statements wait ANSWER_DEADLINE_SECONDS at most for
    an answer; the commands' bulk statements may take longer."""
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(url, ANSWER_DEADLINE_SECONDS if serving else None)
    return SQLiteDatabase(sqlite_path(url))
