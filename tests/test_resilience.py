"""Crashes, shutdowns and backups of the service under real gunicorn, on a real file."""

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from gunicorn_server import ROOT


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
    start_gunicorn, tmp_path
):
    database = tmp_path / "songs.db"
    acknowledged, lock = {}, threading.Lock()
    for _ in range(3):
        server = start_gunicorn(f"sqlite:///{database}", workers=4)
        stop = threading.Event()
        with ThreadPoolExecutor(8) as pool:
            for client in range(8):
                pool.submit(write_until, server, stop, acknowledged, lock, client)
            time.sleep(1.5)
            os.killpg(server.process.pid, signal.SIGKILL)  # master and workers, mid-request
            server.process.wait()
            stop.set()

        conn = sqlite3.connect(database)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = conn.execute("SELECT id, artist, title, rating FROM songs").fetchall()
        finally:
            conn.close()
        stored = {r[0]: dict(zip(("artist", "title", "rating"), r[1:], strict=True)) for r in rows}
        assert len(acknowledged) > 50
        assert {i: stored.get(i) for i in acknowledged} == acknowledged


def test_sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits(
    start_gunicorn, tmp_path
):
    database = tmp_path / "songs.db"
    server = start_gunicorn(f"sqlite:///{database}", workers=2)
    assert answers(server.port)
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # writes now wait for this lock
    song = {"artist": "In flight", "title": "Song", "rating": 3}
    with ThreadPoolExecutor(4) as pool:
        posts = [pool.submit(server.request_json, "POST", "/api/songs", song) for _ in range(4)]
        time.sleep(0.5)  # every POST is in a worker, waiting to write
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        refused = not answers(server.port)
        blocker.execute("COMMIT")
        results = [post.result(timeout=30) for post in posts]
    blocker.close()

    started = time.monotonic()
    server.process.wait(timeout=25)
    assert refused
    assert [status for status, _, _ in results] == [201] * 4
    assert time.monotonic() - started < 20  # gunicorn.conf.py's graceful_timeout
    conn = sqlite3.connect(database)
    assert conn.execute("SELECT count(*) FROM songs").fetchone() == (4,)
    conn.close()


def test_make_backup_copies_a_consistent_database_while_the_service_takes_writes(
    start_gunicorn, tmp_path
):
    database = tmp_path / "songs.db"
    server = start_gunicorn(f"sqlite:///{database}", workers=2)
    acknowledged, lock, stop = {}, threading.Lock(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        for client in range(4):
            pool.submit(write_until, server, stop, acknowledged, lock, client)
        time.sleep(0.5)
        with lock:
            before = set(acknowledged)
        backup = tmp_path / "copy.db"
        result = subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), "backup", f"FILE={backup}"],
            env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        time.sleep(0.3)
        stop.set()

    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = {row[0] for row in conn.execute("SELECT id FROM songs")}
    finally:
        conn.close()
    assert before <= copied  # everything acknowledged before the backup began
    assert copied <= set(acknowledged)
    assert len(acknowledged) > len(copied)  # the service kept writing during and after
    again = subprocess.run(
        [sys.executable, str(ROOT / "service.py"), "backup", str(backup)],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites
