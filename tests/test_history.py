"""Each song's history (GET /api/song/<id>/history), from the change log that every write
adds to in its own transaction: who changed what and when, on every backend, from the API,
the pages and the command line."""

import http.client
import json
import threading

import pytest
from webtest import TestApp

import service
from helpers import POOLED, POSTGRES_ONLY, SONG, create
from helpers.commands import make
from songs import storage
from songs.storage.history import purge_history

TOKEN = "alice-secret-0123456789"
ALICE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def alices(make_app):
    """The service with one token, alice's."""
    return TestApp(make_app(api_token=f"alice:{TOKEN}"))


def history(client, song_id, query="", status=200):
    return client.get(f"/api/song/{song_id}/history{query}", status=status)


def test_every_write_is_a_version_with_its_actor_request_and_the_song_after_it(alices):
    made = alices.post_json("/api/songs", SONG, headers={**ALICE, "X-Request-ID": "make-1"})
    song_id = made.json["id"]
    patched = alices.patch_json(
        f"/api/song/{song_id}",
        {"rating": 5},
        headers={**ALICE, "Content-Type": "application/merge-patch+json", "X-Request-ID": "up-2"},
    ).json
    alices.put_json(f"/api/song/{song_id}", {**SONG, "rating": 5}, headers=ALICE)  # no change
    alices.delete(f"/api/song/{song_id}", headers={**ALICE, "X-Request-ID": "gone-3"})

    versions = history(alices, song_id).json

    assert [(v["version"], v["op"], v["actor"], v["request_id"]) for v in versions] == [
        (3, "delete", "alice", "gone-3"),
        (2, "update", "alice", "up-2"),
        (1, "create", "alice", "make-1"),
    ]
    assert versions[2]["song"] == made.json and versions[2]["at"] == made.json["updated_at"]
    assert versions[1]["song"] == patched and versions[1]["at"] == patched["updated_at"]
    assert versions[0]["song"] == patched  # as it was when deleted
    assert versions[0]["at"] >= patched["updated_at"]


@POOLED
def test_writers_changing_one_song_at_once_each_get_a_version_of_their_own(
    start_gunicorn, make_app
):
    """Each version's number is one more than the song's last: a writer that waited for the
    song's row while another changed it numbers its version after the other's, on every
    backend (on PostgreSQL a statement reads in one snapshot, taken before that wait, unless
    the row was held first)."""
    song = create(TestApp(make_app()))
    server = start_gunicorn(workers=3)
    statuses = []

    def write(n):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            for i in range(8):
                body = json.dumps({**SONG, "title": f"{n}-{i}", "rating": 1 + (n + i) % 5})
                headers = {"Content-Type": "application/json"}
                conn.request("PUT", f"/api/song/{song['id']}", body, headers)
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    versions = history(TestApp(make_app()), song["id"], "?limit=100").json

    assert statuses == [200] * 32
    assert sorted(v["version"] for v in versions) == list(range(1, 34))


def test_a_write_without_a_token_is_anonymous_and_a_refused_one_is_no_version(client):
    song = create(client)
    client.put_json(
        f"/api/song/{song['id']}", {**SONG, "title": "x"}, headers={"If-Match": '"no"'}, status=412
    )
    client.put_json(f"/api/song/{song['id']}", {"artist": ""}, status=422)

    versions = history(client, song["id"]).json

    assert [(v["op"], v["actor"]) for v in versions] == [("create", "anonymous")]


def test_a_replayed_idempotent_post_is_one_version(client):
    headers = {"Idempotency-Key": "key-0123456789"}
    first = client.post_json("/api/songs", SONG, headers=headers, status=201).json
    client.post_json("/api/songs", SONG, headers=headers, status=201)

    assert [v["version"] for v in history(client, first["id"]).json] == [1]


