"""The change feed (GET /api/changes): every change in the order it became visible, each
once, from a cursor; 410 for a cursor that has missed changes; Prefer: wait answered by a
write made anywhere; and a follower that misses nothing under concurrent writers, on every
backend and through PgBouncer."""

import http.client
import json
import threading
import time

from webtest import TestApp

import service
from helpers import POOLED, POSTGRES_POOLED, SONG, create
from helpers.databases import admin_connection, server_side
from songs import records, storage
from songs.storage.history import purge_history

TOKEN = "alice-secret-0123456789"
ALICE = {"Authorization": f"Bearer {TOKEN}"}


def feed(client, query="", status=200, **headers):
    return client.get(f"/api/changes{query}", headers=headers, status=status)


def follow(client, since, limit=100):
    """Every change past `since`, a page at a time: (the changes, the last cursor)."""
    changes = []
    while True:
        page = feed(client, f"?since={since}&limit={limit}").json
        changes += page["changes"]
        if page["next"] == since:
            return changes, since
        since = page["next"]


@POOLED
def test_every_change_is_in_the_feed_in_order_with_its_actor_and_deletes_as_tombstones(
    make_app,
):
    alices = TestApp(make_app(api_token=f"alice:{TOKEN}"))
    first = alices.post_json("/api/songs", SONG, headers=ALICE).json
    cursor = feed(alices, "?since=now").json["next"]  # a client syncing would list now
    second = alices.post_json("/api/songs", {**SONG, "title": "Two"}, headers=ALICE).json
    patched = alices.patch_json(
        f"/api/song/{first['id']}",
        {"rating": 5},
        headers={**ALICE, "Content-Type": "application/merge-patch+json"},
    ).json
    alices.delete(f"/api/song/{second['id']}", headers=ALICE)
    restored = alices.post(f"/api/song/{second['id']}/restore", headers=ALICE).json
    alices.delete(f"/api/song/{first['id']}", headers=ALICE)

    changes, last = follow(alices, cursor, limit=2)

    assert [(c["op"], c["id"], c["version"], c["actor"], c["song"]) for c in changes] == [
        ("create", second["id"], 1, "alice", second),
        ("update", first["id"], 2, "alice", patched),
        ("delete", second["id"], 2, "alice", None),
        ("restore", second["id"], 3, "alice", restored),
        ("delete", first["id"], 3, "alice", None),
    ]
    cursors = [int(c["cursor"]) for c in changes]
    assert cursors == sorted(set(cursors)) and int(cursor) < cursors[0]
    assert last == changes[-1]["cursor"] == feed(alices, "?since=now").json["next"]
    response = feed(alices)  # from the start: the first song's creation too
    assert [c["op"] for c in response.json["changes"]] == ["create", *(c["op"] for c in changes)]
    assert response.headers["Cache-Control"] == "no-store"
    assert feed(alices, f"?since={last}").json == {"changes": [], "next": last}


def test_a_cursor_that_missed_a_purge_or_is_past_the_end_is_410_and_a_bad_one_400(
    client, database, db
):
    song = create(client)
    client.put_json(f"/api/song/{song['id']}", {**SONG, "rating": 1})
    before = feed(client, "?since=now").json["next"]
    kept = create(client)
    old = "2020-01-01T00:00:00.000Z"
    db.execute("UPDATE song_changes SET at = ? WHERE song_id = ?", (old, song["id"]))

    assert purge_history(database, "2021-01-01T00:00:00.000Z") == 1  # version 1 of the first

    gone = feed(client, "?since=0", status=410).json
    assert "List the songs again" in gone["detail"] and "older" in gone["detail"]
    changes = feed(client, f"?since={before}").json["changes"]  # past the purge: nothing missed
    assert [(c["op"], c["id"]) for c in changes] == [("create", kept["id"])]
    replayed = feed(client).json["changes"]  # from the start: every song there is, as it is
    assert [c["song"] for c in replayed] == client.get("/api/songs?sort=id").json
    ahead = feed(client, "?since=9000000", status=410).json
    assert "past the end of this feed" in ahead["detail"]
    bad = feed(client, "?since=-1&limit=0&from=3", status=400).json
    assert {e["parameter"] for e in bad["errors"]} == {"since", "limit", "from"}
    assert len(client.get("/api/songs").json) == 2  # nothing changed by any of it


def waiting(client, query, answers, headers=None):
    """A thread that asks the feed with Prefer: wait; its answer goes into `answers`."""

    def ask():
        try:
            answers.append(feed(client, query, **{"Prefer": "wait=20", **(headers or {})}))
        finally:
            client.app.config["songs.database"].close()  # this thread's connection

    thread = threading.Thread(target=ask)
    thread.start()
    return thread


def wait_for_waiters(app, count):
    waiters = app.config["songs.feed_waiters"]
    deadline = time.monotonic() + 10
    while waiters.count != count:
        assert time.monotonic() < deadline, f"{waiters.count} waiting, not {count}"
        time.sleep(0.01)


def test_a_waiter_is_answered_by_a_write_from_elsewhere_before_its_wait_ends(app, client, database):
    cursor = feed(client, "?since=now").json["next"]
    answers = []
    thread = waiting(client, f"?since={cursor}", answers)
    wait_for_waiters(app, 1)

    song, _ = records.add_song(database, dict(SONG))  # another process's write, as it were
    thread.join(timeout=20)

    (answer,) = answers
    assert answer.headers["Preference-Applied"] == "wait=20"
    assert [c["song"] for c in answer.json["changes"]] == [song]


