"""The pages for people, in-process through WebTest: every page route and its errors.

What only a browser can show (no script, a phone's width, axe-core) is in test_browser.py.
"""

import json
import re
import subprocess
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from webtest import TestApp

from helpers import EVERY_BACKEND, HTTP_LAYER, SONG, SQLITE_ONLY, create, nu_checker
from helpers.contract import documented_operations
from songs.problems import is_api_path

# The pages' rendering, forms and CSRF are the same on every backend; what the database keeps
# (sessions, failed sign-ins, the rating counts) runs on each (EVERY_BACKEND).
pytestmark = HTTP_LAYER

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "page-token-0123456789abcdef"
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def post_form(page, action=None, **fields):
    """Submit the page's form that posts to `action` (unless named, its last POST form that
    has every field given)."""
    forms = [form for form in page.forms.values() if form.method.lower() == "post"]
    having = [f for f in forms if all(name in f.fields for name in fields)]
    form = next(f for f in forms if f.action == action) if action else having[-1]
    for name, value in fields.items():
        form[name] = value
    return form.submit(status="*")


def links(page, rel=None, text=None):
    hrefs = re.findall(r'<a href="([^"]+)"( rel="next")?>([^<]*)', page.text)
    return [
        unescape(href)
        for href, next_rel, label in hrefs
        if (rel is None or next_rel) and (text is None or label == text)
    ]


def sort_link(page, label):
    return unescape(re.search(rf'<a href="([^"]+)">{label}<', page.text).group(1))


def field_error(page, name):
    """The error shown next to the field `name`, found through its aria-describedby."""
    field = re.search(rf'<(?:input|select)[^>]*id="{name}"[^>]*>', page.text).group()
    described = re.search(r'aria-describedby="([^"]+)"', field)
    if described is None:
        return None
    return unescape(re.search(rf'id="{described.group(1)}">([^<]*)<', page.text).group(1))


def titles(page):
    return [
        unescape(t) for t in re.findall(r'<td><a href="/songs/\d+">([^<]*)</a></td>', page.text)
    ]


def assert_page(resp, status):
    assert resp.status_int == status, resp.text[:2000]
    assert resp.content_type == "text/html"
    assert resp.charset == "utf-8"
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for name, value in PAGE_HEADERS.items():
        assert resp.headers[name] == value
    assert resp.text.count("<h1>") == 1 and '<html lang="en">' in resp.text


# The songs page


def test_the_songs_page_lists_the_newest_first_100_a_page(client, db):
    db.insert_rows(
        "songs",
        ("artist", "title", "rating", "created_at", "updated_at"),
        [
            (
                f"Artist {n}",
                f"Title {n}",
                n % 5 + 1,
                "2026-01-01T00:00:00.000Z",
                "2026-01-01T00:00:00.000Z",
            )
            for n in range(1, 151)
        ],
    )

    page = client.get("/", status=200)

    assert_page(page, 200)
    assert titles(page) == [f"Title {n}" for n in range(150, 50, -1)]
    assert "Songs 1–100 of 150." in page.text