def test_a_long_history_is_paged_newest_first_by_its_link_and_revalidated(client):
    song = create(client, rating=1)
    for rating in (2, 3, 4, 5, 1):
        client.patch_json(
            f"/api/song/{song['id']}",
            {"rating": rating},
            headers={"Content-Type": "application/merge-patch+json"},
        )

    first = history(client, song["id"], "?limit=4")
    following = client.get(first.headers["Link"].split(">")[0][1:])

    assert [v["version"] for v in first.json] == [6, 5, 4, 3]
    assert [v["version"] for v in following.json] == [2, 1]
    assert 'rel="next"' not in following.headers["Link"]
    assert [v["song"]["rating"] for v in first.json + following.json] == [1, 5, 4, 3, 2, 1]
    etag = first.headers["ETag"]
    assert history(client, song["id"], "?limit=4").headers["ETag"] == etag
    client.get(
        f"/api/song/{song['id']}/history?limit=4", headers={"If-None-Match": etag}, status=304
    )


def test_a_song_that_never_was_has_no_history_and_bad_parameters_are_named(client):
    create(client)

    assert history(client, 2, status=404).json["detail"] == (
        "No song with id 2 is in the history: there never was one here."
    )
    problem = history(client, 1, "?limit=0&before=x&sort=id", status=400).json
    assert {e["parameter"] for e in problem["errors"]} == {"limit", "before", "sort"}


def test_a_write_and_its_version_commit_together_or_not_at_all(client, db, dump, backend):
    """A log that refuses the row (here a trigger, standing in for any failure between the
    write and its record) takes the write down with it."""
    create(client)
    fail = "SELECT RAISE(ABORT, 'the log is broken')"
    if backend == "sqlite":
        db.execute(f"CREATE TRIGGER broken BEFORE INSERT ON song_changes BEGIN {fail}; END")
    else:
        db.execute(
            "CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'the log is broken'"
            " USING ERRCODE = 'check_violation'; END $$"
        )
        db.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON song_changes"
            " FOR EACH ROW EXECUTE FUNCTION broken()"
        )
    before = dump()

    client.post_json("/api/songs", SONG, status="*")
    client.patch_json(
        "/api/song/1",
        {"rating": 1},
        headers={"Content-Type": "application/merge-patch+json"},
        status="*",
    )
    client.delete("/api/song/1", status="*")

    assert dump() == before


def test_a_page_session_writes_as_the_token_it_signed_in_with(make_app):
    app = TestApp(make_app(api_token=f"alice:{TOKEN}"))
    sign_in = form_to(app.get("/sign-in"), "/sign-in")
    sign_in["token"] = TOKEN
    sign_in.submit(status=303)
    form = form_to(app.get("/songs/new"), "/songs")
    for name, value in SONG.items():
        form[name] = str(value)
    form.submit(status=303)

    assert [(v["op"], v["actor"]) for v in history(app, 1).json] == [("create", "alice")]


def form_to(page, action):
    return next(form for form in page.forms.values() if form.action == action)


def test_songs_from_before_the_history_start_with_their_state_then(database_url):
    older = storage.open_database(database_url)
    older.init_schema(storage.STEPS[:1])  # schema version 6: no change log yet
    stamps = ("2026-01-02T03:04:05.006Z", "2026-02-03T04:05:06.007Z")
    with older.write_transaction() as conn:
        conn.insert_rows(
            "songs",
            (*storage.WRITTEN, "created_at", "updated_at"),
            [(*storage.written_values(SONG), *stamps)],
        )
    older.init_schema()
    older.close()
    client = TestApp(service.create_app(database_url))

    (version,) = history(client, 1).json

    assert version["song"] == client.get("/api/song/1").json
    client.app.config["songs.database"].close()
    assert (version["version"], version["op"], version["at"], version["actor"]) == (
        1,
        "create",
        stamps[1],
        "command:init-db",
    )


@POSTGRES_ONLY
def test_migrate_to_postgres_carries_each_songs_history(tmp_path, database_url, client):
    source = tmp_path / "source.db"
    assert make("seed", "N=2", env={"DATABASE_URL": f"sqlite:///{source}"}).returncode == 0
    old = TestApp(service.create_app(f"sqlite:///{source}", api_token=f"alice:{TOKEN}"))
    old.patch_json(
        "/api/song/2",
        {"rating": 5},
        headers={**ALICE, "Content-Type": "application/merge-patch+json"},
    )
    old.delete("/api/song/1", headers=ALICE)
    before = [history(old, song_id).json for song_id in (1, 2)]
    old.app.config["songs.database"].close()

    moved = make("migrate-to-postgres", f"FILE={source}", env={"DATABASE_URL": database_url})
    again = make("migrate-to-postgres", f"FILE={source}", env={"DATABASE_URL": database_url})

    assert (moved.returncode, again.returncode) == (0, 0), moved.stderr + again.stderr
    assert [history(client, song_id).json for song_id in (1, 2)] == before