def test_a_worker_admits_a_waiter_fewer_than_its_threads_and_answers_the_rest_at_once(app):
    stopping = threading.Event()
    client = TestApp(app, extra_environ={"songs.threads": 2, "songs.stopping": stopping.is_set})
    answers = []
    thread = waiting(client, "?since=now", answers)
    wait_for_waiters(app, 1)

    turned_away = feed(client, "?since=now", Prefer="wait=20")
    stopping.set()  # the worker stops: its waiter is answered
    thread.join(timeout=20)

    assert "Preference-Applied" not in turned_away.headers
    assert turned_away.json["changes"] == []
    (answer,) = answers
    assert answer.json["changes"] == [] and answer.headers["Preference-Applied"] == "wait=20"
    assert app.config["songs.feed_waiters"].count == 0


@POSTGRES_POOLED
def test_a_change_committed_first_but_numbered_later_waits_for_the_earlier_one(
    make_app, database_url
):
    """On PostgreSQL, positions are given at insert and seen at commit: a follower that read
    position p + 1 before p commits would skip p for ever. A page stops before a missing
    position; a read that finds the very next one missing waits for the writers in flight.
    (The follower reads at the server: the writers hold the test's PgBouncer's two
    connections.)"""
    make_app()  # the schema
    follower = service.create_app(server_side(database_url))
    client = TestApp(follower)
    cursor = feed(client, "?since=now").json["next"]
    first, second = storage.open_database(database_url), storage.open_database(database_url)
    answers = []

    def add_later():
        try:
            records.add_song(second, {**SONG, "title": "Later", "rating": 1})  # another count
        finally:
            second.close()

    def read(since):
        try:
            answers.append(feed(client, f"?since={since}"))
        finally:
            follower.config["songs.database"].close()

    try:
        records.add_song(first, {**SONG, "title": "Before"})
        with first.write_transaction() as conn:
            storage.insert_song(conn, dict(SONG), "2026-01-01T00:00:00.000Z", records.NOBODY)
            later = threading.Thread(target=add_later)
            later.start()
            later.join(timeout=20)
            seen_meanwhile = feed(client, f"?since={cursor}").json
            reader = threading.Thread(target=read, args=(seen_meanwhile["next"],))
            reader.start()
            await_lock_wait_or_end(reader)
            answered_before_the_commit = bool(answers)
        reader.join(timeout=20)
    finally:
        first.close()
        follower.config["songs.database"].close()

    assert [c["song"]["title"] for c in seen_meanwhile["changes"]] == ["Before"]
    assert not answered_before_the_commit
    assert [c["song"]["title"] for c in answers[0].json["changes"]] == ["Jaws", "Later"]


@POSTGRES_POOLED
def test_a_position_rolled_back_is_passed_once_no_writer_is_in_flight(make_app, database_url):
    """A write rolled back after its append leaves its position empty for good: the next
    read takes the log's lock alone, finds no writer in flight, and passes it."""
    client = TestApp(make_app())
    cursor = feed(client, "?since=now").json["next"]
    database = storage.open_database(database_url)
    try:
        try:
            with database.write_transaction() as conn:
                storage.insert_song(conn, dict(SONG), "2026-01-01T00:00:00.000Z", records.NOBODY)
                raise LookupError("a failure after the append")
        except LookupError:
            pass
    finally:
        database.close()
    create(client, title="After")

    changes, _ = follow(client, cursor)

    assert [c["song"]["title"] for c in changes] == ["After"]
    assert int(changes[0]["cursor"]) > int(cursor) + 1  # past the empty position


def await_lock_wait_or_end(thread):
    """Until `thread` ends or waits for a lock on the server."""
    with admin_connection() as admin:
        deadline = time.monotonic() + 10
        while thread.is_alive():
            waiting = admin.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
            if waiting[0]:
                return
            assert time.monotonic() < deadline, "the second writer neither ended nor waited"
            time.sleep(0.01)


@POOLED
def test_a_follower_sees_every_change_exactly_once_under_concurrent_writers(start_gunicorn, db):
    server = start_gunicorn(workers=3)
    done = threading.Event()
    seen, errors = [], []

    def write(n):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            for i in range(25):
                body = json.dumps({**SONG, "title": f"{n}-{i}", "rating": 1 + i % 5})
                conn.request("POST", "/api/songs", body, {"Content-Type": "application/json"})
                song = json.loads(conn.getresponse().read())
                put = json.dumps({**SONG, "title": f"{n}-{i}!", "rating": 1 + (i + n) % 5})
                path = f"/api/song/{song['id']}"
                conn.request("PUT", path, put, {"Content-Type": "application/json"})
                conn.getresponse().read()
                if i % 3 == 0:
                    conn.request("DELETE", f"/api/song/{song['id']}")
                    conn.getresponse().read()
        except Exception as error:  # the test fails on it below
            errors.append(error)
        finally:
            conn.close()

    def follow_live():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        since = "0"
        try:
            while True:
                ending = done.is_set()  # then one more read, after every write has answered
                path = f"/api/changes?since={since}&limit=5"
                conn.request("GET", path, headers={"Prefer": "wait=1"})
                page = json.loads(conn.getresponse().read())
                seen.extend(page["changes"])
                if ending and page["next"] == since:
                    return
                since = page["next"]
        except Exception as error:
            errors.append(error)
        finally:
            conn.close()

    follower = threading.Thread(target=follow_live)
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    follower.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    done.set()
    follower.join(timeout=60)

    assert not errors
    logged = db.execute(
        "SELECT position, song_id, version FROM song_changes ORDER BY position"
    ).fetchall()
    expected = [(str(position), song_id, version) for position, song_id, version in logged]
    assert len(expected) == 4 * (25 * 2 + 9)
    assert [(c["cursor"], c["id"], c["version"]) for c in seen] == expected
