"""gzip: answers a client accepts it for are compressed, decompress to the same bytes, say
Vary: Accept-Encoding, and carry an ETag of their own that conditional requests honour."""

import gzip
import http.client
import zlib

import pytest
from webob import Request

from helpers import HTTP_LAYER, SONG
from songs.compression import MIN_BYTES, accepts_gzip

pytestmark = HTTP_LAYER  # the HTTP layer, the same on every backend

GZIP = {"Accept-Encoding": "gzip"}


class Raw:
    """The app through WSGI as a server calls it, its answers as sent: WebTest's own
    responses undo gzip."""

    def __init__(self, app):
        self.app = app

    def get(self, path, headers=None, method="GET", body=None, status=None):
        request = Request.blank(path, headers=headers or {}, method=method)
        if body is not None:
            request.body, request.content_type = body, "application/json"
        answer = request.get_response(self.app)
        assert status is None or answer.status_int == status, answer
        return answer

    def head(self, path, headers=None):
        return self.get(path, headers, method="HEAD")


@pytest.fixture
def raw(app):
    return Raw(app)


@pytest.fixture
def filled(client, raw):
    client.post_json("/api/songs", [{**SONG, "title": f"Song {n}"} for n in range(60)])
    return raw


@pytest.mark.parametrize(
    "path", ["/api/songs", "/api/songs?limit=20&sort=title", "/", "/api/openapi.json", "/api"]
)
def test_a_compressed_answer_is_the_same_bytes_with_its_own_etag(filled, path):
    plain = filled.get(path)
    packed = filled.get(path, headers=GZIP)

    assert packed.headers["Content-Encoding"] == "gzip"
    assert (
        "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )
    assert int(packed.headers["Content-Length"]) == len(packed.body) < len(plain.body)
    if path.startswith("/api/songs"):  # pages are made anew each time: their CSRF, the flash
        assert gzip.decompress(packed.body) == plain.body
        assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    assert "Content-Encoding" not in plain.headers


def test_a_small_answer_is_left_as_it_is_but_says_it_varies(client, raw):
    client.post_json("/api/songs", SONG)

    one = raw.get("/api/song/1", headers=GZIP)

    assert len(one.body) < MIN_BYTES
    assert "Content-Encoding" not in one.headers
    assert one.headers["Vary"] == "Accept-Encoding"
    assert one.headers["ETag"].endswith('"') and "-gzip" not in one.headers["ETag"]


def test_either_etag_gives_a_304_naming_the_one_the_client_holds(filled):
    plain = filled.get("/api/songs")
    packed = filled.get("/api/songs", headers=GZIP)

    again = filled.get("/api/songs", headers={**GZIP, "If-None-Match": packed.headers["ETag"]})
    plain_again = filled.get("/api/songs", headers={"If-None-Match": plain.headers["ETag"]})
    crossed = filled.get("/api/songs", headers={**GZIP, "If-None-Match": plain.headers["ETag"]})

    assert again.status_int == plain_again.status_int == crossed.status_int == 304
    assert again.headers["ETag"] == packed.headers["ETag"]
    assert plain_again.headers["ETag"] == plain.headers["ETag"]


def test_a_gzip_etag_guards_a_write_as_the_plain_one_does(client, raw):
    client.post_json("/api/songs", {**SONG, "title": "x" * 500, "artist": "y" * 500})
    read = raw.get("/api/song/1", headers=GZIP)
    assert read.headers["Content-Encoding"] == "gzip"
    etag = read.headers["ETag"]

    client.patch_json("/api/song/1", {"rating": 1}, headers={"If-Match": etag})
    stale = client.patch_json("/api/song/1", {"rating": 2}, headers={"If-Match": etag}, status=412)

    assert stale.json["status"] == 412
    assert client.get("/api/song/1").json["rating"] == 1


@pytest.mark.parametrize(
    ("accept_encoding", "accepted"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000, *", False),
        ("*", True),
        ("*;q=0", False),
        ("br, deflate", False),
        ("identity", False),
        ("", False),
        ("GZIP", True),
        ("gzip;q=1.2.3", False),
        ("gzip;q=.", False),  # no number: a ValueError, and a 500, before RFC 9110's qvalue
        ("gzip;q=2", False),
    ],
)
def test_accept_encoding_is_read_as_rfc_9110_says(accept_encoding, accepted):
    assert accepts_gzip(accept_encoding) is accepted


def test_a_malformed_accept_encoding_is_no_gzip_and_no_error(filled):
    answer = filled.get("/api/songs", headers={"Accept-Encoding": "gzip;q=."}, status=200)

    assert "Content-Encoding" not in answer.headers


def test_head_says_what_get_would_without_a_length(filled):
    get = filled.get("/api/songs", headers=GZIP)
    head = filled.head("/api/songs", headers=GZIP)

    assert head.headers["Content-Encoding"] == "gzip"
    assert head.headers["ETag"] == get.headers["ETag"]
    assert "Content-Length" not in head.headers


def test_an_error_problem_is_compressed_only_when_large(raw):
    small = raw.get("/api/songs?rating=9", headers=GZIP, status=400)
    large = raw.get(f"/api/songs?{'&'.join(f'p{n}=1' for n in range(40))}", headers=GZIP)

    assert "Content-Encoding" not in small.headers
    assert large.status_int == 400 and large.headers["Content-Encoding"] == "gzip"
    assert b"p39 is not a parameter" in gzip.decompress(large.body)


def test_streamed_exports_are_compressed_as_they_stream(start_gunicorn):
    server = start_gunicorn(env={"MAX_BATCH_SONGS": "3000"})  # three export batches
    csv_body = "artist,title,rating\r\n" + "".join(f"A {n},T {n},3\r\n" for n in range(3000))
    status, _, _ = server.request(
        "POST", "/api/songs", csv_body.encode(), {"Content-Type": "text/csv"}
    )
    assert status == 201

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for path in ("/api/songs.csv?sort=id", "/api/songs.ndjson?sort=id"):
        conn.request("GET", path)
        plain = conn.getresponse().read()
        conn.request("GET", path, headers=GZIP)
        answer = conn.getresponse()
        packed = answer.read()

        assert answer.getheader("Content-Encoding") == "gzip"
        assert answer.getheader("Transfer-Encoding") == "chunked"
        assert answer.getheader("Vary") == "Accept-Encoding"
        assert zlib.decompress(packed, wbits=31) == plain
        assert len(packed) < len(plain) / 4
    conn.close()
