"""Fixtures for the service under test: in-process through WebTest, or real gunicorn."""

import pytest
from webtest import TestApp

import service
from helpers.gunicorn_server import Gunicorn, procfile_command
from songs import storage


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
def start_gunicorn(tmp_path, database_url):
    """Starts real gunicorn servers for a test, on its database unless told, and stops them."""
    servers = []
    default_url = database_url

    def start(database_url=None, workers=2, env=None, stderr_path=None, ready=True, args=""):
        """A server on `database_url` (the test's), with gunicorn's `args` besides."""
        url = database_url or default_url
        server = Gunicorn(
            procfile_command(),
            tmp_path / f"gunicorn-{len(servers)}.log",
            env={"DATABASE_URL": url, **(env or {})},
            gunicorn_args=f"--workers {workers} {args}",
            stderr_path=stderr_path,
        )
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
