"""A database that stops answering without a word, under real gunicorn: packets that vanish,
and flows that a middlebox forgets (tests/helpers/fault_proxy.py), between the service and
PostgreSQL, and between PgBouncer (the sample pgbouncer.ini) and PostgreSQL.

The promise: every request is answered within ANSWER_BOUND, a 503 with Retry-After while
the database is silent; the same server serves again by itself within seconds of the
network's return; nothing acknowledged is lost.
"""

import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest

from helpers import POSTGRES_POOLED, SONG
from helpers.databases import POSTGRES_URL, admin_connection, drop_database
from helpers.fault_proxy import FaultProxy
from helpers.pgbouncer import PgBouncer
from songs import storage
from songs.storage.common import ANSWER_BOUND_SECONDS, ANSWER_DEADLINE_SECONDS

ANSWER_BOUND = ANSWER_BOUND_SECONDS  # docs/operating.md
SILENCE = ANSWER_DEADLINE_SECONDS + 3  # long enough for a request to meet the deadline
RECOVERY = 5  # seconds after the network's return by which reads are 200 again
PROBERS = 6  # more than the server's 4 threads: some requests queue behind silent ones


@pytest.fixture
def silent_database(backend):
    """A database behind a FaultProxy (and behind PgBouncer, on that backend, with the proxy
    between PgBouncer and the server): (the service's URL, the proxy, a direct URL)."""
    name = f"songs_silent_{uuid.uuid4().hex[:10]}"
    with admin_connection() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    direct = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    storage.open_database(direct).init_schema()
    server = urlsplit(POSTGRES_URL)
    proxy = FaultProxy(server.port or 5432, server.hostname or "127.0.0.1")
    proxied = urlunsplit(server._replace(netloc=f"{server.username}@127.0.0.1:{proxy.port}"))
    with tempfile.TemporaryDirectory(prefix="songs-pgbouncer-") as folder:
        pooler = PgBouncer(folder, proxied) if backend == "pgbouncer" else None
        url = (
            pooler.url(name) if pooler else urlunsplit(urlsplit(proxied)._replace(path=f"/{name}"))
        )
        try:
            yield url, proxy, direct
        finally:
            proxy.close()
            if pooler:
                pooler.stop()
            drop_database(name)


def probe(server, method, path, value=None):
    """(status, seconds, the song's id if one was created); status None if no answer came."""
    started = time.monotonic()
    try:
        status, headers, body = server.request_json(method, path, value)
    except OSError:
        return None, time.monotonic() - started, None
    elapsed = time.monotonic() - started
    if status == 503:
        assert headers.get("Retry-After") and body["status"] == 503, body
    return status, elapsed, body["id"] if status == 201 else None


def probe_while(server, until, prober):
    """Reads, health checks and writes, one after another, until `until` (monotonic)."""
    answers, n = [], 0
    while time.monotonic() < until:
        n += 1
        answers.append(probe(server, "GET", "/api/song/1"))
        answers.append(probe(server, "GET", "/healthz"))
        answers.append(probe(server, "POST", "/api/songs", {**SONG, "title": f"p{prober}-{n}"}))
    return answers


def warm(server):
    """Every thread of the server with a connection of its own, used just now."""
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: probe(server, "GET", "/api/song/1")[0], range(40))) == {200}


def serves_within(server, seconds):
    """Seconds until a read and a health check are both 200 again; fails past `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if (
            probe(server, "GET", "/api/song/1")[0] == 200
            and probe(server, "GET", "/healthz")[0] == 200
        ):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not serving {seconds} s after the network came back:\n{server.log()}")


@POSTGRES_POOLED
def test_a_database_that_stops_answering_is_503_within_the_bound_and_serves_again_unrestarted(
    start_gunicorn, silent_database
):
    url, proxy, direct = silent_database
    server = start_gunicorn(url, workers=2)
    assert server.request_json("POST", "/api/songs", SONG)[0] == 201
    acknowledged, workers = [1], server.workers()

    for lose_flows in (False, True):
        warm(server)
        proxy.silence(lose_flows=lose_flows)
        with ThreadPoolExecutor(PROBERS) as pool:
            until = time.monotonic() + SILENCE
            rounds = list(
                pool.map(probe_while, [server] * PROBERS, [until] * PROBERS, range(PROBERS))
            )
        proxy.restore()
        answers = [answer for answers in rounds for answer in answers]
        acknowledged += [song_id for _, _, song_id in answers if song_id]
        late = [
            (status, round(seconds, 1)) for status, seconds, _ in answers if seconds > ANSWER_BOUND
        ]
        assert not late, f"lose_flows={lose_flows}: answered late or never: {late}"
        assert {status for status, _, _ in answers} <= {200, 201, 503}
        assert 503 in {status for status, _, _ in answers}
        assert serves_within(server, RECOVERY) < RECOVERY
        assert server.request_json("POST", "/api/songs", SONG)[0] == 201

    assert server.workers() == workers, "a worker was replaced"
    assert "Traceback" not in server.log()
    import psycopg

    with psycopg.connect(direct) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM songs")}
    assert set(acknowledged) <= stored
