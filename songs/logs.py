"""LOG_FORMAT=json: every log line one JSON object, through Python's logging.

gunicorn.conf.py gives gunicorn JSON_LOGGING as its logconfig_dict: gunicorn's own lines,
the access log (songs/access_log.py sends each request's fields along) and the service's
own warnings all go through JsonFormatter, to stdout (the access log) and stderr (the
rest), and an operator's own logconfig_dict can replace it as it would gunicorn's. Loaded
in gunicorn's master, which imports none of the service: nothing here imports Bottle.
"""

import json
import logging
import os
import sys
import time

LOG_FORMATS = ("text", "json")


def log_format():
    """LOG_FORMAT: text (gunicorn's lines, the default) or json."""
    value = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be text or json; got {value!r}")
    return value


class JsonFormatter(logging.Formatter):
    """time (RFC 3339, UTC, ms), level, logger and message; a request's fields, for the
    access log; and, for a line logged while a request is served, its request and trace
    ids. A traceback is one member, its line breaks escaped as JSON escapes them."""

    def format(self, record):
        seconds = int(record.created)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{int((record.created - seconds) * 1000):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "request", None)
        entry.update(fields if fields is not None else request_ids())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def request_ids():
    """The request and trace ids of the request this thread serves, if it serves one."""
    bottle = sys.modules.get("bottle")  # loaded in a worker, never by this module
    if bottle is None:
        return {}
    try:
        environ = bottle.request.environ
    except RuntimeError:  # no request on this thread
        return {}
    ids = {name: environ.get(f"songs.{name}") for name in ("request_id", "trace_id")}
    return {name: value for name, value in ids.items() if value}


STDOUT, STDERR = "ext://sys.stdout", "ext://sys.stderr"
JSON_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": STDOUT},
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": STDERR},
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "songs": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
