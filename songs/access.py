"""Before every request: its id, its deadline, a path that decodes, and the bearer token
(API_TOKEN); and the database of the app serving it."""

import hmac
import time

from bottle import request

from songs.headers import take_request_id
from songs.problems import METRICS_PATH, PROBE_PATHS, Problem, is_api_path
from songs.settings import ANONYMOUS
from songs.storage.history import Author

OPEN_PATHS = (*PROBE_PATHS, "/api/openapi.json")  # for the platform's checks, and generators


def before_each_request():
    take_request_id()
    request.environ["songs.actor"] = ANONYMOUS  # a token's name, once one is shown
    # Its deadline counts from when a worker's thread could first take it (songs/worker.py).
    queued_at = request.environ.get("songs.queued_at") or time.monotonic()
    database().start_request(queued_at)
    check_path()
    check_token()


def author():
    """Who makes this request's change: its actor, and its request id."""
    return Author(request.environ["songs.actor"], request.environ["songs.request_id"])


def database():
    """The database of the app serving this request."""
    return request.app.config["songs.database"]


def connection():
    """The current thread's connection to the database of the app serving this request."""
    return database().connection()


def check_path():
    """400 for a path that is not UTF-8 once percent-decoded (before every request).

    Bottle drops the bytes it cannot decode, so /api/so%FFng/1 would be song 1 here and
    another path to a proxy's rules.
    """
    try:
        request.environ["bottle.raw_path"].encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise Problem(400, "The path is not valid UTF-8 once percent-decoded.") from None


def check_token():
    """With API_TOKEN set, writes (and reads, with API_TOKEN_READS=1) need one of its tokens,
    and a read-only token's writes are 403; /metrics needs one whatever API_TOKEN_READS says
    (what it tells of the service is for its operators).

    As a bearer token (RFC 6750), compared in constant time with every configured token.
    The probes (/healthz, /livez, /readyz), the OpenAPI document (it holds no data) and
    OPTIONS (CORS preflights carry no credentials) stay open; the pages, outside /api/, sign
    people in themselves.
    """
    config = request.app.config
    method = request.environ["REQUEST_METHOD"]
    if not config["songs.api_tokens"] or method == "OPTIONS":
        return
    path = request.environ.get("PATH_INFO", "")
    if path in OPEN_PATHS or not is_api_path(path):
        return  # the pages check their own session (songs/pages.py)
    token, reading = presented_token(), method in ("GET", "HEAD")
    if (token is not None and (token.writes or reading)) or (
        reading and not config["songs.api_token_reads"] and path != METRICS_PATH
    ):
        return
    if token is not None:
        raise Problem(
            403,
            f"The token {token.name} may only read: {method} changes songs, and nothing was "
            "changed.",
        )
    scheme = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")[0]
    if not scheme:
        raise Problem(
            401,
            f"{method} needs an Authorization: Bearer header with an API token.",
            headers={"WWW-Authenticate": 'Bearer realm="songs"'},
        )
    raise Problem(
        401,
        "The Authorization header does not hold a valid bearer token.",
        headers={"WWW-Authenticate": 'Bearer realm="songs", error="invalid_token"'},
    )


def presented_token():
    """The token of API_TOKEN's that the request's Authorization holds as a bearer token, or
    None; its name becomes the request's actor."""
    scheme, _, given = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = matching_token(given.strip().encode()) if scheme.lower() == "bearer" else None
    if token is not None:
        request.environ["songs.actor"] = token.name
    return token


def matching_token(given):
    """The token of API_TOKEN's whose secret `given` (bytes) is, or None; compared with every
    one in constant time, so timing tells nothing."""
    found = None
    for token in request.app.config["songs.api_tokens"]:
        if hmac.compare_digest(given, token.secret):
            found = token
    return found


def may_read():
    """Whether this request may read songs: reads are open, or it holds a token."""
    config = request.app.config
    return not (config["songs.api_tokens"] and config["songs.api_token_reads"]) or bool(
        presented_token()
    )
