"""Slow and silent clients, under real gunicorn: more of them than the service has threads,
and a normal request still answered within a second.

gunicorn.conf.py's worker reads each request whole in its event loop before a thread
takes it (songs/worker.py), and gives every connection a send timeout; a worker
streams one export at a time. The attacks here use 16 connections against 2 workers of
2 threads each.
"""

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import SONG, SQLITE_ONLY
from helpers.gunicorn_server import ROOT

ATTACKERS = 16  # four times the threads of start_gunicorn(workers=2)


def probe(server, count=10):
    """(status, seconds) of `count` GETs of song 1, each on a new connection, in turn."""
    answers = []
    for _ in range(count):
        started = time.monotonic()
        try:
            status = server.request("GET", "/api/song/1", timeout=5)[0]
        except OSError:
            status = None
        answers.append((status, time.monotonic() - started))
        time.sleep(0.1)
    return answers


def assert_prompt(answers):
    slow = [f"{status} after {seconds:.2f} s" for status, seconds in answers if seconds >= 1]
    assert not slow, slow
    assert [status for status, _ in answers] == [200] * len(answers)


def probe_while_attacked(server, sockets, attack, stop):
    """probe(server) while attack(sock) runs on each of `sockets`; then `stop` is set, the
    attacks end, and the sockets are closed."""
    with ThreadPoolExecutor(len(sockets)) as pool:
        for sock in sockets:
            pool.submit(attack, sock)
        time.sleep(1.5)
        answers = probe(server)
        stop.set()
    for sock in sockets:
        sock.close()
    return answers


def connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


CLIENT_TIMEOUT = 3  # seconds; 10 unless set
FILE_LIMIT = 64  # open files a worker may hold, its own dozen or so among them


@pytest.fixture
def served(start_gunicorn):
    server = start_gunicorn(workers=2, env={"CLIENT_TIMEOUT": str(CLIENT_TIMEOUT)})
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    return server


@SQLITE_ONLY
def test_slowloris_headers_a_byte_a_second_hold_no_thread(served):
    stop = threading.Event()
    sockets = [connect(served) for _ in range(ATTACKERS)]

    def trickle(sock):
        for byte in b"GET /api/song/1 HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100:
            if stop.wait(1):
                return
            sock.send(bytes([byte]))

    answers = probe_while_attacked(served, sockets, trickle, stop)

    assert_prompt(answers)