# Undo


def test_a_deleted_song_comes_back_with_its_id_its_values_and_a_version(alices):
    song = alices.post_json("/api/songs", SONG, headers=ALICE).json
    alices.delete(f"/api/song/{song['id']}", headers=ALICE)
    alices.get(f"/api/song/{song['id']}", status=404)

    back = alices.post(f"/api/song/{song['id']}/restore", headers=ALICE, status=201)

    assert back.headers["Location"] == f"/api/song/{song['id']}"
    assert back.json == {**song, "updated_at": back.json["updated_at"]}
    assert back.json["updated_at"] >= song["updated_at"]
    assert alices.get(f"/api/song/{song['id']}").json == back.json
    assert back.headers["ETag"] == alices.get(f"/api/song/{song['id']}").headers["ETag"]
    newest = history(alices, song["id"]).json[0]
    assert (newest["version"], newest["op"], newest["actor"]) == (3, "restore", "alice")
    assert newest["song"] == back.json


def test_a_version_is_set_back_as_a_new_one_and_an_existing_song_needs_a_version(client):
    song = create(client, rating=1)
    path = f"/api/song/{song['id']}"
    client.put_json(path, {**SONG, "title": "Renamed", "rating": 4})

    refused = client.post(f"{path}/restore", status=409).json
    back = client.post_json(f"{path}/restore", {"version": 1}, status=200).json

    assert "is not deleted" in refused["detail"]
    assert (back["title"], back["rating"]) == (song["title"], 1)
    assert [(v["version"], v["op"]) for v in history(client, song["id"]).json] == [
        (3, "restore"),
        (2, "update"),
        (1, "create"),
    ]
    client.post_json(f"{path}/restore", {"version": 3}, status=200)  # the same values
    assert len(history(client, song["id"]).json) == 3  # no change, no version


def test_a_restore_takes_if_match_like_any_write(make_app, dump):
    client = TestApp(make_app(require_if_match="1"))
    song = client.post_json("/api/songs", SONG).json
    path = f"/api/song/{song['id']}"
    etag = client.get(path).headers["ETag"]
    client.patch_json(
        path, {"rating": 5}, headers={"If-Match": etag, "Content-Type": "application/json"}
    )
    before = dump()

    client.post_json(f"{path}/restore", {"version": 1}, status=428)
    client.post_json(f"{path}/restore", {"version": 1}, headers={"If-Match": etag}, status=412)

    assert dump() == before
    current = client.get(path).headers["ETag"]
    client.post_json(f"{path}/restore", {"version": 1}, headers={"If-Match": current}, status=200)
    assert client.get(path).json["rating"] == SONG["rating"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "named"),
    [
        (b'{"version": 9}', "application/json", 422, {"version"}),
        (b'{"version": 0, "title": "x"}', "application/json", 422, {"version", "title"}),
        (b'{"version": "1"}', "application/json", 422, {"version"}),
        (b"[1]", "application/json", 422, set()),
        (b"{", "application/json", 400, set()),
        (b"version=1", "application/x-www-form-urlencoded", 415, set()),
    ],
)
def test_a_bad_restore_names_what_is_wrong_and_changes_nothing(
    client, dump, body, content_type, status, named
):
    song = create(client)
    client.delete(f"/api/song/{song['id']}")
    before = dump()

    problem = client.post(
        f"/api/song/{song['id']}/restore",
        body,
        headers={"Content-Type": content_type},
        status=status,
    ).json

    assert {error["field"] for error in problem.get("errors", [])} == named
    assert dump() == before
    client.post(f"/api/song/{song['id'] + 1}/restore", status=404)


