"""The access logger's cost per line, in-process, written to /dev/null: with gunicorn's own
handlers (the line written straight to their streams) or with an operator's formatter (the
line sent through logging, as gunicorn's own logger sends it).

    .venv/bin/python bench/access_log.py             # gunicorn's own handlers
    .venv/bin/python bench/access_log.py formatter   # an operator's formatter

Each prints the median of 7 runs of 20,000 lines, and their range.
"""

import datetime
import logging
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gunicorn.config import Config  # noqa: E402

from songs.access_log import AccessLogger  # noqa: E402

FORMAT = (
    '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
    " actor=%({songs.actor}e)s request_id=%({x-request-id}o)s"
)
ENVIRON = {
    "REMOTE_ADDR": "127.0.0.1",
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/api/songs?limit=10",
    "SERVER_PROTOCOL": "HTTP/1.1",
}
TOOK = datetime.timedelta(microseconds=1500)


class Response:
    status, sent = "200 OK", 1234
    headers = [("X-Request-ID", "0123456789abcdef"), ("Content-Type", "application/json")]


def main(kind):
    config = Config()
    config.set("accesslog", "/dev/null")
    config.set("access_log_format", FORMAT)  # gunicorn.conf.py's
    logger = AccessLogger(config)
    if kind == "formatter":
        for handler in logger.access_log.handlers:
            handler.setFormatter(logging.Formatter("access %(message)s"))
    runs = timeit.repeat(
        lambda: logger.access(Response(), None, ENVIRON, TOOK), number=20_000, repeat=7
    )
    per_line = sorted(run / 20_000 * 1e6 for run in runs)
    print(
        f"{kind}: median {per_line[3]:.1f} µs a line (range {per_line[0]:.1f}-{per_line[-1]:.1f})"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "handlers")
