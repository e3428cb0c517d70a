"""ETags, conditional requests, Cache-Control, PATCH and Prefer, in-process."""

import re

import pytest
from webtest import TestApp

from helpers import HTTP_LAYER, SONG, create
from songs import wire

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only

ETAG = re.compile(r'"[0-9a-f]{32}"')
MERGE_PATCH = "application/merge-patch+json"


def patch(client, path, body, status, headers=None, content_type=MERGE_PATCH):
    return client.request(
        path,
        method="PATCH",
        body=body if isinstance(body, bytes) else wire.json_bytes(body),
        headers={"Content-Type": content_type, **(headers or {})},
        status=status,
    )


@pytest.fixture
def strict_client(make_app):
    """The service with REQUIRE_IF_MATCH on: writes to a song must be conditional."""
    app = make_app(require_if_match="1")
    yield TestApp(app)
    app.config["songs.database"].close()


# ETags


def test_every_single_song_response_carries_the_same_strong_etag(client):
    created = client.post_json("/api/songs", SONG, status=201)
    path = created.headers["Location"]

    got = client.get(path, status=200)
    head = client.head(path, status=200)
    plural = client.get(path.replace("/song/", "/songs/"), status=200)

    assert ETAG.fullmatch(created.headers["ETag"])
    assert got.headers["ETag"] == head.headers["ETag"] == created.headers["ETag"]
    assert plural.headers["ETag"] == created.headers["ETag"]


def test_the_etag_changes_when_the_song_changes_and_only_then(client):
    song = create(client)
    path = f"/api/song/{song['id']}"
    first = client.get(path).headers["ETag"]

    same = client.put_json(path, SONG, status=200)
    changed = client.put_json(path, {**SONG, "rating": 5}, status=200)
    patched = patch(client, path, {"rating": 3}, 200)

    assert same.headers["ETag"] == first
    assert same.json["updated_at"] == song["updated_at"]
    assert changed.headers["ETag"] != first
    assert patched.headers["ETag"] not in (first, changed.headers["ETag"])
    assert client.get(path).headers["ETag"] == patched.headers["ETag"]


def test_the_etag_of_a_song_is_not_the_etag_of_another_with_equal_fields(client):
    one, two = create(client), create(client)

    etags = {client.get(f"/api/song/{song['id']}").headers["ETag"] for song in (one, two)}

    assert len(etags) == 2


def test_the_list_carries_an_etag_that_follows_its_songs_and_its_link(client):
    create(client)
    first = client.get("/api/songs?limit=1").headers["ETag"]
    assert client.get("/api/songs?limit=1").headers["ETag"] == first

    create(client, title="Second")
    with_more = client.get("/api/songs?limit=1")
    assert with_more.headers["ETag"] != first

    client.delete("/api/song/1", status=204)
    without_more = client.get("/api/songs?limit=1")
    assert without_more.body == with_more.body
    assert 'rel="next"' not in without_more.headers["Link"]
    assert without_more.headers["ETag"] != with_more.headers["ETag"]


@pytest.mark.parametrize("path", ["/api/songs", "/api/song/1", "/api/openapi.json"])
def test_representations_are_no_cache_and_problems_and_health_no_store(client, path):
    create(client)

    assert client.get(path).headers["Cache-Control"] == "no-cache"
    assert client.get("/api/song/99", status=404).headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"


# If-None-Match


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/api/song/1", "/api/songs", "/api/openapi.json"])
def test_if_none_match_with_the_current_etag_is_304_with_no_body(client, method, path):
    create(client)
    etag = client.get(path).headers["ETag"]

    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = client.request(path, method=method, headers={"If-None-Match": value}, status=304)
        assert resp.body == b""
        assert resp.headers["ETag"] == etag
        assert resp.headers["Cache-Control"] == "no-cache"
        assert "Content-Type" not in resp.headers


@pytest.mark.parametrize("value", ['"other"', "garbage", 'W/"0f4c"'])
def test_if_none_match_with_another_etag_is_the_full_answer(client, value):
    song = create(client)

    resp = client.get("/api/song/1", headers={"If-None-Match": value}, status=200)

    assert resp.json == song


def test_if_none_match_on_a_missing_song_is_404(client):
    client.get("/api/song/1", headers={"If-None-Match": "*"}, status=404)


