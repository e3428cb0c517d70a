"""Exports (CSV and NDJSON, streamed), and make seed, import and export on real files."""

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

import service
import storage
from conftest import create

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


def make(*args, env=None):
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        env={**__import__("os").environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    assert rows_of(text)[1:] == [[str(s[f]) for f in service.SONG_FIELDS] for s in songs]


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
    count = storage.EXPORT_BATCH * 2 + 37
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


def test_hostile_values_round_trip_through_make_import_and_make_export(client, tmp_path):
    for artist, title, rating in HOSTILE:
        create(client, artist=artist, title=title, rating=rating)
    exported = tmp_path / "songs.csv"
    exported.write_bytes(client.get("/api/songs?format=csv&sort=id").body)
    copy = f"sqlite:///{tmp_path / 'copy.db'}"

    imported = make("import", f"FILE={exported}", env={"DATABASE_URL": copy})
    again = make("export", f"FILE={tmp_path / 'again.csv'}", env={"DATABASE_URL": copy})

    assert imported.returncode == 0, imported.stderr
    assert f"{len(HOSTILE)} songs imported" in imported.stdout
    assert again.returncode == 0, again.stderr
    original = [row[1:4] for row in rows_of(exported.read_text(encoding="utf-8"))]
    copied = [row[1:4] for row in rows_of((tmp_path / "again.csv").read_text(encoding="utf-8"))]
    assert copied == original
    assert original[1:] == [[a, t, str(r)] for a, t, r in HOSTILE]


def test_import_reports_the_line_and_field_of_every_bad_row_and_adds_nothing(
    client, tmp_path, database_url, dump
):
    create(client)
    before = dump()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "artist,title,rating\r\n"
        "Good,Song,5\r\n"
        'Spans,"two\r\nlines",3\r\n'
        ",Empty artist,9\r\n"
        "Too,many,3,fields\r\n"
        "\r\n"
        "Fine,Again,2\r\n",
        encoding="utf-8",
        newline="",
    )

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: title must not contain a control character (U+000D at index 3)",
        "line 5: artist must not be empty or only white space",
        "line 5: rating must be a whole number from 1 to 5, in decimal digits",
        "line 6: 4 fields, the header has 3",
    ]
    assert f"{bad}: nothing imported, 4 errors" in result.stderr
    assert dump() == before


@pytest.mark.parametrize(
    "header",
    ["artist,title", "artist,title,rating,genre", "artist,title,rating,artist", ""],
)
def test_import_refuses_a_header_that_is_not_the_exports(tmp_path, database_url, header):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header}\r\nA,B,3\r\n")

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert "line 1: the header must name artist, title and rating" in result.stderr


def test_import_of_a_file_that_is_not_utf8_adds_nothing(tmp_path, database_url, db):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"artist,title,rating\r\nA,B,3\r\nCaf\xe9,B,3\r\n")

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert "not UTF-8 CSV" in result.stderr
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (0,)


def test_make_export_never_overwrites_a_file(tmp_path, database_url):
    target = tmp_path / "keep.csv"
    target.write_text("precious")

    result = make("export", f"FILE={target}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert target.read_text() == "precious"


def test_make_seed_adds_n_songs_that_every_query_can_find(tmp_path, client, database_url):
    result = make("seed", "N=2500", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    resp = client.get("/api/songs?count=true&limit=1")
    assert resp.headers["X-Total-Count"] == "2500"
    artist = resp.json[0]["artist"]
    assert int(client.get(f"/api/songs?artist={artist}&count=true").headers["X-Total-Count"]) > 1
    word = artist.split()[0][:4]
    found = client.get(f"/api/songs?q={word}&count=true").headers["X-Total-Count"]
    assert int(found) > 1


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


def test_import_of_a_missing_file_says_so(tmp_path, database_url):
    result = make(
        "import",
        f"FILE={tmp_path / 'none.csv'}",
        env={"DATABASE_URL": database_url},
    )

    assert result.returncode != 0
    assert f"{tmp_path / 'none.csv'}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_import_of_many_bad_rows_shows_the_first_hundred_and_counts_the_rest(
    tmp_path, database_url, db
):
    bad = tmp_path / "bad.csv"
    bad.write_text("artist,title,rating\n" + "A,B,9\n" * 5000)

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert len([line for line in lines if line.startswith("line ")]) == 100
    assert f"{bad}: nothing imported, 5000 errors (4900 more not shown)" in lines
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (0,)


def test_an_import_reads_a_rating_with_more_leading_zeros_than_int_reads(
    tmp_path, database_url, db
):
    songs = tmp_path / "zeros.csv"
    songs.write_text("artist,title,rating\nA,B," + "0" * 5000 + "4\n")

    result = make("import", f"FILE={songs}", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    assert db.execute("SELECT rating FROM songs").fetchall() == [(4,)]
