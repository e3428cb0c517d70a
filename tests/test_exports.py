"""Exports: CSV and NDJSON, streamed in batches, every matching song in the sort's order."""

import csv
import io
import json
from pathlib import Path

from conftest import create
from songs import storage
from songs.storage.common import EXPORT_BATCH

ROOT = Path(__file__).resolve().parent.parent
HEADER = "id,artist,title,rating,created_at,updated_at\r\n"
HOSTILE = [
    ("Commas, Inc.", 'He said "hi", then left', 1),
    ('"', '""', 2),
    ('=HYPERLINK("http://x")', "=1+2", 3),
    ("+SUM(A1:A9)", "-2+3", 4),
    ("@cmd", "\u202eevil\u202c txt", 5),
    ("Sigur Rós", "Hoppípolla 🎵", 4),
    ("x" * 500, "a\u00a0b\u3000c", 3),
    ("'quoted'", "tab\u2003inside; semi", 2),
    ("back\\slash", "NULL", 1),
]


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_export_is_rfc_4180_with_a_header_and_every_matching_song(client):
    for artist, title, rating in HOSTILE:
        create(client, artist=artist, title=title, rating=rating)

    resp = client.get("/api/songs?format=csv&sort=id&min_rating=2")

    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="songs.csv"'
    text = resp.body.decode("utf-8")
    assert text.startswith(HEADER)
    assert text.endswith("\r\n")
    assert '"Commas, Inc."' not in text  # rating 1: filtered out
    assert '"""","""""",2,' in text  # quotes doubled, fields with quotes quoted
    songs = client.get("/api/songs?sort=id&min_rating=2&limit=1000").json
    assert rows_of(text)[1:] == [[str(s[f]) for f in storage.SONG_FIELDS] for s in songs]


def test_accept_text_csv_gets_csv_and_the_format_parameter_wins(client):
    create(client)

    by_accept = client.get("/api/songs", headers={"Accept": "text/csv"})
    by_preference = client.get(
        "/api/songs", headers={"Accept": "application/json;q=0.5, text/csv;q=0.9"}
    )
    refused = client.get("/api/songs", headers={"Accept": "text/csv;q=0, */*"})
    explicit = client.get("/api/songs?format=json", headers={"Accept": "text/csv"})
    browser = client.get("/api/songs", headers={"Accept": "text/html,*/*;q=0.8"})

    assert by_accept.content_type == by_preference.content_type == "text/csv"
    assert refused.content_type == explicit.content_type == browser.content_type
    assert browser.content_type == "application/json"
    assert by_accept.headers["Vary"] == "Accept"


def test_ndjson_export_is_one_song_per_line(client):
    for n in range(5):
        create(client, title=f"Song {n}", rating=n + 1)

    resp = client.get("/api/songs?format=ndjson&rating=2,4", headers={"Accept": "text/csv"})

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

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/songs", "QUERY_STRING": "format=csv"}
    environ.update({"SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http"})
    environ.update({"wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()})
    chunks = list(app(environ, lambda *response: None))

    assert len(chunks) == 3  # one per batch: never the whole export at once
    rows = rows_of(b"".join(chunks).decode())
    assert [int(row[0]) for row in rows[1:]] == list(range(count, 0, -1))


def test_an_export_of_nothing_is_the_header_alone(client):
    assert client.get("/api/songs?format=csv").body.decode() == HEADER
    assert client.get("/api/songs?format=ndjson").body == b""


def test_an_export_has_no_etag_so_only_a_star_matches_it(client):
    create(client)
    url = "/api/songs?format=csv"

    assert "ETag" not in client.get(url).headers
    assert client.get(url, headers={"If-Match": '"abc"'}, status=412).json["detail"] == (
        'If-Match "abc" cannot match: an export has no ETag.'
    )
    assert client.get(url, headers={"If-Match": "*"}).body.startswith(HEADER.encode())
    assert client.get(url, headers={"If-None-Match": "*"}, status=304).body == b""
    assert client.get(url, headers={"If-None-Match": '"abc"'}, status=200)
