"""Every error is an RFC 9457 problem with the right status, and changes nothing."""

import json

import pytest
from webtest import TestApp

from helpers import HTTP_LAYER, SONG, create
from helpers.answers import assert_problem

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only


BAD_IDS = ["abc", "0", "-1", "99999999999999999999", "007", "1.5", "%D9%A3", "1%20"]


@pytest.mark.parametrize("song_id", BAD_IDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("prefix", ["/api/song/", "/api/songs/"])
def test_an_id_that_is_not_a_positive_integer_is_404(client, method, prefix, song_id):
    resp = client.request(prefix + song_id, method=method, status=404)

    assert_problem(resp, 404)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_missing_song_is_404_problem(client, method):
    body = json.dumps(SONG).encode()

    resp = client.request(
        "/api/song/42", method=method, body=body, content_type="application/json", status=404
    )

    assert_problem(resp, 404, "Song 42 does not exist.")


@pytest.mark.parametrize(
    "path", ["/nothing", "/api/", "/api/songs/", "/api/song", "/songs/1/x", "/api/songs/1/x"]
)  # / and /api are pages (test_pages.py)
def test_an_unknown_path_is_404_problem(client, path):
    assert_problem(client.get(path, status=404), 404, f"Nothing is at {path}.")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/songs", "GET, HEAD, OPTIONS, POST"),
        ("PUT", "/api/songs", "GET, HEAD, OPTIONS, POST"),
        ("PATCH", "/api/songs", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/api/song/1", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("POST", "/api/songs/1", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("PUT", "/api/openapi.json", "GET, HEAD, OPTIONS"),
        ("TRACE", "/api/songs", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_method_not_allowed_is_405_with_allow(client, method, path, allow):
    resp = client.request(path, method=method, status=405)

    assert resp.headers["Allow"] == allow
    assert_problem(resp, 405, f"{method} is not allowed on {path}; use {allow}.")


def test_a_body_over_max_body_bytes_is_413(make_app):
    app = make_app(max_body_bytes=100)
    client = TestApp(app)
    body = json.dumps({**SONG, "title": "x" * 100}).encode()

    resp = client.post("/api/songs", body, content_type="application/json", status=413)

    assert_problem(resp, 413, "The request body is larger than the limit of 100 bytes.")
    assert client.get("/api/songs").json == []
    client.post_json("/api/songs", SONG, status=201)  # a body under the limit still goes through
    app.config["songs.database"].close()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/merge-patch+json", "application/jsonx", ""],
)
def test_an_unsupported_content_type_is_415_with_accept(client, content_type):
    resp = client.post(
        "/api/songs", json.dumps(SONG).encode(), headers={"Content-Type": content_type}, status=415
    )

    problem = assert_problem(resp, 415)
    assert resp.headers["Accept"] == (
        "application/json, application/x-www-form-urlencoded, multipart/form-data, text/csv"
    )
    assert (content_type or "untyped") in problem["detail"]


def test_content_type_parameters_and_case_are_accepted(client):
    body = json.dumps(SONG).encode()

    client.post("/api/songs", body, content_type="Application/JSON; charset=utf-8", status=201)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"artist": "a",}',
        b"{'artist': 'a'}",
        b"\xff\xfe{}",
        b'{"a": NaN}',
        b"[Infinity]",
    ],
)
def test_an_unparseable_json_body_is_400(client, body):
    resp = client.post("/api/songs", body, content_type="application/json", status=400)

    assert_problem(resp, 400)


def test_invalid_utf8_in_json_is_400_naming_utf8(client):
    body = b'{"artist": "\xc3\x28", "title": "t", "rating": 3}'

    resp = client.post("/api/songs", body, content_type="application/json", status=400)

    assert_problem(resp, 400, "The body is not valid UTF-8 (byte 12).")


def test_deeply_nested_json_is_400(client):
    body = b"[" * 20000 + b"]" * 20000

    resp = client.post("/api/songs", body, content_type="application/json", status=400)

    assert_problem(resp, 400, "The JSON body is nested too deeply.")