def test_paging_follows_the_cursor_to_the_end_without_repeats(client, db):
    db.insert_rows(
        "songs",
        ("artist", "title", "rating", "created_at", "updated_at"),
        [
            (f"Artist {n}", f"Title {n}", 3, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")
            for n in range(1, 251)
        ],
    )
    seen, page = [], client.get("/?sort=title&limit=40")

    while True:
        seen += titles(page)
        following = links(page, rel="next")
        if not following:
            break
        page = client.get(following[0], status=200)

    assert seen == sorted(f"Title {n}" for n in range(1, 251))
    assert links(page, text="First page") == ["/?sort=title&limit=40"]


def test_the_page_links_to_the_same_list_as_json_csv_and_ndjson(client):
    create(client, artist="Ana", title="Alpha", rating=5)
    create(client, artist="Bo", title="Beta", rating=2)

    page = client.get("/?q=Alp&rating=5&sort=title", status=200)

    as_json, as_csv, as_ndjson = (links(page, text=name)[0] for name in ("JSON", "CSV", "NDJSON"))
    assert urlsplit(as_json).path == "/api/songs"
    assert [song["title"] for song in client.get(as_json).json] == titles(page) == ["Alpha"]
    assert parse_qsl(urlsplit(as_csv).query) == [("q", "Alp"), ("rating", "5"), ("sort", "title")]
    assert client.get(as_csv).text.splitlines()[1].split(",")[1:4] == ["Ana", "Alpha", "5"]
    assert urlsplit(as_ndjson).path == "/api/songs.ndjson"


def test_a_search_form_s_empty_fields_are_dropped_from_the_url(client):
    resp = client.get("/?q=&rating=4&sort=title", status=303)

    assert resp.headers["Location"] == "/?rating=4&sort=title"


def test_a_bad_search_is_shown_next_to_its_field_and_lists_nothing(client):
    create(client)

    page = client.get("/?q=ab", status=400)

    assert_page(page, 400)
    assert field_error(page, "q") == "The search must be 3 to 500 characters long."
    assert 'value="ab"' in page.text and titles(page) == []


def test_a_bad_parameter_without_a_field_is_named_on_the_page(client):
    page = client.get("/?limit=0", status=400)

    assert "limit must be a whole number from 1 to 1000." in page.text


def test_column_headers_sort_the_list_and_say_how(client):
    for title in ("b", "c", "a"):
        create(client, title=f"Song {title}")

    page = client.get("/", status=200)
    by_title = client.get(sort_link(page, "Title"))
    reversed_ = client.get(sort_link(by_title, "Title"))

    assert titles(by_title) == ["Song a", "Song b", "Song c"]
    assert 'aria-sort="ascending"' in by_title.text
    assert sort_link(page, "Title") == "/?sort=title"
    assert titles(reversed_) == ["Song c", "Song b", "Song a"]
    assert 'aria-sort="descending"' in reversed_.text


def chart(page):
    return dict(re.findall(r'<th scope="row">(\d)</th><td>([\d,]+)</td>', page.text))


@EVERY_BACKEND  # what the database keeps
@pytest.mark.parametrize(
    ("query", "expected"),
    [("", {"5": "3", "4": "1", "2": "1"}), ("?rating=4,5", {"5": "3", "4": "1"})],
)
def test_the_chart_of_the_whole_table_reads_the_kept_counts(client, query, expected):
    for rating in (5, 5, 5, 2, 4):
        create(client, rating=rating)

    page = client.get(f"/{query}", status=200)

    assert chart(page) == {rating: expected.get(rating, "0") for rating in "54321"}


@EVERY_BACKEND  # what the database keeps
def test_the_rating_chart_counts_the_matching_songs_by_rating(client):
    for rating in (5, 5, 5, 2):
        create(client, rating=rating, artist="Counted")
    create(client, rating=4, artist="Other")

    page = client.get("/?artist=Counted", status=200)

    assert chart(page) == {"5": "3", "4": "0", "3": "0", "2": "1", "1": "0"}
    assert re.findall(r'<rect width="([\d.]+)"', page.text) == [
        "100.0",
        "0.0",
        "0.0",
        "33.3",
        "0.0",
    ]


# Add, edit and delete


def test_adding_a_song_redirects_to_its_page_with_a_confirmation(client):
    form_page = client.get("/songs/new", status=200)
    assert_page(form_page, 200)

    resp = post_form(form_page, artist="  Klosman ", title="Jaws", rating="4")

    assert resp.status_int == 303
    song_id = int(resp.headers["Location"].removeprefix("/songs/"))
    song = client.get(f"/api/song/{song_id}").json
    assert (song["artist"], song["title"], song["rating"]) == ("Klosman", "Jaws", 4)
    page = resp.follow()
    assert "The song was added." in page.text
    assert "The song was added." not in client.get(f"/songs/{song_id}").text  # said once


def test_an_invalid_song_is_refused_with_each_error_by_its_field_and_the_input_kept(client, dump):
    before = dump()

    page = post_form(client.get("/songs/new"), artist="Kept artist", title="\x01bad", rating="")

    assert_page(page, 422)
    assert (
        field_error(page, "title")
        == "Title must not contain a control character (U+0001 at index 0)."
    )
    assert (
        field_error(page, "rating")
        == "Rating must be a whole number from 1 to 5, in decimal digits."
    )
    assert field_error(page, "artist") is None
    assert 'value="Kept artist"' in page.text
    assert dump() == before


def test_editing_a_song_saves_it_and_says_so(client):
    song = create(client)

    resp = post_form(client.get(f"/songs/{song['id']}"), title="New title", rating="5")

    assert resp.status_int == 303 and resp.headers["Location"] == f"/songs/{song['id']}"
    assert "Your changes were saved." in resp.follow().text
    stored = client.get(f"/api/song/{song['id']}").json
    assert (stored["title"], stored["rating"]) == ("New title", 5)


def test_saving_an_unchanged_song_says_nothing_changed(client):
    song = create(client)

    resp = post_form(client.get(f"/songs/{song['id']}"))

    assert "Nothing changed" in resp.follow().text
    assert client.get(f"/api/song/{song['id']}").json == song


def test_an_edit_of_a_song_changed_since_the_form_was_opened_overwrites_nothing(client):
    song = create(client)
    mine, theirs = client.get(f"/songs/{song['id']}"), client.get(f"/songs/{song['id']}")
    assert post_form(theirs, title="Their title").status_int == 303

    page = post_form(mine, title="My title", rating="1")

    assert_page(page, 409)
    assert "Someone changed this song after you opened it" in page.text
    assert (
        '<tr class="differs"><th scope="row">Title</th><td>My title</td><td>Their title</td>'
        in (page.text)
    )  # my change beside what is there now
    assert 'value="Their title"' in page.text  # the form now holds the song as it is
    assert client.get(f"/api/song/{song['id']}").json["title"] == "Their title"
    assert post_form(page, title="My title").status_int == 303  # the new form's ETag is current


def test_after_a_conflict_one_button_applies_the_change_to_the_current_version(client):
    song = create(client)
    mine, theirs = client.get(f"/songs/{song['id']}"), client.get(f"/songs/{song['id']}")
    post_form(theirs, artist="Their artist")
    conflict = post_form(mine, title="My title", rating="1")
    apply = next(f for f in conflict.forms.values() if f.action == f"/songs/{song['id']}")

    assert apply.submit().status_int == 303  # no retyping: the values travel with the button

    now = client.get(f"/api/song/{song['id']}").json  # theirs kept, mine applied onto it
    assert (now["artist"], now["title"], now["rating"]) == ("Their artist", "My title", 1)


def test_an_invalid_edit_keeps_the_input_and_changes_nothing(client, dump):
    song = create(client)
    before = dump()

    page = post_form(client.get(f"/songs/{song['id']}"), title="   ")

    assert_page(page, 422)
    assert field_error(page, "title") == "Title must not be empty or only white space."
    assert dump() == before


def test_deleting_a_song_asks_first_then_deletes_it(client):
    song = create(client)
    page = client.get(f"/songs/{song['id']}")

    confirm = client.get(f"/songs/{song['id']}/delete", status=200)
    resp = post_form(confirm)

    assert "Delete this song…" in page.text
    assert_page(confirm, 200)
    assert resp.status_int == 303 and resp.headers["Location"] == "/"
    assert "The song was deleted." in resp.follow().text
    client.get(f"/api/song/{song['id']}", status=404)


def test_a_delete_of_a_song_changed_since_the_question_deletes_nothing(client):
    song = create(client)
    confirm = client.get(f"/songs/{song['id']}/delete")
    client.patch_json(f"/api/song/{song['id']}", {"rating": 1})

    page = post_form(confirm)

    assert_page(page, 409)
    assert client.get(f"/api/song/{song['id']}").json["rating"] == 1


@pytest.mark.parametrize("path", ["/", "/songs/new", "/songs/deleted", "/songs/1", "/api"])
def test_every_page_has_a_description_for_search_engines(client, path):
    create(client)

    page = client.get(path)

    described = page.html.find("meta", attrs={"name": "description"})
    assert described is not None and len(described["content"]) > 50


def test_a_missing_song_is_a_404_page(client):
    for path in ("/songs/99", "/songs/99/delete"):
        page = client.get(path, status=404)
        assert_page(page, 404)
        assert "Song 99 does not exist." in page.text


# Security


def test_hostile_text_is_shown_as_text(client):
    song = create(
        client, artist='<img src=x onerror="alert(1)">', title="<script>alert(1)</script>"
    )

    for path in ("/", f"/songs/{song['id']}", f"/songs/{song['id']}/delete"):
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({}, None),  # no token at all
        ({}, "x" * 43),  # one that is not the cookie's
        ({"Origin": "https://evil.example"}, "cookie"),
        ({"Sec-Fetch-Site": "cross-site"}, "cookie"),
    ],
)
def test_a_post_without_this_site_s_csrf_token_is_a_403_and_changes_nothing(
    client, dump, headers, token
):
    song = create(client)
    client.get("/songs/new")  # the CSRF cookie
    before = dump()
    fields = {**SONG, "title": "Forged"}
    if token:
        fields["csrf_token"] = client.cookies["songs_csrf"] if token == "cookie" else token

    for path in ("/songs", f"/songs/{song['id']}", f"/songs/{song['id']}/delete", "/sign-out"):
        page = client.post(path, fields, headers=headers, status=403)
        assert_page(page, 403)

    assert dump() == before


