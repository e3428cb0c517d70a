"""Fixtures and helpers for the test's own database: a SQLite file, a PostgreSQL schema, or a
database reached through PgBouncer, and another program writing to it."""

import functools
import os
import sqlite3
import tempfile
import time
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from helpers import pgbouncer
from songs import storage
from songs.storage.sqlite import sqlite_path

POSTGRES_URL = os.environ.get("SONGS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


HOW_TO_ENABLE = (
    "start PostgreSQL on 127.0.0.1:5432 with trust authentication and a database named test, "
    "or set SONGS_TEST_POSTGRES to a postgresql:// URL of a database the tests may use"
)


@functools.cache
def postgres_missing():
    """Why the PostgreSQL runs cannot happen here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (make test installs it)"
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"no PostgreSQL server answered ({str(error).strip().splitlines()[0]})"
    return None


def share_the_extensions():
    """pg_trgm made once, in public, for every test's schema: schema-postgres.sql's CREATE
    EXTENSION IF NOT EXISTS would make it in the first test schema on the search path, and
    dropping that schema would drop it from under the tests running beside it."""
    import psycopg

    with admin_connection() as admin:
        try:
            admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except psycopg.errors.UniqueViolation:
            pass  # another test process made it at the same moment
        admin.execute("ALTER EXTENSION pg_trgm SET SCHEMA public")  # if a test left it elsewhere


def admin_connection():
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


def new_database(name, backend, request):
    """A new database on the server, and its URL: direct, or through the suite's PgBouncer."""
    with admin_connection() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    if backend == "pgbouncer":
        return request.getfixturevalue("pgbouncer_server").url(name)
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))


def cut_off(admin, name):
    """Every connection to the database `name` refused, and each open one ended: when none is
    left. A backend ends when it next checks for the signal, which a busy machine delays, and
    one still starting when connections were refused shows its database only once started:
    so each is ended, and waited for, until none is found."""
    admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    deadline = time.monotonic() + 30
    while admin.execute(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    ).fetchone()[0]:
        assert time.monotonic() < deadline, f"connections to {name} outlived 30 s"
    return time.monotonic()


def statements_counted(db):
    """From now on, each statement that writes the songs or their change log counted, by a
    statement-level trigger (PostgreSQL's; SQLite's triggers fire a row at a time): a
    function that gives {(table, "INSERT", "UPDATE" or "DELETE"): statements}."""
    db.execute("CREATE TABLE statements_seen (name text, op text)")
    db.execute(
        "CREATE FUNCTION statement_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO statements_seen VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; END $$"
    )
    for table in ("songs", "song_changes"):
        db.execute(
            f"CREATE TRIGGER seen AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION statement_seen()"
        )

    def seen():
        rows = db.execute("SELECT name, op, count(*) FROM statements_seen GROUP BY name, op")
        return {(name, op): count for name, op, count in rows.fetchall()}

    return seen


def drop_database(name):
    with admin_connection() as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # PgBouncer's pool holds some


def server_side(database_url):
    """A PostgreSQL database_url as another program reaches it: at the server, not through
    PgBouncer."""
    return urlunsplit(urlsplit(database_url)._replace(netloc=urlsplit(POSTGRES_URL).netloc))


@pytest.fixture
def backend(request):
    """sqlite, postgresql or pgbouncer, as pytest_generate_tests parametrizes each test."""
    return request.param


@pytest.fixture
def database_url(backend, tmp_path, request):
    """The test's own empty database: a SQLite file, a new schema in PostgreSQL, or a new
    database reached through PgBouncer."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'songs.db'}"
        return
    if backend == "pgbouncer":
        name = f"songs_pooled_{uuid.uuid4().hex[:12]}"
        yield new_database(name, backend, request)
        drop_database(name)
        return
    schema = f"songs_test_{uuid.uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield (
        f"{POSTGRES_URL}{separator}application_name={schema}"
        f"&options={quote(f'-csearch_path={schema},public', safe='')}"
    )
    with admin_connection() as admin:  # a connection left open must not keep the schema
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (schema,),
        )
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db(database_url):
    """A connection to the test's database beside the service's, for rows written by hand:
    execute(sql, parameters) with ? placeholders, and insert_rows, in autocommit mode."""
    database = storage.open_database(database_url)
    database.init_schema()
    yield database.connection()
    database.close()


@pytest.fixture
def database(database_url):
    """The test's database as the service opens it, its schema made (as by init-db)."""
    database = storage.open_database(database_url)
    database.init_schema()
    yield database
    database.close()


@pytest.fixture
def own_database(backend, request):
    """A database of its own, so a test can refuse every connection to it for a while: its
    name, and its URL (through PgBouncer on that backend)."""
    name = f"songs_outage_{uuid.uuid4().hex[:10]}"
    yield name, new_database(name, backend, request)
    drop_database(name)


@pytest.fixture(scope="session")
def pgbouncer_server():
    with tempfile.TemporaryDirectory(prefix="songs-pgbouncer-") as folder:
        server = pgbouncer.PgBouncer(folder, POSTGRES_URL)
        yield server
        server.stop()


class OutsideWriter:
    """Another program writing to the test's database: hold() takes the write lock the service
    needs (SQLite's, or an EXCLUSIVE lock on songs, which reads pass), release() lets it go."""

    def __init__(self, database_url):
        self.sqlite = database_url.startswith("sqlite")
        if self.sqlite:
            path = sqlite_path(database_url)
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        else:
            import psycopg

            self.conn = psycopg.connect(server_side(database_url), autocommit=True)

    def hold(self):
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn.execute("BEGIN")
            self.conn.execute("LOCK TABLE songs IN EXCLUSIVE MODE")

    def release(self):
        self.conn.execute("ROLLBACK")


@pytest.fixture
def outside_writer(db, database_url):
    writer = OutsideWriter(database_url)
    yield writer
    writer.conn.close()


@pytest.fixture
def database_path(tmp_path):
    """A fresh SQLite file for each test, never the working directory's songs.db."""
    return tmp_path / "songs.db"


@pytest.fixture
def dump(database_url, database_path):
    """Every row and every table of the test's database, to show a request changed nothing."""

    def dump():
        if database_url.startswith("sqlite"):
            with sqlite3.connect(database_path) as conn:
                return list(conn.iterdump())
        import psycopg

        with psycopg.connect(database_url) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() ORDER BY table_name"
            ).fetchall()
            # Not the id sequence: PostgreSQL's are not transactional, so a rolled-back insert
            # uses up its id (ids stay unique, and are never reused, on both backends).
            return [
                (table, conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())
                for (table,) in tables
            ]

    return dump
