"""Exports: CSV and NDJSON, streamed in batches, every matching song in the sort's order."""

import io
import json
from pathlib import Path

import pytest

from helpers import HTTP_LAYER, create
from helpers.answers import HOSTILE, rows_of
from songs import storage
from songs.storage.common import EXPORT_BATCH

ROOT = Path(__file__).resolve().parent.parent
HEADER = "id,artist,title,rating,created_at,updated_at\r\n"


def test_csv_export_is_rfc_4180_with_a_header_and_every_matching_song(client):
    for artist, title, rating in HOSTILE:
        create(client, artist=artist, title=title, rating=rating)

    resp = client.get("/api/songs.csv?sort=id&min_rating=2")

    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="songs.csv"'
    text = resp.body.decode("utf-8")
    assert text.startswith(HEADER)
    assert text.endswith("\r\n")
    assert '"Commas, Inc."' not in text  # rating 1: filtered out
    assert '"""","""""",2,' in text  # quotes doubled, fields with quotes quoted
    songs = client.get("/api/songs?sort=id&min_rating=2&limit=1000").json
    assert rows_of(text)[1:] == [[str(s[f]) for f in storage.SONG_FIELDS] for s in songs]


@HTTP_LAYER  # parameters and headers, whatever the backend
def test_the_list_is_json_whatever_accept_says_and_names_the_exports(client):
    create(client)

    by_accept = client.get("/api/songs", headers={"Accept": "text/csv"})
    browser = client.get("/api/songs", headers={"Accept": "text/html,*/*;q=0.8"})
    by_format = client.get("/api/songs?format=csv", status=400)

    assert by_accept.content_type == browser.content_type == "application/json"
    assert by_accept.headers["Vary"] == "Accept-Encoding"  # not Accept
    assert by_format.json["errors"] == [
        {
            "parameter": "format",
            "message": "is not a parameter of this list: "
            "exports are at /api/songs.csv and /api/songs.ndjson",
        }
    ]


@HTTP_LAYER  # parameters and headers, whatever the backend
@pytest.mark.parametrize("name", ["limit", "cursor"])
def test_an_export_has_no_pages_so_limit_and_cursor_are_400(client, name):
    resp = client.get(f"/api/songs.csv?{name}=5", status=400)

    assert resp.json["errors"] == [
        {
            "parameter": name,
            "message": "does not apply to an export: it holds every matching song, in one answer",
        }
    ]


def test_an_export_counts_when_asked(client):
    for n in range(3):
        create(client, rating=n + 1)

    assert client.get("/api/songs.ndjson?min_rating=2&count=true").headers["X-Total-Count"] == "2"


def test_ndjson_export_is_one_song_per_line(client):
    for n in range(5):
        create(client, title=f"Song {n}", rating=n + 1)

    resp = client.get("/api/songs.ndjson?rating=2,4", headers={"Accept": "text/csv"})

    assert resp.content_type == "application/x-ndjson"
    lines = resp.body.decode().split("\n")
    assert lines[-1] == ""
    assert [json.loads(line) for line in lines[:-1]] == client.get("/api/songs?rating=2,4").json


def test_an_export_streams_every_song_in_batches_in_order(client, db):
    count = EXPORT_BATCH * 2 + 37
    db.insert_rows(
        "songs",
        ("artist", "title", "rating"),
        [(f"Artist {n % 7}", f"Title {n}", n % 5 + 1) for n in range(count)],
    )
    app = client.app

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/songs.csv", "QUERY_STRING": ""}
    environ.update({"SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http"})
    environ.update({"wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()})
    chunks = list(app(environ, lambda *response: None))

    assert len(chunks) == 3  # one per batch: never the whole export at once
    rows = rows_of(b"".join(chunks).decode())
    assert [int(row[0]) for row in rows[1:]] == list(range(count, 0, -1))


def test_an_export_of_nothing_is_the_header_alone(client):
    assert client.get("/api/songs.csv").body.decode() == HEADER
    assert client.get("/api/songs.ndjson").body == b""


@HTTP_LAYER  # parameters and headers, whatever the backend
def test_an_export_has_no_etag_so_only_a_star_matches_it(client):
    create(client)
    url = "/api/songs.csv"

    assert "ETag" not in client.get(url).headers
    assert client.get(url, headers={"If-Match": '"abc"'}, status=412).json["detail"] == (
        'If-Match "abc" cannot match: an export has no ETag.'
    )
    assert client.get(url, headers={"If-Match": "*"}).body.startswith(HEADER.encode())
    assert client.get(url, headers={"If-None-Match": "*"}, status=304).body == b""
    assert client.get(url, headers={"If-None-Match": '"abc"'}, status=200)


def test_an_export_that_finds_nothing_frees_its_place_for_the_next(client):
    """Bottle never closes an answer with no chunk, so an empty NDJSON export once kept the
    worker's export slot: every later export from that worker was a 503."""
    for _ in range(3):
        assert client.get("/api/songs.ndjson?q=nothing").body == b""

    assert client.get("/api/songs.csv").body.decode() == HEADER


@HTTP_LAYER
def test_an_export_read_to_its_end_frees_its_slot_before_the_server_ends_the_answer(app, client):
    """A server sends an answer's end, then closes its iterable (PEP 3333): a client that
    read one export to its end and asked for the next at once found the slot still held, a
    503, in that moment (seen with curl, one worker, on a busy machine). The slot is free
    once the last chunk has been taken, before close()."""
    for n in range(3):
        create(client, title=f"T{n}")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/songs.ndjson",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    answer = app(environ, lambda status, headers, exc_info=None: None)
    chunks = list(answer)  # as a server reads it, before it sends the end and closes it
    slots = app.config["songs.export_slots"]

    assert len(b"".join(chunks).splitlines()) == 3
    assert slots.acquire(blocking=False), "the slot is still held"
    slots.release()
    answer.close()
    assert slots.acquire(blocking=False)  # and closing does not release it twice
    assert not slots.acquire(blocking=False)
