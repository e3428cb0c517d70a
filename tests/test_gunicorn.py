"""The service under real gunicorn, started by the Procfile's command, over real sockets."""

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import POOLED, SONG, SQLITE_ONLY
from helpers.gunicorn_server import ROOT, Gunicorn, free_port, procfile_command, stop_group


@POOLED
def test_create_read_update_delete_round_trip_over_http(start_gunicorn):
    server = start_gunicorn()

    status, headers, created = server.request_json("POST", "/api/songs", SONG)
    assert status == 201
    assert headers["Location"] == f"/api/song/{created['id']}"
    assert headers["Content-Type"] == "application/json"

    status, _, read = server.request_json("GET", headers["Location"])
    assert (status, read) == (200, created)

    replacement = {"artist": "Beastie Boys", "title": "Sabotage", "rating": 4}
    status, _, updated = server.request_json("PUT", f"/api/songs/{created['id']}", replacement)
    assert status == 200
    assert {k: updated[k] for k in replacement} == replacement

    status, _, listed = server.request_json("GET", "/api/songs")
    assert (status, listed) == (200, [updated])

    status, _, body = server.request("DELETE", headers["Location"])
    assert (status, body) == (204, b"")

    status, headers, problem = server.request_json("GET", f"/api/song/{created['id']}")
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["detail"] == f"Song {created['id']} does not exist."


@SQLITE_ONLY  # about gunicorn's reading of a form, whatever the database
def test_a_form_post_works_as_with_curl(start_gunicorn):
    server = start_gunicorn()

    status, _, body = server.request(
        "POST",
        "/api/songs",
        "artist=Beastie Boys&title=Sabotage&rating=4",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert status == 201
    assert json.loads(body)["title"] == "Sabotage"


def test_workers_starting_at_once_on_a_new_database_all_boot(start_gunicorn, backend, tmp_path):
    database = tmp_path / "new" / "songs.db"
    database.parent.mkdir()

    server = start_gunicorn(f"sqlite:///{database}" if backend == "sqlite" else None, workers=6)

    deadline = time.monotonic() + 30
    while server.log().count("Booting worker") < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    statuses = [server.request("GET", "/healthz")[0] for _ in range(60)]
    time.sleep(1)  # a worker that failed to load the app makes the master halt

    assert statuses == [200] * 60
    assert server.process.poll() is None, server.log()
    log = server.log()
    assert log.count("Booting worker") == 6, log
    assert "Traceback" not in log and "failed to boot" not in log.lower(), log
    if backend == "sqlite":
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@POOLED
def test_concurrent_writes_across_workers_all_succeed_and_all_land(start_gunicorn, db):
    server = start_gunicorn(workers=4)
    lock, acknowledged = threading.Lock(), {}

    def client(n):
        for k in range(15):
            song = {"artist": f"Client {n}", "title": f"Song {k}", "rating": k % 5 + 1}
            status, _, created = server.request_json("POST", "/api/songs", song)
            assert status == 201, created
            final = {**song, "rating": 5 - k % 5}
            status, _, updated = server.request_json("PUT", f"/api/song/{created['id']}", final)
            assert status == 200, updated
            if k % 3 == 0:
                status, _, _ = server.request("DELETE", f"/api/song/{created['id']}")
                assert status == 204
                final = None
            with lock:
                acknowledged[created["id"]] = final

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))

    rows = db.execute("SELECT id, artist, title, rating FROM songs").fetchall()
    expected = {i: s for i, s in acknowledged.items() if s is not None}
    assert len(acknowledged) == 16 * 15
    assert {r[0]: dict(zip(("artist", "title", "rating"), r[1:], strict=True)) for r in rows} == (
        expected
    )
    log = server.log()
    assert "locked" not in log and "Traceback" not in log, log


