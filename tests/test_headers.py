"""Headers every response carries: X-Request-ID, and CORS, which is off by default and which
CORS_ORIGINS turns on for some origins or all, errors included."""

import re

import pytest
from webtest import TestApp

from helpers import HTTP_LAYER, SONG, create

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only

SITE = "https://songs.example"
EXPOSED = (
    "Location, ETag, Link, X-Request-ID, X-Total-Count, Retry-After, Accept-Patch, "
    "Preference-Applied, Idempotent-Replayed, Server-Timing, traceparent"
)
ALLOWED_HEADERS = (
    "Content-Type, Authorization, If-Match, If-None-Match, Prefer, Idempotency-Key, X-Request-ID"
)


@pytest.fixture
def cors_client(make_app):
    """The service with CORS_ORIGINS listing two origins."""
    return TestApp(make_app(cors_origins=f"{SITE}, http://localhost:5173"))


def preflight(client, path, method, origin=SITE, status=204):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, if-match",
        },
        status=status,
    )


def test_cors_is_off_by_default(client):
    resp = client.get("/api/songs", headers={"Origin": SITE})
    answer = preflight(client, "/api/songs", "POST")

    for headers in (resp.headers, answer.headers):
        assert not [name for name in headers if name.lower().startswith("access-control-")]
        assert "Origin" not in headers.get("Vary", "")


@pytest.mark.parametrize(
    ("path", "method", "allow"),
    [
        ("/api/songs", "POST", "GET, HEAD, OPTIONS, POST"),
        ("/api/song/1", "PATCH", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("/api/songs/1", "DELETE", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
    ],
)
def test_a_preflight_from_an_allowed_origin_is_answered(cors_client, path, method, allow):
    create(cors_client)

    resp = preflight(cors_client, path, method)

    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Allow-Methods"] == allow
    assert resp.headers["Access-Control-Allow-Headers"] == ALLOWED_HEADERS
    assert resp.headers["Access-Control-Max-Age"] == "86400"
    assert resp.headers["Vary"] == "Origin"
    assert resp.body == b""


def test_a_preflight_for_a_missing_song_succeeds_so_the_request_gets_its_404(cors_client):
    preflight(cors_client, "/api/song/42", "DELETE")

    resp = cors_client.delete("/api/song/42", headers={"Origin": SITE}, status=404)

    assert resp.headers["Access-Control-Allow-Origin"] == SITE


def test_a_preflight_from_another_origin_gets_no_cors_headers(cors_client):
    resp = preflight(cors_client, "/api/songs", "POST", origin="https://evil.example")

    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Access-Control-Allow-Methods" not in resp.headers
    assert resp.headers["Vary"] == "Origin"


def test_responses_to_an_allowed_origin_expose_the_headers_clients_need(cors_client):
    resp = cors_client.post_json("/api/songs", SONG, headers={"Origin": SITE}, status=201)

    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Expose-Headers"] == EXPOSED
    assert resp.headers["Vary"] == "Origin, Accept-Encoding"  # JSON may be gzipped
    assert "Access-Control-Allow-Methods" not in resp.headers


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/song/77", b"", 404),
        ("POST", "/api/songs", b'{"rating": 9}', 422),
        ("POST", "/api/songs", b"{", 400),
        ("DELETE", "/api/songs", b"", 405),
        ("GET", "/api/songs?limit=0", b"", 400),
    ],
)
def test_errors_carry_cors_headers_so_a_browser_can_read_them(
    cors_client, method, path, body, status
):
    resp = cors_client.request(
        path,
        method=method,
        body=body,
        headers={"Origin": SITE, "Content-Type": "application/json"},
        status=status,
    )

    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Expose-Headers"] == EXPOSED
    assert resp.json["status"] == status


def test_a_500_carries_cors_headers_too(cors_client, db):
    create(cors_client)
    db.execute("ALTER TABLE songs RENAME TO songs_elsewhere")

    resp = cors_client.get("/api/song/1", headers={"Origin": SITE}, status=500, expect_errors=True)

    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["X-Request-ID"] == resp.json["request_id"]


def test_a_304_carries_cors_headers(cors_client):
    create(cors_client)
    etag = cors_client.get("/api/song/1").headers["ETag"]

    resp = cors_client.get(
        "/api/song/1", headers={"Origin": SITE, "If-None-Match": etag}, status=304
    )

    assert resp.headers["Access-Control-Allow-Origin"] == SITE


def test_a_star_allows_every_origin_without_vary(make_app):
    app = make_app(cors_origins="*")
    client = TestApp(app)

    resp = client.get("/api/songs", headers={"Origin": "https://anywhere.example"})
    answer = preflight(client, "/api/songs", "POST", origin="null")

    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Vary"] == "Accept-Encoding"  # the same answer to every origin
    app.config["songs.database"].close()


def test_cors_origins_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", SITE)
    app = make_app()

    resp = TestApp(app).get("/api/songs", headers={"Origin": SITE})

    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    app.config["songs.database"].close()


@pytest.mark.parametrize(
    "value",
    [
        "songs.example",
        "https://songs.example/",
        "ftp://songs.example",
        "https://a b",
        "https://u@h",
    ],
)
def test_a_cors_origin_that_is_not_an_origin_stops_the_app_from_starting(make_app, value):
    with pytest.raises(ValueError, match="CORS_ORIGINS must be"):
        make_app(cors_origins=value)


def test_a_request_id_is_made_for_every_response(client):
    ok = client.get("/api/songs", status=200).headers["X-Request-ID"]
    missing = client.get("/api/song/1", status=404)

    assert re.fullmatch(r"[0-9a-f]{32}", ok)
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])
    assert missing.headers["X-Request-ID"] != ok
    assert missing.json["request_id"] == missing.headers["X-Request-ID"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_sane_client_request_id_is_echoed_on_success_and_error(client, method):
    rid = "req-2026.11.24:abc/DEF+1="

    resp = client.request(
        "/api/songs", method=method, headers={"X-Request-ID": rid}, expect_errors=True
    )

    assert resp.headers["X-Request-ID"] == rid
    if resp.status_int >= 400:
        assert resp.json["request_id"] == rid


@pytest.mark.parametrize("given", ["x" * 129, "has space", "semi;colon", 'quote"', ""])
def test_an_insane_client_request_id_is_replaced(client, given):
    resp = client.get("/api/songs", headers={"X-Request-ID": given}, status=200)

    assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
