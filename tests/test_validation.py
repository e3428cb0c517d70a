"""Song bodies: one set of rules for JSON, urlencoded and multipart; 422 names every bad field."""

import json
from urllib.parse import urlencode

import pytest

from helpers import HTTP_LAYER, SONG

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only


def send(client, method, path, encoding, pairs, status):
    """Send (name, value) pairs, in order and repeats kept, in one of the three encodings."""
    if encoding == "json":
        body = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
        content_type = "application/json"
    elif encoding == "urlencoded":
        body = urlencode([(k, str(v)) for k, v in pairs])
        content_type = "application/x-www-form-urlencoded"
    else:
        boundary = "songs-test-boundary"
        body = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in pairs
        )
        body += f"--{boundary}--\r\n"
        content_type = f"multipart/form-data; boundary={boundary}"
    return client.request(
        path,
        method=method,
        body=body.encode(),
        headers={"Content-Type": content_type},
        status=status,
    )


ENCODINGS = ["json", "urlencoded", "multipart"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_song_is_accepted_in_every_encoding(client, encoding):
    resp = send(client, "POST", "/api/songs", encoding, SONG.items(), 201)

    assert {k: resp.json[k] for k in SONG} == SONG


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_put_is_accepted_in_every_encoding(client, encoding):
    client.post_json("/api/songs", SONG, status=201)
    replacement = {"artist": "Daft Punk", "title": "One More Time", "rating": 5}

    resp = send(client, "PUT", "/api/song/1", encoding, replacement.items(), 200)

    assert {k: resp.json[k] for k in replacement} == replacement


def test_the_classic_curl_form_post_works(client):
    resp = client.post(
        "/api/songs",
        b"artist=Beastie Boys&title=Sabotage&rating=4",
        content_type="application/x-www-form-urlencoded",
        status=201,
    )

    assert {k: resp.json[k] for k in SONG} == {
        "artist": "Beastie Boys",
        "title": "Sabotage",
        "rating": 4,
    }


def errors_of(resp):
    assert resp.content_type == "application/problem+json"
    problem = resp.json
    assert problem["status"] == 422
    assert problem["detail"] == "; ".join(f"{e['field']} {e['message']}" for e in problem["errors"])
    return {e["field"]: e["message"] for e in problem["errors"]}


TEXT_CASES = [
    ("", "must not be empty or only white space"),
    ("   \u3000\u00a0 ", "must not be empty or only white space"),
    ("x" * 501, "must be at most 500 characters, not 501"),
    ("Ja\nws", "must not contain a control character (U+000A at index 2)"),
    ("\tJa\tws", "must not contain a control character (U+0009 at index 3)"),
    ("Ja\x00ws", "must not contain a control character (U+0000 at index 2)"),
    ("Ja\x7fws", "must not contain a control character (U+007F at index 2)"),
    ("Ja\x85ws", "must not contain a control character (U+0085 at index 2)"),
    ("Ja\x9fws", "must not contain a control character (U+009F at index 2)"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("field", ["artist", "title"])
@pytest.mark.parametrize(("value", "message"), TEXT_CASES)
def test_bad_text_is_422_naming_the_field(client, encoding, field, value, message):
    fields = {**SONG, field: value}

    resp = send(client, "POST", "/api/songs", encoding, fields.items(), 422)

    assert errors_of(resp) == {field: message}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_tabs_and_line_breaks_around_a_text_are_trimmed_before_it_is_checked(client, encoding):
    fields = {**SONG, "artist": "\tA New Error ", "title": "\r\nJaws\n"}

    resp = send(client, "POST", "/api/songs", encoding, fields.items(), 201)

    assert (resp.json["artist"], resp.json["title"]) == ("A New Error", "Jaws")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_text_is_trimmed_then_measured(client, encoding):
    fields = {**SONG, "artist": "  " + "é" * 500 + "\u3000", "title": "\u2003Jaws "}

    resp = send(client, "POST", "/api/songs", encoding, fields.items(), 201)

    assert (resp.json["artist"], resp.json["title"]) == ("é" * 500, "Jaws")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "must be an integer from 1 to 5, not a string"),
        (4.5, "must be an integer from 1 to 5, not a number with a fraction"),
        (5.5e0, "must be an integer from 1 to 5, not a number with a fraction"),
        (6.0, "must be an integer from 1 to 5"),
        (1e300, "must be an integer from 1 to 5"),
        (True, "must be an integer from 1 to 5, not a boolean"),
        (None, "must be an integer from 1 to 5, not null"),
        ([5], "must be an integer from 1 to 5, not an array"),
        ({"value": 5}, "must be an integer from 1 to 5, not an object"),
        (0, "must be an integer from 1 to 5"),
        (6, "must be an integer from 1 to 5"),
        (-1, "must be an integer from 1 to 5"),
        (10**30, "must be an integer from 1 to 5"),
    ],
)
def test_a_json_rating_must_be_a_json_integer_from_1_to_5(client, value, message):
    resp = client.post_json("/api/songs", {**SONG, "rating": value}, status=422)

    assert errors_of(resp) == {"rating": message}


@pytest.mark.parametrize("number", [b"5.0", b"5e0", b"0.5e1", b"50E-1"])
def test_a_json_rating_with_no_fraction_is_that_integer_as_in_json_schema(client, number):
    body = b'{"artist": "a", "title": "t", "rating": ' + number + b"}"

    resp = client.post("/api/songs", body, content_type="application/json", status=201)

    assert resp.json["rating"] == 5