@SQLITE_ONLY  # about gunicorn's reading of a body, whatever the database
def test_a_chunked_body_is_read_and_limited_like_any_other(start_gunicorn):
    server = start_gunicorn(env={"MAX_BODY_BYTES": "200"})
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    body = json.dumps(SONG).encode()

    status, _, created = server.request(
        "POST", "/api/songs", iter([body[:10], body[10:]]), headers, encode_chunked=True
    )
    assert status == 201, created

    oversized = json.dumps({**SONG, "title": "x" * 300}).encode()
    status, _, problem = server.request(
        "POST", "/api/songs", iter([oversized[:150], oversized[150:]]), headers, encode_chunked=True
    )
    assert status == 413
    assert (
        json.loads(problem)["detail"] == "The request body is larger than the limit of 200 bytes."
    )

    status, _, listed = server.request_json("GET", "/api/songs")
    assert [s["title"] for s in listed] == [SONG["title"]]


@SQLITE_ONLY  # about gunicorn's access log, whatever the database
def test_each_request_gets_an_access_log_line_with_its_actor_and_request_id(start_gunicorn):
    secret = "alice-secret-0123456789"
    server = start_gunicorn(env={"API_TOKEN": f"alice:{secret}"})

    server.request("GET", "/api/songs?limit=5", headers={"X-Request-ID": "trace-one"})
    _, headers, _ = server.request("GET", "/api/song/9")
    server.request(
        "POST",
        "/api/songs",
        json.dumps(SONG),
        {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    server.stop()

    log = server.log()
    assert '"GET /api/songs?limit=5 HTTP/1.1" 200' in log
    assert re.search(
        r'"GET /api/songs\?limit=5 HTTP/1.1" 200 .* actor=anonymous request_id=trace-one$',
        log,
        re.M,
    )
    assert '"GET /api/song/9 HTTP/1.1" 404' in log
    assert f"request_id={headers['X-Request-ID']}" in log
    assert re.search(r'"POST /api/songs HTTP/1.1" 201 .* actor=alice request_id=', log)
    assert secret not in log


@POOLED
def test_writers_racing_with_the_same_etag_cannot_both_win(start_gunicorn):
    server = start_gunicorn(workers=4)
    status, headers, _ = server.request_json("POST", "/api/songs", SONG)
    path, writers = headers["Location"], 8

    for round_ in range(15):
        etag = server.request("GET", path)[1]["ETag"]
        barrier = threading.Barrier(writers)

        def write(rating, etag=etag, barrier=barrier, title=f"round {round_}"):
            body = json.dumps({**SONG, "title": title, "rating": rating})
            headers = {"Content-Type": "application/json", "If-Match": etag}
            barrier.wait()
            status, _, raw = server.request("PUT", path, body, headers)
            return status, raw

        with ThreadPoolExecutor(writers) as pool:
            results = list(pool.map(write, [1, 2, 3, 4, 5, 1, 2, 3]))

        statuses = sorted(status for status, _ in results)
        assert statuses == [200] + [412] * (writers - 1), statuses
        winner = next(json.loads(raw) for status, raw in results if status == 200)
        assert server.request_json("GET", path)[2] == winner


@POOLED
def test_paging_a_filtered_sorted_list_and_exporting_while_others_write(start_gunicorn, db):
    """Each song that matched throughout comes exactly once, in order, with writers running."""
    server = start_gunicorn()
    db.insert_rows(
        "songs",
        ("artist", "title", "rating"),
        [(f"Artist {n % 13}", f"Title {n % 17}", n % 5 + 1) for n in range(600)],
    )
    rows = db.execute("SELECT id, rating, title FROM songs WHERE rating >= 3").fetchall()
    before = sorted(rows, key=lambda row: (-row[1], row[2].lower(), row[0]))
    stop = threading.Event()

    def write():
        n = 0
        while not stop.is_set():
            song = {"artist": "Writer", "title": f"Title {n % 17}", "rating": n % 5 + 1}
            server.request_json("POST", "/api/songs", song)
            n += 1
        return n

    with ThreadPoolExecutor(2) as pool:
        writers = [pool.submit(write) for _ in range(2)]
        seen, url = [], "/api/songs?min_rating=3&sort=-rating,title&limit=25"
        while url:
            status, headers, page = server.request_json("GET", url)
            assert status == 200
            seen += page
            match = re.match(r'<([^>]+)>; rel="next"', headers["Link"])
            url = match and match[1]
        status, _, export = server.request("GET", "/api/songs.ndjson?min_rating=3")
        stop.set()
        written = sum(writer.result() for writer in writers)

    ids = [song["id"] for song in seen]
    assert written > 0
    assert len(ids) == len(set(ids))
    assert all(song["rating"] >= 3 for song in seen)
    original = {row[0] for row in before}
    assert [i for i in ids if i in original] == [row[0] for row in before]
    keys = [(-song["rating"], song["title"].lower(), song["id"]) for song in seen]
    assert keys == sorted(keys)
    exported = [json.loads(line)["id"] for line in export.decode().splitlines()]
    assert status == 200
    assert len(exported) == len(set(exported))
    assert original <= set(exported)


@SQLITE_ONLY  # about gunicorn's request line limit, whatever the database
def test_a_next_link_holding_the_longest_sort_values_still_works(start_gunicorn):
    server = start_gunicorn()
    longest = "😀" * 500  # four bytes each in UTF-8
    for rating in (1, 2):
        song = {"artist": longest, "title": longest, "rating": rating}
        assert server.request_json("POST", "/api/songs", song)[0] == 201

    status, headers, first = server.request_json("GET", "/api/songs?sort=artist,title&limit=1")
    next_url = re.match(r'<([^>]+)>; rel="next"', headers["Link"])[1]
    status, _, second = server.request_json("GET", next_url)

    assert len(next_url) > 4094
    assert status == 200
    assert [first[0]["rating"], second[0]["rating"]] == [1, 2]


def test_open_writes_are_warned_of_once_and_tokens_never_reach_the_log(start_gunicorn):
    open_server = start_gunicorn(workers=3)
    token = "production-token-9f8e7d6c5b4a"
    guarded = start_gunicorn(workers=3, env={"API_TOKEN": token})
    for authorization in (f"Bearer {token}", f"Bearer {token}-wrong", token):
        headers = {"Authorization": authorization, "Content-Type": "application/json"}
        guarded.request("POST", "/api/songs", json.dumps(SONG), headers)
    for query in (f"access_token={token}", f"limit=5&api_key={token}", f"password={token}"):
        guarded.request("GET", f"/api/songs?{query}")  # a token where none belongs: a 400
    deadline = time.monotonic() + 5
    while guarded.log().count("/api/songs") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)  # each worker writes its access-log line after answering

    warning = "API_TOKEN is not set: anyone who can reach this service can change its songs"
    assert open_server.log().count(warning) == 1
    assert "Listening at:  (" not in open_server.log()  # no line that names no address
    assert re.search(r"Each worker listens at: http://127\.0\.0\.1:\d+", open_server.log())
    assert warning not in guarded.log()
    assert token not in guarded.log()
    statuses = re.findall(r'"POST /api/songs HTTP/1.1" (\d+)', guarded.log())
    assert sorted(statuses) == ["201", "401", "401"]  # workers log in their own time
    assert '"GET /api/songs?access_token=[redacted] HTTP/1.1" 400' in guarded.log()


@POOLED
def test_retries_with_one_idempotency_key_across_workers_and_a_restart_make_one_song(
    start_gunicorn, database_url
):
    url = database_url
    server = start_gunicorn(url, workers=4)
    headers = {"Content-Type": "application/json", "Idempotency-Key": "checkout-42"}

    def retry(_):
        status, _, body = server.request("POST", "/api/songs", json.dumps(SONG), headers)
        return status, json.loads(body)["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(retry, range(8)))
    server.stop()
    restarted = start_gunicorn(url, workers=2)
    status, _, body = restarted.request("POST", "/api/songs", json.dumps(SONG), headers)

    assert {answer for answer in answers} == {(201, 1)}
    assert (status, json.loads(body)["id"]) == (201, 1)
    assert restarted.request_json("GET", "/api/songs")[2] == [
        restarted.request_json("GET", "/api/song/1")[2]
    ]


@SQLITE_ONLY  # about gunicorn's proxy headers, whatever the database
def test_forwarded_headers_from_a_stranger_change_no_answer_and_no_logged_address(
    start_gunicorn,
):
    """The service builds no absolute URL, so Host and X-Forwarded-* cannot steer a link;
    and the access log keeps the peer's address, whatever X-Forwarded-For claims."""
    server = start_gunicorn(env={"FORWARDED_ALLOW_IPS": "10.9.8.7"})  # a proxy that is not us
    forged = {
        "Host": "evil.example",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "6.6.6.6",
        "Forwarded": "for=6.6.6.6;host=evil.example;proto=https",
        "Content-Type": "application/json",
    }
    for n in range(2):
        status, headers, body = server.request("POST", "/api/songs", json.dumps(SONG), forged)
        assert status == 201
        assert headers["Location"] == f"/api/song/{n + 1}"
    status, headers, body = server.request("GET", "/api/songs?limit=1", headers=forged)

    assert status == 200
    assert headers["Link"].startswith("</api/songs?limit=1&cursor=")
    assert b"evil" not in body and "evil" not in str(headers)
    time.sleep(0.2)
    lines = [line for line in server.log().splitlines() if "/api/songs" in line]
    assert lines and all(line.startswith("127.0.0.1 ") for line in lines)
    assert "6.6.6.6" not in server.log()


@SQLITE_ONLY  # about gunicorn's proxy headers, whatever the database
def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_forwarded(start_gunicorn):
    """From a peer in FORWARDED_ALLOW_IPS (127.0.0.1 by default: these requests' own), the
    client is the last X-Forwarded-For address, the one the proxy wrote; earlier ones are
    the client's own claims, and a value that is no address is not taken."""
    server = start_gunicorn()

    forwarded = ("6.6.6.6, 203.0.113.9", "2001:db8::7", "not-an-address")
    for n, value in enumerate(forwarded):
        status, _, _ = server.request("GET", f"/livez?n={n}", headers={"X-Forwarded-For": value})
        assert status == 200

    lines = server.lines_with("/livez?n=", count=3)  # two workers write in either order
    assert [  # each request's line, by its own path
        next(line.split()[0] for line in lines if f"/livez?n={n} " in line) for n in range(3)
    ] == ["203.0.113.9", "2001:db8::7", "127.0.0.1"], lines
    assert "6.6.6.6" not in server.log()


@SQLITE_ONLY  # about gunicorn's logs, whatever the database
def test_access_lines_go_to_stdout_tracebacks_to_stderr_and_neither_holds_a_secret(
    start_gunicorn, tmp_path, db
):
    token, marker = "logging-token-abcdef012345", "BODY-MARKER-7d1e"
    stderr = tmp_path / "stderr.log"
    server = start_gunicorn(env={"API_TOKEN": token}, stderr_path=stderr)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    song = {**SONG, "title": marker}
    assert server.request("POST", "/api/songs", json.dumps(song), headers)[0] == 201
    assert server.request("POST", "/api/songs", json.dumps({"title": marker}), headers)[0] == 422
    db.execute("ALTER TABLE songs RENAME TO songs_elsewhere")  # every read now fails
    status, response_headers, body = server.request(
        "GET", "/api/song/1", None, {"X-Request-ID": "boom-1"}
    )
    time.sleep(0.3)

    out, err = server.log(), stderr.read_text()
    assert status == 500 and b"Traceback" not in body
    assert '"GET /api/song/1 HTTP/1.1" 500' in out and "request_id=boom-1" in out
    assert len(re.findall(r'"(GET|POST) /api/songs? ?', out)) >= 3
    assert "Traceback" in err and "songs" in err.split("Traceback")[1]
    assert "Traceback" not in out and '/api/song/1 HTTP/1.1" 500' not in err
    for text in (out, err):
        assert token not in text and marker not in text


@SQLITE_ONLY  # about sockets and processes, whatever the database
def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(start_gunicorn):
    """16 connections opened at once on a busy service, as wrk, a pool or a router opens
    them. On one listening socket shared by every worker, the worker on a core accepted
    nearly all of each burst and kept them, leaving the other core idle."""
    server = start_gunicorn(workers=4)
    server.wait_listening(4)

    bursts = []
    with server.keepalive_load(16):  # the service busy before each burst
        for _ in range(10):
            with server.keepalive_load(16) as ports:
                held = server.holders()
                bursts.append(sorted(Counter(held.get(port) for port in ports).values()))

    # With the kernel spreading connections by a hash, one of 4 workers holds 13 of 16
    # with a chance of about 1 in 200,000 a round.
    assert all(len(counts) >= 2 and counts[-1] <= 12 for counts in bursts), bursts


@SQLITE_ONLY  # about sockets and processes, whatever the database
def test_a_graceful_reload_under_load_leaves_no_connection_unanswered(start_gunicorn):
    """SIGHUP starts new workers and stops the old ones, which linger up to 2 s for their
    kept-alive connections. With a listening socket each, an old worker that kept its socket
    open meanwhile left what the kernel queued on it to be reset when it closed.

    Linux resets a connection whose handshake is under way on a listening socket as it
    closes (unless net.ipv4.tcp_migrate_req = 1): a window of microseconds, allowed here.
    """
    server = start_gunicorn(workers=4)
    server.wait_listening(4)
    old_workers, stop, answered = set(server.workers()), threading.Event(), []
    kept_alive = [http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(16)]
    for conn in kept_alive:  # idle, in every worker: each old one lingers for them
        conn.request("GET", "/healthz")
        conn.getresponse().read()

    def requests(_):
        statuses = []
        while not stop.is_set():
            try:
                statuses.append(server.request("GET", "/healthz", timeout=10)[0])
            except OSError as error:
                statuses.append(type(error).__name__)
            answered.append(None)
        return statuses

    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(requests, range(8))
        time.sleep(1)
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(3)  # the old workers' 2 s of lingering, under load throughout
        deadline = time.monotonic() + 30  # and on, however busy the machine, to 1,000 answers
        while len(answered) <= 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        statuses = Counter(status for each in answers for status in each)
    for conn in kept_alive:
        conn.close()

    assert statuses[200] > 1000
    assert sum(statuses.values()) - statuses[200] <= 2, statuses
    assert not server.wait_gone(old_workers)  # once they have finished what they held


@SQLITE_ONLY  # about sockets and processes, whatever the database
def test_a_second_instance_on_a_port_in_use_is_refused(start_gunicorn, tmp_path, database_url):
    """Each worker binds for itself with reuse_port, and the kernel would share the port
    between two services: the master refuses a port in use, as gunicorn's own bind does."""
    first = start_gunicorn()
    second = Gunicorn(
        procfile_command(), tmp_path / "second.log", {"DATABASE_URL": database_url}, port=first.port
    )
    try:
        second.process.wait(timeout=20)
    finally:
        second.stop()

    assert second.process.returncode != 0
    assert "Connection in use: ('127.0.0.1'" in second.log(), second.log()
    assert "Booting worker" not in second.log()
    assert [first.request("GET", "/healthz")[0] for _ in range(20)] == [200] * 20


@SQLITE_ONLY  # about gunicorn's logger, whatever the database
def test_any_access_log_format_logs_what_gunicorns_own_logger_would(start_gunicorn):
    """The service's access logger makes the common atoms itself and takes any other from
    gunicorn's: the values, the "-" for what is missing and the escaped quotes are gunicorn's,
    and a secret in the query stays out either way."""
    log_format = '%(m)s %(U)s %(q)s "%(a)s" %({referer}i)s %({content-type}o)s %(s)s %(p)s %(Z)s'
    server = start_gunicorn(workers=1, args=f"--access-logformat '{log_format}'")
    status, headers, _ = server.request(
        "GET", "/api/songs?limit=1&api_key=s3cret", headers={"User-Agent": 'say "hi"'}
    )
    lines = server.lines_with("GET /api/songs")
    server.stop()

    worker = re.search(r"<(\d+)>", lines[0])[1]
    assert (status, headers["Content-Type"]) == (400, "application/problem+json")  # api_key
    assert lines == [
        'GET /api/songs limit=1&api_key=[redacted] "say \\"hi\\"" - '
        f"application/problem+json 400 <{worker}> -"
    ]
    assert "s3cret" not in server.log()


@SQLITE_ONLY  # about gunicorn's logger, whatever the database
def test_an_operators_log_configuration_formats_the_access_log(start_gunicorn, tmp_path):
    """With logconfig_json (or logconfig_dict, or logconfig), the access log goes through
    logging, so the operator's formatter applies, as it would to gunicorn's own logger."""
    config = tmp_path / "logging.json"
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"tagged": {"format": "access-line %(name)s %(message)s"}},
                "handlers": {
                    "out": {
                        "class": "logging.StreamHandler",
                        "formatter": "tagged",
                        "stream": "ext://sys.stdout",
                    }
                },
                "root": {"level": "INFO", "handlers": ["out"]},
                "loggers": {
                    "gunicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
                    "gunicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False},
                },
            }
        )
    )
    server = start_gunicorn(workers=1, args=f"--log-config-json {config}")
    status, headers, _ = server.request("GET", "/api/songs?token=s3cret")
    lines = server.lines_with("GET /api/songs")
    server.stop()

    assert status == 400
    assert len(lines) == 1
    assert lines[0].startswith("access-line gunicorn.access 127.0.0.1 [")
    assert lines[0].endswith(f"request_id={headers['X-Request-ID']}")
    assert '"GET /api/songs?token=[redacted] HTTP/1.1" 400 ' in lines[0]
    assert "s3cret" not in server.log()


