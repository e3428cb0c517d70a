"""Bulk loads for make bench: seed, import and migrate-to-postgres, timed as a person runs them,
and the same songs POSTed to the API in batches.

Each load runs once per size into a new database with its schema made (init-db), on the
backend DATABASE_URL names; migrate-to-postgres on PostgreSQL only. Its cost per song at the
larger size is held to that at the smaller one (TARGET_GROWTH): a load that grows faster than
its songs shows there.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from in_process import environ  # which puts the project on sys.path, as run.py does

from service import create_app

ROOT = Path(__file__).resolve().parent.parent
SIZES, QUICK_SIZES = (30_000, 300_000), (3_000, 30_000)
TARGET_GROWTH, TARGET_SECONDS = 1.3, 60  # per song, larger to smaller; the larger's whole load


def service(url, *args):
    """`python service.py ARGS` on `url`; its seconds, or a RuntimeError with what it said."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "service.py"), *args],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"service.py {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - started


def measure_loads(tmp, new_database, drop_database, postgres, quick):
    """{command: {size: seconds}}, each load into a database of its own."""
    times = {}
    for size in QUICK_SIZES if quick else SIZES:
        source, csv_file = tmp / f"load-{size}.db", tmp / f"load-{size}.csv"
        service(f"sqlite:///{source}", "seed", str(size))
        service(f"sqlite:///{source}", "export", str(csv_file))
        loads = {
            "seed": lambda url, size=size: service(url, "seed", str(size)),
            "import": lambda url, csv_file=csv_file: service(url, "import", str(csv_file)),
            "POST batches": lambda url, size=size: api_batches(url, size),  # BATCH a request
        }
        if postgres:
            loads["migrate-to-postgres"] = lambda url, source=source: service(
                url, "migrate-to-postgres", str(source)
            )
        for name, load in loads.items():
            url = new_database(tmp, f"load_{size}")
            try:
                service(url, "init-db")
                times.setdefault(name, {})[size] = load(url)
            finally:
                drop_database(url)
            print(f"  {name} of {size:,} songs: {times[name][size]:.1f} s", flush=True)
    return times


def api_batches(url, size):
    """`size` songs POSTed to /api/songs as JSON arrays of BATCH, each all or none in one
    transaction, through the app in-process (a server adds the same few milliseconds to
    each request, whatever it holds): its seconds."""
    bodies = [
        json.dumps(
            [
                {"artist": f"Artist {n % 997}", "title": f"Title {n}", "rating": n % 5 + 1}
                for n in range(first, min(size, first + BATCH))
            ]
        ).encode()
        for first in range(0, size, BATCH)
    ]
    app = create_app(url)
    try:
        started = time.perf_counter()
        for body in bodies:
            status = posted(app, body)
            if not status.startswith("201"):
                raise RuntimeError(f"a batch was answered {status}")
        return time.perf_counter() - started
    finally:
        app.config["songs.database"].close()


def posted(app, body):
    """The status of POST /api/songs with `body`, the app called in-process."""
    statuses = []
    answer = app(environ("POST", "/api/songs", "", body), lambda s, h, e=None: statuses.append(s))
    b"".join(answer)
    return statuses[0]


BATCH = 1_000  # MAX_BATCH_SONGS's default


def render_loads(times):
    """A markdown table of the loads, and a line for each target."""
    lines = [
        "| command | songs | seconds | µs a song | growth a song |",
        "|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for name, by_size in times.items():
        (small, small_s), (large, large_s) = sorted(by_size.items())
        growth = (large_s / large) / (small_s / small)
        for size, seconds in sorted(by_size.items()):
            cell = f"{growth:.2f}" if size == large else ""
            lines.append(
                f"| {name} | {size:,} | {seconds:.1f} | {seconds / size * 1e6:.0f} | {cell} |"
            )
        ok = growth <= TARGET_GROWTH and large_s <= TARGET_SECONDS
        verdicts.append(
            f"- {'met' if ok else 'MISSED'}: {name} of {large:,} songs in {large_s:.1f} s, "
            f"{growth:.2f}x the cost a song of {small:,}"
        )
    return [*lines, "", *verdicts]