def test_the_csrf_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/songs/new").headers["Set-Cookie"]

    assert "Set-Cookie" not in client.get("/api/songs").headers
    assert re.fullmatch(r"songs_csrf=[\w-]{43}; HttpOnly; Path=/; SameSite=lax", cookie)


@pytest.fixture
def signed_client(make_app):
    """WebTest over an app with API_TOKEN set (reads open)."""
    return TestApp(make_app(api_token=TOKEN, api_token_reads="0"))


def test_with_a_token_adding_needs_signing_in_and_reading_does_not(signed_client):
    signed_client.get("/", status=200)

    resp = signed_client.get("/songs/new", status=303)

    assert resp.headers["Location"] == "/sign-in?next=%2Fsongs%2Fnew"
    sign_in = resp.follow()
    assert_page(sign_in, 200)
    assert re.search(r'<label for="token">API token</label>', sign_in.text)


@EVERY_BACKEND  # what the database keeps
def test_a_right_token_signs_in_with_a_cookie_that_does_not_hold_it(signed_client):
    page = signed_client.get("/sign-in?next=/songs/new")

    resp = post_form(page, token=TOKEN)

    assert resp.status_int == 303 and resp.headers["Location"] == "/songs/new"
    session = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("songs_session"))
    assert re.fullmatch(
        r"songs_session=[\w-]{43}; HttpOnly; Max-Age=28800; Path=/; SameSite=lax", session
    )
    assert TOKEN not in session
    form = resp.follow()
    assert TOKEN not in form.text
    added = post_form(form, artist="A", title="B", rating="3")
    assert added.status_int == 303
    assert "Sign out" in added.follow().text