def test_a_json_rating_with_thousands_of_digits_is_422(client):
    body = b'{"artist": "a", "title": "t", "rating": ' + b"9" * 5000 + b"}"

    resp = client.post("/api/songs", body, content_type="application/json", status=422)

    assert errors_of(resp) == {"rating": "must be an integer from 1 to 5"}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize(
    "value", ["", "0", "6", "4.5", " 4", "4 ", "+4", "-1", "four", "٤", "4" * 5000]
)
def test_a_form_rating_must_be_decimal_digits_from_1_to_5(client, encoding, value):
    fields = {**SONG, "rating": value}

    resp = send(client, "POST", "/api/songs", encoding, fields.items(), 422)

    assert errors_of(resp) == {"rating": "must be a whole number from 1 to 5, in decimal digits"}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_form_rating_may_have_leading_zeros(client, encoding):
    fields = {**SONG, "rating": "004"}

    assert send(client, "POST", "/api/songs", encoding, fields.items(), 201).json["rating"] == 4


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_form_rating_with_more_leading_zeros_than_int_reads_is_still_that_rating(
    client, encoding
):
    fields = {**SONG, "rating": "0" * 5000 + "4"}  # int() refuses strings past 4,300 digits

    assert send(client, "POST", "/api/songs", encoding, fields.items(), 201).json["rating"] == 4


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_bad_field_is_named_at_once(client, encoding):
    pairs = [("title", ""), ("rating", "x"), ("genre", "rock"), ("artist", "a"), ("artist", "b")]

    resp = send(client, "POST", "/api/songs", encoding, pairs, 422)

    rating_message = {
        "json": "must be an integer from 1 to 5, not a string",
        "urlencoded": "must be a whole number from 1 to 5, in decimal digits",
        "multipart": "must be a whole number from 1 to 5, in decimal digits",
    }[encoding]
    assert errors_of(resp) == {
        "title": "must not be empty or only white space",
        "rating": rating_message,
        "genre": "is not a field of a song (artist, title, rating)",
        "artist": "is given more than once",
    }


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_missing_fields_are_each_named(client, encoding, method):
    client.post_json("/api/songs", SONG, status=201)
    path = "/api/songs" if method == "POST" else "/api/song/1"

    resp = send(client, method, path, encoding, [("title", "Jaws")], 422)

    assert errors_of(resp) == {"artist": "is required", "rating": "is required"}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("field", ["id", "created_at", "updated_at"])
def test_a_read_only_field_given_twice_is_still_rejected(client, encoding, field):
    pairs = [*SONG.items(), (field, "1"), (field, "2")]

    resp = send(client, "POST", "/api/songs", encoding, pairs, 422)

    assert errors_of(resp) == {field: "is given more than once"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_read_only_fields_are_ignored(client, encoding):
    pairs = [*SONG.items(), ("id", 77), ("created_at", "1999-01-01T00:00:00.000Z")]

    song = send(client, "POST", "/api/songs", encoding, pairs, 201).json

    assert song["id"] == 1
    assert song["created_at"] > "2000"


@pytest.mark.parametrize(
    ("method", "body", "kind"),
    [
        ("PUT", b"[]", "an array"),  # POST takes an array as a batch (test_batches.py)
        ("POST", b'"song"', "a string"),
        ("POST", b"3", "an integer"),
        ("PUT", b"null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_422(client, method, body, kind):
    client.post_json("/api/songs", SONG)
    path = "/api/songs" if method == "POST" else "/api/song/1"
    resp = client.request(
        path, method=method, body=body, content_type="application/json", status=422
    )

    assert resp.json["errors"] == [{"field": None, "message": f"must be a JSON object, not {kind}"}]
    assert resp.json["detail"] == f"The body must be a JSON object, not {kind}."


def test_a_nested_object_or_array_for_a_text_field_is_422(client):
    resp = client.post_json(
        "/api/songs", {**SONG, "artist": {"name": "x"}, "title": ["x"]}, status=422
    )

    assert errors_of(resp) == {
        "artist": "must be a string, not an object",
        "title": "must be a string, not an array",
    }


def test_a_lone_surrogate_is_422(client):
    body = b'{"artist": "\\ud800", "title": "t", "rating": 3, "\\udfff": 1}'

    resp = client.post("/api/songs", body, content_type="application/json", status=422)

    assert errors_of(resp) == {
        "artist": "must not contain an unpaired surrogate (U+D800 at index 0)",
        "\udfff": "is not a field of a song (artist, title, rating)",
    }


def test_a_file_upload_is_not_a_text_field(client):
    resp = client.post(
        "/api/songs",
        [("title", "t"), ("rating", "3")],
        upload_files=[("artist", "artist.txt", b"Daft Punk")],
        status=422,
    )

    assert errors_of(resp) == {"artist": "must be a string, not a file upload"}


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition: form-data; name="artist"\r\n\r\nx',
        b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
        b"no boundary here",
    ],
)
def test_a_malformed_multipart_body_is_400(client, body):
    resp = client.request(  # raw bytes: client.post would re-encode them as multipart
        "/api/songs",
        method="POST",
        body=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        status=400,
    )

    assert resp.json["detail"].startswith("The multipart body is malformed")


def test_multipart_without_a_boundary_is_400(client):
    resp = client.request(
        "/api/songs",
        method="POST",
        body=b"x",
        headers={"Content-Type": "multipart/form-data"},
        status=400,
    )

    assert resp.json["detail"].startswith("The multipart body is malformed")