def test_the_deleted_songs_are_listed_latest_first_until_restored(client):
    songs = [create(client, title=f"Song {n}") for n in range(4)]
    for song in songs[:3]:
        client.delete(f"/api/song/{song['id']}")
    client.post(f"/api/song/{songs[1]['id']}/restore", status=201)
    client.delete(f"/api/song/{songs[1]['id']}")  # deleted again: listed once, first

    first = client.get("/api/songs/deleted?limit=2")
    rest = client.get(first.headers["Link"].split(">")[0][1:])

    listed = [v["song"]["id"] for v in first.json + rest.json]
    assert listed == [songs[1]["id"], songs[2]["id"], songs[0]["id"]]
    assert {v["op"] for v in first.json + rest.json} == {"delete"}
    client.post(f"/api/song/{songs[2]['id']}/restore", status=201)
    assert [v["song"]["id"] for v in client.get("/api/songs/deleted").json] == [
        songs[1]["id"],
        songs[0]["id"],
    ]


def test_a_read_only_token_cannot_restore(make_app):
    reader = "reader-secret-0123456789"
    app = TestApp(make_app(api_token=f"alice:{TOKEN}, ci:{reader}:read"))
    song = app.post_json("/api/songs", SONG, headers=ALICE).json
    app.delete(f"/api/song/{song['id']}", headers=ALICE)

    app.post(
        f"/api/song/{song['id']}/restore",
        headers={"Authorization": f"Bearer {reader}"},
        status=403,
    )
    app.post(f"/api/song/{song['id']}/restore", status=401)
    assert app.get("/api/songs/deleted").json[0]["song"]["id"] == song["id"]


# Retention


def test_old_versions_go_after_history_days_but_each_songs_latest_stays(make_app, db):
    writer = TestApp(make_app())
    kept = create(writer, title="Unchanged for years")
    changed = create(writer, title="Changed")
    writer.patch_json(
        f"/api/song/{changed['id']}", {"rating": 1}, headers={"Content-Type": "application/json"}
    )
    gone = create(writer, title="Deleted long ago")
    writer.delete(f"/api/song/{gone['id']}")
    recent = create(writer, title="Deleted today")
    writer.delete(f"/api/song/{recent['id']}")
    old = "2020-01-01T00:00:00.000Z"
    db.execute("UPDATE song_changes SET at = ? WHERE song_id <> ?", (old, recent["id"]))

    purging = TestApp(make_app(history_days="30"))  # a worker of its own: its first write purges
    create(purging, title="The write after which it purges")

    assert [v["version"] for v in history(purging, kept["id"]).json] == [1]
    assert [(v["version"], v["op"]) for v in history(purging, changed["id"]).json] == [
        (2, "update")
    ]
    history(purging, gone["id"], status=404)
    purging.post(f"/api/song/{gone['id']}/restore", status=404)
    assert [v["song"]["id"] for v in purging.get("/api/songs/deleted").json] == [recent["id"]]
    assert len(history(purging, recent["id"]).json) == 2


def test_history_days_0_keeps_every_version(make_app, db):
    writer = TestApp(make_app(history_days="0"))
    song = create(writer)
    writer.delete(f"/api/song/{song['id']}")
    db.execute("UPDATE song_changes SET at = ?", ("2020-01-01T00:00:00.000Z",))

    create(writer)

    assert len(history(writer, song["id"]).json) == 2


@pytest.mark.parametrize("value", ["-1", "thirty", "1.5", "10000000"])
def test_a_history_days_that_is_no_count_of_days_stops_startup(make_app, value):
    with pytest.raises(ValueError, match="HISTORY_DAYS must be a whole number of days"):
        make_app(history_days=value)


def test_a_purge_that_fails_is_logged_and_the_write_before_it_stands(make_app, db, backend, caplog):
    if backend == "sqlite":
        db.execute(
            "CREATE TRIGGER kept BEFORE DELETE ON song_changes"
            " BEGIN SELECT RAISE(ABORT, 'kept for ever'); END"
        )
    else:
        db.execute(
            "CREATE FUNCTION kept() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'kept for ever'; END $$"
        )
        db.execute(
            "CREATE TRIGGER kept BEFORE DELETE ON song_changes FOR EACH ROW EXECUTE FUNCTION kept()"
        )
    writer = TestApp(make_app(history_days="1"))
    song = create(writer)
    writer.put_json(f"/api/song/{song['id']}", {**SONG, "title": "Replaced long ago"})
    old = "2020-01-01T00:00:00.000Z"
    db.execute("UPDATE song_changes SET at = ?", (old,))  # so version 1 is due to go
    purging = TestApp(make_app(history_days="1"))

    changed = purging.patch_json(
        f"/api/song/{song['id']}", {"rating": 1}, headers={"Content-Type": "application/json"}
    )

    assert changed.status_int == 200
    assert purging.get(f"/api/song/{song['id']}").json["rating"] == 1
    assert "the change log's purge failed" in caplog.text


