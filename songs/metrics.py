"""What an operator sees of each request: Prometheus metrics summed over every worker, its
timing (Server-Timing) and its trace (W3C traceparent).

gunicorn.conf.py gives the workers a directory, PROMETHEUS_MULTIPROC_DIR, before any of
them imports prometheus_client: each worker keeps its values in files of its own there,
and /metrics reads them all, so one scrape counts every worker, and a worker that dies
leaves its counts behind (child_exit marks it dead, and its gauges drop out). Outside
gunicorn (the tests in-process, the commands) the values are the process's own.

Labels hold only what is bounded: a route's template, never its path (ids and query
strings stay out), a method the service knows or _OTHER, a status code, a cause.
"""

import bisect
import json
import os
import re
import threading
import time
from datetime import datetime, timezone

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from songs import __version__
from songs.storage.measured import TIMING  # and the storage's own counts, served here too

disable_created_metrics()  # the _created series, which multiprocess mode leaves out anyway
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# OpenTelemetry's HTTP server metrics, as Prometheus names them.
REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to answer a request, to its status line and headers (an export's rows stream after).",
    ("http_request_method", "http_route", "http_response_status_code"),
    buckets=SECONDS,
)
ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests", "Requests being answered now.", multiprocess_mode="livesum"
)
DATABASE_DURATION = Histogram(
    "songs_database_duration_seconds",
    "Time a request spent in the database driver's calls.",
    ("http_route",),
    buckets=SECONDS,
)
UNAVAILABLE = Counter(
    "songs_unavailable_responses",
    "503 answers by cause: busy (a lock), deadline (the database too slow), unavailable (out"
    " of reach, unreadable or unwritable), exports (every slot taken), draining (/readyz).",
    ("cause",),
)
IDEMPOTENT_REPLAYS = Counter(
    "songs_idempotent_replays", "POSTs answered from an earlier request's Idempotency-Key."
)
SIGN_IN_FAILURES = Counter("songs_sign_in_failures", "Sign-ins with a wrong token.")
SIGN_IN_THROTTLED = Counter("songs_sign_in_throttled", "Sign-ins refused (429) after failures.")
EXPORTS = Gauge(
    "songs_exports_in_progress",
    "CSV and NDJSON exports streaming now.",
    multiprocess_mode="livesum",
)
FEED_WAITERS = Gauge(
    "songs_feed_waiters", "Change-feed requests waiting for a change.", multiprocess_mode="livesum"
)
FEED_DELIVERY = Histogram(
    "songs_feed_delivery_seconds",
    "From a change's time to a waiting follower's answer that carries it.",
    buckets=SECONDS,
)
INFO = Gauge(
    "songs_info",
    "The service's version and the schema version it runs on; always 1.",
    ("version", "schema_version"),
    multiprocess_mode="max",
)


TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
NO_TRACE, NO_SPAN = "0" * 32, "0" * 16


def observed(app, counted=True):
    """The WSGI callable `app`, with Server-Timing (the database's time and the whole, in
    ms) and traceparent on each answer, and, if `counted` (METRICS), each request counted
    and timed for /metrics. The route template is Bottle's, as its router left it."""

    def observing(environ, start_response):
        started, TIMING.database = time.perf_counter(), 0.0  # the storage adds to it
        trace = take_trace(environ)
        answered = []

        def start(status, headers, exc_info=None):
            took = time.perf_counter() - started
            headers.append(("Server-Timing", server_timing(TIMING.database, took)))
            headers.append(("traceparent", trace))
            answered.append(status)
            return start_response(status, headers, exc_info)

        if not counted:
            return app(environ, start)
        tally = this_thread_s_tally()
        tally.begin()
        try:
            return app(environ, start)
        finally:
            status = answered[0][:3] if answered else "500"
            tally.end(environ, status, time.perf_counter() - started, TIMING.database)
            if status == "503":
                UNAVAILABLE.labels(environ.get("songs.unavailable", "unavailable")).inc()

    return observing


