"""Batches: POST /api/songs with a JSON array or a CSV body creates every song or none."""

import json

import pytest

from helpers import HTTP_LAYER, POSTGRES_POOLED, SONG
from helpers.databases import statements_counted

CSV = "text/csv"


def songs(count, start=0):
    return [
        {"artist": f"Artist {n}", "title": f"Title {n}", "rating": 1 + n % 5}
        for n in range(start, start + count)
    ]


def as_csv(batch, header="artist,title,rating"):
    lines = [header, *(f"{s['artist']},{s['title']},{s['rating']}" for s in batch)]
    return ("\r\n".join(lines) + "\r\n").encode()


def post_csv(client, body, status=201, **headers):
    return client.post("/api/songs", body, headers={"Content-Type": CSV, **headers}, status=status)


def count(db):
    return db.execute("SELECT count(*) FROM songs").fetchone()[0]


def test_a_batch_of_a_thousand_is_created_in_one_transaction(client, db, backend):
    batch = songs(1000)

    resp = client.post_json("/api/songs", batch, status=201)

    created = resp.json
    assert [{k: s[k] for k in SONG} for s in created] == batch  # in the batch's order
    ids = [s["id"] for s in created]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert len({s["created_at"] for s in created}) == 1  # one transaction's moment
    assert "Location" not in resp.headers and "ETag" not in resp.headers
    assert count(db) == 1000
    if backend != "sqlite":  # PostgreSQL names the transaction that wrote each row
        assert db.execute("SELECT count(DISTINCT xmin::text) FROM songs").fetchone()[0] == 1
    assert client.get(f"/api/song/{ids[500]}").json == created[500]
    history = client.get(f"/api/song/{ids[999]}/history").json
    assert [entry["op"] for entry in history] == ["create"]
    feed = client.get("/api/changes?limit=1000").json
    assert [change["song"]["id"] for change in feed["changes"]] == ids


@POSTGRES_POOLED
def test_a_batch_is_one_statement_on_postgresql_however_many_songs(client, db):
    """PostgreSQL plans each statement anew (the service prepares none): a batch written a
    statement a song spent most of its time being planned. A statement-level trigger counts
    the INSERTs that reach each table."""
    seen = statements_counted(db)

    created = client.post_json("/api/songs", songs(1000), status=201).json

    assert seen() == {("songs", "INSERT"): 1, ("song_changes", "INSERT"): 1}
    assert [song["title"] for song in created] == [song["title"] for song in songs(1000)]


def test_a_batch_with_one_bad_item_creates_nothing_and_names_it(client, dump):
    batch = songs(10)
    batch[3]["rating"] = 9
    batch[7] = {"artist": "", "title": "Fine", "rating": 2, "genre": "pop"}
    before = dump()

    resp = client.post_json("/api/songs", batch, status=422)

    assert resp.content_type == "application/problem+json"
    assert resp.json["errors"] == [
        {"pointer": "/3/rating", "message": "must be an integer from 1 to 5"},
        {"pointer": "/7/artist", "message": "must not be empty or only white space"},
        {"pointer": "/7/genre", "message": "is not a field of a song (artist, title, rating)"},
    ]
    assert resp.json["error_count"] == 3
    assert resp.json["detail"].startswith("Nothing was created: 3 errors in the batch: /3/rating")
    assert dump() == before


@HTTP_LAYER  # refused before any write
def test_each_item_must_be_an_object_and_pointers_escape_names(client, dump):
    before = dump()

    resp = client.post_json("/api/songs", [SONG, [1], "x", {**SONG, "a/b~c": 1}], status=422)

    assert [error["pointer"] for error in resp.json["errors"]] == ["/1", "/2", "/3/a~1b~0c"]
    assert resp.json["errors"][0]["message"] == "must be an object, not an array"
    assert dump() == before


def test_a_csv_body_is_a_batch_too(client, db):
    batch = songs(3)

    resp = post_csv(client, as_csv(batch))

    assert [{k: s[k] for k in SONG} for s in resp.json] == batch
    assert count(db) == 3


