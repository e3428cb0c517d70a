"""The pages in a real browser: Debian's Chromium, driven by Playwright, against real gunicorn.

Without Chromium these tests are left out, with one line at the end saying how to enable
them (tests/conftest.py); under CI=true that is an error. make screenshot writes the README's
picture of the songs page with the same test that checks it.
"""

import http.server
import json
import re
import threading
from pathlib import Path

import pytest

from helpers import SONG
from helpers.gunicorn_server import serve_sqlite

# In one test process (make test's --dist loadgroup): one Chromium and one server of each kind.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
TOKEN = "browser-token-0123456789abcdef"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-background-networking",  # no tries at hosts these machines cannot reach
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session (it takes a second to start); a context per test."""
    from playwright.sync_api import sync_playwright

    from helpers import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serve(tmp_path_factory, env=None):
    return serve_sqlite(tmp_path_factory.mktemp("browser"), env)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service with no token, for the module: each test adds songs of its own."""
    server = serve(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    """The service with API_TOKEN set: writing from a page needs signing in."""
    server = serve(tmp_path_factory, {"API_TOKEN": TOKEN})
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def add(server, **fields):
    status, _, song = server.request_json("POST", "/api/songs", {**SONG, **fields})
    assert status == 201
    return song


def add_many(server, artist, titles):
    """Songs of `artist`, one a title, in that order: one batch, one request."""
    batch = [{**SONG, "artist": artist, "title": title} for title in titles]
    status, _, songs = server.request_json("POST", "/api/songs", batch)
    assert status == 201 and len(songs) == len(titles)


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def serious_violations(page):
    """What axe-core finds of serious or critical impact on the page (it runs under the CSP)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("axe.run()")
    return [
        (v["id"], v["help"], [node["target"] for node in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Find, add, edit, delete


def test_a_person_finds_a_song_by_search_and_rating(server, page):
    add(server, artist="Findable Artist", title="Needle in the list", rating=5)
    add(server, artist="Findable Artist", title="Needle of another rating", rating=2)

    page.goto(server.url("/"))
    page.get_by_label("Search artist or title").fill("Needle")
    page.get_by_label("Rating", exact=True).select_option("5")
    page.get_by_role("button", name="Find").click()

    assert re.search(r"/\?q=Needle&rating=5$", page.url)  # the API's list query, no empty field
    expect(page.get_by_role("link", name="Needle in the list")).to_be_visible()
    expect(page.get_by_role("link", name="Needle of another rating")).to_have_count(0)
    json_link = page.get_by_role("link", name="JSON", exact=True).get_attribute("href")
    assert json_link == "/api/songs?q=Needle&rating=5"


def test_a_person_adds_a_song_and_sees_its_page(server, page):
    page.goto(server.url("/"))
    page.get_by_role("link", name="Add a song").click()
    page.get_by_label("Artist").fill("Browser Artist")
    page.get_by_label("Title").fill("Added in Chromium")
    page.get_by_label("Rating").select_option("4")
    page.get_by_role("button", name="Add the song").click()

    assert re.search(r"/songs/\d+$", page.url)
    expect(page.get_by_role("status")).to_have_text("The song was added.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Added in Chromium")
    song_id = page.url.rsplit("/", 1)[1]
    assert server.request_json("GET", f"/api/song/{song_id}")[2]["rating"] == 4


def test_an_invalid_song_shows_the_error_by_its_field_and_keeps_the_input(server, page):
    page.goto(server.url("/songs/new"))
    page.get_by_label("Artist").fill("Kept Artist")
    page.get_by_label("Title").fill("   ")  # passes the browser's `required`, not the service
    page.get_by_label("Rating").select_option("3")
    page.get_by_role("button", name="Add the song").click()

    title = page.get_by_label("Title")
    expect(title).to_have_accessible_description("Title must not be empty or only white space.")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Artist")).to_have_value("Kept Artist")
    assert serious_violations(page) == []


def test_a_person_edits_a_song(server, page):
    song = add(server, title="Before the edit")

    page.goto(server.url(f"/songs/{song['id']}"))
    page.get_by_label("Title").fill("After the edit")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status")).to_have_text("Your changes were saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("After the edit")


def test_two_people_editing_one_song_overwrite_nothing_and_apply_a_change_in_one_click(
    server, browser
):
    song = add(server, title="Shared song")
    first, second = browser.new_context().new_page(), browser.new_context().new_page()
    for person in (first, second):
        person.goto(server.url(f"/songs/{song['id']}"))

    first.get_by_label("Artist").fill("First person's artist")
    first.get_by_role("button", name="Save changes").click()
    second.get_by_label("Title").fill("Second person's title")
    second.get_by_role("button", name="Save changes").click()

    expect(second.get_by_role("alert")).to_contain_text("Someone changed this song")
    expect(second.get_by_label("Artist")).to_have_value("First person's artist")
    assert server.request_json("GET", f"/api/song/{song['id']}")[2]["title"] == "Shared song"
    assert serious_violations(second) == []
    second.get_by_role("button", name="Apply my changes to the current version").click()

    expect(second.get_by_role("status")).to_have_text("Your changes were saved.")
    now = server.request_json("GET", f"/api/song/{song['id']}")[2]
    assert (now["artist"], now["title"]) == ("First person's artist", "Second person's title")
    first.context.close()
    second.context.close()


def test_a_person_deletes_a_song_after_confirming_and_can_undo_it(server, page):
    song = add(server, title="To be deleted")

    page.goto(server.url(f"/songs/{song['id']}"))
    page.get_by_role("link", name="Delete this song…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “To be deleted”?")
    page.get_by_role("button", name="Delete the song").click()

    expect(page.get_by_role("status")).to_have_text("The song was deleted.")
    assert server.request("GET", f"/api/song/{song['id']}")[0] == 404
    assert serious_violations(page) == []  # the page with its offer to undo

    page.get_by_role("button", name="Undo the delete").click()  # changed their mind

    expect(page.get_by_role("status")).to_have_text("The song is back.")
    assert page.url == server.url(f"/songs/{song['id']}")
    assert server.request("GET", f"/api/song/{song['id']}")[0] == 200


def test_paging_shows_every_song_once(server, page):
    add_many(server, "Paged", [f"Paged song {n:03}" for n in range(120)])

    page.goto(server.url("/?artist=Paged&limit=25"))
    seen = []
    while True:
        seen += page.locator("table.songs tbody td:nth-child(3) a").all_inner_texts()
        older = page.get_by_role("link", name="Older songs")
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state()  # the click waits for the next page to begin, not to load

    assert seen == [f"Paged song {n:03}" for n in range(119, -1, -1)]


# Many songs at once, and moving through the list


def test_a_person_deletes_the_songs_they_select_then_brings_one_back(server, page):
    for n in range(3):
        add(server, artist="Selected Artist", title=f"Selected {n}")

    page.goto(server.url("/?artist=Selected+Artist"))
    page.get_by_label("Select Selected 0").check()
    page.get_by_label("Select Selected 2").check()
    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete 2 songs?")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Delete 2 songs").click()

    expect(page.get_by_role("status")).to_contain_text("2 songs were deleted")
    assert serious_violations(page) == []
    left = server.request_json("GET", "/api/songs?artist=Selected+Artist")[2]
    assert [song["title"] for song in left] == ["Selected 1"]
    page.get_by_role("link", name="Recently deleted").first.click()
    page.get_by_role("button", name="Restore “Selected 2”").click()  # changed their mind

    expect(page.get_by_role("status")).to_have_text("The song is back.")
    back = server.request_json("GET", "/api/songs?artist=Selected+Artist&sort=title")[2]
    assert [song["title"] for song in back] == ["Selected 1", "Selected 2"]


def test_setting_the_rating_of_selected_songs_leaves_one_changed_meanwhile(server, page):
    songs = [add(server, artist="Rated Together", title=f"Together {n}") for n in range(3)]

    page.goto(server.url("/?artist=Rated+Together"))
    page.get_by_label("Select all on this page").check()
    page.get_by_label("New rating").select_option("5")
    server.request_json("PATCH", f"/api/song/{songs[1]['id']}", {"title": "Changed meanwhile"})
    page.get_by_role("button", name="Set rating").click()

    expect(page.get_by_role("status")).to_contain_text("2 songs now have the rating 5")
    expect(page.get_by_role("alert")).to_contain_text("Changed meanwhile")
    assert serious_violations(page) == []
    now = server.request_json("GET", "/api/songs?artist=Rated+Together&sort=id")[2]
    assert [song["rating"] for song in now] == [5, SONG["rating"], 5]
    page.get_by_role("link", name="Back to the list").click()
    expect(page).to_have_url(server.url("/?artist=Rated+Together"))


def test_a_person_pages_forward_and_back_in_pages_of_the_size_they_chose(server, page):
    add_many(server, "Two Ways", [f"Both ways {n:02}" for n in range(60)])

    page.goto(server.url("/?artist=Two+Ways"))
    page.get_by_label("Songs a page").select_option("25")
    page.get_by_role("button", name="Find").click()
    titles = page.locator("table.songs tbody td:nth-child(3) a")
    pages = [
        [f"Both ways {n:02}" for n in range(top, max(top - 25, -1), -1)] for top in (59, 34, 9)
    ]

    expect(page.locator("p.summary")).to_have_text("Songs 1–25 of 60.")
    expect(titles).to_have_text(pages[0])
    for shown in pages[1:]:  # each click waits for the page before it to be there
        page.get_by_role("link", name="Older songs").click()
        expect(titles).to_have_text(shown)
    expect(page.get_by_role("link", name="Older songs")).to_have_count(0)
    for shown in reversed(pages[:-1]):
        page.get_by_role("link", name="Newer songs").click()
        expect(titles).to_have_text(shown)

    expect(page.get_by_role("link", name="Newer songs")).to_have_count(0)
    expect(page.locator("p.summary")).to_have_text("Songs 1–25 of 60.")
    assert "limit=25" in page.url
    assert serious_violations(page) == []


def test_the_filters_of_the_form_are_the_api_s_and_an_artist_is_a_link(server, page):
    add(server, artist="Filter Artist", title="Rated two", rating=2)
    add(server, artist="Filter Artist", title="Rated four", rating=4)
    add(server, artist="Filter Artist", title="Rated five", rating=5)
    today = server.request_json("GET", "/api/songs?limit=1")[2][0]["created_at"][:10]

    page.goto(server.url("/"))
    page.get_by_text("More filters").click()
    page.get_by_label("Artist", exact=True).fill("Filter Artist")
    page.get_by_label("Lowest rating").select_option("3")
    page.get_by_label("Highest rating").select_option("4")
    page.get_by_label("Added from (UTC)").fill(today)
    page.get_by_label("Added until (UTC)").fill(today)
    page.get_by_role("button", name="Find").click()

    expect(page.locator("table.songs tbody td:nth-child(3) a")).to_have_text(["Rated four"])
    assert "min_rating=3" in page.url and "max_rating=4" in page.url
    assert "created_after=" in page.url and "T23%3A59%3A59.999Z" in page.url
    expect(page.get_by_label("Added from (UTC)")).to_have_value(today)  # shown as chosen
    assert serious_violations(page) == []
    page.get_by_role("link", name="Filter Artist").first.click()
    expect(page.locator("table.songs tbody td:nth-child(3) a")).to_have_count(3)
    expect(page).to_have_url(server.url("/?artist=Filter+Artist"))


def test_on_a_phone_each_song_reads_as_a_block_with_no_word_broken(server, browser):
    add(server, artist="Strangers Everywhere", title="Strangers Only Tonight", rating=4)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()

    page.goto(server.url("/?artist=Strangers+Everywhere"))

    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    title = page.get_by_role("link", name="Strangers Only Tonight")
    lines = page.evaluate(
        "(e) => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size }",
        title.element_handle(),
    )
    words = page.evaluate(
        "(e) => e.textContent.split(' ').every(w => { const s = document.createElement('span');"
        " s.textContent = w; e.parentNode.appendChild(s); const h = s.getClientRects().length;"
        " s.remove(); return h === 1 })",
        title.element_handle(),
    )
    assert lines <= 2 and words  # wraps between words, if at all
    time_lines = page.evaluate(
        "() => [...document.querySelectorAll('table.songs time')]"
        ".map(t => t.getClientRects().length)"
    )
    assert set(time_lines) == {1}  # a date and time on one line
    expect(page.locator("details.chart")).not_to_have_attribute("open", "")
    assert serious_violations(page) == []
    context.close()


# Security


def test_hostile_text_is_shown_as_text_and_never_run(server, page):
    song = add(
        server, artist="<img src=x onerror=window.pwned=2>", title="<script>window.pwned=1</script>"
    )

    page.goto(server.url(f"/songs/{song['id']}"))

    expect(page.get_by_role("heading", level=1)).to_have_text("<script>window.pwned=1</script>")
    assert page.evaluate("window.pwned") is None


def test_a_form_on_another_origin_cannot_change_a_song(server, browser, tmp_path):
    """A page at another port of the same host is same-site, so the browser sends the
    cookies; the service still refuses it (Sec-Fetch-Site, Origin)."""
    song = add(server, title="Not to be forged")
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url("/songs/new"))  # the person has the CSRF cookie
    token = next(c["value"] for c in context.cookies() if c["name"] == "songs_csrf")
    action = server.url(f"/songs/{song['id']}")
    forged = (
        f'<form method="post" action="{action}">'
        f'<input name="csrf_token" value="{token}"><input name="artist" value="Forged">'
        '<input name="title" value="Forged"><input name="rating" value="1">'
        "<button>Win a prize</button></form>"
    ).encode()
    attacker = serve_once(forged)

    page.goto(f"http://127.0.0.1:{attacker.server_port}/")
    page.get_by_role("button", name="Win a prize").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("403 Forbidden")
    assert server.request_json("GET", f"/api/song/{song['id']}")[2]["title"] == "Not to be forged"
    attacker.shutdown()
    attacker.server_close()
    context.close()


def serve_once(body):
    """Another origin on loopback serving one page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_signing_in_with_a_token_lets_a_person_add_songs(token_server, page):
    page.goto(token_server.url("/songs/new"))

    assert "/sign-in?next=" in page.url
    page.get_by_label("API token").fill("not-the-token-000000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("API token")).to_have_accessible_description(
        "That is not an API token of this service."
    )
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()

    assert page.url.endswith("/songs/new")
    session = next(c for c in page.context.cookies() if c["name"] == "songs_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["expires"] > 0
    assert TOKEN not in session["value"] and TOKEN not in page.content()
    page.get_by_label("Artist").fill("Signed-in Artist")
    page.get_by_label("Title").fill("Added after signing in")
    page.get_by_label("Rating").select_option("5")
    page.get_by_role("button", name="Add the song").click()
    expect(page.get_by_role("status")).to_have_text("The song was added.")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert TOKEN not in token_server.log()


# For everyone


def test_every_step_works_with_javascript_off(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    page.goto(server.url("/songs/new"))
    page.get_by_label("Artist").fill("No Script")
    page.get_by_label("Title").fill("Added without JavaScript")
    page.get_by_label("Rating").select_option("2")
    page.get_by_role("button", name="Add the song").click()
    page.get_by_label("Title").fill("Edited without JavaScript")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edited without JavaScript")
    page.get_by_role("link", name="Delete this song…").click()
    page.get_by_role("button", name="Delete the song").click()

    expect(page.get_by_role("status")).to_have_text("The song was deleted.")
    context.close()


def test_a_person_adds_a_song_with_the_keyboard_alone_and_sees_where_the_focus_is(server, page):
    page.goto(server.url("/songs/new"))
    outlines = []
    for _ in range(5):
        page.keyboard.press("Tab")  # past the skip link, Songs, Add a song, Recently deleted, API
    for text in ("Keyboard Artist", "Added with the keyboard"):
        page.keyboard.press("Tab")
        outlines.append(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))
        page.keyboard.type(text)
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # the rating: from "Choose 1 to 5" to 5
    page.keyboard.press("Tab")
    outlines.append(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text("The song was added.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Added with the keyboard")
    assert "none" not in outlines  # focus is visible on each field and the button


@pytest.mark.parametrize(
    "path",
    ["/", "/songs/new", "/songs/{id}", "/songs/{id}/delete", "/songs/deleted", "/api", "/nothing"],
)
def test_axe_finds_no_serious_violation(server, page, path):
    song = add(server, title="Checked by axe")
    gone = add(server, title="Deleted, for the list of them")
    server.request("DELETE", f"/api/song/{gone['id']}")

    page.goto(server.url(path.format(id=song["id"])))

    assert serious_violations(page) == []


def test_the_sign_in_page_passes_axe(token_server, page):
    page.goto(token_server.url("/sign-in"))

    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/", "/songs/{id}", "/songs/new", "/api"])
def test_a_phone_s_width_needs_no_sideways_scrolling(server, browser, path):
    song = add(server, artist="A long artist name " * 4, title="Averyveryverylongtitle" * 3)
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()

    page.goto(server.url(path.format(id=song["id"])))

    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    context.close()


def test_the_songs_page_as_a_person_sees_it(tmp_path_factory, browser, request, tmp_path):
    """The README's screenshot, on a service of its own: make screenshot keeps it in docs/."""
    server = serve(tmp_path_factory)
    for artist, title, rating in SAMPLE_SONGS:
        add(server, artist=artist, title=title, rating=rating)
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()

    page.goto(server.url("/"))
    path = request.config.getoption("screenshot") or tmp_path / "songs-page.png"
    page.screenshot(path=str(path))

    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expect(page.locator("details.chart summary")).to_have_text("Matching songs by rating")
    context.close()
    server.stop()


SAMPLE_SONGS = json.loads(
    """[["Gregori Klosman", "Jaws", 3], ["Daft Punk", "Around the World", 5],
    ["Nina Simone", "Sinnerman", 5], ["Kraftwerk", "Computer Love", 4],
    ["Björk", "Jóga", 4], ["Fela Kuti", "Water No Get Enemy", 5],
    ["Aphex Twin", "Xtal", 4], ["Stereolab", "French Disko", 3]]"""
)
