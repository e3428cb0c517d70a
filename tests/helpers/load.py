"""Clients that write through real gunicorn while something else happens to it."""

import http.client
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import SONG
from helpers.commands import make
from songs.song import SONG_FIELDS as FIELDS


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


def mixed_writers_lose_nothing(servers, db, database_url, seconds=2):
    """16 clients spread over `servers` for `seconds` (and on, up to ten times that, until two
    of them have sent the same version of a song): GET, POST, PUT, PATCH and DELETE on
    12 shared songs, and `make seed` adding 1,000 songs of every rating meanwhile (in one
    statement); then the table checked against every acknowledged write, and the counts
    by rating against the songs.

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
    # `seconds` at least, and on until the race the test is about has happened (a 412: two
    # writers sent the same version): on a slow machine 2 s can pass without one.
    deadline, cap = time.monotonic() + seconds, time.monotonic() + 10 * seconds

    shared = list(first)  # the songs every client picks from, as they come and go

    def client(c):
        server = servers[c % len(servers)]
        rng, known, n = random.Random(c), {}, 0
        while time.monotonic() < deadline or (412 not in statuses and time.monotonic() < cap):
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

    with ThreadPoolExecutor(17) as pool:
        seeding = pool.submit(make, "seed", "N=1000", env={"DATABASE_URL": database_url})
        list(pool.map(client, range(16)))
    assert seeding.result().returncode == 0, seeding.result().stderr

    rows = db.execute("SELECT id, artist, title, rating, created_at, updated_at FROM songs")
    table = {row[0]: dict(zip(FIELDS, row, strict=True)) for row in rows}
    assert not [s for s in statuses if s >= 500]
    kept = db.execute("SELECT rating, songs FROM song_counts WHERE songs > 0 ORDER BY rating")
    counted = db.execute("SELECT rating, count(*) FROM songs GROUP BY rating ORDER BY rating")
    assert kept.fetchall() == counted.fetchall()
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
