"""The settings: each read from the environment, and a bad one refused clearly."""

import json
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest
from webtest import TestApp

import service
from helpers import HTTP_LAYER, POSTGRES_ONLY, SONG, SQLITE_ONLY
from helpers.answers import assert_problem
from helpers.commands import init_db
from helpers.databases import POSTGRES_URL
from helpers.gunicorn_server import Gunicorn, procfile_command


def test_a_relative_database_url_is_relative_to_the_working_directory(tmp_path):
    result = init_db("sqlite:///relative.db", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "relative.db").exists()


@pytest.mark.parametrize(
    "url",
    ["mysql://localhost/songs", "sqlite://", "sqlite:///", "sqlite:///:memory:", "songs.db"],
)
def test_a_database_url_that_names_no_database_is_refused_clearly(url):
    with pytest.raises(ValueError, match="DATABASE_URL must name a SQLite file, .* or a Postgre"):
        service.create_app(url)


@HTTP_LAYER  # a setting of the HTTP layer, whatever the backend
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_a_bad_max_body_bytes_is_refused_clearly(make_app, monkeypatch, value):
    monkeypatch.setenv("MAX_BODY_BYTES", value)

    with pytest.raises(ValueError, match="MAX_BODY_BYTES must be a positive whole number"):
        make_app()


@HTTP_LAYER  # a setting of the HTTP layer, whatever the backend
def test_max_body_bytes_defaults_to_64_kib(client):
    oversized = json.dumps({**SONG, "title": "x" * 65536}).encode()

    assert_problem(
        client.post("/api/songs", oversized, content_type="application/json", status=413), 413
    )


@HTTP_LAYER  # a setting of the HTTP layer, whatever the backend
def test_max_body_bytes_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "50")
    app = make_app()
    body = json.dumps(SONG).encode()

    resp = TestApp(app).post("/api/songs", body, content_type="application/json", status=413)

    assert_problem(resp, 413, "The request body is larger than the limit of 50 bytes.")
    app.config["songs.database"].close()


def refused_start(tmp_path, env, bind=True):
    """Start gunicorn as the Procfile does with `env`; its exit status and all it printed."""
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(procfile_command(), log, env=env, bind=bind)
    try:
        status = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.stop()
        raise AssertionError(f"gunicorn started with {env}:\n{log.read_text()}") from None
    return status, log.read_text()


def assert_one_clear_line(status, output, names, secret=None):
    """A non-zero exit before any worker, with one line naming the setting and no traceback."""
    lines = [line for line in output.splitlines() if names in line and "is not set" not in line]

    assert status != 0
    assert "Traceback" not in output and "Booting worker" not in output, output
    assert len(lines) == 1, output
    assert secret is None or secret not in output


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_BYTES", "abc"),
        ("MAX_BODY_BYTES", "0"),
        ("CORS_ORIGINS", "songs.example"),
        ("REQUIRE_IF_MATCH", "maybe"),
        ("API_TOKEN", "short-secret"),
        ("API_TOKEN_READS", "2"),
        ("CLIENT_TIMEOUT", "0"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),  # gunicorn's own import would raise: serve checks it first
        ("DATABASE_URL", "mysql://songs:hunter2-password@localhost/songs"),
    ],
)
def test_a_bad_setting_stops_the_start_in_one_line_naming_it(database_url, tmp_path, name, value):
    env = {"DATABASE_URL": database_url, name: value}

    status, output = refused_start(tmp_path, env)

    secret = value if name in ("API_TOKEN", "DATABASE_URL") else None
    assert_one_clear_line(status, output, name, secret)


@SQLITE_ONLY
def test_a_port_that_is_not_a_number_stops_the_start_in_one_line(database_url, tmp_path):
    status, output = refused_start(
        tmp_path, {"DATABASE_URL": database_url, "PORT": "http"}, bind=False
    )

    assert_one_clear_line(status, output, "'http' is not a valid port number")


def test_a_database_folder_that_does_not_exist_stops_the_start_naming_the_path(tmp_path):
    path = tmp_path / "missing" / "folder" / "songs.db"

    status, output = refused_start(tmp_path, {"DATABASE_URL": f"sqlite:///{path}"})

    assert_one_clear_line(status, output, str(path))
    assert "cannot be opened" in output


@POSTGRES_ONLY
@pytest.mark.parametrize(
    ("part", "value", "said"),
    [
        ("path", "/songs_no_such_database", 'database "songs_no_such_database" does not exist'),
        ("user", "songs_no_such_role", 'role "songs_no_such_role" does not exist'),
    ],
)
def test_a_postgresql_that_refuses_for_good_stops_the_start_without_try_again(
    database_url, tmp_path, part, value, said
):
    parts = urlsplit(POSTGRES_URL)
    netloc = f"{value}:a-password@{parts.hostname}:{parts.port or 5432}"
    url = urlunsplit(parts._replace(**({"path": value} if part == "path" else {"netloc": netloc})))

    status, output = refused_start(tmp_path, {"DATABASE_URL": url})

    assert_one_clear_line(status, output, said, secret="a-password")
    assert "no retry can help" in output and "try again" not in output
