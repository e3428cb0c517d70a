"""Arbitrary bytes at every parser the service has, in-process: never a 5xx.

Hypothesis makes up query strings, cursors, bodies of each accepted type (and of others),
and the header values the service reads; whatever they are, the answer is a 2xx, 3xx or 4xx,
and a 4xx is a problem document. The database is the test's own file (SQLite; the parsers
run before any backend is involved, and the backends' own limits are in test_hostile.py).
"""

import base64
import io
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webtest import TestApp, TestRequest

from helpers import SONG, SQLITE_ONLY, create
from songs import cursors, listing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
PATHS = ["/api/songs", "/api/song/1", "/api/songs/1", "/healthz", "/api/openapi.json"]
BODY_TYPES = [
    "application/json",
    "application/merge-patch+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "text/csv",
    "",
]
HEADERS = [
    "Content-Length",
    "Sec-Fetch-Site",
    "Host",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "If-Match",
    "If-None-Match",
    "Prefer",
    "Accept",
    "Idempotency-Key",
    "Authorization",
    "X-Request-ID",
    "Origin",
    "Access-Control-Request-Method",
]
any_text = st.lists(  # any code points, lone surrogates too (st.text makes none)
    st.integers(0, 0x10FFFF) | st.integers(0xD800, 0xDFFF), max_size=20
).map(lambda points: "".join(map(chr, points)))
latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60) | (
    st.tuples(st.integers(0, 6000), st.sampled_from(["0", "9"])).map(lambda t: t[1] * t[0])
)  # digit strings past int()'s 4,300
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def bytes_or_json(*shapes):
    """Raw bytes, any JSON value, or JSON of one of `shapes`, as bytes."""
    encoded = [shape.map(lambda value: json.dumps(value).encode()) for shape in shapes]
    return st.one_of(st.binary(max_size=300), *encoded)


@pytest.fixture
def fuzzed(client):
    """The client with one song in the database, so that paths to song 1 reach a song."""
    create(client)
    return client


def assert_no_5xx(resp):
    assert resp.status_int < 500, resp.body
    if resp.status_int >= 400:
        assert resp.content_type == "application/problem+json"


@SQLITE_ONLY
@FUZZ
@given(raw=st.binary(max_size=200), path=st.sampled_from(PATHS))
def test_any_query_string_is_never_a_5xx(fuzzed, raw, path):
    resp = fuzzed.get(path, extra_environ={"QUERY_STRING": raw.decode("latin-1")}, status="*")

    assert_no_5xx(resp)


SORTS = ["id", "title", "-rating,created_at", "artist,-id"]


def our_cursor(sort, after):
    """A cursor as the service makes them for ?sort=`sort`, holding made-up sort values."""
    fingerprint = cursors.query_fingerprint({}, listing.read_sort(sort)[0])
    return json.dumps({"after": after, "query": fingerprint}).encode()


SORT_VALUES = {  # what a made-up cursor may hold for each field: near misses and far ones
    "id": st.integers(-2, 2**64) | json_values,
    "rating": st.integers(-1, 7) | json_values,
    "artist": any_text | json_values,
    "title": any_text | json_values,
    "created_at": any_text,
    "updated_at": any_text,
}


@SQLITE_ONLY
@FUZZ
@given(
    sort=st.sampled_from(SORTS),
    made_up=bytes_or_json(
        json_values, st.fixed_dictionaries({"after": json_values, "query": st.text()})
    ),
    data=st.data(),
)
def test_any_cursor_is_never_a_5xx(fuzzed, sort, made_up, data):
    fields = [field for field, _ in listing.read_sort(sort)[0]]
    after = [data.draw(SORT_VALUES[field]) for field in fields]
    token = data.draw(st.sampled_from([made_up, our_cursor(sort, after)]))
    cursor = base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    assert_no_5xx(fuzzed.get(f"/api/songs?sort={sort}&cursor={cursor}", status="*"))


@SQLITE_ONLY
@FUZZ
@given(
    body=st.one_of(
        bytes_or_json(
            json_values,
            st.dictionaries(st.sampled_from(["artist", "title", "rating"]), json_values),
        ),
        st.builds(
            lambda head, value: b"--b\r\n" + head + b"\r\n\r\n" + value + b"\r\n--b--\r\n",
            st.binary(max_size=80),
            st.binary(max_size=40),
        ),
    ),
    content_type=st.one_of(
        st.sampled_from(BODY_TYPES),
        latin1,
        latin1.map(lambda parameters: f"multipart/form-data; boundary=b; {parameters}"),
    ),
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
)
def test_any_body_of_any_type_is_never_a_5xx(fuzzed, body, content_type, method):
    path = "/api/songs" if method == "POST" else "/api/song/1"
    headers = {"Content-Type": content_type} if content_type else {}

    assert_no_5xx(fuzzed.request(path, method=method, body=body, headers=headers, status="*"))