@SQLITE_ONLY
def test_silent_clients_and_bodies_that_never_come_whole_hold_no_thread_and_are_let_go(served):
    silent = [connect(served) for _ in range(ATTACKERS // 2)]
    partial = [connect(served) for _ in range(ATTACKERS // 2)]
    for sock in partial:
        sock.sendall(
            b"POST /api/songs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"artist": '
        )

    answers = probe(served)
    for sock in (silent[0], partial[0]):
        sock.settimeout(CLIENT_TIMEOUT + 5)
    started = time.monotonic()
    answer_to_partial, answer_to_silent = partial[0].recv(100), silent[0].recv(100)
    waited = time.monotonic() - started
    for sock in silent + partial:
        sock.close()

    assert_prompt(answers)
    assert answer_to_partial.startswith(b"HTTP/1.1 408 ")
    assert answer_to_silent == b""  # closed without a word: it asked nothing
    assert waited < CLIENT_TIMEOUT + 2


def test_export_clients_that_stop_reading_hold_no_thread_nor_transaction_for_long(
    served, db, backend
):
    title = "A title long enough to fill the socket buffers " * 4  # 3 MB of CSV in all
    rows = [(f"Artist {n % 300}", f"{title}{n}", n % 5 + 1) for n in range(15_000)]
    db.execute("BEGIN")
    db.insert_rows("songs", ("artist", "title", "rating"), rows)
    db.execute("COMMIT")
    sockets = []
    for _ in range(ATTACKERS):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", served.port))
        sock.sendall(b"GET /api/songs.csv HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sockets.append(sock)  # and never read
    time.sleep(1)

    answers = probe(served)
    time.sleep(CLIENT_TIMEOUT + 2)
    open_transactions = (
        db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
            " AND application_name = current_setting('application_name')"
            " AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        if backend == "postgresql"
        else 0
    )
    after = probe(served, count=3)

    assert_prompt(answers)
    assert open_transactions == 0
    assert_prompt(after)
    for sock in sockets:
        sock.close()


TRICKLED_HEADS = {
    "expect-100": b"Expect: 100-continue\r\nContent-Length: 146\r\n",
    "13-digit-length": b"Content-Length: 0000000000146\r\n",
}


@SQLITE_ONLY
@pytest.mark.parametrize("head", TRICKLED_HEADS.values(), ids=TRICKLED_HEADS.keys())
def test_bodies_trickled_a_byte_at_a_time_hold_no_thread_and_end_within_the_client_timeout(
    served, head
):
    """A body that comes a byte a second, after a head that asks for 100 Continue or gives
    its length with leading zeros: each answer is 408 within CLIENT_TIMEOUT of its start."""
    stop, ended = threading.Event(), []
    sockets = [connect(served) for _ in range(ATTACKERS)]

    def trickle(sock):
        started = time.monotonic()
        sock.sendall(
            b"POST /api/songs HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n" + head + b"\r\n"
        )
        sock.settimeout(0.01)
        answer = b""
        for byte in b'{"artist": "' + b"a" * 145:
            try:
                answer += sock.recv(200)
            except TimeoutError:
                pass
            if b" 408 " in answer or stop.wait(1):
                break
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
        sock.settimeout(CLIENT_TIMEOUT + 2)
        try:
            while b" 408 " not in answer and (more := sock.recv(200)):
                answer += more
        except OSError:
            pass
        ended.append((answer, time.monotonic() - started))

    answers = probe_while_attacked(served, sockets, trickle, stop)

    assert_prompt(answers)
    assert len(ended) == ATTACKERS
    for answer, seconds in ended:
        assert b"HTTP/1.1 408 " in answer and seconds < CLIENT_TIMEOUT + 2, (answer, seconds)


@SQLITE_ONLY
def test_a_client_that_waits_for_100_continue_gets_it_at_once(served):
    body = json.dumps(SONG).encode()
    with connect(served) as sock:
        sock.sendall(
            b"POST /api/songs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        sock.settimeout(1)  # curl, asked to wait, sends the body anyway after 1 s
        interim = sock.recv(100)
        sock.sendall(body)
        sock.settimeout(10)
        answer = sock.recv(100)

    assert interim.startswith(b"HTTP/1.1 100 Continue")
    assert answer.startswith(b"HTTP/1.1 201 ")


@SQLITE_ONLY  # about a worker's sockets, whatever the database
def test_a_worker_out_of_file_descriptors_pauses_accepting_and_keeps_its_connections(
    start_gunicorn, outside_writer
):
    """With a low limit on open files, more connections than it can take: accept() fails with
    EMFILE. The worker lives, its connections are still answered, and once some close it
    accepts again.

    Both of its threads open their database connection first (two writes held at the write
    lock at once): a thread that had yet to open one when the files ran out would answer
    503, rightly, and which thread takes which request is up to the worker."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, hard))  # inherited by gunicorn
    try:
        server = start_gunicorn(workers=1, ready=False)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    server.wait_ready()
    worker = server.workers()
    outside_writer.hold()
    with ThreadPoolExecutor(2) as pool:
        writes = [pool.submit(server.request_json, "POST", "/api/songs", SONG) for _ in "ab"]
        time.sleep(0.5)  # both threads wait at the lock, each with its connection open
        outside_writer.release()
        assert [write.result()[0] for write in writes] == [201, 201]
    held = []
    for _ in range(FILE_LIMIT):  # more than the worker has files left for
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        except OSError:
            conn.close()
            break
        held.append(conn)
    else:
        raise AssertionError("the worker never ran out of files")
    waiting = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(3)]
    for conn in waiting:
        conn.request("GET", "/healthz")  # queued in the kernel until the worker can take it

    answered = []
    for conn in held[:10]:
        conn.request("GET", "/healthz")
        answered.append(conn.getresponse().status)
    for conn in held[10:]:
        conn.close()
    late = [conn.getresponse().status for conn in waiting]
    for conn in held[:10] + waiting:
        conn.close()

    assert answered == [200] * 10
    assert late == [200] * 3
    assert server.workers() == worker, server.log()
    assert "cannot accept a connection (Too many open files)" in server.log()
    assert "Traceback" not in server.log()


# A worker's boot, from the fork to its own signal handlers, slowed to a second by a
# post_fork hook, so that a SIGTERM lands in it every time rather than now and then.
SLOW_BOOT = """
import runpy, time
globals().update(runpy.run_path({config!r}))

def post_fork(server, worker):
    server.log.info("worker %s: booting slowly", worker.pid)
    time.sleep(1)
"""


@SQLITE_ONLY  # about gunicorn's signals, whatever the database
def test_a_sigterm_while_a_worker_boots_stops_the_service_at_once(start_gunicorn, tmp_path):
    """Before its own handlers, a new worker has the master's, which queue a signal for the
    master's loop: a SIGTERM there was lost (the platform's, and the one the master sends
    on), and the worker booted and served on until graceful_timeout's SIGKILL."""
    config = tmp_path / "slow-boot.conf.py"
    config.write_text(SLOW_BOOT.format(config=str(ROOT / "gunicorn.conf.py")))
    server = start_gunicorn(workers=1, args=f"--config {config} --graceful-timeout 15")
    (first,) = server.workers()
    os.kill(int(first), signal.SIGKILL)  # the master forks a new worker in its place
    deadline = time.monotonic() + 10
    while not (second := set(server.workers()) - {first}) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.lines_with(f"worker {second.pop()}: booting slowly"), server.log()[-2000:]

    stopped = time.monotonic()
    os.killpg(server.process.pid, signal.SIGTERM)  # as a platform stops a dyno or a container
    server.process.wait(timeout=30)

    assert time.monotonic() - stopped < 5, server.log()[-2000:]


FORKS = """
import os, signal
from songs import worker

worker.hold_stopping_signals_across_forks()
for workers in (True, False):
    worker.held["next_fork"] = workers  # as a worker's __init__ sets it, just before its fork
    pid = os.fork()
    if pid == 0:
        held = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, ())
        worker.let_go()  # as the worker's init_signals
        taken = signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, ())
        print(f"child held={held} taken={taken}", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print(f"parent held={signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, ())}")
"""


def test_only_a_workers_fork_holds_the_stopping_signals():
    """A new master that a re-exec forks (SIGUSR2 without reuse_port) must stop on SIGTERM:
    only the fork of a worker holds the signals, and the master never keeps them held."""
    done = subprocess.run(
        [sys.executable, "-c", FORKS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [
        "child held=True taken=True",
        "parent held=False",
        "child held=False taken=True",
        "parent held=False",
    ], done.stderr
