"""make bench: the service under gunicorn against its floors, driven by wrk, at several table sizes.

For each size it builds a database with the real schema, starts the Procfile's web command
and bench/floors.py's database floor twice: under the same gunicorn.conf.py (the floor), and
as lean as gunicorn runs it (the lean floor: plain gthread with the same workers, threads
and reuse_port, no access log, no config). Each request shape is measured on all three in
rounds, each round in a new random order, and reported as the median of the rounds with
their spread (min-max); a ratio is the median of the rounds' ratios, each round's servers
measured back to back. It prints one markdown table and writes it, with the machine and
the versions, into bench/results.md: SQLite's, or with DATABASE_URL naming PostgreSQL,
PostgreSQL's (a new schema per size in that database), and the two side by side once both
have run. Then the bulk loads (bench/loads.py): seed, import and migrate-to-postgres, timed
at two sizes.
"""

import argparse
import functools
import http.client
import json
import os
import platform
import random
import re
import runpy
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
from floors import ARTIST, SEARCH_TERM  # noqa: E402
from loads import measure_loads, render_loads  # noqa: E402

from helpers.gunicorn_server import Gunicorn, procfile_command  # noqa: E402  (as the tests run it)
from songs import cursors, listing, records, storage  # noqa: E402
from songs.storage.postgres import POSTGRES_SCHEMES  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results.md"
SIZES, QUICK_SIZES = (1_000, 100_000, 1_000_000), (1_000,)
TARGET_RATIO, TARGET_GROWTH, TARGET_RSS_MIB = 0.85, 1.2, 40
ONE_SONG, FIRST_PAGE = "GET /api/song/<id>", "GET /api/songs (first page)"
ADD_SONG = "POST /api/songs"
SONGS_PAGE = "GET / (the songs page, first page)"  # HTML, beside the JSON list it shows
# gzip's cost (songs/compression.py), each beside the same request not compressed, in the
# same rounds: measured, with no target.
GZIPPED = {
    "GET /api/songs (first page, gzip)": "/api/songs",
    "GET / (the songs page, gzip)": "/",
}
TARGET_PAGE_RATIO = 0.8  # of the JSON list's first page, in the same run
LEAN_TARGETS = {ONE_SONG: 0.9, FIRST_PAGE: 0.85, ADD_SONG: 0.85}  # of the lean floor
# The fastest peer, as a person would write this API in it (bench/falcon_peer.py), under the
# service's gunicorn.conf.py: the service is to be ahead of it on every request it answers.
PEER, PEER_COMMAND, TARGET_PEER_RATIO = "Falcon", ["gunicorn", "bench.falcon_peer:app"], 1.05
DEEP_PAGE = "GET /api/songs (deep cursor)"
# Shown, with no target: its walk reads songs in title order, all over the table, and so
# slows as the table outgrows the caches (bench/results.md).
DEEP_SORTED = "GET /api/songs?sort=-rating,title (deep cursor)"
QUERY_SHAPES = (  # the floor runs the same query through storage.select_page (bench/floors.py)
    f"artist={quote(ARTIST)}",
    "min_rating=4",
    "sort=-rating",
    f"q={SEARCH_TERM}",
)
TARGET_QUERY_GROWTH, TARGET_EXPORT_ROWS, TARGET_EXPORT_RSS_MIB = 1.5, 100_000, 5
PUT_SONG, DELETE_SONG = "PUT /api/song/<id>", "POST, then DELETE /api/song/<id>"
HISTORY = "GET /api/song/<id>/history (20 versions)"
FEED = "GET /api/changes (100 changes)"
NO_PEER = (HISTORY, FEED, *GZIPPED)  # bench/falcon_peer.py has no history, and no gzip
# The writes again on the service as it was before its change log, in the same rounds: the
# log is to cost them at most 15%. (From a worktree of this commit: a copy without git's
# history leaves it out.)
BEFORE_LOG, TARGET_BEFORE_LOG_RATIO = "12623b2", 0.85
WRITES = (PUT_SONG, ADD_SONG, DELETE_SONG)
# What observing costs, in the same rounds: the service as built with METRICS=0 (its
# metrics at most 5% of a request), and with LOG_FORMAT=json (measured, beside text).
VARIANTS = {"metrics_off": ("METRICS", "0"), "json_logs": ("LOG_FORMAT", "json")}
VARIANT_LABELS = {"metrics_off": "METRICS=0", "json_logs": "LOG_FORMAT=json"}
OBSERVED, TARGET_METRICS_RATIO = (ONE_SONG, ADD_SONG), 0.95
HISTORY_VERSIONS, TARGET_WAKE_SECONDS, WAKES = 20, 0.5, 15
TARGET_URL = os.environ.get("DATABASE_URL", "")
POSTGRES = TARGET_URL.startswith(POSTGRES_SCHEMES)
BACKENDS = ("SQLite", "PostgreSQL", "PostgreSQL through PgBouncer")


