"""make bench: the service under gunicorn against its floors, driven by wrk, at several table sizes.

For each size it builds a database with the real schema, starts the Procfile's web command
and the two floors of bench/floors.py under the same gunicorn.conf.py, and measures each
request shape on the service and on its floor back to back. It prints one markdown table
and writes it, with the machine and the versions, into bench/results.md: SQLite's, or with
DATABASE_URL naming PostgreSQL, PostgreSQL's (a new schema per size in that database), and
the two side by side once both have run.
"""

import argparse
import http.client
import json
import os
import platform
import re
import runpy
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
from floors import ARTIST, SEARCH_TERM  # noqa: E402

import service  # noqa: E402  (the service's own schema and cursor format)
import storage  # noqa: E402
from gunicorn_server import Gunicorn, procfile_command  # noqa: E402  (as the tests run it)

BENCH = ROOT / "bench"
RESULTS = BENCH / "results.md"
SIZES, QUICK_SIZES = (1_000, 100_000, 1_000_000), (1_000,)
TARGET_RATIO, TARGET_GROWTH, TARGET_RSS_MIB = 0.85, 1.2, 40
ONE_SONG, FIRST_PAGE = "GET /api/song/<id>", "GET /api/songs (first page)"
DEEP_PAGE = "GET /api/songs (deep cursor)"
# Shown, with no target: its walk reads songs in title order, all over the table, and so
# slows as the table outgrows the caches (bench/results.md).
DEEP_SORTED = "GET /api/songs?sort=-rating,title (deep cursor)"
QUERY_SHAPES = (  # the floor runs the same query through service.select_page (bench/floors.py)
    f"artist={quote(ARTIST)}",
    "min_rating=4",
    "sort=-rating",
    f"q={SEARCH_TERM}",
)
TARGET_QUERY_GROWTH, TARGET_EXPORT_ROWS, TARGET_EXPORT_RSS_MIB = 1.5, 100_000, 5
TARGET_URL = os.environ.get("DATABASE_URL", "")
POSTGRES = TARGET_URL.startswith(storage.POSTGRES_SCHEMES)
BACKEND = "PostgreSQL" if POSTGRES else "SQLite"


