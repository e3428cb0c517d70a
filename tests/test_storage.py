"""schema.sql, init-db and the database settings."""

import multiprocessing
import sqlite3
import sys
import threading
import time
import unicodedata
from pathlib import Path

import pytest
from webtest import TestApp

import service
from helpers import SONG, SQLITE_ONLY, create
from helpers.commands import init_db
from helpers.gunicorn_server import ROOT
from songs import storage
from songs.storage import sqlite as sqlite_storage

INSERT = "INSERT INTO songs (artist, title, rating) VALUES (?, ?, ?)"
COLUMNS = ", ".join(storage.SONG_FIELDS)


@pytest.fixture
def conn(db):
    """A plain connection to a database made by the service, for writing rows by hand."""
    return db


def refused(conn, sql, params):
    """True when the database refuses the statement (a constraint, a type, NOT NULL)."""
    errors = (sqlite3.Error,)
    if not isinstance(conn, sqlite3.Connection):
        import psycopg

        errors = (psycopg.Error,)
    try:
        conn.execute(sql, params)
    except errors:
        return True
    return False


def stripped_by_python():
    """Every character but the controls that validation trims from the ends of a text (the
    schema refuses a control character anywhere)."""
    return [
        c
        for c in map(chr, range(sys.maxunicode + 1))
        if c.isspace() and unicodedata.category(c) != "Cc"
    ]


def control_characters():
    return [c for c in map(chr, range(0x110000)) if unicodedata.category(c) == "Cc"]


@pytest.mark.parametrize("column", ["artist", "title"])
def test_the_schema_rejects_by_hand_what_validation_rejects(conn, column):
    def rejected(value):
        row = {**SONG, column: value}
        return refused(conn, INSERT, (row["artist"], row["title"], row["rating"]))

    assert [c for c in control_characters() if not rejected(f"a{c}b")] == []
    assert [
        c for c in stripped_by_python() if not rejected(f"{c}ab") or not rejected(f"ab{c}")
    ] == []
    assert rejected("") and rejected("x" * 501)
    assert not rejected("x" * 500) and not rejected("a\u3000b") and not rejected("🎵" * 500)


@pytest.mark.parametrize("rating", [0, 6, -1, "5x", None, b"5"])
def test_the_schema_rejects_a_rating_that_is_not_an_integer_from_1_to_5(conn, rating):
    assert refused(conn, INSERT, ("a", "t", rating))


def test_a_fractional_rating_by_hand_is_refused_or_rounded_into_range(conn, backend):
    """SQLite's STRICT table refuses 4.5; PostgreSQL rounds a float on assignment to integer
    (half to even: 4), which the CHECK then holds to 1-5. The API never sends a fraction."""
    if backend == "sqlite":
        assert refused(conn, INSERT, ("a", "t", 4.5))
    else:
        conn.execute(INSERT, ("a", "t", 4.5))
        assert conn.execute("SELECT rating FROM songs").fetchall() == [(4,)]
    assert refused(conn, INSERT, ("a", "t", 5.5))


