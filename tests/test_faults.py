"""Faults around the service, under real gunicorn: locks held, workers replaced while the
database is busy or out of reach, and files that go, turn read-only or fill the disk.

The promise each test keeps: every wait is bounded (a 503 with Retry-After, never a hang
or a 500), and the service serves again by itself once the fault has passed.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import POOLED, POSTGRES_POOLED, SONG, SQLITE_ONLY
from helpers.databases import admin_connection, cut_off
from helpers.gunicorn_server import ROOT
from songs import storage
from songs.storage.common import BUSY_TIMEOUT_SECONDS

BUSY_TIMEOUT = BUSY_TIMEOUT_SECONDS


def timed(server, method, path, value=None):
    started = time.monotonic()
    status, headers, body = server.request_json(method, path, value)
    return status, headers.get("Retry-After"), time.monotonic() - started


def workers_of(pid):
    """The pids of the processes whose parent is `pid` (gunicorn's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == pid and state != "Z":  # not a worker dead and not yet reaped
                children.append(int(entry.name))
    return children


def replace_a_worker(server, workers=2):
    """SIGKILL one worker, as an OOM kill would, and wait until gunicorn has booted another."""
    deadline = time.monotonic() + 20
    while len(before := workers_of(server.process.pid)) < workers:
        assert time.monotonic() < deadline, f"gunicorn runs {before}:\n{server.log()}"
        time.sleep(0.05)  # the last workers may still be forking
    os.kill(before[0], signal.SIGKILL)
    while time.monotonic() < deadline:
        now = workers_of(server.process.pid)
        if len(now) == workers and before[0] not in now:
            return
        time.sleep(0.05)
    raise AssertionError(
        f"workers {before} then {now}; none replaced the one killed:\n{server.log()}"
    )


# Bounded waits


@POOLED
def test_writers_queued_behind_a_held_write_lock_each_get_503_within_the_busy_timeout(
    start_gunicorn, outside_writer
):
    server = start_gunicorn(workers=1)  # 2 threads: the second writer queues behind the first
    outside_writer.hold()
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: timed(server, "POST", "/api/songs", SONG), [0, 1]))
    finally:
        outside_writer.release()

    assert [(status, retry) for status, retry, _ in answers] == [(503, "1"), (503, "1")]
    assert max(elapsed for _, _, elapsed in answers) < BUSY_TIMEOUT + 1.5  # not 5 s each, in turn
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201


def test_an_import_reading_a_slow_file_holds_no_write_of_the_service(
    start_gunicorn, database_url, db
):
    server = start_gunicorn(workers=1)
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "service.py", "import", "-"]
    importer = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        importer.stdin.write("artist,title,rating\nA,B,3\n")
        importer.stdin.flush()
        time.sleep(0.5)  # the import has its first row, and waits for more
        status, _, elapsed = timed(server, "POST", "/api/songs", SONG)
        out, _ = importer.communicate("C,D,4\n", timeout=30)
    finally:
        importer.kill()

    assert (status, importer.returncode) == (201, 0)
    assert elapsed < 2
    assert "-: 2 songs imported" in out
    assert db.execute("SELECT artist FROM songs ORDER BY id").fetchall() == [
        ("Gregori Klosman",),
        ("A",),
        ("C",),
    ]


# Workers boot whatever the database is doing


@SQLITE_ONLY  # on PostgreSQL, the outage below is what a booting worker could trip on
def test_a_worker_replaced_while_an_outside_writer_holds_the_lock_boots_and_serves(
    start_gunicorn, outside_writer
):
    server = start_gunicorn(workers=1)  # the replacement alone serves what follows
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    outside_writer.hold()  # as an import or a migration would
    try:
        replace_a_worker(server, workers=1)
        read = timed(server, "GET", "/api/song/1")  # a boot that waited for the lock: 5 s
        write = timed(server, "POST", "/api/songs", SONG)
        alive = server.process.poll() is None
    finally:
        outside_writer.release()

    assert alive, server.log()
    assert read[0] == 200 and read[2] < 2
    assert write[:2] == (503, "1")
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    assert "Worker failed to boot" not in server.log()


@POSTGRES_POOLED
def test_a_worker_replaced_during_a_postgresql_outage_boots_and_serves_once_it_ends(
    start_gunicorn, own_database
):
    name, url = own_database
    server = start_gunicorn(url, workers=2)
    with admin_connection() as admin:
        cut_off(admin, name)
        try:
            replace_a_worker(server)
            time.sleep(1)
            alive = server.process.poll() is None
            during = {server.request_json("GET", "/api/songs")[0] for _ in range(4)}
        finally:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")

    assert alive, server.log()
    assert during == {503}
    assert serves_again(server)
    assert {server.request_json("GET", "/api/songs")[0] for _ in range(8)} == {200}
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201


