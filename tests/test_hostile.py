# ruff: noqa: E501  (the table reads best one case a line)
"""What a stranger can send, over a real socket to real gunicorn: always a 4xx, never a change;
and SQL in a valid field, stored and found literally.

Each case is raw bytes on a new connection. The app answers with a problem
(application/problem+json); where gunicorn rejects the request before the app sees it,
the case says so ("gunicorn") and gunicorn's own short HTML error is the answer.
"""

import base64
import json
import socket
from urllib.parse import quote

import pytest

from helpers import SONG
from songs import cursors, listing

SONG_JSON = json.dumps(SONG).encode()


def request(method, path, body=b"", content_type="application/json", headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines += headers
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def chunked(method, path, body, size=4096):
    head = request(method, path, content_type="application/json")
    head = head.replace(b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n")
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    return head + chunks + b"0\r\n\r\n"


def song_with(**fields):
    return json.dumps({**SONG, **fields}).encode()


def forged_cursor(after, sort="title"):
    """A cursor made up by hand for ?sort=`sort`, its fingerprint right: only `after` is bad."""
    fingerprint = cursors.query_fingerprint({}, listing.read_sort(sort)[0])
    token = json.dumps({"after": after, "query": fingerprint}).encode()  # ASCII, \\ud800 escaped
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def cut_short(raw, missing):
    """`raw` with the last `missing` bytes of its body gone, its Content-Length unchanged."""
    return raw[:-missing]


def multipart(part_headers=b"", content_type="multipart/form-data; boundary=x"):
    fields = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="%s"\r\n%s\r\n%s\r\n'
        % (name, part_headers, value)
        for name, value in ((b"artist", b"a"), (b"title", b"t"), (b"rating", b"3"))
    )
    return request("POST", "/api/songs", fields + b"--x--\r\n", content_type=content_type)


FORM = "application/x-www-form-urlencoded"
SQL = "'; DROP TABLE songs; --"
NESTED = b'{"artist": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
CASES = {  # name: (raw request, expected status, who answers)
    # JSON bodies
    "rating 1e400 (infinity once parsed)": (request("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": 1e400}'), 422, "app"),
    "rating a huge negative integer": (request("POST", "/api/songs", song_with(rating=-(10**40))), 422, "app"),
    "rating with 5,000 digits": (request("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": ' + b"9" * 5000 + b"}"), 422, "app"),
    "rating NaN": (request("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": NaN}'), 400, "app"),
    "rating Infinity": (request("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": Infinity}'), 400, "app"),
    "rating -Infinity": (request("POST", "/api/songs", b'{"artist": "a", "title": "t", "rating": -Infinity}'), 400, "app"),
    "rating true": (request("POST", "/api/songs", song_with(rating=True)), 422, "app"),
    "rating a string of SQL": (request("POST", "/api/songs", song_with(rating="1 OR 1=1")), 422, "app"),
    "20,000 nested arrays": (request("POST", "/api/songs", NESTED), 400, "app"),
    "a batch with a number in it": (request("POST", "/api/songs", b"[" + SONG_JSON + b", 42]"), 422, "app"),
    "a batch of 1,001 songs": (request("POST", "/api/songs", b"[" + b", ".join([SONG_JSON] * 1001) + b"]"), 422, "app"),
    "a CSV batch with a stray quote": (request("POST", "/api/songs", b'artist,title,rating\r\nA,"B,3\r\n', content_type="text/csv"), 422, "app"),
    "a CSV batch with a NUL": (request("POST", "/api/songs", b"artist,title,rating\r\nA,B\x00,3\r\n", content_type="text/csv"), 422, "app"),
    "a body that is a number": (request("POST", "/api/songs", b"42"), 422, "app"),
    "a body that is a string": (request("POST", "/api/songs", b'"song"'), 422, "app"),
    "a body that is null": (request("POST", "/api/songs", b"null"), 422, "app"),
    "an empty body": (request("POST", "/api/songs", b""), 400, "app"),
    "duplicate keys": (request("POST", "/api/songs", b'{"artist": "a", "artist": "b", "title": "t", "rating": 3}'), 422, "app"),
    "invalid UTF-8": (request("POST", "/api/songs", b'{"artist": "\xff\xfe", "title": "t", "rating": 3}'), 400, "app"),
    "a UTF-8 byte order mark": (request("POST", "/api/songs", b"\xef\xbb\xbf" + SONG_JSON), 400, "app"),
    "NUL in a title": (request("POST", "/api/songs", song_with(title="a\u0000b")), 422, "app"),
    "escape in an artist": (request("POST", "/api/songs", song_with(artist="\u001b[31mred")), 422, "app"),
    "DEL in a title": (request("POST", "/api/songs", song_with(title="a\u007f")), 422, "app"),
    "a lone surrogate": (request("POST", "/api/songs", b'{"artist": "\\ud800", "title": "t", "rating": 3}'), 422, "app"),
    "a 501-character title": (request("POST", "/api/songs", song_with(title="x" * 501)), 422, "app"),
    "a title of spaces": (request("POST", "/api/songs", song_with(title="   ")), 422, "app"),
    "an unknown field": (request("POST", "/api/songs", song_with(genre=SQL)), 422, "app"),
    "a nested object as artist": (request("POST", "/api/songs", song_with(artist={"$gt": ""})), 422, "app"),
    "10 MB body": (request("POST", "/api/songs", b"x" * 10_000_000), 413, "app"),
    "a chunked body over MAX_BODY_BYTES": (chunked("POST", "/api/songs", b" " * 70_000 + SONG_JSON), 413, "app"),
    "text/plain": (request("POST", "/api/songs", SONG_JSON, content_type="text/plain"), 415, "app"),
    "no Content-Type": (request("POST", "/api/songs", SONG_JSON, content_type=None), 415, "app"),
    "application/xml": (request("POST", "/api/songs", b"<song/>", content_type="application/xml"), 415, "app"),
    "a form with a bad rating": (request("POST", "/api/songs", b"artist=a&title=t&rating=1e3", content_type="application/x-www-form-urlencoded"), 422, "app"),
    "a form not UTF-8": (request("POST", "/api/songs", b"artist=%FF&title=t&rating=3", content_type="application/x-www-form-urlencoded"), 400, "app"),
    "a multipart body with no boundary": (request("POST", "/api/songs", b"--x\r\n", content_type="multipart/form-data"), 400, "app"),
    "a multipart type with a charset parameter": (multipart(content_type="multipart/form-data; boundary=x; charset=no-such-charset"), 400, "app"),
    "a multipart type with a parameter without =": (multipart(content_type="multipart/form-data; boundary=x; junk"), 400, "app"),
    "a multipart part whose Content-Length is not a number": (multipart(b"Content-Length: ten\r\n"), 400, "app"),
    # bodies that end before their Content-Length: the client's connection dropped
    "a form POST 12 bytes short": (cut_short(request("POST", "/api/songs", b"artist=Nina%20Simone&rating=4&title=Feeling%20Good%20(Live)", content_type=FORM), 12), 400, "app"),
    "a form PUT 12 bytes short": (cut_short(request("PUT", "/api/song/1", b"artist=Nina%20Simone&rating=4&title=Feeling%20Good%20(Live)", content_type=FORM), 12), 400, "app"),
    "a JSON PATCH whose body never came": (cut_short(request("PATCH", "/api/song/1", b'{"title": "Sabotage"}'), 21), 400, "app"),
    "a PUT of an array": (request("PUT", "/api/song/1", b"[1, 2]"), 422, "app"),
    "a PATCH removing a field": (request("PATCH", "/api/song/1", b'{"title": null}'), 422, "app"),
    "a PATCH as text/plain": (request("PATCH", "/api/song/1", b'{"rating": 1}', content_type="text/plain"), 415, "app"),
    "a PUT with a stale If-Match": (request("PUT", "/api/song/1", SONG_JSON, headers=['If-Match: "0"']), 412, "app"),
    "a DELETE with a garbage If-Match": (request("DELETE", "/api/song/1", headers=["If-Match: ' OR 1=1"]), 412, "app"),
    "a bad Idempotency-Key": (request("POST", "/api/songs", SONG_JSON, headers=["Idempotency-Key: " + "k" * 300]), 400, "app"),
    # query parameters
    "limit=0": (request("GET", "/api/songs?limit=0"), 400, "app"),
    "limit holding SQL": (request("GET", "/api/songs?limit=1;DELETE%20FROM%20songs"), 400, "app"),
    "min_rating holding SQL": (request("GET", "/api/songs?min_rating=1%20OR%201=1"), 400, "app"),
    "max_rating holding SQL": (request("GET", "/api/songs?max_rating=5)--"), 400, "app"),
    "created_before holding SQL": (request("GET", "/api/songs?created_before=%27%20OR%20%27%27=%27"), 400, "app"),
    "updated_after holding SQL": (request("GET", "/api/songs?updated_after=0;DROP%20TABLE%20songs"), 400, "app"),
    "updated_before holding SQL": (request("GET", "/api/songs?updated_before=x%27)%20UNION%20SELECT%201--"), 400, "app"),
    "count holding SQL": (request("GET", "/api/songs?count=true%20OR%201=1"), 400, "app"),
    "format holding SQL": (request("GET", "/api/songs?format=csv%27;--"), 400, "app"),
    "an Idempotency-Key holding SQL": (request("POST", "/api/songs", SONG_JSON, headers=["Idempotency-Key: '; DROP TABLE songs; --"]), 400, "app"),
    "limit=-1": (request("GET", "/api/songs?limit=-1"), 400, "app"),
    "limit with 30 digits": (request("GET", "/api/songs?limit=" + "9" * 30), 400, "app"),
    "rating=9": (request("GET", "/api/songs?rating=9"), 400, "app"),
    "rating=1 OR 1=1": (request("GET", "/api/songs?rating=1%20OR%201=1"), 400, "app"),
    "sort holding SQL": (request("GET", "/api/songs?sort=id;%20DROP%20TABLE%20songs"), 400, "app"),
    "sort by a column not offered": (request("GET", "/api/songs?sort=rowid"), 400, "app"),
    "a cursor holding SQL": (request("GET", "/api/songs?cursor=%27%20OR%20%271%27=%271"), 400, "app"),
    "a forged cursor with a lone surrogate": (request("GET", "/api/songs?sort=title&cursor=" + forged_cursor(["\ud800", 1])), 400, "app"),
    "a forged cursor with a NUL": (request("GET", "/api/songs?sort=title&cursor=" + forged_cursor(["a\u0000b", 1])), 400, "app"),
    "a forged cursor with a title of 501 characters": (request("GET", "/api/songs?sort=title&cursor=" + forged_cursor(["x" * 501, 1])), 400, "app"),
    "a forged cursor whose time is not one": (request("GET", "/api/songs?sort=created_at&cursor=" + forged_cursor(["yesterday", 1], "created_at")), 400, "app"),
    "a cursor of 2,900 nested arrays": (request("GET", "/api/songs?cursor=" + base64.urlsafe_b64encode(b"[" * 2900 + b"]" * 2900).rstrip(b"=").decode()), 400, "app"),
    "created_after holding SQL": (request("GET", "/api/songs?created_after=1%20OR%201=1"), 400, "app"),
    "q with a NUL": (request("GET", "/api/songs?q=ab%00c"), 400, "app"),
    "a query string not UTF-8": (request("GET", "/api/songs?q=%FF%FE%FD"), 400, "app"),
    "format as a path": (request("GET", "/api/songs?format=../../etc/passwd"), 400, "app"),
    "an unknown parameter": (request("GET", "/api/songs?where=1=1"), 400, "app"),
    "a parameter twice": (request("GET", "/api/songs?limit=1&limit=2"), 400, "app"),
    # paths
    "an id with SQL": (request("GET", "/api/song/1%20OR%201=1"), 404, "app"),
    "a negative id": (request("GET", "/api/song/-1"), 404, "app"),
    "id 0": (request("GET", "/api/song/0"), 404, "app"),
    "an id past 64 bits": (request("GET", "/api/song/99999999999999999999999"), 404, "app"),
    "an id with a fraction": (request("GET", "/api/song/1.5"), 404, "app"),
    "an id in Arabic digits": (request("GET", "/api/song/%D9%A1"), 404, "app"),
    "an encoded traversal": (request("GET", "/api/song/..%2F..%2Fetc%2Fpasswd"), 404, "app"),
    "a traversal": (request("GET", "/../../etc/passwd"), 404, "app"),
    "the database file": (request("GET", "/songs.db"), 404, "app"),
    "a NUL in the path": (request("GET", "/api/songs/%00"), 404, "app"),
    "a path that is not UTF-8 (Bottle would drop the byte: song 1)": (request("GET", "/api/so%FFng/1"), 400, "app"),
    "a path with an overlong UTF-8 slash": (request("GET", "/api/song%C0%AF1"), 400, "app"),
    # methods
    "TRACE": (request("TRACE", "/api/songs"), 405, "app"),
    "PROPFIND": (request("PROPFIND", "/api/song/1"), 405, "app"),
    "DELETE on the list": (request("DELETE", "/api/songs"), 405, "app"),
    "PUT on the list": (request("PUT", "/api/songs", SONG_JSON), 405, "app"),
    "CONNECT (gunicorn passes it on; no route has its target)": (b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n", 404, "app"),
    # HTTP itself: gunicorn refuses these before the app sees them
    "a 10 KB URL": (request("GET", "/api/songs?q=" + "a" * 10_000), 414, "gunicorn"),
    "a 10 KB header": (request("GET", "/api/songs", headers=["X-Filler: " + "a" * 10_000]), 431, "gunicorn"),
    "200 headers": (request("GET", "/api/songs", headers=[f"X-H{n}: v" for n in range(200)]), 431, "gunicorn"),
    "a request line that is not HTTP": (b"GARBAGE\r\n\r\n", 400, "gunicorn"),
    "a header name with a space": (request("GET", "/api/songs", headers=["Bad Header: v"]), 400, "gunicorn"),
    "Content-Length and Transfer-Encoding (smuggling)": (request("POST", "/api/songs", SONG_JSON, headers=["Transfer-Encoding: chunked"]), 400, "gunicorn"),
    "a negative Content-Length": (request("POST", "/api/songs", content_type="application/json").replace(b"Content-Length: 0", b"Content-Length: -1"), 400, "gunicorn"),
    "a Content-Length that is not a number": (request("POST", "/api/songs").replace(b"Content-Length: 0", b"Content-Length: ten"), 400, "gunicorn"),
    "a chunk size that is not hex (gunicorn finds it as the app reads)": (chunked("POST", "/api/songs", SONG_JSON).replace(b"%x\r\n" % len(SONG_JSON), b"zz\r\n"), 400, "app"),
    "a body cut short of its chunks": (chunked("POST", "/api/songs", SONG_JSON)[:-5], 400, "app"),
}  # fmt: skip


def send(port, raw):
    """(status, Content-Type) of the answer to raw bytes on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)  # all is sent: a body cut short stays short
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-send; the answer is already waiting
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), headers.get("Content-Type", "")


def test_hostile_requests_get_a_4xx_and_change_nothing(start_gunicorn, dump):
    server = start_gunicorn()
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    before = dump()
    wrong = []

    for name, (raw, expected, responder) in CASES.items():
        status, content_type = send(server.port, raw)
        answered_by = "app" if content_type == "application/problem+json" else "gunicorn"
        if (status, answered_by) != (expected, responder):
            wrong.append(f"{name}: {status} from {answered_by}, not {expected} from {responder}")

    assert len(CASES) >= 60
    assert not wrong, "\n".join(wrong)
    assert dump() == before
    log = server.log()
    assert "Traceback" not in log
    assert not [line for line in log.splitlines() if '" 5' in line]


@pytest.mark.parametrize(
    "text",
    [SQL, "Robert'); DROP TABLE songs;--", '" OR ""="', "1; SELECT * FROM sqlite_master", "%' --"],
)
def test_sql_in_a_valid_field_is_stored_and_found_literally(client, text):
    """In-process (WebTest), on every backend: where text meets SQL is the storage, not the
    socket, which test_hostile_requests_get_a_4xx_and_change_nothing holds to gunicorn."""
    song = {**SONG, "artist": text, "title": text}
    created = client.post_json("/api/songs", song, status=201).json
    by_title = client.get(f"/api/songs?title={quote(text)}").json
    by_artist = client.get(f"/api/songs?artist={quote(text)}").json
    searched = client.get(f"/api/songs?q={quote(text)}").json
    patched = client.patch_json(f"/api/song/{created['id']}", {"title": text + "!"}).json

    assert created["title"] == created["artist"] == text
    assert by_title == by_artist == searched == [created]
    assert patched["title"] == text + "!"
    assert client.get("/api/songs?count=true").headers["X-Total-Count"] == "1"