# Cost


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's machine counts the work
def test_a_change_to_a_song_with_a_long_history_costs_what_the_first_did(make_app, db):
    """Each statement of the log finds its row by (song_id, version): a song changed 2,000
    times is changed with the same work as one changed once, not with a walk of its past."""
    app = make_app()
    client = TestApp(app)
    hot, cold = create(client), create(client)
    db.execute(  # 2,000 earlier versions of the hot song, the last one current
        "WITH RECURSIVE n(v) AS (SELECT 2 UNION ALL SELECT v + 1 FROM n WHERE v < 2001)"
        " INSERT INTO song_changes (song_id, version, op, at, actor, song)"
        " SELECT ?, v, 'update', '2026-01-01T00:00:00.000Z', 'anonymous', '{}' FROM n",
        (hot["id"],),
    )

    def work(song):
        steps = [0]
        conn = app.config["songs.database"].connection()
        conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 10)
        try:
            client.patch_json(
                f"/api/song/{song['id']}",
                {"rating": 5},
                headers={"Content-Type": "application/json"},
            )
        finally:
            conn.set_progress_handler(None, 0)
        return steps[0]

    assert history(client, hot["id"], "?limit=1").json[0]["version"] == 2001
    hot_work, cold_work = work(hot), work(cold)
    assert history(client, hot["id"], "?limit=1").json[0]["version"] == 2002
    assert hot_work <= cold_work + 5, (hot_work, cold_work)


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's machine counts the work
def test_a_purge_reads_each_change_once_whatever_the_logs_length(database, db):
    db.execute(  # 3,000 songs, each with its one version, made long ago and kept
        "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 3000)"
        " INSERT INTO song_changes (song_id, version, op, at, actor, song)"
        " SELECT v, 1, 'create', '2020-01-01T00:00:00.000Z', 'anonymous', '{}' FROM n"
    )
    conn = database.connection()

    def work():
        steps = [0]
        conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 10)
        try:
            gone = purge_history(database, "2021-01-01T00:00:00.000Z", budget=60)
        finally:
            conn.set_progress_handler(None, 0)
        return gone, steps[0]

    (first, walked), (second, idle) = work(), work()

    assert (first, second) == (0, 0)  # each is its song's latest
    assert db.execute("SELECT walked_to FROM song_changes_purged").fetchall() == [(3000,)]
    assert idle * 100 < walked, (idle, walked)


def test_a_restore_after_a_delete_keeps_the_song_and_its_latest_version(make_app, db, database):
    client = TestApp(make_app())
    song = create(client)
    client.delete(f"/api/song/{song['id']}")
    client.post(f"/api/song/{song['id']}/restore", status=201)
    db.execute("UPDATE song_changes SET at = ?", ("2020-01-01T00:00:00.000Z",))

    assert purge_history(database, "2021-01-01T00:00:00.000Z") == 2  # created, then deleted

    assert [v["op"] for v in history(client, song["id"]).json] == ["restore"]
    assert client.get(f"/api/song/{song['id']}").json["title"] == SONG["title"]


def test_a_log_of_version_7_is_upgraded_and_purged_by_the_walk(database_url):
    older = storage.open_database(database_url)
    older.init_schema([step for step in storage.STEPS if step.version <= 7])
    stamps = ("2020-01-01T00:00:00.000Z", "2020-01-02T00:00:00.000Z")
    with older.write_transaction() as conn:
        conn.insert_rows(
            "songs",
            (*storage.WRITTEN, "created_at", "updated_at"),
            [(*storage.written_values(SONG), stamps[0], stamps[1])],
        )
        conn.insert_rows(
            "song_changes",
            ("song_id", "version", "op", "at", "actor", "song", "superseded_at"),
            [
                (1, 1, "create", stamps[0], "anonymous", "{}", stamps[1]),
                (1, 2, "update", stamps[1], "anonymous", "{}", None),
            ],
        )
    older.init_schema()
    older.close()
    client = TestApp(service.create_app(database_url))

    assert purge_history(client.app.config["songs.database"], "2021-01-01T00:00:00.000Z") == 1
    assert [v["version"] for v in history(client, 1).json] == [2]
    client.app.config["songs.database"].close()