def test_the_cookies_are_secure_over_https(make_app):
    client = TestApp(
        make_app(api_token=TOKEN, api_token_reads="0"), extra_environ={"wsgi.url_scheme": "https"}
    )

    resp = post_form(client.get("/sign-in"), token=TOKEN)

    cookies = resp.headers.getall("Set-Cookie")
    assert resp.status_int == 303 and len(cookies) == 2  # the session, and the confirmation
    assert all("; Secure" in cookie for cookie in cookies)


def test_a_wrong_token_shows_the_form_again_with_an_error(signed_client):
    page = post_form(signed_client.get("/sign-in"), token="not-the-token-0000000000")

    assert_page(page, 401)
    assert field_error(page, "token") == "That is not an API token of this service."
    assert "songs_session" not in page.headers.get("Set-Cookie", "")


@EVERY_BACKEND  # what the database keeps
def test_signing_out_ends_the_session(signed_client):
    post_form(signed_client.get("/sign-in"), token=TOKEN)
    page = signed_client.get("/")

    resp = post_form(page, action="/sign-out")

    assert resp.status_int == 303
    assert "songs_session" not in signed_client.cookies
    assert signed_client.get("/songs/new", status=303).headers["Location"].startswith("/sign-in")


def signed_in_browser(app, address="192.0.2.1"):
    """A new browser on `app`, signed in with TOKEN: (the client, its session cookie)."""
    browser = TestApp(app, extra_environ={"REMOTE_ADDR": address})
    assert post_form(browser.get("/sign-in"), token=TOKEN).status_int == 303
    return browser, browser.cookies["songs_session"]


