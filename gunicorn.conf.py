"""gunicorn settings for the songs service, read from the working directory.

The platform's PORT and WEB_CONCURRENCY, and GUNICORN_CMD_ARGS, still win over these.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from songs.logs import JSON_LOGGING, log_format
from songs.settings import (  # the settings' checks; the service itself is not imported
    flag_setting,
    int_setting,
)

# Chosen with make bench (bench/results.md): gthread keeps connections alive behind a
# router and matches sync workers' throughput; two processes per core keep the cores busy;
# a second thread serves reads while the first waits for SQLite's write lock, and more
# threads only lengthened the writes' tail latency. Each thread has its own connection.
worker_class = "songs.worker.BufferedThreadWorker"  # gthread, each request read whole first
threads = 2


def worker_count():
    """WEB_CONCURRENCY, or two per CPU; a value that is not a count stops the start, in a line.

    (One that is no number at all, gunicorn's own import has already refused, with its
    traceback: `python service.py serve`, as the Procfile starts it, checks it first.)
    """
    try:
        return int_setting("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1))
    except ValueError as error:
        sys.exit(str(error))


workers = worker_count()

# Each worker its own listening socket, which the kernel fills by a hash of each new
# connection. On one shared socket, the worker already on a core accepts a whole burst of
# keep-alive connections before the others wake, and keeps them: a client holding a few
# long-lived connections (a router, a pool, wrk) then has one core of the machine's. A
# second instance on the port is refused in on_starting, as a plain bind would refuse it.
reuse_port = True

timeout = 20
graceful_timeout = 20  # under the 30 s a PaaS waits between SIGTERM and SIGKILL
keepalive = 75  # longer than a platform router keeps idle connections to the app

# A list's next link carries the last song's sort values: two 500-character titles in
# four-byte UTF-8 make a cursor of about 5,400 characters, past the default 4,094-byte
# request line. 8,190 is the most gunicorn allows.
limit_request_line = 8190

accesslog = "-"
try:
    if log_format() == "json":  # songs/logs.py; an operator's logconfig_dict replaces it
        logconfig_dict = JSON_LOGGING
except ValueError as error:
    sys.exit(str(error))
logger_class = "songs.access_log.AccessLogger"  # lean, and no token put in a URL is logged
access_log_format = (
    '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
    " actor=%({songs.actor}e)s request_id=%({x-request-id}o)s"
)

# The control socket (gunicorn 25.1+) is a management interface this service does not
# use, and instances sharing a HOME would replace each other's socket.
control_socket_disable = True

EX_TEMPFAIL = 75  # service.py init-db's exit status when the database is busy or out of reach


def on_starting(server):
    """Once, in the master, before any worker: the schema, and a word if writes are open."""
    if not os.environ.get("API_TOKEN", "").strip():
        server.log.warning(
            "API_TOKEN is not set: anyone who can reach this service can change its songs"
        )
    refuse_http2_cleartext(server)
    refuse_a_taken_port(server)
    server.log.error_log.addFilter(not_an_empty_listening_line)
    prepare_schema(server)
    count_connections(server)
    prepare_metrics_directory(server)


def prepare_metrics_directory(server):
    """PROMETHEUS_MULTIPROC_DIR, where each worker keeps its metrics for /metrics to sum
    (songs/metrics.py): the one set, emptied of an earlier run's files, or a new one of this
    instance's, removed as it exits. Set here, after init-db, and before any worker imports
    prometheus_client (which reads it as it is imported)."""
    try:
        if not flag_setting("METRICS", os.environ.get("METRICS", "1")):
            return
    except ValueError:
        return  # each worker refuses it, in one line
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_MADE[0] = tempfile.mkdtemp(
            prefix="songs-metrics-"
        )
        server.log.info("The workers' metrics are kept in %s until it exits", METRICS_MADE[0])


METRICS_MADE = [None]  # the directory prepare_metrics_directory made, if it made one


def child_exit(server, worker):
    """In the master, after a worker has exited: its gauges of what is live drop out of
    /metrics; its counts stay there."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if METRICS_MADE[0]:
        shutil.rmtree(METRICS_MADE[0], ignore_errors=True)