def test_invalid_utf8_in_a_form_is_400(client):
    resp = client.post(
        "/api/songs",
        b"artist=%C3%28&title=t&rating=3",
        content_type="application/x-www-form-urlencoded",
        status=400,
    )

    assert_problem(resp, 400, "The form body is not valid UTF-8 once percent-decoded.")


def test_precedence_404_beats_413_415_400_422(make_app):
    app = make_app(max_body_bytes=10)
    client = TestApp(app)

    resp = client.put("/api/song/1", b"{not json" * 10, content_type="text/plain", status=404)

    assert_problem(resp, 404, "Song 1 does not exist.")
    app.config["songs.database"].close()


def test_precedence_413_beats_415(make_app):
    app = make_app(max_body_bytes=10)

    resp = TestApp(app).post("/api/songs", b"x" * 11, content_type="text/plain", status=413)

    assert_problem(resp, 413)
    app.config["songs.database"].close()


def test_precedence_415_beats_400(client):
    resp = client.post("/api/songs", b"{not json", content_type="text/plain", status=415)

    assert_problem(resp, 415)


def test_precedence_400_beats_422(client):
    resp = client.post("/api/songs", b'{"rating": 9,', content_type="application/json", status=400)

    assert_problem(resp, 400)


def test_a_bad_body_on_an_existing_song_is_not_404(client):
    song = create(client)

    resp = client.put(f"/api/song/{song['id']}", b"{", content_type="application/json", status=400)

    assert_problem(resp, 400)


REJECTED_WRITES = [
    ("POST", "/api/songs", b"{", "application/json"),
    ("POST", "/api/songs", b'{"artist": "", "title": "t", "rating": 3}', "application/json"),
    ("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": 6}', "application/json"),
    (
        "POST",
        "/api/songs",
        b"artist=a&title=t&rating=3&rating=4",
        "application/x-www-form-urlencoded",
    ),
    ("POST", "/api/songs", b"artist=a&title=t&rating=3", "text/plain"),
    ("PUT", "/api/song/1", b'{"artist": "a", "title": "t"}', "application/json"),
    ("PUT", "/api/song/1", b'["artist", "title", "rating"]', "application/json"),
    (
        "PUT",
        "/api/song/1",
        b'{"artist": "a\\u0000", "title": "t", "rating": 3}',
        "application/json",
    ),
    ("PUT", "/api/song/2", b'{"artist": "a", "title": "t", "rating": 3}', "application/json"),
    ("DELETE", "/api/song/2", b"", ""),
    ("PATCH", "/api/song/1", b'{"rating": null}', "application/merge-patch+json"),
    ("PATCH", "/api/song/1", b'{"rating": 1}', "text/plain"),
    ("PATCH", "/api/song/2", b'{"rating": 1}', "application/merge-patch+json"),
]


def test_rejected_writes_change_nothing_in_the_database(client, dump):
    create(client)
    before = dump()

    for method, path, body, content_type in REJECTED_WRITES:
        headers = {"Content-Type": content_type} if content_type else {}
        resp = client.request(path, method=method, body=body, headers=headers, expect_errors=True)
        assert 400 <= resp.status_int < 500, (method, path, body, resp.status)

    assert dump() == before


def test_an_unexpected_error_is_500_without_the_traceback_which_goes_to_the_log(client, db):
    create(client)
    db.execute("ALTER TABLE songs RENAME TO songs_elsewhere")

    resp = client.get("/api/song/1", status=500, expect_errors=True)

    problem = assert_problem(
        resp, 500, "The server failed to answer this request; the failure is logged."
    )
    assert "Traceback" not in resp.text and "songs" not in json.dumps(problem)
    assert "Traceback" in resp.errors and "songs" in resp.errors.split("Traceback")[1]


@pytest.mark.parametrize(
    ("method", "body", "line"),
    [
        ("post", b"{}", "422 Unprocessable Content"),
        ("post", b"[" * 1_100_000, "413 Content Too Large"),  # past a batch's 1 MiB
        ("delete", b"", "405 Method Not Allowed"),
    ],
)
def test_the_status_line_says_what_the_problems_title_says(client, method, body, line):
    resp = getattr(client, method)(
        "/api/songs", body, headers={"Content-Type": "application/json"}, expect_errors=True
    )

    assert resp.status == line
    assert resp.json["title"] == line.split(" ", 1)[1]