def session_works(app, cookie):
    """Whether a browser holding only a copy of this session cookie may add a song."""
    thief = TestApp(app)
    thief.set_cookie("songs_session", cookie)
    page = thief.get("/songs/new", status="*")
    if page.status_int != 200:
        assert page.status_int == 303 and page.location.startswith("/sign-in")
        return False
    resp = post_form(page, artist="Copied", title="Cookie", rating="3")
    assert resp.status_int == 303, resp.text
    return True


def test_a_copied_session_cookie_is_refused_after_sign_out_on_another_instance(make_app):
    """Two apps on one database stand for two workers or instances."""
    one, other = make_app(api_token=TOKEN), make_app(api_token=TOKEN)
    browser, cookie = signed_in_browser(one)
    assert session_works(other, cookie)

    post_form(browser.get("/"), action="/sign-out")

    assert not session_works(other, cookie)
    assert not session_works(one, cookie)
    assert TestApp(one).get("/api/songs").json[0]["title"] == "Cookie"  # the one allowed


@EVERY_BACKEND  # what the database keeps
def test_sign_out_everywhere_ends_every_session_of_that_token_only(make_app):
    other_token = "another-token-of-16-or-more"
    app = make_app(api_token=f"{TOKEN},{other_token}")
    laptop, on_laptop = signed_in_browser(app)
    _, on_phone = signed_in_browser(app)
    colleague = TestApp(app)
    post_form(colleague.get("/sign-in"), token=other_token)

    sign_out = next(f for f in laptop.get("/").forms.values() if f.action == "/sign-out")
    assert sign_out.submit("everywhere").status_int == 303

    assert not session_works(app, on_laptop) and not session_works(app, on_phone)
    assert session_works(app, colleague.cookies["songs_session"])


@EVERY_BACKEND  # what the database keeps
def test_a_token_taken_out_of_api_token_ends_its_sessions(make_app):
    _, cookie = signed_in_browser(make_app(api_token=TOKEN))

    rotated = make_app(api_token="the-new-token-of-16-or-more")

    assert not session_works(rotated, cookie)


def test_a_read_only_token_signs_in_to_read_and_is_refused_every_change(make_app, dump):
    reader = "reader-secret-0123456789"
    app = make_app(api_token=f"writer:{TOKEN}, ci:{reader}:read", api_token_reads="1")
    writer, _ = signed_in_browser(app)
    post_form(writer.get("/songs/new"), artist="Kept", title="As is", rating="3")
    browser = TestApp(app)
    assert post_form(browser.get("/sign-in"), token=reader).status_int == 303
    before = dump()

    assert "As is" in browser.get("/").text
    refused = browser.get("/songs/new", status=403)
    edited = post_form(browser.get("/songs/1"), action="/songs/1", title="Changed")
    assert edited.status_int == 403

    for page in (refused, edited):
        assert "You signed in with the token ci, which may only read: nothing was changed." in (
            page.text
        )
    assert dump() == before


def sign_in_as(app, address, token):
    browser = TestApp(app, extra_environ={"REMOTE_ADDR": address})
    return post_form(browser.get("/sign-in"), token=token)


