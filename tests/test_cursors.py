"""The list is paged by keyset: limit, an opaque cursor, and RFC 8288 Link rel="next"."""

import base64

import pytest

from helpers import EVERY_BACKEND, HTTP_LAYER, create
from helpers.answers import links, next_url
from songs import listing

pytestmark = HTTP_LAYER  # the same on every backend: SQLite only

PARAMETERS = ", ".join(listing.LIST_PARAMETERS)


def fill(db, count):
    """Insert `count` songs straight into the database, quicker than through the API."""
    db.insert_rows(
        "songs",
        ("artist", "title", "rating"),
        [(f"Artist {n}", f"Title {n}", n % 5 + 1) for n in range(1, count + 1)],
    )


def all_pages(client, url):
    pages = []
    while url:
        resp = client.get(url, status=200)
        pages.append(resp.json)
        url = next_url(resp)
    return pages


def test_the_default_page_is_100_songs_with_a_next_link(client, db):
    fill(db, 250)

    resp = client.get("/api/songs", status=200)

    assert [s["id"] for s in resp.json] == list(range(250, 150, -1))
    assert next_url(resp).startswith("/api/songs?limit=100&cursor=")
    assert links(resp)["first"] == "/api/songs?limit=100"


def test_following_next_returns_every_song_once_newest_first(client, db):
    fill(db, 250)

    pages = all_pages(client, "/api/songs")

    assert [len(page) for page in pages] == [100, 100, 50]
    assert [s["id"] for page in pages for s in page] == list(range(250, 0, -1))


def test_a_last_page_that_is_exactly_full_has_no_next(client, db):
    fill(db, 20)

    resp = client.get("/api/songs?limit=20", status=200)

    assert len(resp.json) == 20
    assert links(resp) == {"first": "/api/songs?limit=20"}


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_limit_sets_the_page_size_and_carries_into_next(client, db, limit):
    fill(db, 1001)

    resp = client.get(f"/api/songs?limit={limit}", status=200)

    assert len(resp.json) == limit
    assert next_url(resp).startswith(f"/api/songs?limit={limit}&cursor=")


def test_paging_while_songs_are_inserted_and_deleted_returns_each_remaining_song_once(client, db):
    fill(db, 30)
    seen, url, deleted = [], "/api/songs?limit=7", set()

    while url:
        resp = client.get(url, status=200)
        seen += [s["id"] for s in resp.json]
        url = next_url(resp)
        create(client)  # newer than every page: must not appear in later pages
        if seen[-1] > 2:
            client.delete(f"/api/song/{seen[-1] - 2}", status=204)
            deleted.add(seen[-1] - 2)

    assert len(seen) == len(set(seen))
    assert set(range(1, 31)) - deleted <= set(seen) <= set(range(1, 31))


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("limit=0", "limit", "must be a whole number from 1 to 1000"),
        ("limit=1001", "limit", "must be a whole number from 1 to 1000"),
        ("limit=-1", "limit", "must be a whole number from 1 to 1000"),
        ("limit=abc", "limit", "must be a whole number from 1 to 1000"),
        ("limit=", "limit", "must be a whole number from 1 to 1000"),
        ("limit=1.5", "limit", "must be a whole number from 1 to 1000"),
        ("limit=%D9%A3", "limit", "must be a whole number from 1 to 1000"),
        ("limit=" + "9" * 5000, "limit", "must be a whole number from 1 to 1000"),
        ("limit=5&limit=6", "limit", "is given more than once"),
        ("cursor=", "cursor", "is not a cursor from this list's Link header"),
        ("cursor=abc", "cursor", "is not a cursor from this list's Link header"),
        ("cursor=%00", "cursor", "is not a cursor from this list's Link header"),
        ("limit=5&limit=5&limit=5", "limit", "is given more than once"),
        ("limit=0&limit=5", "limit", "must be a whole number from 1 to 1000"),
        ("page=2", "page", f"is not a parameter of this list ({PARAMETERS})"),
    ],
)
def test_a_bad_parameter_is_400_naming_it(client, query, parameter, message):
    resp = client.get(f"/api/songs?{query}", status=400)

    assert resp.content_type == "application/problem+json"
    assert resp.json["errors"] == [{"parameter": parameter, "message": message}]
    assert resp.json["detail"] == f"{parameter} {message}"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"id": 0}',
        b'{"id": -5}',
        b'{"id": "5"}',
        b'{"id": 5, "x": 1}',
        b"[5]",
        b'{"id": 1e3}',
        b"\xff",
    ],
)
def test_a_forged_cursor_is_400(client, payload):
    token = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()

    resp = client.get(f"/api/songs?cursor={token}", status=400)

    assert resp.json["errors"][0]["parameter"] == "cursor"


def test_a_query_string_that_is_not_utf8_is_400(client):
    resp = client.get("/api/songs?limit=%FF", status=400)

    assert resp.content_type == "application/problem+json"


def test_every_bad_parameter_is_named_at_once(client):
    resp = client.get("/api/songs?limit=0&cursor=zz&sort=up&page=2", status=400)

    assert [e["parameter"] for e in resp.json["errors"]] == ["limit", "cursor", "sort", "page"]


@EVERY_BACKEND  # each backend walks its indexes backward
@pytest.mark.parametrize(
    "query", ["", "?sort=title", "?sort=-rating,title", "?min_rating=2&max_rating=4", "?q=itl"]
)
def test_prev_walks_back_through_the_pages_next_walked(client, db, query):
    fill(db, 130)
    url = f"/api/songs{query}{'&' if query else '?'}limit=20"
    forward = []
    while url:
        resp = client.get(url)
        forward.append((resp.json, links(resp).get("prev")))
        url = next_url(resp)

    backward, url = [], links(resp).get("prev")
    while url:
        resp = client.get(url)
        backward.append(resp.json)
        url = links(resp).get("prev")

    assert forward[0][1] is None  # the first page has nothing before it
    assert all(prev for _, prev in forward[1:])
    assert backward == [page for page, _ in forward[:-1]][::-1]
    assert len(forward) == (7 if not query or "sort" in query else len(forward))


def test_a_page_before_a_cursor_has_next_back_to_where_it_came_from(client, db):
    fill(db, 50)
    second = client.get(next_url(client.get("/api/songs?limit=20")))

    before = client.get(links(second)["prev"])

    assert [s["id"] for s in before.json] == list(range(50, 30, -1))
    assert "prev" not in links(before)
    assert [s["id"] for s in client.get(next_url(before)).json] == list(range(30, 10, -1))
