"""Crashes, shutdowns, backups and racing writers, under real gunicorn on a real database."""

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import POOLED
from helpers.load import mixed_writers_lose_nothing, write_until

pytestmark = POOLED  # through PgBouncer too, in transaction pooling mode

FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")


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
            before = len(acknowledged)
            for client in range(8):
                pool.submit(write_until, server, stop, acknowledged, lock, client)
            deadline = time.monotonic() + 10
            while len(acknowledged) < before + 60 and time.monotonic() < deadline:
                time.sleep(0.01)  # until the writers are well under way
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
    start_gunicorn, db, database_url
):
    """16 clients, 4 workers, 2 s: GET, POST, PUT, PATCH and DELETE on 12 shared songs, with
    seeds beside them; the counts by rating come out exact."""
    mixed_writers_lose_nothing([start_gunicorn(workers=4)], db, database_url)