# If-Match


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(client, dump, method):
    create(client)
    stale = client.get("/api/song/1").headers["ETag"]
    client.put_json("/api/song/1", {**SONG, "rating": 5})
    before = dump()

    resp = client.request(
        "/api/song/1",
        method=method,
        body=b'{"artist": "a", "title": "t", "rating": 1}',
        headers={"Content-Type": "application/json", "If-Match": stale},
        status=412,
    )

    assert resp.content_type == "application/problem+json"
    current = client.get("/api/song/1").headers["ETag"]
    assert resp.json["detail"] == (
        f"If-Match {stale} does not match the current ETag, {current}: it changed since it "
        "was read. GET it again and retry."
    )
    assert dump() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_write_with_the_current_etag_succeeds(client, method):
    create(client)
    etag = client.get("/api/song/1").headers["ETag"]

    for rating, template in enumerate(["{}", '"other", {}', "*"], start=1):
        client.request(
            "/api/song/1",
            method=method,
            body=b'{"artist": "a", "title": "t", "rating": %d}' % rating,
            headers={"Content-Type": "application/json", "If-Match": template.format(etag)},
            status=204 if method == "DELETE" else 200,
        )
        if method == "DELETE":
            return
        etag = client.get("/api/song/1").headers["ETag"]


def test_if_match_compares_strongly_so_a_weak_tag_never_matches(client):
    create(client)
    etag = client.get("/api/song/1").headers["ETag"]

    client.delete("/api/song/1", headers={"If-Match": f"W/{etag}"}, status=412)


def test_if_match_that_is_not_an_entity_tag_matches_nothing(client):
    create(client)

    resp = client.delete("/api/song/1", headers={"If-Match": "garbage"}, status=412)

    assert resp.json["detail"].startswith("If-Match garbage does not match the current ETag")


def test_if_none_match_star_on_a_write_is_412(client, dump):
    create(client)
    before = dump()

    resp = client.put_json("/api/song/1", SONG, headers={"If-None-Match": "*"}, status=412)

    assert resp.json["detail"].startswith("If-None-Match * matches the current ETag")
    assert dump() == before


def test_if_match_on_a_get_that_fails_is_412(client):
    create(client)

    client.get("/api/song/1", headers={"If-Match": '"other"'}, status=412)


def test_a_missing_song_outranks_a_failed_precondition(client):
    client.put_json("/api/song/9", SONG, headers={"If-Match": '"other"'}, status=404)
    client.delete("/api/song/9", headers={"If-Match": '"other"'}, status=404)


def test_a_failed_precondition_outranks_a_bad_body(client, dump):
    create(client)
    before = dump()

    client.put_json("/api/song/1", {"rating": 9}, headers={"If-Match": '"other"'}, status=412)
    patch(client, "/api/song/1", {"rating": 9}, 412, headers={"If-Match": '"other"'})
    patch(client, "/api/song/1", b"{", 412, headers={"If-Match": '"other"'})

    assert dump() == before


# REQUIRE_IF_MATCH


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_with_if_match_required_a_write_without_it_is_428(strict_client, dump, method):
    create(strict_client)
    before = dump()

    resp = strict_client.request(
        "/api/song/1",
        method=method,
        body=b'{"artist": "a", "title": "t", "rating": 1}',
        headers={"Content-Type": "application/json"},
        status=428,
    )

    assert resp.json["title"] == "Precondition Required"
    assert resp.json["detail"] == (
        "Writes to a song need If-Match with the song's ETag, so that no change is lost; "
        "GET the song for its ETag."
    )
    assert dump() == before


def test_with_if_match_required_writes_with_it_succeed_and_creates_need_none(strict_client):
    created = strict_client.post_json("/api/songs", SONG, status=201)
    etag = created.headers["ETag"]

    resp = strict_client.put_json("/api/song/1", {**SONG, "rating": 1}, headers={"If-Match": etag})
    strict_client.delete("/api/song/1", headers={"If-Match": resp.headers["ETag"]}, status=204)


def test_with_if_match_required_a_missing_song_is_still_404(strict_client):
    strict_client.delete("/api/song/5", status=404)


def test_require_if_match_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("REQUIRE_IF_MATCH", "1")
    app = make_app()
    client = TestApp(app)
    create(client)

    client.delete("/api/song/1", status=428)
    app.config["songs.database"].close()


def test_a_bad_require_if_match_stops_the_app_from_starting(make_app, monkeypatch):
    monkeypatch.setenv("REQUIRE_IF_MATCH", "maybe")

    with pytest.raises(ValueError, match="REQUIRE_IF_MATCH must be 1 or 0"):
        make_app()


# PATCH


@pytest.mark.parametrize("content_type", [MERGE_PATCH, "application/json; charset=utf-8"])
@pytest.mark.parametrize("path", ["/api/song/1", "/api/songs/1"])
def test_patch_replaces_the_fields_sent_and_keeps_the_rest(client, content_type, path):
    song = create(client)

    resp = patch(client, path, {"title": "  Jaws (Edit) ", "rating": 5}, 200, None, content_type)

    assert resp.json == {
        **song,
        "title": "Jaws (Edit)",
        "rating": 5,
        "updated_at": resp.json["updated_at"],
    }
    assert resp.json["updated_at"] >= song["updated_at"]
    assert client.get("/api/song/1").json == resp.json


