"""Errors: the one application/problem+json shape (RFC 9457), the handler that gives every
error that body (or, for people, a page made of it), and the plugin that makes database
trouble a 503 rather than a 500."""

import functools
import json
import logging
import os
from http import HTTPStatus

from bottle import HTTPError, request, response

from songs import storage
from songs.headers import add_common_headers

log = logging.getLogger("songs")


class Problem(HTTPError):
    """An error answered as application/problem+json; `members` are extra members of its body."""

    def __init__(self, status, detail, headers=None, **members):
        super().__init__(status, detail, headers=headers)
        self.members = members


def problem_naming_each(status, kind, errors):
    """A Problem whose detail and `errors` member name each bad field or parameter."""
    return Problem(
        status,
        "; ".join(f"{name} {message}" for name, message in errors.items()),
        errors=[{kind: name, "message": message} for name, message in errors.items()],
    )


def song_not_found(song_id):
    return Problem(404, f"Song {song_id} does not exist.")


def not_in_history(song_id):
    return Problem(404, f"No song with id {song_id} is in the history: there never was one here.")


def error_handler(render_page):
    """Bottle's handler of every error: problem JSON for the API, or, for a page or a browser
    asking for one, `render_page(problem)`, the pages' HTML for it."""

    def render_error(error):
        problem = problem_of(error)
        answer_with(problem)
        if is_page_request():
            return render_page(problem)
        response.content_type = "application/problem+json"
        return json.dumps(problem).encode()  # ASCII: a field name may hold a lone surrogate

    return render_error


PROBE_PATHS = ("/healthz", "/livez", "/readyz")  # for a platform's, a router's checks
METRICS_PATH = "/metrics"  # for Prometheus
RETRY_SOON = {"Retry-After": "1"}


def is_api_path(path):
    """Whether `path` is the API's (or a probe's, or the metrics'), rather than a page."""
    return path.startswith("/api/") or path in PROBE_PATHS or path == METRICS_PATH


def unavailable(cause, detail, headers=RETRY_SOON):
    """A 503, its cause kept for the metrics (songs_unavailable_responses_total)."""
    request.environ["songs.unavailable"] = cause
    return Problem(503, detail, headers=headers)


def is_page_request():
    if is_api_path(request.path):
        return False
    # From the environ: Bottle's get_header decodes a value as UTF-8, and raises on others.
    return "bottle.route" in request.environ or "text/html" in request.environ.get(
        "HTTP_ACCEPT", ""
    )


def problem_of(error):
    """The members of the problem JSON (RFC 9457, never a traceback: bottlepy/bottle#710)
    for any error."""
    status = error.status_code
    if isinstance(error, Problem):
        detail = error.body
    elif status == 404:
        detail = f"Nothing is at {request.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.path}; use {allowed(error)}."
    elif status >= 500:
        detail = "The server failed to answer this request; the failure is logged."
    else:
        detail = status_title(status)
    return {
        "type": "about:blank",
        "title": status_title(status),
        "status": status,
        "detail": detail,
        "request_id": request.environ.setdefault("songs.request_id", os.urandom(16).hex()),
        **getattr(error, "members", {}),
    }


def answer_with(problem):
    """The status line and headers of the answer that carries `problem`."""
    status = problem["status"]
    request.environ["songs.problem"] = problem["detail"]  # for the JSON access log
    if status == 405:
        response.set_header("Allow", allowed(response))
    response.set_header("Cache-Control", "no-store")
    add_common_headers()  # again: Bottle drops them when a handler fails with a 500
    response.status = f"{status} {status_title(status)}"  # Bottle's own line says "Entity"


def allowed(answer):
    """The Allow value for a 405: Bottle's list (on the error or the response), with HEAD."""
    return allow_header(answer.headers.get("Allow", "").split(","))


def allow_header(methods):
    """An Allow value; Bottle serves HEAD wherever it serves GET, but does not list it."""
    methods = set(methods)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def status_title(status):
    """The reason phrase RFC 9110 gives (Python before 3.13 has older names for 413 and 422)."""
    return RFC9110_TITLES.get(status) or HTTPStatus(status).phrase


RFC9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def database_troubles(handler):
    """A Bottle plugin: a database busy or out of reach is a 503 to retry, not a 500."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except storage.Unavailable as error:
            log.warning("503 for %s %s: %s", request.method, request.path, error)
            detail = str(error).partition(" (")[0]  # the driver's words go to the log only
            raise unavailable(error.cause, detail) from error
        except storage.BrokenConstraint as error:
            # schema.sql's CHECKs repeat validate_song, so this is a bug there, not the client's.
            log.error("a validated song broke a constraint: %s", error)
            raise Problem(422, "The song breaks a constraint of the database.") from error

    return wrapper