def test_the_delete_page_says_how_long_a_song_can_be_brought_back(make_app):
    for days, says in (("30", "Its history keeps it for 30 days"), ("0", "Its history keeps it,")):
        client = TestApp(make_app(history_days=days))
        song = create(client)

        page = client.get(f"/songs/{song['id']}/delete").text

        assert says in page and "gone for good" not in page
        assert f"POST /api/song/{song['id']}/restore" in page


def test_a_song_deleted_from_its_page_is_brought_back_by_the_undo_after(make_app):
    client = TestApp(make_app())
    song = create(client)
    confirm = form_to(client.get(f"/songs/{song['id']}/delete"), f"/songs/{song['id']}/delete")

    listed = confirm.submit(status=303).follow()
    undo = form_to(listed, f"/songs/{song['id']}/restore")
    back = undo.submit(status=303)

    assert "The song was deleted." in listed.text
    assert back.headers["Location"] == f"/songs/{song['id']}"
    assert "The song is back." in back.follow().text
    assert client.get(f"/api/song/{song['id']}").json["title"] == song["title"]
    assert history(client, song["id"], "?limit=1").json[0]["op"] == "restore"
    assert "Undo" not in client.get("/").text  # the offer was for that one page


def test_the_recently_deleted_page_lists_them_latest_first_and_restores_one(make_app):
    client = TestApp(make_app())
    first, second, kept = (
        create(client, title="First"),
        create(client, title="Second"),
        create(client),
    )
    for song in (first, second):
        client.delete(f"/api/song/{song['id']}")

    page = client.get("/songs/deleted?limit=1")
    older = client.get(page.html.find("a", rel="next")["href"])
    back = form_to(older, f"/songs/{first['id']}/restore").submit(status=303)

    assert [td.text for td in page.html.select("tbody td:first-child")] == ["Second"]
    assert [td.text for td in older.html.select("tbody td:first-child")] == ["First"]
    assert "anonymous" in page.text and kept["title"] not in page.text
    assert back.headers["Location"] == f"/songs/{first['id']}"
    titles = [td.text for td in client.get("/songs/deleted").html.select("tbody td:first-child")]
    assert titles == ["Second"]


def test_a_songs_page_shows_its_history_and_restores_a_version_unless_it_changed(make_app):
    client = TestApp(make_app())
    song = create(client, title="Before", rating=2)
    client.patch_json(
        f"/api/song/{song['id']}",
        {"title": "After", "rating": 4},
        headers={"Content-Type": "application/json"},
    )
    page = client.get(f"/songs/{song['id']}")
    items = [li.get_text(" ", strip=True) for li in page.html.select("ol.history li")]

    assert items[0].startswith("Updated by anonymous,")
    assert "title “Before” → “After”; rating “2” → “4”." in items[0]
    assert items[1].startswith("Created by anonymous,") and "Restore version 1" in items[1]
    restore = form_to(page, f"/songs/{song['id']}/restore")
    client.patch_json(  # meanwhile, someone else
        f"/api/song/{song['id']}", {"rating": 5}, headers={"Content-Type": "application/json"}
    )
    refused = restore.submit(status=409)
    assert "it was not restored" in refused.text
    assert client.get(f"/api/song/{song['id']}").json["rating"] == 5

    restore = form_to(client.get(f"/songs/{song['id']}"), f"/songs/{song['id']}/restore")
    assert restore["version"].value == "2"  # the newest it offers is the one before the latest
    forms = [
        f
        for f in client.get(f"/songs/{song['id']}").forms.values()
        if f.action == f"/songs/{song['id']}/restore" and f["version"].value == "1"
    ]
    forms[0].submit(status=303)
    back = client.get(f"/api/song/{song['id']}").json
    assert (back["title"], back["rating"]) == ("Before", 2)
    assert history(client, song["id"], "?limit=1").json[0]["op"] == "restore"
