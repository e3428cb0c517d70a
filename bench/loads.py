"""Bulk loads for make bench: seed, import and migrate-to-postgres, timed as a person runs them.

Each command runs once per size into a new database with its schema made (init-db), on the
backend DATABASE_URL names; migrate-to-postgres on PostgreSQL only. Its cost per song at the
larger size is held to that at the smaller one (TARGET_GROWTH): a load that grows faster than
its songs shows there.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

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
        loads = {"seed": ("seed", str(size)), "import": ("import", str(csv_file))}
        if postgres:
            loads["migrate-to-postgres"] = ("migrate-to-postgres", str(source))
        for name, args in loads.items():
            url = new_database(tmp, f"load_{size}")
            try:
                service(url, "init-db")
                times.setdefault(name, {})[size] = service(url, *args)
            finally:
                drop_database(url)
            print(f"  {name} of {size:,} songs: {times[name][size]:.1f} s", flush=True)
    return times


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
