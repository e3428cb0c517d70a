"""Idempotency-Key on POST: a retry gets the original song back instead of a duplicate."""

import json
import socket

import pytest

from helpers import HTTP_LAYER, POOLED, SONG

pytestmark = POOLED  # through PgBouncer too, in transaction pooling mode


def post(client, key, song=SONG, status=201, **headers):
    return client.post_json(
        "/api/songs", song, headers={"Idempotency-Key": key, **headers}, status=status
    )


def count(db):
    return db.execute("SELECT count(*) FROM songs").fetchone()[0]


def test_a_retry_with_the_same_key_and_body_returns_the_original_song(client, db):
    first = post(client, "order-7f3a")

    again = post(client, "order-7f3a")

    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(db) == 1


def test_the_retry_gets_the_song_as_created_even_after_it_changed(client, db):
    first = post(client, "order-1")
    client.patch_json(first.headers["Location"], {"rating": 1})

    assert post(client, "order-1").json == first.json
    assert count(db) == 1


def test_the_same_key_with_a_different_song_is_422_and_adds_nothing(client, db, dump):
    post(client, "order-2")
    before = dump()

    resp = post(client, "order-2", {**SONG, "rating": 1}, status=422)

    assert "different song" in resp.json["detail"]
    assert dump() == before


@HTTP_LAYER  # refused or read before any write, whatever the backend
def test_the_same_song_sent_another_way_is_the_same_request(client, db):
    first = post(client, "order-3", {**SONG, "artist": f"  {SONG['artist']} "})

    form = client.post(
        "/api/songs",
        {k: str(v) for k, v in SONG.items()},
        headers={"Idempotency-Key": "order-3"},
        status=201,
    )

    assert form.json == first.json
    assert count(db) == 1


def test_different_keys_and_no_key_each_create_a_song(client, db):
    post(client, "a")
    post(client, "b")
    client.post_json("/api/songs", SONG, status=201)
    client.post_json("/api/songs", SONG, status=201)

    assert count(db) == 4


def test_a_key_is_forgotten_after_24_hours(client, db):
    first = post(client, "order-4")
    db.execute("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00.000Z'")

    again = post(client, "order-4")

    assert again.json["id"] != first.json["id"]
    assert count(db) == 2


@HTTP_LAYER  # refused or read before any write, whatever the backend
@pytest.mark.parametrize("key", ["", "x" * 256, "sp ace", "caf\u00e9"])
def test_a_malformed_key_is_400_and_adds_nothing(client, db, key):
    resp = client.post_json(
        "/api/songs", SONG, headers={"Idempotency-Key": key.encode().decode("latin-1")}, status=400
    )

    assert resp.json["detail"] == "Idempotency-Key must be 1 to 255 visible ASCII characters."
    assert count(db) == 0


@HTTP_LAYER  # refused or read before any write, whatever the backend
def test_an_invalid_body_with_a_key_is_not_remembered(client, db):
    post(client, "order-5", {"artist": "x"}, status=422)

    assert post(client, "order-5").json["id"] == 1


def test_a_post_cut_short_is_refused_and_its_retry_creates_the_whole_song(start_gunicorn, db):
    server = start_gunicorn(workers=1)
    body = b"artist=Nina%20Simone&rating=4&title=Feeling%20Good%20(Live)"
    head = (
        "POST /api/songs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: order-9\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body[:-12])  # the connection drops 12 bytes early
        sock.shutdown(socket.SHUT_WR)
        cut = sock.makefile("rb").readline()

    status, _, created = server.request(
        "POST",
        "/api/songs",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": "order-9"},
    )

    assert cut.split()[1] == b"400"
    assert status == 201
    assert json.loads(created)["title"] == "Feeling Good (Live)"
    assert db.execute("SELECT title FROM songs").fetchall() == [("Feeling Good (Live)",)]
