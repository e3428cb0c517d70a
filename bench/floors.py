"""The floors the service is measured against: bare WSGI callables, as lean as they come.

server_floor answers a fixed song: what gunicorn costs with no framework and no database.
database_floor runs the service's own SQL (its change log's too, by write_logged) for each
measured request through a reused per-thread connection of storage.py (sqlite3's own with
the same pragmas, or psycopg's) and answers json.dumps of the result: what the service
would cost with no framework; for the list's queries (?shape=<query>) it runs them through
the service's own select_page. Both run under gunicorn with the service's config.
"""

import json
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from songs import cursors, listing, storage
from songs.storage.common import SELECT_COLUMNS
from songs.storage.history import PAST_EVERY_ONE, Author, song_history
from songs.storage.postgres import POSTGRES_SCHEMES, PostgresConnection
from songs.storage.queries import (
    INSERT_SONG,
    UPDATE_SONG,
    remove_song,
    write_logged,
    written_values,
)
from songs.storage.sqlite import connect_sqlite, sqlite_path

ARTIST = "Bench Quartet"  # bench/run.py gives this artist 150 songs
SEARCH_TERM = "zyzzyva"  # in a few songs only, which bench/run.py adds
QUERIES = {  # each query string of bench/run.py's QUERY_SHAPES: (filters, sort)
    "artist=Bench%20Quartet": ({"artist": ARTIST}, cursors.DEFAULT_SORT),
    "min_rating=4": ({"min_rating": 4}, cursors.DEFAULT_SORT),
    "sort=-rating": ({}, listing.read_sort("-rating")[0]),
    f"q={SEARCH_TERM}": ({"q": SEARCH_TERM}, cursors.DEFAULT_SORT),
    "sort=-rating,title": ({}, listing.read_sort("-rating,title")[0]),
}

FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")
SONG = json.dumps(
    dict(
        zip(
            FIELDS,
            (
                1,
                "Gregori Klosman",
                "Jaws",
                3,
                "2026-11-24T10:00:00.000Z",
                "2026-11-24T10:00:00.000Z",
            ),
            strict=False,
        )
    )
).encode()
JSON_HEADERS = [("Content-Type", "application/json")]
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///songs.db")
POSTGRES = DATABASE_URL.startswith(POSTGRES_SCHEMES)
local = threading.local()
BY = Author("bench")  # the actor of the floors' writes


def server_floor(environ, start_response):
    start_response("200 OK", [*JSON_HEADERS, ("Content-Length", str(len(SONG)))])
    return [SONG]


def connection():
    try:
        return local.conn
    except AttributeError:
        if POSTGRES:
            local.conn = PostgresConnection(DATABASE_URL)
        else:
            local.conn = connect_sqlite(sqlite_path(DATABASE_URL), mode="rw")
        return local.conn


def database_floor(environ, start_response):
    conn, method, path = connection(), environ["REQUEST_METHOD"], environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    if path == "/api/songs" and query.startswith("shape="):  # ?after=<JSON> for a cursor
        params = dict(parse_qsl(query))
        filters, sort = QUERIES[params["shape"]]
        after = tuple(json.loads(params["after"])) if "after" in params else None
        rows = storage.select_page(conn, filters, sort, after, 101)
        body = [dict(zip(FIELDS, row, strict=False)) for row in rows[:100]]
    elif path == "/api/songs" and method == "GET":  # ?before=<id> stands in for the cursor
        before = int(query[7:]) if query else 2**63 - 1
        rows = conn.execute(
            "SELECT id, artist, title, rating, created_at, updated_at FROM songs"
            " WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before, 101),
        ).fetchall()
        body = [dict(zip(FIELDS, row, strict=False)) for row in rows[:100]]
    elif path == "/api/changes":  # ?since=<position>: a page of the change feed
        body = conn.execute(
            "SELECT position, song_id, version, op, at, actor, song FROM song_changes"
            " WHERE position > ? ORDER BY position LIMIT 100",
            (int(query[6:]),),
        ).fetchall()
    elif path.endswith("/history"):  # a song's latest 20 versions
        body = song_history(conn, int(path.split("/")[3]), PAST_EVERY_ONE, 20)
    elif path == "/api/songs":
        now = utc_now()
        values = (*written_values(read_json(environ)), now, now)
        body = written(conn, INSERT_SONG, values, "create", now)
    elif path == "/healthz":
        conn.execute("SELECT 1 FROM songs LIMIT 1").fetchall()
        body = {"status": "ok"}
    elif method == "GET":
        rows = conn.execute(
            "SELECT id, artist, title, rating, created_at, updated_at FROM songs WHERE id = ?",
            (int(path.rpartition("/")[2]),),
        ).fetchall()
        body = dict(zip(FIELDS, rows[0], strict=False))
    elif method == "DELETE":  # no song in the answer: bench/delete_song.lua reads POSTs' ids
        body = deleted(conn, int(path.rpartition("/")[2]))
    else:
        song_id = int(path.rpartition("/")[2])
        values = (*written_values(read_json(environ)), utc_now(), song_id)
        body = written(conn, UPDATE_SONG, values, "update", values[-2], song_id)
    data = json.dumps(body, ensure_ascii=False).encode()
    start_response("200 OK", [*JSON_HEADERS, ("Content-Length", str(len(data)))])
    return [data]


def written(conn, sql, params, op, at, song_id=None):
    """The song a write returns, in a transaction of its own: the service's own INSERT or
    UPDATE, with the search keys it writes beside the text (schema version 5), and its
    version in the change log, as the service records it (write_logged); an UPDATE of
    `song_id` after reading it locked, as the service does."""
    with transaction(conn):
        if song_id is not None:
            locked = f"SELECT {SELECT_COLUMNS} FROM songs WHERE id = ?{conn.lock_row}"
            conn.execute(locked, (song_id,)).fetchall()
        return write_logged(conn, sql, params, op, at, BY, last=True)


def deleted(conn, song_id):
    """Whether the song was there, deleted as the service deletes it: read and locked, gone,
    logged."""
    with transaction(conn):
        sql = f"SELECT {SELECT_COLUMNS} FROM songs WHERE id = ?{conn.lock_row}"
        rows = conn.execute(sql, (song_id,)).fetchall()
        if rows:
            remove_song(conn, song_id, utc_now(), BY, last=True)
    return bool(rows)


@contextmanager
def transaction(conn):
    """A write's transaction as the service's have it: on PostgreSQL, BEGIN goes with the
    first statement and COMMIT with the last (execute_last); on SQLite, BEGIN IMMEDIATE."""
    if POSTGRES:
        conn.begin()
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        if not getattr(conn, "committed", False):
            conn.execute("COMMIT")
    finally:
        if POSTGRES:
            conn.committed = False
            conn.end_transaction()
        elif conn.in_transaction:
            conn.execute("ROLLBACK")


def read_json(environ):
    return json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))


def utc_now():
    now = datetime.now(timezone.utc)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"