def shapes(size, url):
    """(name, service path, database floor path, wrk script) for each measured request."""
    deep = max(101, size // 10)  # a page 90% of the way down the table
    database = storage.open_database(url)
    deep_song = storage.find_song(database.connection(), deep)
    database.close()
    by_rating, _ = service.read_sort("-rating,title")
    position = [deep_song[field] for field, _ in by_rating]
    rated_cursor = service.encode_cursor(position, service.query_fingerprint({}, by_rating))
    newest_first = service.query_fingerprint({}, service.DEFAULT_SORT)
    return [
        (ONE_SONG, "/api/song/1", "/api/song/1", "get_song.lua"),
        (FIRST_PAGE, "/api/songs", "/api/songs", None),
        (
            DEEP_PAGE,
            f"/api/songs?cursor={service.encode_cursor((deep,), newest_first)}",
            f"/api/songs?before={deep}",
            None,
        ),
        ("PUT /api/song/<id>", "/api/song/1", "/api/song/1", "put_song.lua"),
        ("POST /api/songs", "/api/songs", "/api/songs", "post_song.lua"),
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
        "--repeats", type=int, help="measured runs per target, best kept (8; quick 3)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
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
    duration = args.duration
    repeats = args.repeats or (3 if args.quick else 8)

    rows, notes = [], {}
    with tempfile.TemporaryDirectory(prefix="songs-bench-") as tmp:
        bare = Gunicorn(
            ["gunicorn", "bench.floors:server_floor"],
            Path(tmp) / "bare.log",
            {},
            args.gunicorn_args,
        )
        try:
            bare.wait_ready(timeout=60)
            best = measure([(bare, "/")], None, duration, args.connections, {}, repeats)
        finally:
            bare.stop()
        rows.append(
            {"size": None, "shape": "server floor (fixed song)", **best[bare], "floor": None}
        )
        for size in sizes:
            rows += bench_size(
                Path(tmp), size, duration, repeats, args.connections, args.gunicorn_args, notes
            )
    table = render_table(rows)
    summary = check_targets(rows, notes, sizes)
    print(table)
    print(summary)
    write_results(table, summary, duration, repeats, args.connections)
    if any(row["failed"] for row in rows):
        sys.exit("Some requests failed (see non-2xx and errors above).")


def bench_size(tmp, size, duration, repeats, connections, gunicorn_args, notes):
    url = new_database(tmp, size)
    try:
        return bench_database(url, tmp, size, duration, repeats, connections, gunicorn_args, notes)
    finally:
        drop_database(url)


def new_database(tmp, size):
    """The URL of an empty database: a SQLite file, or a new schema in DATABASE_URL's."""
    if not POSTGRES:
        return f"sqlite:///{tmp / f'songs-{size}.db'}"
    import psycopg

    schema = f"songs_bench_{size}_{os.getpid()}"
    with psycopg.connect(TARGET_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in TARGET_URL else "?"
    return f"{TARGET_URL}{separator}options={quote(f'-csearch_path={schema},public', safe='')}"


def drop_database(url):
    if POSTGRES:
        import psycopg

        schema = re.search(r"search_path%3D(\w+)", url)[1]
        with psycopg.connect(TARGET_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def bench_database(url, tmp, size, duration, repeats, connections, gunicorn_args, notes):
    started = time.perf_counter()
    build_database(url, size)
    print(f"{size:,} songs: database built in {time.perf_counter() - started:.1f} s", flush=True)
    env = {"DATABASE_URL": url, "SONG_COUNT": str(size)}

    svc = Gunicorn(procfile_command(), tmp / f"service-{size}.log", env, gunicorn_args)
    notes[size] = {"startup": svc.wait_ready(timeout=60)}
    floor = Gunicorn(
        ["gunicorn", "bench.floors:database_floor"], tmp / f"floor-{size}.log", env, gunicorn_args
    )
    rows = []
    try:
        floor.wait_ready(timeout=60)
        for name, service_path, floor_path, script in shapes(size, url):
            pair = [(svc, service_path), (floor, floor_path)]
            best = measure(pair, script, duration, connections, env, repeats)
            rows.append({"size": size, "shape": name, **best[svc], "floor": best[floor]})
            print(
                f"  {name}: {best[svc]['rps']:,.0f} req/s, floor {best[floor]['rps']:,.0f}",
                flush=True,
            )
        notes[size]["export"] = measure_export(svc)
        print(f"  CSV export: {notes[size]['export']['rows_per_s']:,.0f} rows/s", flush=True)
        notes[size]["rss"] = max(worker_peak_rss_mib(svc.process.pid))
        log = svc.log_path.read_text()
        notes[size]["locked"] = log.count("database is locked") + log.count("database is busy")
    finally:
        svc.stop()
        floor.stop()
    return rows


def measure(targets, script, duration, connections, env, repeats):
    """Each (server, path)'s best wrk run of `repeats`, the targets taking turns after a warm-up.

    Other load on a shared machine only ever slows a run down, so the best run is the
    closest to what the server can do; taking turns exposes each side to the same drift.
    Many short runs, because each run's connections may all land on one worker (see
    bench/results.md). Failed requests are counted over every run, not just the best.
    """
    best, failed = {}, {}
    for server, path in targets:
        wrk(server.url(path), script, 1, connections, env)
    for _ in range(repeats):
        for server, path in targets:
            result = wrk(server.url(path), script, duration, connections, env)
            failed[server] = failed.get(server, 0) + result["failed"]
            if server not in best or result["rps"] > best[server]["rps"]:
                best[server] = result
    return {server: {**result, "failed": failed[server]} for server, result in best.items()}


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
        conn.execute("UPDATE songs SET artist = ? WHERE id % ? = 0", (ARTIST, count // 150))
        conn.execute("VACUUM ANALYZE songs" if POSTGRES else "PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.close()


def measure_export(server):
    """GET ?format=csv read to the end, twice: the best rows/s, and what the workers' peak
    memory grew by over both (MiB)."""
    before = max(worker_peak_rss_mib(server.process.pid))
    best = 0.0
    for _ in range(2):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("GET", "/api/songs?count=true&limit=1")
        resp = conn.getresponse()
        resp.read()
        total = int(resp.headers["X-Total-Count"])  # the writes measured before added songs
        started = time.perf_counter()
        conn.request("GET", "/api/songs?format=csv")
        resp = conn.getresponse()
        lines = 0
        while chunk := resp.read(1 << 16):
            lines += chunk.count(b"\n")  # a CRLF may straddle two chunks
        seconds = time.perf_counter() - started
        conn.close()
        if resp.status != 200 or lines != total + 1:  # the songs and the header
            sys.exit(f"the export answered {resp.status} with {lines} lines for {total} songs")
        best = max(best, (lines - 1) / seconds)
    grown = max(worker_peak_rss_mib(server.process.pid)) - before
    return {"rows_per_s": best, "rss_growth": grown}


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
        "| songs | request | req/s | floor req/s | ratio | p50 ms | p99 ms | floor p50 | failed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor = r["floor"]
        ratio = f"{r['rps'] / floor['rps']:.2f}" if floor else ""
        lines.append(
            f"| {r['size']:,} | {r['shape']} | {r['rps']:,.0f} | "
            f"{floor['rps']:,.0f} | {ratio} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{floor['p50']:.2f} | {r['failed']} |"
            if floor
            else f"| | {r['shape']} | {r['rps']:,.0f} | | | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | | {r['failed']} |"
        )
    return "\n".join(lines)


def check_targets(rows, notes, sizes):
    """Each target of the benchmark, met or missed, as markdown lines."""
    by = {(r["size"], r["shape"]): r for r in rows if r["floor"]}
    lines = [
        f"Targets: at least {TARGET_RATIO} of the floor; the deep page and the 1M-song figures at "
        f"most {TARGET_GROWTH}x the first page and the 1k-song ones, and at most "
        f"{TARGET_QUERY_GROWTH}x for the queries; CSV export at least {TARGET_EXPORT_ROWS:,} "
        f"rows/s with worker memory growing at most {TARGET_EXPORT_RSS_MIB} MiB; workers under "
        f"{TARGET_RSS_MIB} MiB; no lock errors, no failed requests.",
        "",
    ]

    def target(ok, text):
        lines.append(f"- {'met' if ok else 'MISSED'}: {text}")

    for (size, shape), r in by.items():
        ratio = r["rps"] / r["floor"]["rps"]
        target(ratio >= TARGET_RATIO, f"{shape} at {size:,} songs: {ratio:.2f} of its floor")
    big, small = max(sizes), min(sizes)
    if big != small:
        cost = by[(big, FIRST_PAGE)]["rps"] / by[(big, DEEP_PAGE)]["rps"]
        target(cost <= TARGET_GROWTH, f"the deep page costs {cost:.2f}x the first at {big:,} songs")
        for shape in (ONE_SONG, FIRST_PAGE, DEEP_PAGE):
            growth = by[(small, shape)]["rps"] / by[(big, shape)]["rps"]
            target(
                growth <= TARGET_GROWTH,
                f"{shape} costs {growth:.2f}x at {big:,} songs what it costs at {small:,}",
            )
    if big != small:
        for shape in (f"GET /api/songs?{query}" for query in QUERY_SHAPES):
            growth = by[(small, shape)]["rps"] / by[(big, shape)]["rps"]
            target(
                growth <= TARGET_QUERY_GROWTH,
                f"{shape} costs {growth:.2f}x at {big:,} songs what it costs at {small:,}",
            )
    for size, note in notes.items():
        export = note["export"]
        if size >= 100_000:
            target(
                export["rows_per_s"] >= TARGET_EXPORT_ROWS,
                f"CSV export at {size:,} songs: {export['rows_per_s']:,.0f} rows/s",
            )
        target(
            export["rss_growth"] <= TARGET_EXPORT_RSS_MIB,
            f"worker peak RSS grew {export['rss_growth']:.1f} MiB over two CSV exports of "
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
    failed = sum(r["failed"] for r in rows)
    target(failed == 0, f"failed requests (non-2xx or socket errors): {failed}")
    return "\n".join(lines)


def write_results(table, summary, duration, repeats, connections):
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
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    text = replace_block(
        text,
        BACKEND,
        [
            f"### {BACKEND}",
            "",
            f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{cpu[1] if cpu else platform.processor()}, {os.cpu_count()} cores; "
            f"Python {platform.python_version()}, {engine}, "
            f"gunicorn {version('gunicorn')}, Bottle {version('bottle')}, "
            f"{wrk_version}.",
            "",
            f"gunicorn.conf.py: {config['workers']} {config['worker_class']} workers x "
            f"{config.get('threads', 1)} threads; wrk: 1 thread, {connections} connections, "
            f"best of {repeats} runs of {duration} s, after a 1 s warm-up.",
            "",
            table,
            "",
            summary,
        ],
    )
    tables = {name: block_rows(text, name) for name in ("SQLite", "PostgreSQL")}
    if all(tables.values()):
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
    """{(songs, request): (req/s, ratio)} of the table in the block `name`, if there is one."""
    start_marker = f"<!-- generated by make bench ({name})"
    if start_marker not in text:
        return {}
    block = text[text.index(start_marker) : text.index(f"<!-- end of generated results ({name})")]
    rows = {}
    for line in block.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 9 and cells[2].replace(",", "").isdigit():
            rows[(cells[0], cells[1])] = (cells[2], cells[4])
    return rows


def side_by_side(tables):
    sqlite, postgres = tables["SQLite"], tables["PostgreSQL"]
    lines = [
        "### SQLite and PostgreSQL side by side",
        "",
        "Requests per second, and the ratio to each backend's own floor, from the two blocks",
        "above (each run on its own, so compare them knowing the machine may have drifted).",
        "",
        "| songs | request | SQLite req/s | ratio | PostgreSQL req/s | ratio |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for key, (rps, ratio) in sqlite.items():
        other_rps, other_ratio = postgres.get(key, ("", ""))
        lines.append(f"| {key[0]} | {key[1]} | {rps} | {ratio} | {other_rps} | {other_ratio} |")
    return lines


if __name__ == "__main__":
    main()
