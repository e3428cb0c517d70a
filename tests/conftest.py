import sqlite3

import pytest
from webtest import TestApp

import service
from gunicorn_server import Gunicorn, procfile_command

SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-examples",
        type=int,
        help="schemathesis examples per operation, with a new seed (make fuzz); "
        "without it, a fixed budget and seed",
    )


@pytest.fixture
def database_path(tmp_path):
    """A fresh SQLite file for each test, never the working directory's songs.db."""
    return tmp_path / "songs.db"


@pytest.fixture
def app(database_path):
    """The service built on the test's own database, as gunicorn would build it."""
    app = service.create_app(f"sqlite:///{database_path}")
    yield app
    app.config["songs.database"].close()


@pytest.fixture
def client(app):
    """WebTest over the app in-process: real HTTP semantics, real database file."""
    return TestApp(app)


@pytest.fixture
def dump(database_path):
    """Every row and every table of the test's database, to show a request changed nothing."""

    def dump():
        conn = sqlite3.connect(database_path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    return dump


def create(client, **fields):
    """POST a song (SONG with `fields` replaced) and return it."""
    return client.post_json("/api/songs", {**SONG, **fields}, status=201).json


@pytest.fixture
def start_gunicorn(tmp_path):
    """Starts real gunicorn servers for a test and always stops them."""
    servers = []

    def start(database_url=None, workers=2, env=None, stderr_path=None):
        url = database_url or f"sqlite:///{tmp_path / 'songs.db'}"
        server = Gunicorn(
            procfile_command(),
            tmp_path / f"gunicorn-{len(servers)}.log",
            env={"DATABASE_URL": url, **(env or {})},
            gunicorn_args=f"--workers {workers}",
            stderr_path=stderr_path,
        )
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
