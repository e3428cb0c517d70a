"""Fixtures: every test that asks for `database_url` (or app, client, dump, start_gunicorn)
runs twice, on a fresh SQLite file and on a fresh schema of a real PostgreSQL server.

Without a PostgreSQL server the PostgreSQL runs are left out (deselected), and one line at
the end says how many and how to enable them; under CI (CI=true) that is an error instead,
so they cannot silently stop running. SQLITE_ONLY marks the tests about SQLite itself, and
those about gunicorn's sockets and processes, whatever the database.
"""

import functools
import os
import sqlite3
import tempfile
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import nu_checker
import pgbouncer
import pytest
from webtest import TestApp

import service
from gunicorn_server import Gunicorn, procfile_command
from songs import storage
from songs.storage.sqlite import sqlite_path

SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}
POSTGRES_URL = os.environ.get("SONGS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
HOW_TO_ENABLE = (
    "start PostgreSQL on 127.0.0.1:5432 with trust authentication and a database named test, "
    "or set SONGS_TEST_POSTGRES to a postgresql:// URL of a database the tests may use"
)
CHROMIUM = "/usr/bin/chromium"  # Debian's (apt-get install chromium); Playwright drives it
HOW_TO_ENABLE_BROWSER = "install Debian's Chromium (apt-get install chromium)"
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # overrides the backend fixture
POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgresql"])
# Once more through a real PgBouncer in transaction pooling mode (tests/pgbouncer.py), on a
# database of the test's own: PgBouncer passes no search_path for a schema of its own.
POOLED = pytest.mark.pooled  # a test or module that asks for the backend runs on all three
POSTGRES_POOLED = pytest.mark.parametrize("backend", ["postgresql", "pgbouncer"])
# The HTTP layer (parameters, bodies, problems, headers, preconditions) is the same whatever
# the backend: a test or module so marked runs on SQLite only. What the backends must do
# alike is held by the tests that are not: storage, listing, records, migrations, commands.
HTTP_LAYER = pytest.mark.http_layer


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-examples",
        type=int,
        help="schemathesis examples per operation (make fuzz); without it, a fixed budget",
    )
    parser.addoption(
        "--screenshot",
        help="where the browser test keeps its picture of the songs page (make screenshot)",
    )
    parser.addoption(
        "--fuzz-seed",
        type=int,
        help="schemathesis's seed with --fuzz-examples (make fuzz picks and prints one)",
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


def browser_missing():
    """Why the browser tests cannot run here, or None when they can."""
    return None if os.access(CHROMIUM, os.X_OK) else f"{CHROMIUM} is not installed"


def pytest_sessionstart(session):
    if not postgres_missing():
        share_the_extensions()
    if os.environ.get("CI") != "true":
        return
    for part in OPTIONAL_PARTS:
        if part.missing():
            raise pytest.UsageError(
                f"CI=true, and the {part.name} cannot be skipped under CI: {part.missing()}; "
                f"{part.how_to_enable}"
            )


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs in Chromium (tests/test_browser.py)")
    config.addinivalue_line("markers", "nu_checker: runs the Nu Html Checker (Java)")
    config.addinivalue_line("markers", "pooled: runs through PgBouncer too (POOLED)")
    config.addinivalue_line("markers", "http_layer: runs on SQLite only (HTTP_LAYER)")


def pytest_generate_tests(metafunc):
    """Each test that needs `backend` runs on SQLite and PostgreSQL, and through PgBouncer
    too when POOLED, unless SQLITE_ONLY, POSTGRES_ONLY or POSTGRES_POOLED names its own."""
    definition = metafunc.definition
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in mark.args[0] for mark in definition.iter_markers("parametrize")):
        return
    if definition.get_closest_marker("http_layer"):
        metafunc.parametrize("backend", ["sqlite"])
        return
    pooled = ["pgbouncer"] if definition.get_closest_marker("pooled") else []
    metafunc.parametrize("backend", ["sqlite", "postgresql", *pooled])


