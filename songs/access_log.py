"""gunicorn's logger, with a lean access log that leaves out secrets in a URL's query."""

import logging
import re
import time
import traceback

from gunicorn.glogging import Logger, SafeAtoms

from songs.logs import log_format

SECRET_PARAMETER = re.compile(  # access_token=..., api_key=..., password=... in a query
    r"((?:^|[?&;])[^=&;#\s]*(?:token|key|password|secret|auth)[^=&;#\s]*=)[^&;#\s]*",
    re.IGNORECASE,
)


class AccessLogger(Logger):
    """gunicorn's logger, with an access log that costs a request little, and the value of
    every query parameter named like a secret replaced (the service takes tokens only in
    Authorization, but clients put them in URLs anyway).

    gunicorn's own access() builds every atom for every request (each header, each environ
    variable, the user of a Basic Authorization) and sends the line through logging's
    records and formatter: on a bare app that halved the requests per second. Here the
    format's atoms are made when it asks for them, the common ones cheaply and any other
    from gunicorn's own atoms(); gunicorn's escaping of double quotes is kept.

    With gunicorn's own handlers (a stream or a file, whose formatter writes the message
    alone), the line goes straight to their streams, under their locks: the same bytes
    logging would write. With anything else (an operator's logconfig_dict, logconfig_json
    or logconfig: a formatter, a filter, syslog, another handler) it goes through logging,
    as gunicorn's own access() sends it, so that the operator's configuration applies.
    """

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        if JSON:
            line = COMMON_ATOMS["r"](self, resp, req, environ, request_time)
            self.access_log.info(line, extra={"request": fields(resp, environ, request_time)})
            return
        atoms = Atoms(self, resp, req, environ, request_time)
        if not self.plain_handlers():
            self.access_log.info(self.cfg.access_log_format, atoms)
            return
        try:
            line = self.cfg.access_log_format % atoms
        except Exception:
            self.error(traceback.format_exc())
            return
        for handler in self.access_log.handlers:
            with handler.lock:
                try:
                    handler.stream.write(line + handler.terminator)
                    handler.stream.flush()
                except Exception:  # a stream closed, say: as logging's handleError would
                    self.error(traceback.format_exc())

    def plain_handlers(self):
        """Whether the access log has only gunicorn's own handlers: streams or files whose
        formatter writes the message alone, with no filter anywhere (asked once a setup)."""
        log = self.access_log
        handlers = tuple(log.handlers)
        if self.plain[0] != handlers:
            plain = bool(handlers) and not log.filters and log.propagate is False
            for handler in handlers:
                plain = plain and (
                    type(handler) in (logging.StreamHandler, logging.FileHandler)
                    and handler.stream is not None
                    and not handler.filters
                    and getattr(handler.formatter, "_fmt", None) == "%(message)s"
                )
            self.plain = (handlers, plain)
        return self.plain[1]

    plain = (None, False)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q"):
            if atoms.get(name):
                atoms[name] = redact(atoms[name])
        return atoms

    def now(self):
        """gunicorn's [day/month/year:time zone], made once a second."""
        second = int(time.time())
        if self.clock[0] != second:
            self.clock = (second, super().now())
        return self.clock[1]

    clock = (0, "")


class Atoms(dict):
    """What an access log format asks for, made when it asks: as gunicorn's SafeAtoms would
    give it ("-" for what is missing, double quotes escaped)."""

    __slots__ = ("parts", "all")

    def __init__(self, logger, resp, req, environ, request_time):
        self.parts = (logger, resp, req, environ, request_time)
        super().__init__(h=COMMON_ATOMS["h"](*self.parts))  # not empty: logging's % takes it
        self.all = None

    def __missing__(self, key):
        atom = COMMON_ATOMS.get(key)
        if atom is not None:
            value = atom(*self.parts)
        elif key.startswith("{") and key.endswith("}o"):
            name = key[1:-2].lower()
            value = next((v for k, v in self.parts[1].headers if k.lower() == name), "-")
        elif key.startswith("{") and key.endswith("}e"):  # as the app left it: songs.actor
            value = self.parts[3].get(key[1:-2], "-")
        else:  # any other atom, from gunicorn's own
            if self.all is None:
                self.all = SafeAtoms(self.parts[0].atoms(*self.parts[1:]))
            return self.all[key]
        if isinstance(value, str) and '"' in value:
            value = value.replace('"', '\\"')
        self[key] = value
        return value


COMMON_ATOMS = {  # (logger, resp, req, environ, request_time) -> the atom, as gunicorn makes it
    "h": lambda logger, resp, req, environ, took: environ.get("REMOTE_ADDR", "-"),
    "t": lambda logger, resp, req, environ, took: logger.now(),
    "r": lambda logger, resp, req, environ, took: redact(
        f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
    ),
    "s": lambda logger, resp, req, environ, took: str(resp.status).split(None, 1)[0],
    "b": lambda logger, resp, req, environ, took: "-" if resp.sent is None else str(resp.sent),
    "M": lambda logger, resp, req, environ, took: took.seconds * 1000 + took.microseconds // 1000,
}


JSON = log_format() == "json"  # gunicorn.conf.py has refused any other value already


def fields(resp, environ, took):
    """A request's members of its JSON access-log line: nothing of its headers but its ids,
    nor of its body; the path with secrets redacted, as in the text line."""
    from songs.metrics import TIMING, route_of  # in a worker, which has loaded them already

    return {
        "request_id": environ.get("songs.request_id"),
        "trace_id": environ.get("songs.trace_id"),
        "method": environ["REQUEST_METHOD"],
        "path": redact(environ["RAW_URI"]),
        "route": route_of(environ),
        "status": int(str(resp.status).split(None, 1)[0]),
        "duration_ms": round(took.total_seconds() * 1000, 3),
        "db_ms": round(TIMING.database * 1000, 3),
        "bytes": resp.sent,
        "actor": environ.get("songs.actor"),
        "problem": environ.get("songs.problem"),
        "client": environ.get("REMOTE_ADDR"),
    }


def redact(text):
    return SECRET_PARAMETER.sub(r"\1[redacted]", text) if "=" in text else text
