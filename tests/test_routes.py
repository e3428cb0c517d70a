"""The five routes and /healthz through HTTP, in-process."""

import re

import pytest

from helpers import HTTP_LAYER, SONG, create

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_create_song_answers_201_with_location_and_the_song(client):
    resp = client.post_json("/api/songs", SONG, status=201)

    song = resp.json
    assert resp.content_type == "application/json"
    assert resp.headers["Location"] == f"/api/song/{song['id']}"
    assert list(song) == ["id", "artist", "title", "rating", "created_at", "updated_at"]
    assert {k: song[k] for k in SONG} == SONG
    assert song["id"] == 1
    assert TIMESTAMP.fullmatch(song["created_at"])
    assert song["updated_at"] == song["created_at"]


def test_created_song_reads_back_from_its_location(client):
    resp = client.post_json("/api/songs", SONG, status=201)

    assert client.get(resp.headers["Location"], status=200).json == resp.json


@pytest.mark.parametrize("path", ["/api/song/{id}", "/api/songs/{id}"])
def test_get_song_by_singular_and_plural_path(client, path):
    song = create(client)

    resp = client.get(path.format(id=song["id"]), status=200)

    assert resp.content_type == "application/json"
    assert resp.json == song


@pytest.mark.parametrize("path", ["/api/song/{id}", "/api/songs/{id}"])
def test_put_replaces_the_fields_and_moves_updated_at(client, path):
    song = create(client)
    replacement = {"artist": "Daft Punk", "title": "Aerodynamic", "rating": 5}

    resp = client.put_json(path.format(id=song["id"]), replacement, status=200)

    updated = resp.json
    assert {k: updated[k] for k in replacement} == replacement
    assert updated["id"] == song["id"]
    assert updated["created_at"] == song["created_at"]
    assert TIMESTAMP.fullmatch(updated["updated_at"])
    assert updated["updated_at"] >= song["created_at"]
    assert client.get(f"/api/song/{song['id']}").json == updated


def test_put_accepts_back_what_get_returned(client):
    song = create(client)
    edited = {**client.get(f"/api/song/{song['id']}").json, "rating": 5, "id": 999}

    updated = client.put_json(f"/api/song/{song['id']}", edited, status=200).json

    assert updated["id"] == song["id"]
    assert updated["rating"] == 5
    assert updated["created_at"] == song["created_at"]


@pytest.mark.parametrize("path", ["/api/song/{id}", "/api/songs/{id}"])
def test_delete_answers_204_and_the_song_is_gone(client, path):
    song = create(client)

    resp = client.delete(path.format(id=song["id"]), status=204)

    assert resp.body == b""
    assert "Content-Type" not in resp.headers
    client.get(f"/api/song/{song['id']}", status=404)
    client.delete(f"/api/song/{song['id']}", status=404)


def test_ids_are_never_reused_after_a_delete(client):
    first, second = create(client), create(client)
    client.delete(f"/api/song/{second['id']}", status=204)

    third = create(client)

    assert (first["id"], second["id"], third["id"]) == (1, 2, 3)


def test_list_is_newest_first(client):
    songs = [create(client, title=f"Song {n}") for n in range(3)]

    resp = client.get("/api/songs", status=200)

    assert resp.content_type == "application/json"
    assert resp.json == songs[::-1]
    assert 'rel="next"' not in resp.headers["Link"]


def test_empty_list_is_an_empty_array(client):
    assert client.get("/api/songs", status=200).json == []


def test_head_answers_the_get_headers_without_a_body(client):
    song = create(client)

    get = client.get(f"/api/song/{song['id']}")
    head = client.head(f"/api/song/{song['id']}", status=200)

    assert head.body == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_text_is_stored_and_returned_exactly_as_sent_after_trimming(client):
    song = create(
        client, artist="  Björk\u3000", title="ＡＢＣ 🎵 \"quoted\" 'x'; DROP TABLE songs;--"
    )

    assert song["artist"] == "Björk"
    assert song["title"] == "ＡＢＣ 🎵 \"quoted\" 'x'; DROP TABLE songs;--"
    assert client.get(f"/api/song/{song['id']}").json == song


def test_healthz_answers_ok_after_reading_the_database(client):
    resp = client.get("/healthz", status=200)

    assert resp.content_type == "application/json"
    assert resp.json == {"status": "ok"}


def test_healthz_answers_503_problem_when_the_database_cannot_be_read(client, db):
    db.execute("DROP TABLE songs")

    resp = client.get("/healthz", status=503)

    assert resp.content_type == "application/problem+json"
    assert resp.json == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The database cannot be read.",
        "request_id": resp.headers["X-Request-ID"],
    }


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/songs", "GET, HEAD, OPTIONS, POST"),
        ("/api/song/1", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("/api/songs/1", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/api/openapi.json", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_answers_204_with_allow(client, path, allow):
    create(client)

    resp = client.options(path, status=204)

    assert resp.headers["Allow"] == allow
    assert resp.body == b""


def test_options_on_an_unknown_path_is_404(client):
    client.options("/api/nothing", status=404)


def test_options_on_a_missing_song_is_404(client):
    resp = client.options("/api/song/99", status=404)

    assert resp.json["detail"] == "Song 99 does not exist."


def test_an_unexpected_error_carries_the_request_id(client, db):
    db.execute("DROP TABLE songs")

    resp = client.get("/api/song/1", headers={"X-Request-ID": "trace-500"}, expect_errors=True)

    assert resp.status_int == 500
    assert resp.headers["X-Request-ID"] == "trace-500"
    assert resp.json["request_id"] == "trace-500"