def shapes(size, url):
    """(name, service path, database floor path, wrk script) for each measured request."""
    deep = max(101, size // 10)  # a page 90% of the way down the table
    database = storage.open_database(url)
    deep_song = storage.find_song(database.connection(), deep)
    database.close()
    by_rating, _ = listing.read_sort("-rating,title")
    position = [deep_song[field] for field, _ in by_rating]
    rated_cursor = cursors.encode_cursor(position, cursors.query_fingerprint({}, by_rating))
    newest_first = cursors.query_fingerprint({}, cursors.DEFAULT_SORT)
    return [
        (ONE_SONG, "/api/song/1", "/api/song/1", "get_song.lua"),
        (FIRST_PAGE, "/api/songs", "/api/songs", None),
        # Before the writes: the song has the versions build_database gave it, at every size.
        (HISTORY, f"/api/song/1/history?limit={HISTORY_VERSIONS}", "/api/song/1/history", None),
        (FEED, f"/api/changes?since={size // 2}", f"/api/changes?since={size // 2}", None),
        (SONGS_PAGE, "/", "/api/songs", None),
        *((name, path, "/api/songs", "gzip.lua") for name, path in GZIPPED.items()),
        (
            DEEP_PAGE,
            f"/api/songs?cursor={cursors.encode_cursor((deep,), newest_first)}",
            f"/api/songs?before={deep}",
            None,
        ),
        (PUT_SONG, "/api/song/1", "/api/song/1", "put_song.lua"),
        (ADD_SONG, "/api/songs", "/api/songs", "post_song.lua"),
        (DELETE_SONG, "/api/songs", "/api/songs", "delete_song.lua"),
        *(
            (
                f"GET /api/songs?{query}",
                f"/api/songs?{query}",
                f"/api/songs?shape={quote(query)}",
                None,
            )
            for query in QUERY_SHAPES
        ),
        (
            DEEP_SORTED,
            f"/api/songs?sort=-rating,title&cursor={rated_cursor}",
            f"/api/songs?shape={quote('sort=-rating,title')}&after={quote(json.dumps(position))}",
            None,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small table, short runs")
    parser.add_argument("--duration", type=int, default=1, help="seconds per measured run (1)")
    parser.add_argument(
        "--rounds", type=int, help="measured rounds per request, the median kept (8; quick 5)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument(
        "--only",
        help="measure only the requests whose name holds this text (as 'PUT|POST'), at --sizes;"
        " no floors of the server, no bulk loads, results.md left as it was",
    )
    parser.add_argument(
        "--sizes", help="with --only: the table sizes, comma-separated (1000,100000,1000000)"
    )
    parser.add_argument(
        "--gunicorn-args", default="", help="extra gunicorn flags for every server, to try settings"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "make bench needs wrk, the HTTP load generator: "
            "apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)."
        )
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.only and args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    if args.only:
        return measure_only(args.only, sizes, args)
    duration = args.duration
    rounds = args.rounds or (5 if args.quick else 8)
    bench = Bench(duration, rounds, args.connections, args.gunicorn_args)

    rows, notes = [], {}
    with tempfile.TemporaryDirectory(prefix="songs-bench-") as tmp:
        bench.before_log = checkout(BEFORE_LOG, Path(tmp) / "before-log")
        env = {"DATABASE_URL": f"sqlite:///{Path(tmp) / 'unused.db'}"}  # for on_starting's init-db
        floor, lean = bench.start(Path(tmp), "bench.floors:server_floor", env)
        try:
            floor_runs, lean_runs = bench.measure([(floor, "/"), (lean, "/")], None, env)
        finally:
            floor.stop()
            lean.stop()
        rows.append(
            {
                "size": None,
                "shape": "server floor (fixed song)",
                "runs": floor_runs,
                "floor": None,
                "lean": lean_runs,
            }
        )
        for size in sizes:
            rows += bench_size(bench, Path(tmp), size, notes)
        # Through a pooler, whose query_timeout cuts a bulk statement (6 s in the sample
        # deploy/pgbouncer.ini), the loads are not run: docs/deploying.md runs them on the
        # server's own address, and the PostgreSQL block measures them there.
        pooled = POSTGRES and backend() == BACKENDS[2]
        print("bulk loads:", "not through a pooler" if pooled else "", flush=True)
        loads = (
            {}
            if pooled
            else measure_loads(Path(tmp), new_database, drop_database, POSTGRES, args.quick)
        )
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
    table = render_table(rows)
    summary = "\n".join(
        [
            check_targets(rows, notes, sizes),
            "",
            "Bulk loads, each into a new database:",
            "",
            *(render_loads(loads) if loads else [NOT_THROUGH_A_POOLER]),
        ]
    )
    print(table)
    print(summary)
    if args.quick:  # too few sizes and rounds for the record
        print(f"\nquick: {RESULTS.relative_to(ROOT)} is left as it was")
    else:
        write_results(table, summary, duration, rounds, args.connections)
    if failed_requests(rows):
        sys.exit("Some requests failed (see non-2xx and errors above).")


def measure_only(text, sizes, args):
    """The requests whose name holds `text`, at `sizes`, printed: to try a change or a
    setting on a few rows, in minutes rather than the half hour of a whole run."""
    bench = Bench(args.duration, args.rounds or 8, args.connections, args.gunicorn_args)
    bench.only = text
    with tempfile.TemporaryDirectory(prefix="songs-bench-") as tmp:
        bench.before_log = checkout(BEFORE_LOG, Path(tmp) / "before-log")
        rows = [row for size in sizes for row in bench_size(bench, Path(tmp), size, {})]
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
    print(render_table(rows))
    for row in rows:
        for key, label in (
            ("before_log", "before the log"),
            ("beside", "the same not gzipped" if row["shape"] in GZIPPED else "the JSON list"),
            *VARIANT_LABELS.items(),
        ):
            if row[key]:
                ratio = ratio_cell(row["runs"], row[key])
                print(f"{row['size']:,} songs, {row['shape']}: {ratio} of {label}")
    if failed_requests(rows):
        sys.exit("Some requests failed (see non-2xx and errors above).")


def checkout(revision, folder):
    """A worktree of the project at `revision`, or None (and why, printed) without one."""
    made = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        print(f"the service at {revision} is left out: {made.stderr.strip()}", flush=True)
        return None
    return folder


class Bench:
    """The servers of a run, started alike, and wrk's rounds over them."""

    def __init__(self, duration, rounds, connections, gunicorn_args):
        self.duration, self.rounds, self.connections = duration, rounds, connections
        self.gunicorn_args = gunicorn_args
        self.before_log = None  # a worktree of the service before its change log
        self.only = ""  # measure only the requests whose name holds it (--only)
        config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        self.workers, self.threads = config["workers"], config.get("threads", 1)

    def start(self, tmp, app, env, name="floor"):
        """`app` under gunicorn.conf.py and as the lean floor, each with all workers listening."""
        floor = Gunicorn(["gunicorn", app], tmp / f"{name}.log", env, self.gunicorn_args)
        lean_command = [
            "gunicorn",
            "--config",
            os.devnull,
            "--worker-class",
            "gthread",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--reuse-port",
            app,
        ]
        lean = Gunicorn(lean_command, tmp / f"lean-{name}.log", env, self.gunicorn_args)
        try:
            for server in (floor, lean):
                self.ready(server)
        except BaseException:
            floor.stop()
            lean.stop()
            raise
        return floor, lean

    def ready(self, server):
        """Seconds to the first 200 on /healthz; and then every worker listening, so that no
        round's connections land on the first worker up alone."""
        seconds = server.wait_ready(timeout=60)
        server.wait_listening(self.workers)
        return seconds

    def measure(self, targets, script, env):
        """The wrk runs of each (server, path), or (server, path, its own script), in the
        order given: a warm-up each, then
        `rounds` rounds, each in a new random order, so that drift on a shared machine falls
        on all."""
        runs = [[] for _ in targets]
        for server, path, *own in targets:
            wrk(server.url(path), own[0] if own else script, 1, self.connections, env)
        for _ in range(self.rounds):
            for index in random.sample(range(len(targets)), len(targets)):
                server, path, *own = targets[index]
                chosen = own[0] if own else script
                result = wrk(server.url(path), chosen, self.duration, self.connections, env)
                runs[index].append(result)
        return runs


def bench_size(bench, tmp, size, notes):
    url = new_database(tmp, size)
    try:
        return bench_database(bench, url, tmp, size, notes)
    finally:
        drop_database(url)


@functools.cache
def backend():
    """What DATABASE_URL names: SQLite, PostgreSQL, or PostgreSQL through a pooler, which
    answers on a port that is not the server's own."""
    if not POSTGRES:
        return BACKENDS[0]
    import psycopg

    with psycopg.connect(TARGET_URL, autocommit=True) as conn:
        port = conn.execute("SELECT inet_server_port()").fetchone()[0]
    pooled = port is not None and port != (urlsplit(TARGET_URL).port or 5432)
    return BACKENDS[2 if pooled else 1]


def new_database(tmp, size):
    """The URL of an empty database: a SQLite file, or a new database beside DATABASE_URL's
    (not a schema: a pooler passes no search_path), reached the same way."""
    if not POSTGRES:
        return f"sqlite:///{tmp / f'songs-{size}.db'}"
    name = f"songs_bench_{size}_{os.getpid()}"
    postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(TARGET_URL)._replace(path=f"/{name}"))


def drop_database(url):
    if POSTGRES:
        postgres_admin(f"DROP DATABASE {urlsplit(url).path[1:]} WITH (FORCE)")


def postgres_admin(*statements):
    import psycopg

    with psycopg.connect(TARGET_URL, autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)


def bench_database(bench, url, tmp, size, notes):
    started = time.perf_counter()
    build_database(url, size)
    print(f"{size:,} songs: database built in {time.perf_counter() - started:.1f} s", flush=True)
    env = {
        "DATABASE_URL": url,
        "SONG_COUNT": str(size),
        "ARTIST": ARTIST,  # bench/put_song.lua keeps ARTIST's songs his
        "ARTIST_EVERY": str(artist_every(size)),
    }

    svc = Gunicorn(procfile_command(), tmp / f"service-{size}.log", env, bench.gunicorn_args)
    peer = Gunicorn(PEER_COMMAND, tmp / f"falcon-{size}.log", env, bench.gunicorn_args)
    servers = [svc, peer]
    if bench.before_log:
        before = Gunicorn(
            procfile_command(),
            tmp / f"before-log-{size}.log",
            env,
            bench.gunicorn_args,
            cwd=bench.before_log,
        )
        servers.append(before)
    variants = {
        key: Gunicorn(
            procfile_command(),
            tmp / f"{key}-{size}.log",
            {**env, name: value},
            bench.gunicorn_args,
        )
        for key, (name, value) in VARIANTS.items()
    }
    servers.extend(variants.values())
    try:
        notes[size] = {"startup": bench.ready(svc)}
        for server in servers[1:]:
            bench.ready(server)
        floor, lean = bench.start(tmp, "bench.floors:database_floor", env, f"floor-{size}")
    except BaseException:
        for server in servers:
            server.stop()
        raise
    rows = []
    try:
        for name, service_path, floor_path, script in shapes(size, url):
            if not any(part in name for part in bench.only.split("|")):
                continue
            targets = [(svc, service_path), (floor, floor_path), (lean, floor_path)]
            if name == SONGS_PAGE:  # and the JSON list it shows, in the same rounds
                targets.append((svc, "/api/songs"))
            elif name in GZIPPED:  # and the same answer, not compressed
                targets.append((svc, service_path, None))
            elif name not in NO_PEER:  # the peer answers the API only
                targets.append((peer, floor_path))
            if name in WRITES and bench.before_log:
                targets.append((before, service_path))
            if name in OBSERVED:
                targets.extend((server, service_path) for server in variants.values())
            runs, floor_runs, lean_runs, *others = bench.measure(targets, script, env)
            row = {"size": size, "shape": name, "runs": runs, "floor": floor_runs}
            row.update(lean=lean_runs, beside=None, peer=None, before_log=None)
            row.update(dict.fromkeys(VARIANTS))
            if name == SONGS_PAGE or name in GZIPPED:
                row["beside"] = others.pop(0)
            elif name not in NO_PEER:
                row["peer"] = others.pop(0)
            if name in WRITES and bench.before_log:
                row["before_log"] = others.pop(0)
            if name in OBSERVED:
                row.update(zip(VARIANTS, others, strict=True))
            rows.append(row)
            print(
                f"  {name}: {median(runs):,.0f} req/s, floor {median(floor_runs):,.0f}, "
                f"lean floor {median(lean_runs):,.0f}"
                + "".join(
                    f", {label} {median(row[key]):,.0f}"
                    for key, label in (
                        ("beside", "not gzipped" if name in GZIPPED else "the JSON list"),
                        ("peer", PEER),
                        ("before_log", f"before the log ({BEFORE_LOG})"),
                        *VARIANT_LABELS.items(),
                    )
                    if row[key]
                ),
                flush=True,
            )
        if bench.only and "export" not in bench.only:
            return rows
        if not bench.only:
            notes[size]["wake"] = measure_wake(svc)
            print(f"  long poll: answered {notes[size]['wake']} s after each write", flush=True)
        notes[size]["export"] = measure_export(svc)
        notes[size]["export_gzip"] = measure_export(svc, gzipped=True)
        for key, way in (("export", ""), ("export_gzip", ", gzipped")):
            export = notes[size][key]
            print(
                "  CSV export{}: {:,.0f} rows/s ({:,.0f}-{:,.0f}), {:,.1f} MiB".format(
                    way, export["rows_per_s"], *export["spread"], export["bytes"] / 2**20
                ),
                flush=True,
            )
        if bench.only:
            return rows
        notes[size]["rss"] = max(worker_peak_rss_mib(svc.process.pid))
        log = svc.log_path.read_text()
        notes[size]["locked"] = log.count("database is locked") + log.count("database is busy")
    finally:
        for server in (*servers, floor, lean):
            server.stop()
    return rows


def failed_requests(rows):
    """Failed requests (non-2xx, socket errors) over every run of every server."""
    servers = ("runs", "floor", "lean")
    return sum(run["failed"] for row in rows for name in servers for run in row[name] or ())


def median(runs, key="rps"):
    return statistics.median(run[key] for run in runs)


def spread(values):
    return min(values), max(values)


def ratios(runs, floor_runs):
    """Each round's ratio of req/s, the two measured back to back in that round."""
    return [run["rps"] / floor["rps"] for run, floor in zip(runs, floor_runs, strict=True)]


NOT_THROUGH_A_POOLER = (
    "not measured through a pooler, whose query_timeout cuts a bulk statement: seed, import"
    " and migrate-to-postgres run on the server's own address (docs/deploying.md), where the"
    " PostgreSQL block measures them."
)


def artist_every(count):
    """ARTIST has every this-many-th song: 150 of them, whatever the size."""
    return count // 150


def build_database(url, count):
    """The real schema with `count` songs from make seed, a few only q=SEARCH_TERM finds, and
    150 by ARTIST."""
    subprocess.run(
        [sys.executable, str(ROOT / "service.py"), "seed", str(count)],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    database = storage.open_database(url)
    conn = database.connection()
    try:
        conn.insert_rows(
            "songs",
            ("artist", "title", "rating"),
            [(f"The {SEARCH_TERM.title()}s", f"Song {n}", 3) for n in range(5)],
        )
        # ARTIST's songs, spread over the table, fill a page at every size.
        conn.execute("UPDATE songs SET artist = ? WHERE id % ? = 0", (ARTIST, artist_every(count)))
        for n in range(1, HISTORY_VERSIONS):  # the first song's history: a page at every size
            records.change_song(database, 1, {"rating": n % 5 + 1})
        # Measured on a quiet server: after a load PostgreSQL's checkpointer spreads the
        # load's writes over minutes, and autovacuum reads the new log, beside the rounds.
        if POSTGRES:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        else:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.close()


def measure_export(server, gzipped=False):
    """GET /api/songs.csv read to the end, three times: the median rows/s, the bytes sent,
    and what the workers' peak memory grew by over all three (MiB); `gzipped`: with gzip
    accepted, the rows counted as they are decompressed."""
    before = max(worker_peak_rss_mib(server.process.pid))
    speeds = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("GET", "/api/songs?count=true&limit=1")
        resp = conn.getresponse()
        resp.read()
        total = int(resp.headers["X-Total-Count"])  # the writes measured before added songs
        started = time.perf_counter()
        conn.request(
            "GET", "/api/songs.csv", headers={"Accept-Encoding": "gzip"} if gzipped else {}
        )
        resp = conn.getresponse()
        unpack = zlib.decompressobj(wbits=31) if gzipped else None
        lines = sent = 0
        while chunk := resp.read(1 << 16):
            sent += len(chunk)
            lines += (unpack.decompress(chunk) if unpack else chunk).count(b"\n")
        seconds = time.perf_counter() - started
        conn.close()
        if resp.status != 200 or lines != total + 1:  # the songs and the header
            sys.exit(f"the export answered {resp.status} with {lines} lines for {total} songs")
        speeds.append((lines - 1) / seconds)
    grown = max(worker_peak_rss_mib(server.process.pid)) - before
    return {
        "rows_per_s": statistics.median(speeds),
        "spread": spread(speeds),
        "rss_growth": grown,
        "bytes": sent,
    }


def measure_wake(server, times=WAKES):
    """Seconds from a write's answer to the answer of a feed request that waited for it
    (Prefer: wait), `times` over: each waiter asks, and is given half a second to be waiting
    before the write."""
    song = json.dumps({"artist": "Gregori Klosman", "title": "Jaws", "rating": 3})
    seconds = []
    for _ in range(times):
        since = json.loads(server.request("GET", "/api/changes?since=now")[2])["next"]
        answer = {}

        def wait(since=since, answer=answer):
            path = f"/api/changes?since={since}"
            _, headers, raw = server.request("GET", path, headers={"Prefer": "wait=20"})
            answer.update(at=time.perf_counter(), headers=headers, body=json.loads(raw))

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)
        server.request("POST", "/api/songs", song, {"Content-Type": "application/json"})
        written = time.perf_counter()
        waiter.join(timeout=30)
        waited = answer["headers"].get("Preference-Applied") == "wait=20"
        if not (waited and answer["body"]["changes"]):
            sys.exit(f"a waiter was answered without waiting for the write: {answer}")
        seconds.append(round(answer["at"] - written, 3))
    return seconds


def worker_peak_rss_mib(master_pid):
    """Each worker's peak resident memory (VmHWM), in MiB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024)
    return peaks


def wrk(url, script, duration, connections, env):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(BENCH / script)]
    out = subprocess.run(
        [*command, url], env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": milliseconds(latency["50"]),
        "p99": milliseconds(latency["99"]),
        "failed": (int(non_2xx[1]) if non_2xx else 0)
        + (sum(map(int, errors.groups())) if errors else 0),
    }


def milliseconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def render_table(rows):
    lines = [
        "| songs | request | req/s | min-max | floor | lean floor | to floor | to lean floor "
        f"| {PEER} | to {PEER} | p50 ms | p99 ms | failed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        runs, floor, lean = r["runs"], r["floor"], r["lean"]
        cells = [
            f"{r['size']:,}" if r["size"] else "",
            r["shape"],
            f"{median(runs):,.0f}",
            "{:,.0f}-{:,.0f}".format(*spread([run["rps"] for run in runs])),
            f"{median(floor):,.0f}" if floor else "",
            f"{median(lean):,.0f}",
            ratio_cell(runs, floor) if floor else "",
            ratio_cell(runs, lean),
            f"{median(peer):,.0f}" if (peer := r.get("peer")) else "",
            ratio_cell(runs, peer) if peer else "",
            f"{median(runs, 'p50'):.2f}",
            f"{median(runs, 'p99'):.2f}",
            str(sum(run["failed"] for run in runs)),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def ratio_cell(runs, floor_runs):
    each = ratios(runs, floor_runs)
    return "{:.2f} ({:.2f}-{:.2f})".format(statistics.median(each), *spread(each))


def check_targets(rows, notes, sizes):
    """Each target of the benchmark, met or missed, as markdown lines: a ratio is the median
    of the rounds' ratios, and one whose rounds fell on both sides of its target is said to be
    within the noise, whichever side its median is on."""
    by = {(r["size"], r["shape"]): r for r in rows if r["floor"]}
    lean_targets = ", ".join(f"{shape} {ratio}" for shape, ratio in LEAN_TARGETS.items())
    lines = [
        f"Targets: at least {TARGET_PEER_RATIO}x {PEER} ({PEER} {version('falcon')}); "
        f"at least {TARGET_RATIO} of the floor, and of the lean floor: {lean_targets}; "
        f"the deep page and the 1M-song figures at most {TARGET_GROWTH}x the first page and the "
        f"1k-song ones, and at most {TARGET_QUERY_GROWTH}x for the queries; CSV export at least "
        f"{TARGET_EXPORT_ROWS:,} rows/s with worker memory growing at most "
        f"{TARGET_EXPORT_RSS_MIB} MiB; workers under {TARGET_RSS_MIB} MiB; no lock errors, no "
        f"failed requests; the writes at least {TARGET_BEFORE_LOG_RATIO} of the service before "
        f"its change log ({BEFORE_LOG}); with metrics, at least {TARGET_METRICS_RATIO} of the "
        f"same build with METRICS=0; the feed's long poll answering within "
        f"{TARGET_WAKE_SECONDS} s of a write. Ratios are medians of the rounds' ratios (min-max).",
        "",
    ]

    def target(ok, text):
        lines.append(f"- {'met' if ok else 'MISSED'}: {text}")

    def ratio_target(runs, floor_runs, wanted, text):
        each = ratios(runs, floor_runs)
        value, (low, high) = statistics.median(each), spread(each)
        figure = f"{text}: {value:.2f} ({low:.2f}-{high:.2f})"
        if low < wanted <= high:
            lines.append(f"- within the noise of {wanted}: {figure}")
        else:
            target(value >= wanted, figure)

    for (size, shape), r in by.items():
        if shape in GZIPPED:
            continue  # the floors do not compress: measured beside the same answer, below
        ratio_target(
            r["runs"], r["floor"], TARGET_RATIO, f"{shape} at {size:,} songs, of its floor"
        )
        if shape in LEAN_TARGETS:
            ratio_target(
                r["runs"],
                r["lean"],
                LEAN_TARGETS[shape],
                f"{shape} at {size:,} songs, of the lean floor",
            )
        if r["peer"]:
            ratio_target(
                r["runs"], r["peer"], TARGET_PEER_RATIO, f"{shape} at {size:,} songs, of {PEER}"
            )
        if r["before_log"]:
            ratio_target(
                r["runs"],
                r["before_log"],
                TARGET_BEFORE_LOG_RATIO,
                f"{shape} at {size:,} songs, of the service before its change log ({BEFORE_LOG})",
            )
        if r["metrics_off"]:
            ratio_target(
                r["runs"],
                r["metrics_off"],
                TARGET_METRICS_RATIO,
                f"{shape} at {size:,} songs with its metrics, of the same build with METRICS=0",
            )
            lines.append(
                f"- measured: {shape} at {size:,} songs with LOG_FORMAT=json: "
                f"{ratio_cell(r['json_logs'], r['runs'])} of the text log's"
            )
    for (size, shape), r in by.items():
        if shape in GZIPPED:
            lines.append(
                f"- measured: {shape} at {size:,} songs: {ratio_cell(r['runs'], r['beside'])} "
                "of the same answer not gzipped"
            )
    for size in sizes:
        ratio_target(
            by[(size, SONGS_PAGE)]["runs"],
            by[(size, SONGS_PAGE)]["beside"],
            TARGET_PAGE_RATIO,
            f"{SONGS_PAGE} at {size:,} songs, of the JSON list's first page in the same rounds",
        )
    big, small = max(sizes), min(sizes)
    if big != small:
        cost = median(by[(big, FIRST_PAGE)]["runs"]) / median(by[(big, DEEP_PAGE)]["runs"])
        target(cost <= TARGET_GROWTH, f"the deep page costs {cost:.2f}x the first at {big:,} songs")
        for shape in (ONE_SONG, FIRST_PAGE, SONGS_PAGE, DEEP_PAGE, HISTORY, FEED, *WRITES):
            growth = median(by[(small, shape)]["runs"]) / median(by[(big, shape)]["runs"])
            target(
                growth <= TARGET_GROWTH,
                f"{shape} costs {growth:.2f}x at {big:,} songs what it costs at {small:,}",
            )
        for shape in (f"GET /api/songs?{query}" for query in QUERY_SHAPES):
            growth = median(by[(small, shape)]["runs"]) / median(by[(big, shape)]["runs"])
            target(
                growth <= TARGET_QUERY_GROWTH,
                f"{shape} costs {growth:.2f}x at {big:,} songs what it costs at {small:,}",
            )
    for size, note in notes.items():
        wake = note["wake"]
        target(
            max(wake) <= TARGET_WAKE_SECONDS,
            f"the feed's long poll answered with a write's change {statistics.median(wake):.2f} s "
            f"after the write's own answer ({min(wake):.2f}-{max(wake):.2f}, {len(wake)} writes) "
            f"at {size:,} songs",
        )
        export = note["export"]
        if size >= 100_000:
            target(
                export["rows_per_s"] >= TARGET_EXPORT_ROWS,
                "CSV export at {:,} songs: {:,.0f} rows/s ({:,.0f}-{:,.0f})".format(
                    size, export["rows_per_s"], *export["spread"]
                ),
            )
        packed = note["export_gzip"]
        lines.append(
            "- measured: CSV export at {:,} songs, gzipped: {:,.0f} rows/s ({:,.0f}-{:,.0f}), "
            "{:.1f} MiB sent where it is {:.1f} MiB not gzipped".format(
                size,
                packed["rows_per_s"],
                *packed["spread"],
                packed["bytes"] / 2**20,
                export["bytes"] / 2**20,
            )
        )
        target(
            export["rss_growth"] <= TARGET_EXPORT_RSS_MIB,
            f"worker peak RSS grew {export['rss_growth']:.1f} MiB over three CSV exports of "
            f"{size:,} songs",
        )
        target(
            note["rss"] < TARGET_RSS_MIB,
            f"peak worker RSS at {size:,} songs: {note['rss']:.1f} MiB",
        )
        target(
            note["locked"] == 0,
            f"'database is busy' in the log at {size:,} songs: {note['locked']}",
        )
        lines.append(
            f"- startup at {size:,} songs: first 200 on /healthz after {note['startup']:.2f} s"
        )
    failed = sum(
        run["failed"]
        for r in rows
        for runs in (r["runs"], r["floor"] or [], r["lean"])
        for run in runs
    )
    target(failed == 0, f"failed requests (non-2xx or socket errors): {failed}")
    return "\n".join(lines)


def write_results(table, summary, duration, rounds, connections):
    """This backend's block of bench/results.md, then the side-by-side block from both."""
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" [")[
        0
    ]
    engine = f"SQLite {sqlite3.sqlite_version}"
    if POSTGRES:
        import psycopg

        with psycopg.connect(TARGET_URL) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        engine = f"PostgreSQL {server} (same machine), psycopg {version('psycopg')}"
        if backend() == BACKENDS[2]:
            pgbouncer = subprocess.run(
                ["pgbouncer", "--version"], capture_output=True, text=True, check=False
            ).stdout.split("\n")[0]
            engine += f", through {pgbouncer or 'a pooler'} (same machine, transaction pooling)"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    text = replace_block(
        text,
        backend(),
        [
            f"### {backend()}",
            "",
            f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{cpu[1] if cpu else platform.processor()}, {os.cpu_count()} cores; "
            f"Python {platform.python_version()}, {engine}, "
            f"gunicorn {version('gunicorn')}, Bottle {version('bottle')}, "
            f"{wrk_version}.",
            "",
            f"gunicorn.conf.py: {config['workers']} {config['worker_class']} workers x "
            f"{config.get('threads', 1)} threads, reuse_port {config.get('reuse_port', False)}; "
            f"the lean floor: gthread, the same workers and threads, reuse_port, no access log, "
            f"no config. wrk: 1 thread, {connections} connections, runs of {duration} s after a "
            f"1 s warm-up each; {rounds} rounds, each in a new random order; req/s and latency "
            f"are the rounds' medians.",
            "",
            table,
            "",
            summary,
        ],
    )
    tables = {name: rows for name in BACKENDS if (rows := block_rows(text, name))}
    if len(tables) > 1 and BACKENDS[0] in tables:
        text = replace_block(text, "side by side", side_by_side(tables))
    RESULTS.write_text(text)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


def replace_block(text, name, lines):
    """`text` with its generated block `name` replaced by `lines` (appended if it has none)."""
    start_marker = f"<!-- generated by make bench ({name}): replaced up to its end marker -->"
    end_marker = f"<!-- end of generated results ({name}) -->"
    block = "\n".join([start_marker, *lines, end_marker])
    if start_marker not in text:
        return f"{text.rstrip()}\n\n{block}\n"
    start, end = text.index(start_marker), text.index(end_marker) + len(end_marker)
    return text[:start] + block + text[end:]


def block_rows(text, name):
    """{(songs, request): (req/s, ratio to its floor, ratio to the peer)} of the table in the
    block `name`, if it has one in today's columns."""
    start_marker = f"<!-- generated by make bench ({name})"
    if start_marker not in text:
        return {}
    block = text[text.index(start_marker) : text.index(f"<!-- end of generated results ({name})")]
    header = render_table([]).splitlines()[0]
    if header not in block:
        return {}
    rows = {}
    for line in block.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 13 and cells[0] and cells[2].replace(",", "").isdigit():
            rows[(cells[0], cells[1])] = (cells[2], cells[6], cells[9])
    return rows


def side_by_side(tables):
    """One table of the backends' blocks: each one's req/s and ratios to its own floor and
    to the peer on the same backend."""
    names = list(tables)
    lines = [
        f"### {', '.join(names[:-1])} and {names[-1]} side by side",
        "",
        f"Requests per second, and the ratios to each backend's own floor and to {PEER} on the",
        "same backend, from the blocks above (each run on its own, so compare them knowing the",
        "machine may have drifted).",
        "",
        "| songs | request | "
        + " | ".join(f"{name} req/s | to floor | to {PEER}" for name in names)
        + " |",
        f"|---:|---|{'---:|---:|---:|' * len(names)}",
    ]
    for key, first in tables[names[0]].items():
        cells = list(first)
        for name in names[1:]:
            cells += tables[name].get(key, ("", "", ""))
        lines.append(f"| {key[0]} | {key[1]} | {' | '.join(cells)} |")
    return lines


if __name__ == "__main__":
    main()