def pytest_collection_modifyitems(config, items):
    for part in OPTIONAL_PARTS:
        left_out = [item for item in items if part.needed_by(item)] if part.missing() else []
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not part.needed_by(item)]
            config.stash[part.left_out] = len(left_out)


def on_backend(*names):
    def on(item):
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get("backend") in names

    return on


def marked(name):
    return lambda item: item.get_closest_marker(name) is not None


class OptionalPart:
    """What some tests need beyond make test's own installs: without it they are left out
    (deselected) with one line at the end saying how to enable them, and under CI that is an
    error."""

    def __init__(self, name, missing, how_to_enable, needed_by):
        self.name, self.missing, self.how_to_enable = name, missing, how_to_enable
        self.needed_by = needed_by
        self.left_out = pytest.StashKey[int]()


OPTIONAL_PARTS = (
    OptionalPart(
        "PostgreSQL runs", postgres_missing, HOW_TO_ENABLE, on_backend("postgresql", "pgbouncer")
    ),
    OptionalPart(
        "PgBouncer runs",
        pgbouncer.pgbouncer_missing,
        pgbouncer.HOW_TO_ENABLE,
        on_backend("pgbouncer"),
    ),
    OptionalPart("browser tests", browser_missing, HOW_TO_ENABLE_BROWSER, marked("browser")),
    OptionalPart(
        "HTML validation",
        nu_checker.missing,
        nu_checker.HOW_TO_ENABLE,
        marked("nu_checker"),
    ),
)


def pytest_terminal_summary(terminalreporter, config):
    for part in OPTIONAL_PARTS:
        if config.stash.get(part.left_out, 0):
            terminalreporter.write_line(
                f"{part.name[0].upper()}{part.name[1:]} skipped "
                f"({config.stash[part.left_out]} tests): {part.missing()}. "
                f"To run them, {part.how_to_enable}."
            )


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


def new_database(name, backend, request):
    """A new database on the server, and its URL: direct, or through the suite's PgBouncer."""
    with admin_connection() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    if backend == "pgbouncer":
        return request.getfixturevalue("pgbouncer_server").url(name)
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))


def drop_database(name):
    with admin_connection() as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # PgBouncer's pool holds some


def server_side(database_url):
    """A PostgreSQL database_url as another program reaches it: at the server, not through
    PgBouncer."""
    return urlunsplit(urlsplit(database_url)._replace(netloc=urlsplit(POSTGRES_URL).netloc))


def admin_connection():
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


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
def make_app(database_url):
    """Builds the service on the test's database with the settings given; closes them after."""
    apps = []

    storage.open_database(database_url).init_schema()  # as init-db does before gunicorn starts

    def make(**settings):
        apps.append(service.create_app(database_url, **settings))
        return apps[-1]

    yield make
    for app in apps:
        app.config["songs.database"].close()


@pytest.fixture
def app(make_app):
    """The service built on the test's own database, as gunicorn would build it."""
    return make_app()


@pytest.fixture
def client(app):
    """WebTest over the app in-process: real HTTP semantics, real database file."""
    return TestApp(app)


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


def create(client, **fields):
    """POST a song (SONG with `fields` replaced) and return it."""
    return client.post_json("/api/songs", {**SONG, **fields}, status=201).json


@pytest.fixture
def start_gunicorn(tmp_path, database_url):
    """Starts real gunicorn servers for a test, on its database unless told, and stops them."""
    servers = []
    default_url = database_url

    def start(database_url=None, workers=2, env=None, stderr_path=None, ready=True):
        url = database_url or default_url
        server = Gunicorn(
            procfile_command(),
            tmp_path / f"gunicorn-{len(servers)}.log",
            env={"DATABASE_URL": url, **(env or {})},
            gunicorn_args=f"--workers {workers}",
            stderr_path=stderr_path,
        )
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
