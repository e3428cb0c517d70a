"""API_TOKEN: bearer tokens for writes (and reads, with API_TOKEN_READS=1)."""

import pytest
from webtest import TestApp

from helpers import HTTP_LAYER, SONG

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only

TOKEN, OLD_TOKEN = "s3cret-token-0123456789", "old-token-abcdefghijkl"


@pytest.fixture
def guarded(make_app):
    app = make_app(api_token=f"{TOKEN}, {OLD_TOKEN}")
    yield TestApp(app)
    app.config["songs.database"].close()


def bearer(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/songs", SONG),
        ("PUT", "/api/song/1", SONG),
        ("PATCH", "/api/song/1", {"rating": 1}),
        ("DELETE", "/api/song/1", None),
        ("DELETE", "/api/songs", None),  # not a route: still 401, before anything else
    ],
)
def test_a_write_without_a_token_is_401_and_changes_nothing(guarded, dump, method, path, body):
    guarded.post_json("/api/songs", SONG, headers=bearer(), status=201)
    before = dump()

    resp = guarded.request(
        path, method=method, json=body, status=401, headers={"Content-Type": "application/json"}
    )

    assert resp.content_type == "application/problem+json"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="songs"'
    assert (
        resp.json["detail"] == f"{method} needs an Authorization: Bearer header with an API token."
    )
    assert dump() == before


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        "Bearer",
        f"{TOKEN}",
        "Bearer  ",
    ],
)
def test_a_wrong_token_is_401_invalid_token_and_is_never_echoed(guarded, authorization):
    resp = guarded.post_json(
        "/api/songs", SONG, headers={"Authorization": authorization}, status=401
    )

    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="songs", error="invalid_token"'
    assert TOKEN[:10] not in resp.text


def test_every_listed_token_works_so_tokens_can_be_rotated(guarded):
    guarded.post_json("/api/songs", SONG, headers=bearer(TOKEN), status=201)
    guarded.post_json("/api/songs", SONG, headers=bearer(OLD_TOKEN), status=201)
    guarded.post_json("/api/songs", SONG, headers={"Authorization": f"bearer {TOKEN}"}, status=201)


def test_reads_stay_public_unless_api_token_reads(guarded, make_app):
    guarded.post_json("/api/songs", SONG, headers=bearer(), status=201)
    assert guarded.get("/api/song/1").json["title"] == SONG["title"]
    assert guarded.get("/api/songs").status_int == 200

    app = make_app(api_token=TOKEN, api_token_reads="1")
    private = TestApp(app)
    private.get("/api/song/1", status=401)
    private.head("/api/songs", status=401)
    assert private.get("/api/openapi.json").json["openapi"] == "3.1.0"  # holds no data
    assert private.get("/api/song/1", headers=bearer()).json["id"] == 1
    assert private.get("/healthz").json == {"status": "ok"}  # for the platform's checks
    assert private.options("/api/song/1").status_int == 204  # preflights carry no token
    app.config["songs.database"].close()


def test_with_reads_protected_options_tells_only_a_token_holder_whether_a_song_exists(
    make_app,
):
    private = TestApp(make_app(api_token=TOKEN, api_token_reads="1"))
    private.post_json("/api/songs", SONG, headers=bearer(), status=201)

    assert private.options("/api/song/1").status_int == 204
    assert private.options("/api/song/2").status_int == 204  # no song 2, and none is told
    assert private.options("/api/song/1", headers=bearer()).status_int == 204
    private.options("/api/song/2", headers=bearer(), status=404)


def test_without_api_token_writes_are_open(client):
    client.post_json("/api/songs", SONG, status=201)


@pytest.mark.parametrize("value", ["short", "has space in it 123456", "tok\u00e9n-0123456789abc"])
def test_a_weak_or_malformed_token_stops_startup_without_showing_it(make_app, value):
    with pytest.raises(ValueError) as error:
        make_app(api_token=value)

    assert value not in str(error.value)