@SQLITE_ONLY
@FUZZ
@given(
    values=st.dictionaries(st.sampled_from(HEADERS), latin1, min_size=1),
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]),
    path=st.sampled_from(PATHS + ["/", "/songs", "/songs/1", "/sign-in"]),
)
def test_any_header_value_is_never_a_5xx(fuzzed, values, method, path):
    body = json.dumps(SONG).encode() if method in ("POST", "PUT", "PATCH") else b""
    headers = {**values, "Content-Type": "application/json"} if body else values
    environ = {  # as gunicorn puts them, past WebTest's own checks of Host and Content-Length
        ("CONTENT_LENGTH" if name == "Content-Length" else f"HTTP_{name.upper()}").replace(
            "-", "_"
        ): value
        for name, value in headers.items()
    }
    req = TestRequest.blank(path, method=method)
    req.environ.update(environ, **{"wsgi.input": io.BytesIO(body)})
    req.environ.setdefault("CONTENT_LENGTH", str(len(body)))

    resp = req.get_response(fuzzed.app)  # WebOb alone: WebTest's cookie jar reads Host too

    if path in PATHS:
        assert_no_5xx(resp)
    assert resp.status_int < 500, resp.body


PAGES = ["/", "/songs/new", "/songs/1", "/songs/1/delete", "/sign-in", "/api", "/static/songs.css"]
FORM_FIELDS = ["artist", "title", "rating", "etag", "next", "token", "csrf_token", "q"]


@SQLITE_ONLY
@FUZZ
@given(raw=st.binary(max_size=200), path=st.sampled_from(PAGES))
def test_any_query_string_on_a_page_is_never_a_5xx(fuzzed, raw, path):
    resp = fuzzed.get(path, extra_environ={"QUERY_STRING": raw.decode("latin-1")}, status="*")

    assert resp.status_int < 500, resp.body


@SQLITE_ONLY
@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(FORM_FIELDS), any_text | st.sampled_from(["3", ""])),
    path=st.sampled_from(["/songs", "/songs/1", "/songs/1/delete", "/sign-in", "/sign-out"]),
)
def test_any_form_sent_to_a_page_is_never_a_5xx(fuzzed, fields, path):
    fuzzed.get("/songs/new")  # the CSRF cookie, which the form repeats
    form = {**fields, "csrf_token": fuzzed.cookies["songs_csrf"]}
    body = urlencode(form, errors="surrogatepass").encode()

    resp = fuzzed.post(path, body, content_type="application/x-www-form-urlencoded", status="*")

    assert resp.status_int < 500, resp.body


COOKIES = ["songs_session", "songs_csrf", "songs_flash"]
cookie_values = (
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'))
    | st.integers(0, 10**5).map(lambda n: "9" * n + ".0")  # an expiry of any length
    | st.sampled_from(["9" * 4301 + ".ab", "0" * 5000 + "1.ab", "１２.ab"])
)


@SQLITE_ONLY
@FUZZ
@given(
    cookies=st.dictionaries(st.sampled_from(COOKIES), cookie_values, min_size=1),
    path=st.sampled_from(PAGES + PATHS),
    signed_in_with_a_token=st.booleans(),
)
def test_any_cookie_on_any_path_is_never_a_5xx(make_app, cookies, path, signed_in_with_a_token):
    client = TestApp(
        make_app(api_token="a-token-of-sixteen-or-more" if signed_in_with_a_token else None)
    )
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())

    resp = client.get(path, headers={"Cookie": header}, status="*")

    assert resp.status_int < 500, resp.body


@SQLITE_ONLY
@pytest.mark.parametrize("api_token", [None, "a-token-of-sixteen-or-more"])
def test_a_session_cookie_with_an_expiry_of_4301_digits_is_no_session_not_a_500(
    make_app, api_token
):
    client = TestApp(make_app(api_token=api_token))
    client.set_cookie("songs_session", "9" * 4301 + ".ab")

    assert client.get("/", status=200)
    if api_token:
        assert client.get("/songs/new", status=303).location.startswith("/sign-in")