def test_an_empty_patch_changes_nothing_and_answers_200(client, dump):
    song = create(client)
    before = dump()

    resp = patch(client, "/api/song/1", {}, 200)

    assert resp.json == song
    assert dump() == before


def test_patch_ignores_read_only_fields_as_put_does(client):
    song = create(client)

    resp = patch(client, "/api/song/1", {"id": 7, "created_at": "x", "rating": 1}, 200)

    assert (resp.json["id"], resp.json["created_at"]) == (1, song["created_at"])


def test_patch_validates_each_field_sent_and_null_removes_nothing(client, dump):
    create(client)
    before = dump()

    resp = patch(client, "/api/song/1", {"artist": None, "title": " ", "rating": 6, "x": 1}, 422)

    assert resp.json["errors"] == [
        {
            "field": "artist",
            "message": "cannot be removed: every song has an artist, title and rating",
        },
        {"field": "title", "message": "must not be empty or only white space"},
        {"field": "rating", "message": "must be an integer from 1 to 5"},
        {"field": "x", "message": "is not a field of a song (artist, title, rating)"},
    ]
    assert dump() == before


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{", 400), (b"[]", 422), (b"null", 422), (b'{"rating": 1, "rating": 2}', 422)],
)
def test_a_malformed_or_non_object_patch_is_refused(client, body, status):
    create(client)

    patch(client, "/api/song/1", body, status)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "application/json-patch+json", ""],
)
def test_a_patch_of_another_type_is_415_with_accept_patch(client, content_type):
    create(client)

    resp = patch(client, "/api/song/1", b"rating=5", 415, content_type=content_type)

    assert resp.headers["Accept-Patch"] == "application/merge-patch+json, application/json"
    assert resp.json["detail"] == (
        "A patch must be one of application/merge-patch+json, application/json, "
        f"not {content_type or 'untyped'}."
    )


def test_a_patch_to_a_missing_song_is_404(client):
    patch(client, "/api/song/3", {"rating": 1}, 404)
    patch(client, "/api/song/3", b"{", 404)


@pytest.mark.parametrize("path", ["/api/song/1", "/api/songs/1"])
def test_get_and_options_on_a_song_carry_accept_patch(client, path):
    create(client)

    for resp in (client.get(path), client.options(path, status=204)):
        assert resp.headers["Accept-Patch"] == "application/merge-patch+json, application/json"


# Prefer


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/api/songs", 204), ("PUT", "/api/song/1", 204), ("PATCH", "/api/song/1", 204)],
)
def test_prefer_return_minimal_answers_204_with_the_etag_and_no_body(client, method, path, status):
    if method != "POST":
        create(client)

    resp = client.request(
        path,
        method=method,
        body=wire.json_bytes({**SONG, "rating": 5}),
        headers={"Content-Type": "application/json", "Prefer": "return=minimal"},
        status=status,
    )

    assert resp.body == b""
    assert resp.headers["Preference-Applied"] == "return=minimal"
    song = client.get("/api/song/1")
    assert song.json["rating"] == 5
    assert resp.headers["ETag"] == song.headers["ETag"]
    if method == "POST":
        assert resp.headers["Location"] == "/api/song/1"


def test_prefer_return_representation_is_the_default_and_is_acknowledged(client):
    plain = client.post_json("/api/songs", SONG, status=201)
    asked = client.post_json(
        "/api/songs", SONG, headers={"Prefer": 'handling=lenient, return="representation"'}
    )

    assert "Preference-Applied" not in plain.headers
    assert asked.headers["Preference-Applied"] == "return=representation"
    assert asked.json["id"] == 2
    assert asked.headers["Content-Location"] == asked.headers["Location"] == "/api/song/2"


@pytest.mark.parametrize("value", ["return=everything", "respond-async", "wait=5", ";;,,"])
def test_preferences_the_service_does_not_know_are_ignored(client, value):
    resp = client.post_json("/api/songs", SONG, headers={"Prefer": value}, status=201)

    assert resp.json["id"] == 1
    assert "Preference-Applied" not in resp.headers


def test_prefer_return_minimal_on_a_rejected_write_is_still_the_problem(client):
    resp = client.post_json(
        "/api/songs", {"rating": 0}, headers={"Prefer": "return=minimal"}, status=422
    )

    assert resp.json["status"] == 422