def pre_exec(server):
    """SIGUSR2 (a new master beside this one, gunicorn's binary upgrade) is refused in one line.

    With reuse_port the master holds no listening socket for a new master to inherit:
    gunicorn's re-exec hands it an empty GUNICORN_FD, on which it dies at once while this
    one goes on, and an operator who then stops this one is left with nothing serving. This
    runs in the forked child before the exec: it ends there, and this master serves on.
    SIGHUP replaces the workers with the new code instead (docs/operating.md: Upgrades).
    """
    if server.cfg.reuse_port:
        server.log.error(
            "SIGUSR2 refused: with reuse_port there is no listening socket for a new master "
            "to inherit; this master serves on. Send SIGHUP to load new code, or restart "
            "instances one at a time (docs/operating.md: Upgrades)"
        )
        os._exit(0)


def count_connections(server):
    """Say how many PostgreSQL connections this instance may hold: one per worker thread,
    each opened on its first request and kept (README: Deploying, to size a plan or a pool)."""
    if os.environ.get("DATABASE_URL", "").startswith(("postgresql://", "postgres://")):
        workers, threads = server.cfg.workers, server.cfg.threads
        server.log.info(
            "This instance opens at most %d PostgreSQL connections: %d workers x %d threads "
            "(twice that while a reload replaces the workers)",
            workers * threads,
            workers,
            threads,
        )


def refuse_http2_cleartext(server):
    """Exit in one line with HTTP/2 cleartext on: the worker reads each request in its loop
    as HTTP/1.1 before a thread takes it (songs/worker.py), so h2c would be misread."""
    if getattr(server.cfg, "http2_cleartext", "off") != "off":
        sys.exit(
            "http2_cleartext is not supported: songs' worker serves HTTP/1.1 (put an HTTP/2 "
            "proxy in front, or turn --http2-cleartext off)"
        )


def refuse_a_taken_port(server):
    """Exit if something listens on an address to bind, as gunicorn's own bind does.

    With reuse_port the workers bind for themselves, and a second instance's bind succeeds:
    the kernel would share connections between two services. A plain bind here fails as
    gunicorn's would, and is tried five times a second apart, as gunicorn tries.
    """
    if not server.cfg.reuse_port or server.master_pid:  # master_pid: a re-exec (USR2), whose
        return  # old master's workers hold the port until it ends
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket: gunicorn's own bind refuses one in use
        for attempt in range(5):
            if attempt:
                server.log.error("Retrying in 1 second.")
                time.sleep(1)
            if not (error := bind_error(address)):
                break
            server.log.error("Connection in use: %s (%s)", address, error)
        else:
            sys.exit(f"Can't connect to {address}")
        # gunicorn's "Listening at:" line is empty when the workers bind for themselves.
        server.log.info("Each worker listens at: http://%s:%s", *address)


def not_an_empty_listening_line(record):
    """A logging filter: gunicorn's "Listening at:  (pid)" names no address when the workers
    bind for themselves; the line before it, "Each worker listens at", names each."""
    return not (record.msg == "Listening at: %s (%s)" and record.args and not record.args[0])


def bind_error(address):
    """Why a plain bind to (host, port) fails, or None if it succeeds (it is closed at once)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error.strerror
    return None


def prepare_schema(server):
    """`service.py init-db`, as `make init-db` and the Procfile's release step run it.

    Here and not in the workers, so that no worker's boot depends on the database: one that
    starts while the database is busy or out of reach serves 503s until it is back, where a
    worker failing to boot would make gunicorn halt. In a process of its own, so that the
    master imports none of the service, which each worker loads (and reloads) for itself.
    With the database out of reach now, gunicorn still starts, and says so.
    """
    command = [sys.executable, str(Path(__file__).with_name("service.py")), "init-db"]
    json_logs = log_format() == "json"  # its lines then go through the log, as JSON too
    done = subprocess.run(command, check=False, capture_output=json_logs, text=True)
    for stream, say in ((done.stdout, server.log.info), (done.stderr, server.log.error)):
        for line in (stream or "").splitlines():
            say("init-db: %s", line)
    if done.returncode == EX_TEMPFAIL:
        server.log.warning("the schema could not be checked; requests get 503 until it can")
    elif done.returncode:
        sys.exit(done.returncode)  # a setting that cannot work; init-db has said which
