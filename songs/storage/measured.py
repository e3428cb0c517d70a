"""What the storage measures for /metrics (songs/metrics.py serves them): each request's
time in the database driver, the connections it opens and drops, and the writes that
wait for another's turn. Here, below the rest of songs, so that the storage imports
nothing above it."""

import functools
import threading
import time

from prometheus_client import Counter

LOCK_WAITS = Counter(
    "songs_write_lock_waits", "Writes that waited for another writer's turn (SQLite's lock)."
)
CONNECTIONS_OPENED = Counter(
    "songs_database_connections_opened", "Database connections opened.", ("backend",)
)
CONNECTIONS_DROPPED = Counter(
    "songs_database_connections_dropped",
    "Database connections let go after a fault, to be opened again.",
    ("backend",),
)


class Timing(threading.local):
    """This thread's request's time in the database driver so far (the storage adds to it)."""

    database = 0.0


TIMING = Timing()


def in_database(function):
    """`function`, its time added to its thread's request's time in the database."""

    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMING.database += time.perf_counter() - started

    return timed