@POSTGRES_POOLED
def test_gunicorn_starts_during_a_postgresql_outage_and_serves_once_it_ends(
    start_gunicorn, own_database
):
    name, url = own_database
    storage.open_database(url).init_schema()  # a deploy's release step made it earlier
    with admin_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    try:
        server = start_gunicorn(url, workers=1, ready=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "requests get 503" not in server.log():
            time.sleep(0.1)
        time.sleep(1)
        down = server.request_json("GET", "/api/songs")[0]
    finally:
        with admin_connection() as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")

    assert down == 503
    assert serves_again(server)
    assert "Traceback" not in server.log()


def serves_again(server, seconds=3):
    """Whether a read is answered within `seconds` of the database's return: at once
    directly, within PgBouncer's server_login_retry (1 s in tests/helpers/pgbouncer.py)
    through it."""
    deadline = time.monotonic() + seconds
    while server.request_json("GET", "/api/songs")[0] != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# Files that go, turn read-only, or fill the disk


@SQLITE_ONLY
def test_a_removed_database_folder_is_503_everywhere_and_acknowledges_nothing(
    start_gunicorn, tmp_path
):
    folder = tmp_path / "data"
    folder.mkdir()
    server = start_gunicorn(f"sqlite:///{folder / 'songs.db'}", workers=1)
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201

    shutil.rmtree(folder)
    writes = [timed(server, "POST", "/api/songs", SONG)[:2] for _ in range(4)]
    health = server.request_json("GET", "/healthz")
    probes = [server.request_json("GET", path)[0] for path in ("/readyz", "/livez")]

    assert writes == [(503, "1")] * 4  # not a 201 into a file nobody can open again
    assert health[0] == 503 and health[1]["Retry-After"] == "1"
    assert probes == [503, 200]  # not ready, but alive: no restart would help
    assert "Traceback" not in server.log()


def immutable(*paths, on=True):
    """chattr +i (or -i): not even root may write the files then."""
    existing = [str(path) for path in paths if Path(path).exists()]
    subprocess.run(["chattr", "+i" if on else "-i", *existing], check=True)


@SQLITE_ONLY
def test_a_database_file_made_read_only_is_503_and_every_write_works_once_it_is_writable(
    start_gunicorn, database_path
):
    server = start_gunicorn(workers=2)
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    files = (database_path, f"{database_path}-wal")

    immutable(*files)
    try:
        during = [timed(server, "POST", "/api/songs", SONG)[:2] for _ in range(8)]
        health = server.request_json("GET", "/healthz")[0]
    finally:
        immutable(*files, on=False)
    after = [server.request_json("POST", "/api/songs", SONG)[0] for _ in range(20)]

    assert set(during) == {(503, "1")}
    assert health == 503
    assert after == [201] * 20  # no connection kept from the read-only time
    assert server.request_json("GET", "/healthz")[0] == 200
    assert "Traceback" not in server.log()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB file system of the test's own, so that it can be filled (tmpfs; needs root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder):
    """Fill the file system of `folder` to its last byte."""
    filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(filler, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(filler)


@SQLITE_ONLY
def test_a_full_disk_is_503_with_retry_after_and_a_restart_on_it_still_serves(
    start_gunicorn, small_disk
):
    url = f"sqlite:///{small_disk / 'songs.db'}"
    server = start_gunicorn(url, workers=1)
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201

    fill(small_disk)
    long_song = {**SONG, "title": "x" * 500}
    answers = [timed(server, "POST", "/api/songs", long_song)[:2] for _ in range(60)]
    server.stop()
    restarted = start_gunicorn(url, workers=1)  # startup on this schema writes nothing
    read = restarted.request_json("GET", "/api/song/1")[0]
    (small_disk / "filler").unlink()
    after = restarted.request_json("POST", "/api/songs", SONG)[0]

    assert (503, "1") in answers
    assert {status for status, _ in answers} <= {201, 503}
    assert read == 200
    assert after == 201
    assert "Traceback" not in server.log() + restarted.log()


def test_init_db_on_an_unchanged_schema_writes_nothing_so_it_never_waits_on_a_writer(
    database_url, outside_writer
):
    outside_writer.hold()
    try:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "service.py", "init-db"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
    finally:
        outside_writer.release()

    assert done.returncode == 0, done.stderr
    assert elapsed < BUSY_TIMEOUT
    assert "schema ready" in done.stdout
