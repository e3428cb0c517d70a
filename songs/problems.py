"""Errors: the one application/problem+json shape (RFC 9457), the handler that gives every
error that body, and the plugin that makes database trouble a 503 rather than a 500."""

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


def render_problem(error):
    """Every error's body: RFC 9457 problem JSON, never a traceback (bottlepy/bottle#710)."""
    problem = problem_of(error)
    response.content_type = "application/problem+json"
    return json.dumps(problem).encode()  # ASCII: a field name may hold a lone surrogate


def problem_of(error):
    """The problem's members for any error, and the answer's status line and headers."""
    status = error.status_code
    if isinstance(error, Problem):
        detail = error.body
    elif status == 404:
        detail = f"Nothing is at {request.path}."
    elif status == 405:
        response.set_header("Allow", allow_header(response.headers.get("Allow", "").split(",")))
        detail = (
            f"{request.method} is not allowed on {request.path}; use {response.headers['Allow']}."
        )
    elif status >= 500:
        detail = "The server failed to answer this request; the failure is logged."
    else:
        detail = status_title(status)
    request_id = request.environ.setdefault("songs.request_id", os.urandom(16).hex())
    response.set_header("Cache-Control", "no-store")
    add_common_headers()  # again: Bottle drops them when a handler fails with a 500
    response.status = f"{status} {status_title(status)}"  # Bottle's own line says "Entity"
    return {
        "type": "about:blank",
        "title": status_title(status),
        "status": status,
        "detail": detail,
        "request_id": request_id,
        **getattr(error, "members", {}),
    }


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


RETRY_SOON = {"Retry-After": "1"}


def database_troubles(handler):
    """A Bottle plugin: a database busy or out of reach is a 503 to retry, not a 500."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except storage.Unavailable as error:
            log.warning("503 for %s %s: %s", request.method, request.path, error)
            detail = str(error).partition(" (")[0]  # the driver's words go to the log only
            raise Problem(503, detail, headers=RETRY_SOON) from error
        except storage.BrokenConstraint as error:
            # schema.sql's CHECKs repeat validate_song, so this is a bug there, not the client's.
            log.error("a validated song broke a constraint: %s", error)
            raise Problem(422, "The song breaks a constraint of the database.") from error

    return wrapper