@EVERY_BACKEND  # what the database keeps
def test_failed_sign_ins_from_an_address_make_it_wait_on_every_instance_and_are_logged(
    make_app, caplog
):
    one, other = make_app(api_token=TOKEN), make_app(api_token=TOKEN)
    guesser, neighbour = "198.51.100.7", "203.0.113.9"
    guesses = [sign_in_as(one, guesser, f"guess-number-{n:05}-0000") for n in range(5)]

    refused = sign_in_as(other, guesser, TOKEN)  # the right token, but too soon to try

    assert [page.status_int for page in guesses[:4]] == [401] * 4
    assert guesses[4].status_int == 401  # the fifth failure makes the next wait
    assert_page(refused, 429)
    assert refused.headers["Retry-After"] == "1"
    assert field_error(refused, "token").startswith("Too many failed sign-ins: nothing was tried.")
    assert "songs_session" not in refused.headers.get("Set-Cookie", "")
    assert sign_in_as(other, neighbour, TOKEN).status_int == 303  # another address: no wait
    failures = [r.getMessage() for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert len(failures) == 5 and all(guesser in line for line in failures)
    assert not any("guess-number" in r.getMessage() for r in caplog.records)


@EVERY_BACKEND  # what the database keeps
def test_each_failure_past_the_free_ones_doubles_the_wait(make_app):
    app = make_app(api_token=TOKEN)
    address = "198.51.100.8"
    for n in range(5):
        sign_in_as(app, address, f"guess-number-{n:05}-0000")
    first_wait = int(sign_in_as(app, address, TOKEN).headers["Retry-After"])
    time.sleep(first_wait)

    sixth = sign_in_as(app, address, "guess-number-00006-0000")

    assert first_wait == 1 and sixth.status_int == 401
    assert sign_in_as(app, address, TOKEN).headers["Retry-After"] == "2"


@EVERY_BACKEND  # what the database keeps
def test_a_sign_in_clears_the_count_of_failures_from_its_address(make_app):
    app = make_app(api_token=TOKEN)
    address = "198.51.100.9"
    for n in range(4):
        sign_in_as(app, address, f"guess-number-{n:05}-0000")
    assert sign_in_as(app, address, TOKEN).status_int == 303

    again = [sign_in_as(app, address, f"typo-number-{n:05}-0000").status_int for n in range(4)]

    assert again == [401] * 4
    assert sign_in_as(app, address, TOKEN).status_int == 303


def test_a_post_without_a_session_is_refused_and_changes_nothing(signed_client):
    page = signed_client.get("/sign-in")

    resp = signed_client.post(
        "/songs", {**SONG, "csrf_token": signed_client.cookies["songs_csrf"]}, status=401
    )

    assert_page(resp, 401)
    assert signed_client.get("/api/songs").json == []
    assert page.status_int == 200


def test_the_session_cookie_does_not_open_the_api(signed_client):
    post_form(signed_client.get("/sign-in"), token=TOKEN)

    signed_client.post_json("/api/songs", SONG, status=401)


def test_a_sign_in_never_sends_elsewhere(signed_client):
    page = signed_client.get("/sign-in?next=//evil.example/")

    resp = post_form(page, token=TOKEN)

    assert resp.headers["Location"] == "/"


def test_with_reads_protected_the_songs_page_needs_signing_in(make_app):
    client = TestApp(make_app(api_token=TOKEN, api_token_reads="1"))

    assert client.get("/", status=303).headers["Location"] == "/sign-in?next=%2F"
    assert client.get("/songs/1", status=303).headers["Location"].startswith("/sign-in")
    post_form(client.get("/sign-in"), token=TOKEN)
    assert_page(client.get("/", status=200), 200)


def test_without_a_token_there_is_no_sign_in(client):
    assert "Sign in" not in client.get("/").text
    client.get("/sign-in", status=404)


# The API is untouched


def test_a_browser_asking_for_the_api_gets_json(client):
    create(client)
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

    assert client.get("/api/songs", headers=html).content_type == "application/json"
    assert client.get("/api/nothing", headers=html, status=404).content_type == (
        "application/problem+json"
    )


def test_an_unknown_page_is_html_for_browsers_and_a_problem_for_others(client):
    page = client.get("/nothing", headers={"Accept": "text/html"}, status=404)
    problem = client.get("/nothing", status=404)

    assert_page(page, 404)
    assert "Nothing is at /nothing." in page.text
    assert problem.content_type == "application/problem+json"


def test_the_document_lists_no_page(client):
    document = client.get("/api/openapi.json").json

    assert all(is_api_path(path) for path, _ in documented_operations(document))


def test_the_api_reference_page_shows_every_operation_of_the_document(client):
    document = client.get("/api/openapi.json").json

    page = client.get("/api", status=200)

    assert_page(page, 200)
    sections = page.text.split('<section class="operation"')[1:]
    for path, method in documented_operations(document):
        operation_id = document["paths"][path][method]["operationId"]
        shown = [section for section in sections if f'id="{operation_id}"' in section]
        assert len(shown) == 1, operation_id  # its own section, or named in one
        if method in ("head", "options") or operation_id.endswith("Alias"):
            assert f"{method.upper()} {path}" in shown[0], operation_id
        else:
            assert f"<code>{method.upper()} {path}</code>" in shown[0]
            assert "curl -i" in shown[0]
    assert len(sections) < len(documented_operations(document)) / 2  # not doubled


# Static files


def test_the_stylesheet_is_served_with_an_etag_and_a_long_life_at_its_versioned_url(client):
    url = re.search(r'href="(/static/songs.css\?v=\w+)"', client.get("/").text).group(1)

    resp = client.get(url, status=200)
    unversioned = client.get("/static/songs.css", status=200)

    assert resp.content_type == "text/css"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert unversioned.headers["Cache-Control"] == "no-cache"
    client.get(url, headers={"If-None-Match": resp.headers["ETag"]}, status=304)
    client.get("/static/nothing.css", status=404)


@pytest.mark.parametrize("next_path", ["/\r\nSet-Cookie: x=1", "/\x00", "/é", "https://evil/"])
def test_a_sign_in_with_an_odd_next_path_goes_home(signed_client, next_path):
    page = signed_client.get("/sign-in")
    form = next(f for f in page.forms.values() if f.action == "/sign-in")

    resp = signed_client.post(
        "/sign-in",
        {"csrf_token": form["csrf_token"].value, "token": TOKEN, "next": next_path},
        status=303,
    )

    assert resp.headers["Location"] == "/"


def test_a_query_string_that_is_not_utf8_is_a_400_page(client):
    page = client.get("/?q=%FF%FE", status=400)

    assert_page(page, 400)
    assert "The query string is not valid UTF-8 once percent-decoded." in page.text


def test_a_page_without_a_form_that_posts_sets_no_cookie(client, signed_client):
    create(client)
    signed_client.post_json("/api/songs", SONG, headers={"Authorization": f"Bearer {TOKEN}"})

    assert "Set-Cookie" not in client.get("/api").headers
    assert "Set-Cookie" in client.get("/").headers  # its selection of songs posts
    reader = signed_client.get("/")  # not signed in: no selection, and no cookie
    assert "Set-Cookie" not in reader.headers and 'name="pick-' not in reader.text


# Valid HTML


def every_page(client, signed_client):
    """{name: HTML} of each page in each state a visitor can find it in."""
    song = create(client, title="<script>alert(1)</script> & Co")
    other = create(client, artist="Zoë", rating=5)
    path = f"/songs/{song['id']}"
    pages = {
        "songs": client.get("/"),
        "songs-sorted-second-page": client.get("/?sort=-rating&limit=1&rating=5"),
        "songs-none-found": client.get("/?q=nothing-at-all"),
        "songs-bad-query": client.get("/?q=ab&rating=9", status=400),
        "songs-bad-parameter": client.get("/?limit=0", status=400),
        "new": client.get("/songs/new"),
        "new-invalid": post_form(client.get("/songs/new"), artist="", title="T", rating=""),
        "song": client.get(path),
        "song-after-save": post_form(client.get(path), title="Saved").follow(),
        "song-invalid": post_form(client.get(path), title=""),
        "delete": client.get(f"{path}/delete"),
        "deleted-none": client.get("/songs/deleted"),
        "not-found": client.get("/songs/999", status=404),
        "unknown-path": client.get("/nothing", headers={"Accept": "text/html"}, status=404),
        "forged-post": client.post(f"/songs/{other['id']}", {"title": "x"}, status=403),
        "reference": client.get("/api"),
        "sign-in": signed_client.get("/sign-in?next=/songs/new"),
        "sign-in-wrong": post_form(signed_client.get("/sign-in"), token="wrong-token-000000000"),
    }
    opened = client.get(path)
    client.patch_json(f"/api/song/{song['id']}", {"rating": 1})
    pages["song-changed-meanwhile"] = post_form(opened, title="Mine")
    pages["songs-after-a-delete"] = post_form(client.get(f"{path}/delete")).follow()
    pages["deleted"] = client.get("/songs/deleted?limit=1")
    post_form(signed_client.get("/sign-in"), token=TOKEN)
    pages["songs-signed-in"] = signed_client.get("/")
    return {name: page.text for name, page in pages.items()}


@pytest.mark.nu_checker
@SQLITE_ONLY  # the markup is the same on both backends
def test_every_page_the_stylesheet_and_the_icon_are_valid_to_the_nu_html_checker(
    client, signed_client, tmp_path
):
    pages = every_page(client, signed_client)
    (tmp_path / "pages").mkdir()
    for name, text in pages.items():
        (tmp_path / "pages" / f"{name}.html").write_text(text)
    for name in ("songs.css", "favicon.svg"):
        (tmp_path / "pages" / name).write_bytes((ROOT / "static" / name).read_bytes())

    files = sorted(tmp_path.glob("pages/*"))

    checked = subprocess.run(
        [
            "java",
            "-jar",
            nu_checker.JAR,
            "--format",
            "json",
            "--also-check-css",
            "--also-check-svg",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    messages = json.loads(checked.stderr)["messages"]  # errors, warnings and notes alike
    assert [
        f"{m['url'].rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m['type']}: {m['message']}"
        for m in messages
    ] == []
    assert checked.returncode == 0 and len(files) == len(pages) + 2


def test_add_then_another_comes_back_to_an_empty_form(client):
    page = client.get("/songs/new")
    form = next(f for f in page.forms.values() if f.action == "/songs")
    for name, value in SONG.items():
        form[name] = str(value)

    resp = form.submit("then", value="another")

    assert resp.headers["Location"] == "/songs/new"
    again = resp.follow()
    assert "The song was added." in again.text
    assert 'id="title" name="title" value=""' in again.text
    assert [song["title"] for song in client.get("/api/songs").json] == [SONG["title"]]


def test_back_to_the_list_keeps_the_search_through_an_edit(client):
    song = create(client)
    listed = "/?q=Jaws&sort=title"
    page = client.get(f"/songs/{song['id']}", headers={"Referer": f"http://localhost:80{listed}"})
    assert f'<a href="{listed.replace("&", "&amp;")}">Back to the list</a>' in page.text

    saved = post_form(page, title="Jaws again").follow()

    assert f'<a href="{listed.replace("&", "&amp;")}">Back to the list</a>' in saved.text
    other_site = client.get(
        f"/songs/{song['id']}", headers={"Referer": f"https://evil.example{listed}"}
    )
    assert "Back to the list" not in other_site.text


def test_a_song_s_page_shows_each_value_once_in_its_form_and_its_times_beside(client):
    song = create(client, artist="Artist Named Once")

    page = client.get(f"/songs/{song['id']}")

    shown = re.sub(r"<[^>]*>", "", page.text)  # the text a person reads, no field's value
    assert "Artist Named Once" not in shown  # no summary of the values above the form
    assert page.form.fields["artist"][0].value == "Artist Named Once"
    times = re.findall(r'<time datetime="([^"]+)">', page.text.split('class="times"')[1])
    assert times[:2] == [song["created_at"], song["updated_at"]]