@SQLITE_ONLY  # about gunicorn's master and its signals, whatever the database
def test_sigusr2_is_refused_in_one_line_and_sighup_then_replaces_workers_under_writers(
    start_gunicorn, db
):
    """With reuse_port the master holds no listening socket for a new master to inherit:
    gunicorn's re-exec would start one that dies at once, leaving an operator who then stops
    the old master with nothing serving. SIGHUP loses no write: every song acknowledged is
    stored, and none is stored that was not acknowledged."""
    server = start_gunicorn(workers=2)
    old_workers, stop = set(server.workers()), threading.Event()
    acknowledged, failures = [], []

    def write(writer):
        n = 0
        while not stop.is_set():
            n += 1
            try:
                status, _, song = server.request_json(
                    "POST", "/api/songs", {**SONG, "title": f"w{writer}-{n}"}
                )
            except OSError as error:
                failures.append(type(error).__name__)
                continue
            (acknowledged.append(song["id"]) if status == 201 else failures.append(status))

    with ThreadPoolExecutor(6) as pool:
        writers = [pool.submit(write, w) for w in range(6)]
        time.sleep(0.5)
        os.kill(server.process.pid, signal.SIGUSR2)
        server.lines_with("SIGUSR2 refused")
        os.kill(server.process.pid, signal.SIGHUP)
        server.wait_gone(old_workers)  # writing all along,
        time.sleep(0.5)  # and on, to the new workers alone
        stop.set()
        for writer in writers:
            writer.result()

    log = server.log()
    assert log.count("SIGUSR2 refused") == 1, log
    assert (
        "Traceback" not in log
        and "Starting gunicorn" in log
        and log.count("Starting gunicorn") == 1
    )
    assert server.process.poll() is None
    # As the workers swap, a new connection can be refused (the old workers have closed
    # their listening sockets, the new ones not yet opened theirs) or reset in its
    # handshake: before any request was sent, so nothing was done (docs/operating.md).
    assert set(failures) <= {"ConnectionResetError", "ConnectionRefusedError"}, failures
    assert len(failures) <= max(20, len(acknowledged) // 10), failures
    stored = [row[0] for row in db.execute("SELECT id FROM songs ORDER BY id")]
    assert sorted(acknowledged) == stored
    assert not server.wait_gone(old_workers)  # once they have finished what they held


@SQLITE_ONLY  # about gunicorn's settings, whatever the database
def test_http2_cleartext_is_refused_at_start_in_one_line(tmp_path, database_url):
    server = Gunicorn(
        procfile_command(),
        tmp_path / "gunicorn.log",
        env={"DATABASE_URL": database_url},
        gunicorn_args="--workers 1 --http2-cleartext prior-knowledge",
    )

    assert server.process.wait(timeout=30) != 0
    assert "http2_cleartext is not supported" in server.log()
    assert "Booting worker" not in server.log() and "Traceback" not in server.log()


def test_every_gunicorn_internal_the_worker_borrows_is_there_and_a_missing_one_is_named():
    from songs import worker

    worker.check_borrowed()  # as the module's import, and each worker's start, do
    gone = {"Gone": (type("Gone", (), {}), "enqueue_req", "poller")}

    with pytest.raises(RuntimeError, match=r"lacks Gone\.enqueue_req, Gone\.poller: install"):
        worker.check_borrowed({"Gone": object()}, borrowed=gone)


def test_with_drain_seconds_a_sigterm_turns_readyz_to_503_while_it_serves_on_then_stops(
    start_gunicorn,
):
    server = start_gunicorn(workers=2, env={"DRAIN_SECONDS": "2"})
    assert server.request_json("GET", "/readyz")[:3:2] == (200, {"status": "ok"})

    terminated = time.monotonic()
    os.killpg(server.process.pid, signal.SIGTERM)  # as a platform stops a dyno: every process
    while server.request("GET", "/readyz")[0] == 200:  # until the signal reaches a worker
        assert time.monotonic() - terminated < 5
    time.sleep(0.3)  # and the other one: each answers alike from here
    during = [server.request_json("GET", path) for path in ("/readyz", "/livez", "/api/songs")]
    ready = [server.request("GET", "/readyz")[0] for _ in range(10)]  # over both workers
    server.process.wait(timeout=15)

    assert during[0][0] == 503 and during[0][2]["detail"].startswith("This instance is stopping")
    assert [status for status, _, _ in during[1:]] == [200, 200]
    assert ready == [503] * 10
    assert time.monotonic() - terminated >= 2  # it served on for DRAIN_SECONDS, then went
    assert "Traceback" not in server.log()


def test_make_procfile_runs_the_release_step_then_serves_the_web_process(tmp_path):
    port, database = free_port(), tmp_path / "procfile.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1",  # loopback in tests
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the master makes its own, and removes it
    make = subprocess.Popen(
        ["make", "--no-print-directory", "procfile", f"PORT={port}"],
        cwd=ROOT,
        env={k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and make.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        assert make.poll() is None, "make procfile ended before serving"
        body = json.dumps(SONG).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/songs", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
    finally:
        stop_group(make)
        output = make.stdout.read().decode()
        make.stdout.close()
    assert "schema ready" in output and "Booting worker" in output  # release, then web
    assert database.exists()
