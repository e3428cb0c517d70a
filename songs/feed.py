"""The change feed, GET /api/changes: every change to the songs in the order it became
visible, from a cursor, each once. A client keeps a copy in sync by taking a cursor
(`since=now`), listing the songs, then following the feed from that cursor; or by reading
the feed from its start, which replays every song there is (a song's latest version stays
in the log as long as the song does).

A cursor is a position in the change log (songs/storage/history.py). A page holds no change
that a position given earlier can still come before (SQLite's writers take turns; on
PostgreSQL, where a position given later can commit first, a page stops at a missing one,
or waits for the writers in flight: changes_after), so reading past the last one seen never
skips one. A cursor
from before a purge's last position may have missed changes, and one past the log's end is
from another database: both are 410, which says to list again.

Prefer: wait=N (RFC 7240, 4.3; at most MAX_WAIT_SECONDS) holds a request that finds nothing
until a change comes, polling the database every POLL_SECONDS, whichever worker or machine
made the change. A waiter holds one of its worker's threads, so a worker admits one fewer
waiter than it has threads, and answers the others at once (without Preference-Applied)."""

import threading
import time

from bottle import request, response

from songs.access import connection, database
from songs.conditional import preference
from songs.listing import read_limit, read_parameters
from songs.metrics import FEED_WAITERS, delivered
from songs.problems import Problem
from songs.storage.history import changes_after, log_bounds, log_end

FEED_PAGE_SIZE = 100
MAX_WAIT_SECONDS = 20  # under gunicorn's graceful_timeout: a stopping worker answers sooner
POLL_SECONDS = 0.2
THREADS = 2  # a worker's threads when it does not say (in-process: gunicorn.conf.py's)


def read_since(value):
    if value == "now":
        return value, None
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value), None
    return None, 'must be a cursor from this feed ("next" or a change\'s "cursor") or now'


PARAMETERS = {"since": read_since, "limit": read_limit}


class Waiters:
    """How many of a worker's requests are waiting for a change now."""

    def __init__(self):
        self.count, self.lock = 0, threading.Lock()

    def admit(self, threads):
        """Whether one more may wait: one thread of the worker's stays for the rest."""
        with self.lock:
            if self.count >= max(threads - 1, 1):
                return False
            self.count += 1
        FEED_WAITERS.inc()
        return True

    def leave(self):
        with self.lock:
            self.count -= 1
        FEED_WAITERS.dec()


def changes_page():
    """The feed's JSON bytes past `since`, after a wait if Prefer asks for one and there is
    nothing yet; 400 names every bad parameter, 410 a cursor that cannot go on."""
    values = read_parameters(PARAMETERS, "the feed")
    since, limit = values.get("since"), values.get("limit", FEED_PAGE_SIZE)
    conn = connection()
    if since == "now":
        since = log_end(conn)
    start = since or 0
    rows = changes_after(conn, start, limit)
    wait = requested_wait()
    if not rows and wait:
        rows = wait_for_changes(conn, start, limit, wait)
    purged, last = log_bounds(conn)  # after the rows: a purge meanwhile cannot go unseen
    if since is not None and not purged <= since <= last:
        raise cursor_gone(since, ahead=since > last)
    response.set_header("Cache-Control", "no-store")
    response.content_type = "application/json"
    following = rows[-1][0] if rows else max(start, purged)
    texts = ", ".join(row[1] for row in rows)
    return f'{{"changes": [{texts}], "next": "{following}"}}'.encode()


def requested_wait():
    """The seconds Prefer: wait asks for, at most MAX_WAIT_SECONDS; 0 for none, or for one
    that is not a number of seconds (a preference, not a demand: RFC 7240, 2)."""
    value = preference("wait") or ""
    if not (value.isascii() and value.isdigit()):
        return 0
    return min(int(value), MAX_WAIT_SECONDS)


def wait_for_changes(conn, start, limit, wait):
    """The changes past `start` once there are some, or none after `wait` seconds; at once if
    the worker has no thread to spare or is stopping."""
    waiters = request.app.config["songs.feed_waiters"]
    if not waiters.admit(request.environ.get("songs.threads", THREADS)):
        return []
    stopping = request.environ.get("songs.stopping", lambda: False)
    try:
        response.set_header("Preference-Applied", f"wait={wait}")
        deadline = time.monotonic() + wait
        rows = []
        while not rows and not stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(POLL_SECONDS, left))
            database().start_request(time.monotonic())  # each read its own budget
            rows = changes_after(conn, start, limit)
        if rows:
            delivered(rows[0][1])
        return rows
    finally:
        waiters.leave()


def cursor_gone(since, ahead):
    why = "is past the end of this feed" if ahead else "is older than the feed's history"
    return Problem(
        410,
        f"The cursor {since} {why}: changes may have been missed. List the songs again "
        "(GET /api/songs) after taking a new cursor (GET /api/changes?since=now).",
    )
