"""Crashes, shutdowns, backups and racing writers, under real gunicorn on a real database."""

import http.client
import json
import os
import random
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import POOLED, SONG

pytestmark = POOLED  # through PgBouncer too, in transaction pooling mode

FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")


def write_until(server, stop, acknowledged, lock, client):
    """POST songs until `stop`, keeping each one the service acknowledged (a 201)."""
    n = 0
    while not stop.is_set():
        song = {"artist": f"Client {client}", "title": f"Song {n}", "rating": n % 5 + 1}
        try:
            status, _, created = server.request_json("POST", "/api/songs", song)
        except (OSError, http.client.HTTPException, ValueError):
            continue  # cut off by the kill: not acknowledged, so it may or may not be there
        if status == 201:
            with lock:
                acknowledged[created["id"]] = song
        n += 1


def answers(port):
    """Whether a new connection gets any answer within 2 s (not refused, reset or ignored)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            return sock.recv(1) != b""
    except OSError:
        return False


def test_a_kill_9_mid_writes_loses_no_acknowledged_song_and_corrupts_nothing(
    start_gunicorn, db, backend
):
    acknowledged, lock = {}, threading.Lock()
    for _ in range(3):
        server = start_gunicorn(workers=4)
        stop = threading.Event()
        with ThreadPoolExecutor(8) as pool:
            for client in range(8):
                pool.submit(write_until, server, stop, acknowledged, lock, client)
            time.sleep(1.5)
            os.killpg(server.process.pid, signal.SIGKILL)  # master and workers, mid-request
            server.process.wait()
            stop.set()

        if backend == "sqlite":
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT id, artist, title, rating FROM songs").fetchall()
        stored = {r[0]: dict(zip(("artist", "title", "rating"), r[1:], strict=True)) for r in rows}
        assert len(acknowledged) > 50
        assert {i: stored.get(i) for i in acknowledged} == acknowledged


def test_sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits(
    start_gunicorn, db, outside_writer
):
    server = start_gunicorn(workers=2)
    assert answers(server.port)
    outside_writer.hold()  # writes now wait for this lock
    song = {"artist": "In flight", "title": "Song", "rating": 3}
    with ThreadPoolExecutor(4) as pool:
        posts = [pool.submit(server.request_json, "POST", "/api/songs", song) for _ in range(4)]
        time.sleep(0.5)  # every POST is in a worker, waiting to write
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        refused = not answers(server.port)
        outside_writer.release()
        results = [post.result(timeout=30) for post in posts]

    started = time.monotonic()
    server.process.wait(timeout=25)
    assert refused
    assert [status for status, _, _ in results] == [201] * 4
    assert time.monotonic() - started < 20  # gunicorn.conf.py's graceful_timeout
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (4,)


def test_mixed_writers_on_shared_songs_lose_nothing_and_the_table_is_what_they_were_told(
    start_gunicorn, db
):
    """16 clients, 4 workers, 4 s: GET, POST, PUT, PATCH and DELETE on 12 shared songs."""
    mixed_writers_lose_nothing([start_gunicorn(workers=4)], db)


def mixed_writers_lose_nothing(servers, db, seconds=4):
    """16 clients spread over `servers` for `seconds`: GET, POST, PUT, PATCH and DELETE on
    12 shared songs, then the table checked against every acknowledged write.

    Every write names the version it read (If-Match) and changes the song, so each song's
    acknowledged writes must form one chain from its first version; the table must hold
    the end of every chain, and every acknowledged write must be in one.
    """
    server = servers[0]
    first = {}
    for n in range(12):
        status, headers, song = server.request_json(
            "POST", "/api/songs", {**SONG, "title": f"S{n}"}
        )
        first[song["id"]] = headers["ETag"]
    acknowledged, lock, statuses = [], threading.Lock(), []
    deadline = time.monotonic() + seconds

    shared = list(first)  # the songs every client picks from, as they come and go

    def client(c):
        server = servers[c % len(servers)]
        rng, known, n = random.Random(c), {}, 0
        while time.monotonic() < deadline:
            n += 1
            with lock:
                song_id = rng.choice(shared) if shared else None
            op = rng.choice(["PUT", "PATCH", "PATCH", "PATCH", "DELETE", "POST", "POST"])
            if op != "POST" and song_id is not None and song_id not in known:
                status, headers, _ = server.request("GET", f"/api/song/{song_id}")
                statuses.append(status)
                if status == 200:
                    known[song_id] = headers["ETag"]
                else:
                    with lock:
                        if song_id in shared:  # deleted by another client
                            shared.remove(song_id)
                continue
            fields = {"title": f"c{c}-{n}", "rating": rng.randint(1, 5)}
            if op == "POST" or song_id is None:
                status, headers, song = server.request_json(
                    "POST", "/api/songs", {**SONG, **fields}
                )
                statuses.append(status)
                with lock:
                    acknowledged.append((song["id"], None, headers["ETag"], song))
                    shared.append(song["id"])
                continue
            body = json.dumps({**SONG, **fields} if op == "PUT" else fields)
            headers = {"If-Match": known.pop(song_id), "Content-Type": "application/json"}
            status, answer_headers, raw = server.request(op, f"/api/song/{song_id}", body, headers)
            statuses.append(status)
            if status in (200, 204):
                after = json.loads(raw) if op != "DELETE" else None
                with lock:
                    acknowledged.append(
                        (song_id, headers["If-Match"], answer_headers.get("ETag"), after)
                    )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))

    rows = db.execute("SELECT id, artist, title, rating, created_at, updated_at FROM songs")
    table = {row[0]: dict(zip(FIELDS, row, strict=True)) for row in rows}
    assert not [s for s in statuses if s >= 500]
    assert {200, 201, 204, 412} <= set(statuses)
    for each in servers:
        log = each.log()
        assert "locked" not in log and "Traceback" not in log
    for song_id, created_etag in {
        **first,
        **{a[0]: a[2] for a in acknowledged if a[1] is None},
    }.items():
        writes = {a[1]: a for a in acknowledged if a[0] == song_id and a[1] is not None}
        assert len(writes) == len([a for a in acknowledged if a[0] == song_id and a[1]])
        etag, state, walked = created_etag, "present", 0
        while etag in writes:
            _, _, etag, state = writes[etag]
            walked += 1
        assert walked == len(writes), f"song {song_id}: an acknowledged write is off the chain"
        if state is None:
            assert song_id not in table
        elif state != "present":
            assert table[song_id] == state
        else:
            assert song_id in table
