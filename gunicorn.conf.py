"""gunicorn settings for the songs service, read from the working directory.

The platform's PORT and WEB_CONCURRENCY, and GUNICORN_CMD_ARGS, still win over these.
"""

import os

# Chosen with make bench (bench/results.md): gthread keeps connections alive behind a
# router and matches sync workers' throughput; two processes per core keep the cores busy;
# a second thread serves reads while the first waits for SQLite's write lock, and more
# threads only lengthened the writes' tail latency. Each thread has its own connection.
worker_class = "gthread"
threads = 2
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))

timeout = 20
graceful_timeout = 20  # under the 30 s a PaaS waits between SIGTERM and SIGKILL
keepalive = 75  # longer than a platform router keeps idle connections to the app

# A list's next link carries the last song's sort values: two 500-character titles in
# four-byte UTF-8 make a cursor of about 5,400 characters, past the default 4,094-byte
# request line. 8,190 is the most gunicorn allows.
limit_request_line = 8190

accesslog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'

# The control socket (gunicorn 25.1+) is a management interface this service does not
# use, and instances sharing a HOME would replace each other's socket.
control_socket_disable = True


def on_starting(server):
    """Once, in the master: say so when writes are open to anyone who can reach the service."""
    if not os.environ.get("API_TOKEN", "").strip():
        server.log.warning(
            "API_TOKEN is not set: anyone who can reach this service can change its songs"
        )
