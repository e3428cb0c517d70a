"""The settings: each read from the environment, and a bad one refused clearly."""

import json

import pytest
from test_commands import init_db
from test_problems import assert_problem
from webtest import TestApp

import service
from conftest import SONG


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


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_a_bad_max_body_bytes_is_refused_clearly(make_app, monkeypatch, value):
    monkeypatch.setenv("MAX_BODY_BYTES", value)

    with pytest.raises(ValueError, match="MAX_BODY_BYTES must be a positive whole number"):
        make_app()


def test_max_body_bytes_defaults_to_64_kib(client):
    oversized = json.dumps({**SONG, "title": "x" * 65536}).encode()

    assert_problem(
        client.post("/api/songs", oversized, content_type="application/json", status=413), 413
    )


def test_max_body_bytes_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "50")
    app = make_app()
    body = json.dumps(SONG).encode()

    resp = TestApp(app).post("/api/songs", body, content_type="application/json", status=413)

    assert_problem(resp, 413, "The request body is larger than the limit of 50 bytes.")
    app.config["songs.database"].close()