@pytest.mark.parametrize(
    "timestamp",
    ["2026-11-24 10:00:00", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.000+01:00", ""],
)
def test_the_schema_rejects_a_timestamp_that_is_not_rfc3339_utc_milliseconds(conn, timestamp):
    assert refused(
        conn,
        "INSERT INTO songs (artist, title, rating, created_at) VALUES ('a', 't', 3, ?)",
        (timestamp,),
    )


def test_a_song_inserted_by_hand_gets_valid_timestamps(client, conn):
    conn.execute(INSERT, ("a", "t", 3))

    song = client.get("/api/song/1", status=200).json

    assert song["created_at"] == song["updated_at"]
    assert song["created_at"].endswith("Z") and len(song["created_at"]) == 24


@SQLITE_ONLY
def test_the_table_is_strict_with_exactly_the_song_columns(conn):
    columns = [row[1] for row in conn.execute("PRAGMA table_info(songs)")]
    strict = conn.execute("SELECT strict FROM pragma_table_list WHERE name = 'songs'").fetchone()

    assert columns == [*storage.SONG_FIELDS, *storage.KEY_FIELDS]
    assert strict == (1,)


@SQLITE_ONLY
def test_the_service_creates_the_schema_in_wal_mode_with_its_version(app, database_path):
    conn = sqlite3.connect(database_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (storage.SCHEMA_VERSION,)
    finally:
        conn.close()


def init_schema_at_barrier(path, barrier, steps=storage.STEPS):
    barrier.wait()
    try:
        storage.SQLiteDatabase(path).init_schema(steps)
    except sqlite3.Error as error:
        return repr(error)
    return None


def test_init_schema_racing_in_many_processes_on_a_new_file_never_fails(tmp_path):
    context = multiprocessing.get_context("fork")
    failures = []
    with context.Manager() as manager, context.Pool(8) as pool:
        for trial in range(100):
            barrier = manager.Barrier(8)
            path = str(tmp_path / f"race-{trial}.db")
            failures += filter(None, pool.starmap(init_schema_at_barrier, [(path, barrier)] * 8))

    assert failures == []


def test_init_schema_with_a_step_racing_in_many_processes_applies_it_once(tmp_path):
    """A process that found a new file must not apply the baseline again over one that
    another process has taken past it (its version set back to 5, the step would run twice:
    duplicate column)."""
    step = storage.Step(
        storage.SCHEMA_VERSION + 1, "ALTER TABLE songs ADD COLUMN year INTEGER;\n", ""
    )
    steps = (*storage.STEPS, step)
    context = multiprocessing.get_context("fork")
    failures, versions = [], set()
    with context.Manager() as manager, context.Pool(8) as pool:
        for trial in range(30):
            barrier = manager.Barrier(8)
            path = str(tmp_path / f"race-{trial}.db")
            failures += filter(
                None, pool.starmap(init_schema_at_barrier, [(path, barrier, steps)] * 8)
            )
            with sqlite3.connect(path) as conn:
                versions.add(conn.execute("PRAGMA user_version").fetchone()[0])

    assert failures == []
    assert versions == {step.version}


def test_a_write_waits_for_a_writer_outside_the_service(client, outside_writer):
    song = create(client)
    outside_writer.hold()
    release = threading.Timer(0.5, outside_writer.release)
    release.start()
    started = time.monotonic()

    resp = client.put_json(f"/api/song/{song['id']}", {**SONG, "rating": 5}, status=200)

    assert time.monotonic() - started >= 0.4
    assert resp.json["rating"] == 5
    release.join()


def test_a_write_kept_from_the_lock_for_5_s_is_503_with_retry_after(client, outside_writer, dump):
    song = create(client)
    before = dump()
    outside_writer.hold()
    try:
        resp = client.put_json(f"/api/song/{song['id']}", {**SONG, "rating": 5}, status=503)
    finally:
        outside_writer.release()

    assert resp.headers["Retry-After"] == "1"
    assert resp.content_type == "application/problem+json"
    assert resp.json["detail"] == "The database is busy; try again."
    assert dump() == before
    client.put_json(f"/api/song/{song['id']}", {**SONG, "rating": 5}, status=200)


@SQLITE_ONLY
def test_each_thread_reuses_one_connection_with_the_service_pragmas(app):
    database = app.config["songs.database"]
    mine = database.connection()
    theirs = []

    def in_another_thread():
        theirs.append(id(database.connection()))
        database.close()

    other = threading.Thread(target=in_another_thread)
    other.start()
    other.join()

    assert database.connection() is mine
    assert theirs and theirs[0] != id(mine)
    assert mine.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert mine.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    assert mine.isolation_level is None  # transactions are explicit: BEGIN IMMEDIATE
    assert mine.execute("PRAGMA wal_autocheckpoint").fetchone() == (10_000,)


@SQLITE_ONLY
def test_the_wal_goes_into_the_file_after_every_few_writes_outside_the_writers_turn(
    client, database_url, tmp_path
):
    """The database file alone (a copy without its -wal) holds the songs of the last
    checkpoint: the service's, after CHECKPOINT_WRITES writes (one of which may be the
    first write's purge), long before SQLite's own would have come: at AUTOCHECKPOINT_PAGES
    now, and at its default of 1,000 pages before, about 80 POSTs of 12 pages each."""
    path = Path(storage.sqlite_path(database_url))

    def songs_in_the_file_alone():
        copy = tmp_path / "file-alone.db"
        copy.write_bytes(path.read_bytes())
        conn = sqlite3.connect(copy)
        try:
            return conn.execute("SELECT count(*) FROM songs").fetchone()[0]
        finally:
            conn.close()

    for n in range(sqlite_storage.CHECKPOINT_WRITES + 1):
        create(client, title=f"Song {n}")

    assert songs_in_the_file_alone() >= sqlite_storage.CHECKPOINT_WRITES - 1


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_database_made_by_an_earlier_schema_is_upgraded_keeping_every_song(tmp_path, version):
    """tests/schemas/schema-v<N>.sql is schema.sql as committed at version N (v1 the first).

    Song 300's artist is decomposed (NFD), as an earlier version stored what it was sent:
    the upgrade composes it (NFC), and changes nothing else of any song."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((ROOT / "tests" / "schemas" / f"schema-v{version}.sql").read_text())
    conn.executemany(INSERT, [(f"Artist {n}", f"Title {n}", n % 5 + 1) for n in range(299)])
    conn.execute(INSERT, ("E\u0301dith Piaf", "Title 299", 5))
    conn.commit()
    before = conn.execute(f"SELECT {COLUMNS} FROM songs ORDER BY id").fetchall()
    before[-1] = (300, "\u00c9dith Piaf", *before[-1][2:])
    conn.close()

    result = init_db(f"sqlite:///{path}")
    app = service.create_app(f"sqlite:///{path}")  # applying it again changes nothing
    client = TestApp(app)

    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(path)
    assert conn.execute(f"SELECT {COLUMNS} FROM songs ORDER BY id").fetchall() == before
    assert conn.execute("PRAGMA user_version").fetchone() == (storage.SCHEMA_VERSION,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT * FROM song_counts ORDER BY rating").fetchall() == [
        (rating, 60) for rating in range(1, 6)
    ]
    conn.close()
    found = client.get("/api/songs?q=TLE%2029&count=true")  # "tle 29": titles 29, 290 to 299
    assert found.headers["X-Total-Count"] == "11"
    assert client.get("/api/songs?artist=artist%207").json[0]["id"] == 8
    assert [s["id"] for s in client.get("/api/songs?q=%C3%A9dith").json] == [300]
    assert [s["id"] for s in client.get("/api/songs?artist=E%CC%81dith%20Piaf").json] == [300]
    headers = {"Idempotency-Key": "after-upgrade"}
    assert client.post_json("/api/songs", SONG, headers=headers).json["id"] == 301
    app.config["songs.database"].close()


def test_the_counts_by_rating_follow_every_write(client, db):
    """schema.sql's triggers: song_counts is always what counting the songs would give."""
    songs = [create(client, rating=rating) for rating in (5, 5, 3, 1, 1, 1)]
    client.patch_json(f"/api/song/{songs[0]['id']}", {"rating": 2})
    client.patch_json(f"/api/song/{songs[1]['id']}", {"title": "Same rating"})
    client.put_json(f"/api/song/{songs[2]['id']}", {**SONG, "rating": 5})
    client.delete(f"/api/song/{songs[3]['id']}")

    kept = db.execute("SELECT rating, songs FROM song_counts WHERE songs > 0 ORDER BY 1")
    counted = db.execute("SELECT rating, count(*) FROM songs GROUP BY rating ORDER BY 1")

    assert kept.fetchall() == counted.fetchall() == [(1, 2), (2, 1), (5, 2)]