class Tally:
    """One thread's requests, counted in its own memory as each ends, until flush writes
    them into prometheus_client's values. Each value written costs a lock, a check of the
    process id and a write to the shared file: six of them a request cost, in-process, a
    fifth of a request for one song. Here a request costs an uncontended lock and a few
    additions; a worker's flusher writes what its threads counted every FLUSH_SECONDS,
    and a scrape that worker answers flushes first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}  # key: [the count in each bucket, ..., the sum of the times]
        self.active = 0  # requests begun and not ended

    def begin(self):
        with self.lock:
            self.active += 1

    def end(self, environ, status, took, database):
        method, route = environ["REQUEST_METHOD"], route_of(environ)
        request = (method if method in METHODS else "_OTHER", route, status)
        with self.lock:
            self.active -= 1
            for key, seconds in ((request, took), (route, database)):
                counts = self.counts.get(key)
                if counts is None:
                    counts = self.counts[key] = [0] * len(BOUNDS) + [0.0]
                counts[bisect.bisect_left(BOUNDS, seconds)] += 1
                counts[-1] += seconds

    def taken(self):
        """What it counted since it was last taken, and how many requests it serves now."""
        with self.lock:
            counts, self.counts = self.counts, {}
            return counts, self.active


BOUNDS = (*SECONDS, float("inf"))  # a histogram's buckets, as prometheus_client keeps them
FLUSH_SECONDS = 1.0
TALLIES, TALLY_LOCK, LOCAL = [], threading.Lock(), threading.local()  # this worker's


def this_thread_s_tally():
    """The calling thread's Tally; the first in a worker starts its flusher. (gunicorn's
    master, which forks the workers, serves no request: a worker starts with none.)"""
    tally = getattr(LOCAL, "tally", None)
    if tally is None:
        with TALLY_LOCK:
            if not TALLIES:
                threading.Thread(target=keep_flushing, name="metrics", daemon=True).start()
            tally = LOCAL.tally = Tally()
            TALLIES.append(tally)
    return tally


def keep_flushing():
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


def flush():
    """Every thread's counts so far written into the histograms, through prometheus_client's
    own values (a histogram keeps a count per bucket, not cumulated, and a sum), and the
    requests being served into the gauge."""
    active = 0
    with TALLY_LOCK:
        for tally in TALLIES:
            counts, serving = tally.taken()
            active += serving
            for key, values in counts.items():
                child = histogram_child(key)
                for bucket, count in zip(child._buckets, values, strict=False):
                    if count:
                        bucket.inc(count)
                child._sum.inc(values[-1])
        ACTIVE_REQUESTS.set(active)


def histogram_child(key):
    """The child of the request histogram for (method, route, status), or of the database
    time's for a route, found once."""
    child = CHILDREN.get(key)
    if child is None:
        if isinstance(key, tuple):
            child = CHILDREN[key] = REQUEST_DURATION.labels(*key)
        else:
            child = CHILDREN[key] = DATABASE_DURATION.labels(key)
    return child


CHILDREN = {}


def route_of(environ):
    """The route's template as OpenAPI writes it (/api/song/{song_id}); "none" for none."""
    route = environ.get("bottle.route")
    if route is None:
        return "none"
    template = TEMPLATES.get(route.rule)
    if template is None:
        template = TEMPLATES[route.rule] = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.rule)
    return template


TEMPLATES = {}  # a Bottle rule: its template


def server_timing(database, total):
    return f"db;dur={database * 1000:.3f}, total;dur={total * 1000:.3f}"


def take_trace(environ):
    """The answer's traceparent: the request's trace id (kept in environ["songs.trace_id"]
    for the logs) with this service's span id; a new trace when none valid came."""
    ids = os.urandom(24).hex()  # a trace id, if one is needed, and this service's span id
    trace_id, flags = ids[:32], "00"
    if "HTTP_TRACEPARENT" in environ:
        given = TRACEPARENT.fullmatch(environ["HTTP_TRACEPARENT"])
        if given and given[1] != NO_TRACE and given[2] != NO_SPAN:
            trace_id, flags = given[1], given[3]
    environ["songs.trace_id"] = trace_id
    return f"00-{trace_id}-{ids[32:]}-{flags}"


def info(schema_version):
    """songs_info, once the app knows its schema version."""
    INFO.labels(__version__, str(schema_version)).set(1)


def exposition():
    """(body, content type) of a scrape: every worker's values, summed, under gunicorn
    (this one's counted up to now; another's up to its last flush)."""
    flush()
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def delivered(change_json):
    """A waiting follower is answered with this change (its JSON text): how long after it."""
    at = datetime.strptime(json.loads(change_json)["at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    FEED_DELIVERY.observe(max(0.0, (datetime.now(timezone.utc) - at).total_seconds()))
