"""API_TOKEN: bearer tokens for writes (and reads, with API_TOKEN_READS=1)."""

import json

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


WRITES = [
    ("POST", "/api/songs", SONG),
    ("PUT", "/api/song/1", SONG),
    ("PATCH", "/api/song/1", {"rating": 1}),
    ("DELETE", "/api/song/1", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        *WRITES,
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


READER = "reader-secret-0123456789"


@pytest.fixture
def with_a_reader(make_app):
    """Writes need a token; `ci` may only read."""
    app = make_app(api_token=f"writer:{TOKEN}, ci:{READER}:read")
    yield TestApp(app)
    app.config["songs.database"].close()


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_only_token_is_403_on_every_write_and_changes_nothing(
    with_a_reader, dump, method, path, body
):
    with_a_reader.post_json("/api/songs", SONG, headers=bearer(), status=201)
    before = dump()
    headers = {**bearer(READER), "Content-Type": "application/json"}
    if method == "PATCH":
        headers["Content-Type"] = "application/merge-patch+json"
    resp = with_a_reader.request(
        path,
        method=method,
        headers=headers,
        body=b"" if body is None else json.dumps(body).encode(),
        expect_errors=True,
    )

    assert resp.status_int == 403
    assert resp.content_type == "application/problem+json"
    assert resp.json["detail"] == (
        f"The token ci may only read: {method} changes songs, and nothing was changed."
    )
    assert READER not in resp.text
    assert dump() == before


def test_a_read_only_token_reads_where_reads_need_a_token(make_app):
    private = TestApp(make_app(api_token=f"writer:{TOKEN}, ci:{READER}:read", api_token_reads="1"))
    private.post_json("/api/songs", SONG, headers=bearer(), status=201)

    assert private.get("/api/song/1", headers=bearer(READER)).json["title"] == SONG["title"]
    assert private.get("/api/songs", headers=bearer(READER)).json[0]["id"] == 1
    private.get("/api/song/1", status=401)


def test_the_document_says_writes_are_403_for_a_read_only_token_only_when_one_is_set(
    make_app, with_a_reader, guarded
):
    with_reader = with_a_reader.get("/api/openapi.json").json
    without = guarded.get("/api/openapi.json").json

    post = with_reader["paths"]["/api/songs"]["post"]["responses"]
    assert post["403"] == {"$ref": "#/components/responses/ReadOnlyToken"}
    assert "403" not in with_reader["paths"]["/api/songs"]["get"]["responses"]
    assert "A read-only token's writes are 403." in with_reader["info"]["description"]
    assert "403" not in without["paths"]["/api/songs"]["post"]["responses"]
    assert "read-only" not in without["info"]["description"]
    open_document = TestApp(make_app()).get("/api/openapi.json").json
    assert "ReadOnlyToken" not in open_document["components"]["responses"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("a:b:c:d-0123456789abcdef", "token 1 must be secret, name:secret or name:secret:read"),
        (f"ci:{READER}:write-only", "token 1 must be secret, name:secret or name:secret:read"),
        (f"{TOKEN}, {READER}:ci", "token 2 must have a secret of at least 16"),  # reversed
        (f"anonymous:{READER}", "token 1 must have a name of at most 64 letters"),
        (f"a b:{READER}", "token 1 must have a name of at most 64 letters"),
        (f"ci:{TOKEN}, ci:{READER}", "tokens must each have a name of their own"),
        (f"a:{TOKEN}, b:{TOKEN}:read", "tokens must each have a secret of their own"),
        (f"{TOKEN}, token-1:{READER}", "tokens must each have a name of their own"),
    ],
)
def test_a_token_list_that_is_not_clear_stops_startup_naming_the_token_by_place(
    make_app, value, says
):
    with pytest.raises(ValueError) as error:
        make_app(api_token=value)

    assert says in str(error.value)
    assert TOKEN not in str(error.value) and READER not in str(error.value)