def test_an_export_posted_back_is_the_same_songs(client, db):
    client.post_json("/api/songs", songs(5))
    exported = client.get("/api/songs.csv?sort=id").body

    again = post_csv(client, exported)

    assert [{k: s[k] for k in SONG} for s in again.json] == songs(5)  # id, times: ignored
    assert count(db) == 10


def test_a_csv_body_with_a_bad_line_creates_nothing_and_names_the_line(client, dump):
    body = b'artist,title,rating\r\nA,"One, two",3\r\n\r\nB,C,six\r\nD,E\r\n'
    before = dump()

    resp = post_csv(client, body, status=422)

    assert resp.json["errors"] == [
        {
            "line": 4,
            "field": "rating",
            "message": "must be a whole number from 1 to 5, in decimal digits",
        },
        {"line": 5, "field": None, "message": "2 fields, the header has 3"},
    ]
    assert "line 4 rating: must be a whole number" in resp.json["detail"]
    assert dump() == before


@HTTP_LAYER
@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"artist,name\r\nA,B\r\n", 422, "the header must name artist, title and rating"),
        (b"artist,title,rating\r\n", 422, "The CSV body holds no songs"),
        (b"", 422, "the header must name"),
        (b"artist,title,rating\r\nA,\xff,3\r\n", 400, "not valid UTF-8"),
        (b'artist,title,rating\r\nA,"B\r\n', 422, "The CSV body cannot be read"),
    ],
)
def test_a_csv_body_that_is_no_batch_is_refused_and_says_why(client, dump, body, status, says):
    before = dump()

    resp = post_csv(client, body, status=status)

    assert says in resp.json["detail"]
    assert dump() == before


def test_a_replayed_batch_key_returns_the_same_songs_and_adds_none(client, db):
    first = client.post_json("/api/songs", songs(20), headers={"Idempotency-Key": "load-1"})

    again = client.post_json("/api/songs", songs(20), headers={"Idempotency-Key": "load-1"})
    other = client.post_json(
        "/api/songs", songs(20, 1), headers={"Idempotency-Key": "load-1"}, status=422
    )
    one = client.post_json("/api/songs", SONG, headers={"Idempotency-Key": "load-1"}, status=422)

    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "different song or batch" in other.json["detail"] == one.json["detail"]
    assert count(db) == 20


def test_a_batch_with_prefer_minimal_has_no_body(client, db):
    resp = client.post_json(
        "/api/songs", songs(2), headers={"Prefer": "return=minimal"}, status=204
    )

    assert resp.body == b""
    assert resp.headers["Preference-Applied"] == "return=minimal"
    assert count(db) == 2


@HTTP_LAYER
def test_a_batch_holds_one_to_max_batch_songs(make_app, dump):
    from webtest import TestApp

    client = TestApp(make_app(max_batch_songs=3))
    before = dump()

    too_many = client.post_json("/api/songs", songs(4), status=422)
    too_many_lines = post_csv(client, as_csv(songs(4)), status=422)
    empty = client.post_json("/api/songs", [], status=422)

    assert "more than 3 songs" in too_many.json["detail"]
    assert "MAX_BATCH_SONGS" in too_many_lines.json["detail"]
    assert "holds no songs" in empty.json["detail"]
    assert dump() == before


@HTTP_LAYER
def test_a_batch_may_be_larger_than_a_song_may(make_app, db):
    from webtest import TestApp

    client = TestApp(make_app(max_body_bytes=1000, max_batch_songs=10))
    long = {**SONG, "title": "t" * 490, "artist": "a" * 490}

    client.post_json("/api/songs", [long, long], status=201)  # 2 KB within 10 KiB
    resp = client.post_json("/api/songs", long, status=413)  # one song over MAX_BODY_BYTES

    assert resp.json["detail"] == "The request body is larger than the limit of 1000 bytes."
    assert count(db) == 2


@HTTP_LAYER
def test_a_body_of_another_type_is_415_naming_csv_too(client):
    resp = client.post("/api/songs", b"<song/>", headers={"Content-Type": "text/xml"}, status=415)

    assert "text/csv" in resp.headers["Accept"]
    assert json.loads(resp.body)["status"] == 415
