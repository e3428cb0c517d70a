"""The songs page's selection: delete (after a confirmation) or rate the songs ticked, in one
transaction, leaving any song that changed since the page was shown as it is."""

import re

from helpers import POSTGRES_POOLED, SONG, create
from helpers.databases import statements_counted


def selection_form(client, path="/"):
    """The songs page's selection form, as WebTest reads it (its checkboxes unticked)."""
    page = client.get(path)
    return next(form for form in page.forms.values() if form.action == "/songs/selected")


def tick(form, *song_ids):
    for song_id in song_ids:
        form[f"pick-{song_id}"].checked = True
    return form


def confirming(page):
    return next(form for form in page.forms.values() if form.action == "/songs/selected")


def titles(client):
    return sorted(song["title"] for song in client.get("/api/songs").json)


def test_deleting_the_ticked_songs_asks_first_then_deletes_them_in_one_go(client):
    songs = [create(client, title=f"Song {n}") for n in range(4)]
    form = tick(selection_form(client, "/?sort=id"), songs[1]["id"], songs[2]["id"])

    confirm = form.submit("action", value="delete")
    assert "Delete 2 songs?" in confirm.text
    assert titles(client) == ["Song 0", "Song 1", "Song 2", "Song 3"]  # nothing yet
    done = confirming(confirm).submit("action", value="delete")

    assert "2 songs were deleted" in done.text
    assert titles(client) == ["Song 0", "Song 3"]
    assert re.search(r'href="/\?sort=id">Back to the list', done.text)
    deleted = client.get("/api/songs/deleted").json
    assert sorted(entry["song"]["title"] for entry in deleted) == ["Song 1", "Song 2"]
    assert len({entry["at"] for entry in deleted}) == 1  # one transaction's moment


def test_a_song_changed_since_the_page_was_shown_is_left_as_it_is_and_named(client):
    songs = [create(client, title=f"Song {n}", rating=3) for n in range(3)]
    form = selection_form(client)
    form["all"].checked = True
    form["rating"] = "1"
    client.patch_json(f"/api/song/{songs[1]['id']}", {"rating": 5})  # someone else, meanwhile

    done = form.submit("action", value="rate")

    assert "2 songs now have the rating 1" in done.text
    assert "1 selected song was left as it was" in done.text
    assert f'href="/songs/{songs[1]["id"]}">Song 1</a>' in done.text
    ratings = {song["title"]: song["rating"] for song in client.get("/api/songs").json}
    assert ratings == {"Song 0": 1, "Song 1": 5, "Song 2": 1}


def test_a_song_deleted_meanwhile_is_named_and_the_others_deleted(client):
    songs = [create(client, title=f"Song {n}") for n in range(2)]
    form = tick(selection_form(client), *(song["id"] for song in songs))
    confirm = form.submit("action", value="delete")
    client.delete(f"/api/song/{songs[0]['id']}")

    done = confirming(confirm).submit("action", value="delete")

    assert "1 song was deleted" in done.text
    assert f"Song {songs[0]['id']}, which someone deleted meanwhile" in done.text
    assert titles(client) == []


def test_nothing_ticked_or_no_rating_is_a_422_page_and_changes_nothing(client, dump):
    create(client)
    before = dump()

    none = selection_form(client).submit("action", value="rate", status=422)
    form = tick(selection_form(client), 1)
    form["rating"].force_value("9")
    bad = form.submit("action", value="rate", status=422)

    assert "Select at least one song first." in none.text
    assert "Choose a rating from 1 to 5 first." in bad.text
    assert dump() == before


def test_a_made_up_etag_selects_nothing(client, dump):
    create(client)
    form = tick(selection_form(client), 1)
    form["etag-1"].force_value("not-an-etag")
    before = dump()

    resp = form.submit("action", value="rate", status=422)

    assert "Select at least one song first." in resp.text
    assert dump() == before


def test_the_selection_needs_this_site_s_form(client, dump):
    create(client)
    client.get("/")
    before = dump()

    resp = client.post(
        "/songs/selected",
        {"action": "delete", "confirmed": "1", "pick-1": "1", "etag-1": "0" * 32},
        status=403,
    )

    assert "did not come from this site" in resp.text
    assert dump() == before


def test_rating_a_song_already_so_rated_writes_nothing(client):
    create(client, **{**SONG, "rating": 2})
    form = tick(selection_form(client), 1)
    form["rating"] = "2"

    form.submit("action", value="rate")

    assert [entry["op"] for entry in client.get("/api/song/1/history").json] == ["create"]


@POSTGRES_POOLED
def test_on_postgresql_a_selection_is_rated_and_deleted_in_one_statement_each(client, db):
    """PostgreSQL plans each statement anew: a selection of 200 songs written a statement a
    song would spend most of its time there. A statement-level trigger counts the writes."""
    seen = statements_counted(db)
    batch = [{**SONG, "title": f"Song {n}", "rating": n % 5 + 1} for n in range(50)]
    created = client.post_json("/api/songs", batch, status=201).json

    form = selection_form(client)
    form["all"].checked = True
    form["rating"] = "1"
    assert "50 songs now have the rating 1" in form.submit("action", value="rate").text
    form = selection_form(client)
    form["all"].checked = True
    confirm = confirming(form.submit("action", value="delete"))
    assert "50 songs were deleted" in confirm.submit("action", value="delete").text

    assert seen() == {
        ("songs", "INSERT"): 1,
        ("songs", "UPDATE"): 1,
        ("songs", "DELETE"): 1,
        ("song_changes", "INSERT"): 3,  # the batch's, the ratings' and the deletes' records
    }
    assert client.get("/api/songs").json == []
    rated, kept = (client.get(f"/api/song/{created[n]['id']}/history").json for n in (1, 0))
    assert [entry["op"] for entry in rated] == ["delete", "update", "create"]
    assert [entry["op"] for entry in kept] == ["delete", "create"]  # rated 1 already
