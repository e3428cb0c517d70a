"""The pages' forms and who sends them: the CSRF token and same-site check every POST
passes, the session a sign-in starts (and its throttle), and the one-line confirmation
after a write.

The CSRF token is a random value in an HttpOnly cookie that each form repeats (the double
submit of OWASP's cheat sheet); a POST also passes only from this site, as the browser
tells it in Sec-Fetch-Site and Origin.

A session is a random secret in an HttpOnly cookie, and a row in the database (table
sessions): the SHA-256 of the secret, an HMAC keyed by the API token signed in with, and
its expiry. Kept in the database, so that every worker and instance knows at once that a
session has ended, with no secret for instances to share: signing out deletes its row
(everywhere: every row of its token), and a token taken out of API_TOKEN matches no row.

Failed sign-ins are counted in the database too, per client address and in total: from
the FIRST_WAITING_FAILURE-th from one address (TOTAL_FIRST_WAITING_FAILURE-th from all),
each makes the next sign-in wait, 1 s and doubling up to a cap; the form says how long
(429, Retry-After).
The API's bearer tokens are checked apart from all of this (songs/access.py).
"""

import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from urllib.parse import urlencode, urlsplit

from bottle import HTTPResponse, request, response

from songs import storage
from songs.access import connection, database
from songs.bodies import BODY_PARSERS, body_media_type, read_body
from songs.metrics import SIGN_IN_FAILURES, SIGN_IN_THROTTLED
from songs.problems import Problem

CSRF_COOKIE, SESSION_COOKIE, FLASH_COOKIE = "songs_csrf", "songs_session", "songs_flash"
SESSION_SECONDS = 8 * 3600
SESSION_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
FIRST_WAITING_FAILURE, TOTAL_FIRST_WAITING_FAILURE = 5, 50  # the failure that makes a wait
MAX_WAIT_SECONDS, TOTAL_MAX_WAIT_SECONDS = 300, 30
FORGET_FAILURES_SECONDS = 900  # a count starts afresh after this long without a failure
ALL_CLIENTS = "*"
log = logging.getLogger("songs")
FLASHES = {
    "added": "The song was added.",
    "saved": "Your changes were saved.",
    "unchanged": "Nothing changed: the song already had those values.",
    "deleted": "The song was deleted.",
    "restored": "The song is back.",
    "signed-in": "You are signed in.",
    "signed-out": "You are signed out.",
}


def read_form():
    """The POST's form fields, once its origin and CSRF token are checked (403 if not)."""
    check_same_site()
    body = read_body(request.app.config["songs.max_body_bytes"])
    parse = BODY_PARSERS.get(body_media_type())
    if parse is None or body_media_type() == "application/json":
        raise Problem(415, "A page's form must be sent as an HTML form sends it.")
    form = {}
    for name, value in parse(body):
        form.setdefault(name, value if isinstance(value, str) else "")
    cookie = request.get_cookie(CSRF_COOKIE) or ""
    if not (cookie and hmac.compare_digest(form.get("csrf_token", "").encode(), cookie.encode())):
        raise Problem(
            403,
            "This form has expired or did not come from this site: nothing was changed. "
            "Open the page again and send it from there.",
        )
    return form


def check_same_site():
    """403 for a POST that a browser says comes from another site (Fetch Metadata, Origin)."""
    fetch_site = request.environ.get("HTTP_SEC_FETCH_SITE")
    origin = request.environ.get("HTTP_ORIGIN")
    if fetch_site not in (None, "same-origin", "none") or (
        origin is not None and urlsplit(origin).netloc != request.urlparts.netloc
    ):
        raise Problem(403, "This form was sent from another site: nothing was changed.")


def csrf_token():
    """This browser's CSRF token, from its cookie, or a new one set in it."""
    token = request.get_cookie(CSRF_COOKIE) or ""
    if len(token) != 43:
        token = secrets.token_urlsafe(32)
        set_cookie(CSRF_COOKIE, token)
        request.cookies[CSRF_COOKIE] = token  # for any other form on this page
    return token


def signed_in():
    """Whether this request holds a session that has not ended, of a token still configured
    (asked of the database once per request, and only when a session cookie came); the
    token's name becomes the request's actor."""
    if "songs.session" not in request.environ:
        request.environ["songs.session"] = found = session_of_a_token()
        if found is not None:
            request.environ["songs.actor"] = found[1].name
    return request.environ["songs.session"] is not None


def session_of_a_token():
    """(the session's id, the token it signed in with), or None."""
    secret = request.get_cookie(SESSION_COOKIE) or ""
    tokens = request.app.config["songs.api_tokens"]
    if not (tokens and SESSION_SECRET.fullmatch(secret)):
        return None
    session_id = session_id_of(secret)
    signed_with = storage.session_token(connection(), session_id, time.time())
    if signed_with is None:
        return None
    matched = None
    for token in tokens:  # all compared: timing tells nothing
        if hmac.compare_digest(signed_with, token_mark(token)):
            matched = token
    return None if matched is None else (session_id, matched)


def session_id_of(secret):
    """What the database keeps of a session's secret: its SHA-256, which opens nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_mark(token):
    """What a session keeps of the token it signed in with: an HMAC keyed by it."""
    return hmac.new(token.secret, b"songs session", hashlib.sha256).hexdigest()


def start_session(token):
    secret, now = secrets.token_urlsafe(32), time.time()
    with database().write_transaction() as conn:
        storage.add_session(
            conn, session_id_of(secret), token_mark(token), now + SESSION_SECONDS, now
        )
    set_cookie(SESSION_COOKIE, secret, max_age=SESSION_SECONDS)


def end_session(everywhere=False):
    """Ends this request's session on the server (`everywhere`: every session of its token)."""
    found = session_of_a_token()
    if found is not None:
        with database().write_transaction() as conn:
            storage.remove_session(conn, found[0], everywhere)
    response.delete_cookie(SESSION_COOKIE, path="/")


def sign_in_wait():
    """Seconds this client must wait before its next sign-in is tried, 0 if none."""
    now = time.time()
    wait_until = storage.sign_in_waits(connection(), (client_address(), ALL_CLIENTS), now)
    wait = whole_seconds_until(wait_until, now)
    if wait:
        SIGN_IN_THROTTLED.inc()
    return wait


def count_failed_sign_in():
    """One more failed sign-in from this client, logged with its address (never what it
    typed)."""
    client, now = client_address(), time.time()
    with database().write_transaction() as conn:
        failures, until = storage.count_failure(
            conn, client, now, FORGET_FAILURES_SECONDS, CLIENT_WAIT
        )
        storage.count_failure(conn, ALL_CLIENTS, now, FORGET_FAILURES_SECONDS, TOTAL_WAIT)
    wait = whole_seconds_until(until, now)
    SIGN_IN_FAILURES.inc()
    log.warning("sign-in failed from %s (%d in a row; next try in %d s)", client, failures, wait)


def forget_failed_sign_ins():
    with database().write_transaction() as conn:
        storage.forget_failures(conn, client_address())


def doubling_wait(failures, first, cap):
    """Seconds to wait after `failures` in a row: none before the `first`-th, then 1, 2, 4…
    up to `cap`."""
    return 0 if failures < first else min(2 ** (failures - first), cap)


CLIENT_WAIT = functools.partial(doubling_wait, first=FIRST_WAITING_FAILURE, cap=MAX_WAIT_SECONDS)
TOTAL_WAIT = functools.partial(
    doubling_wait, first=TOTAL_FIRST_WAITING_FAILURE, cap=TOTAL_MAX_WAIT_SECONDS
)


def whole_seconds_until(moment, now):
    return max(0, int(moment - now + 0.999))


def client_address():
    return request.environ.get("REMOTE_ADDR") or "unknown"


def require_reading():
    config = request.app.config
    if config["songs.api_tokens"] and config["songs.api_token_reads"] and not signed_in():
        to_sign_in()


def require_writing():
    if request.app.config["songs.api_tokens"] and not signed_in():
        to_sign_in()
    found = request.environ.get("songs.session")
    if found is not None and not found[1].writes:
        raise Problem(
            403,
            f"You signed in with the token {found[1].name}, which may only read: nothing was "
            "changed.",
        )


def to_sign_in():
    if request.method == "POST":
        raise Problem(401, "Sign in with an API token to change songs: nothing was changed.")
    raise see_other_now(page_url("/sign-in", [("next", request.fullpath)]))


def local_path(path):
    """`path` when it is a path of this site, else /: a sign-in never sends elsewhere, and
    nothing but visible ASCII reaches the Location header."""
    if path and LOCAL_PATH.fullmatch(path) and not path.startswith(("//", "/\\")):
        return path
    return "/"


LOCAL_PATH = re.compile(r"/[\x21-\x7e]*")


def set_cookie(name, value, **options):
    """HttpOnly, SameSite=Lax (a POST from another site carries none), Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.urlparts.scheme == "https",
        **options,
    )


def see_other(path, flash):
    """303 to `path` (RFC 9110, 15.4.4), with a short confirmation for the next page."""
    set_cookie(FLASH_COOKIE, flash, max_age=60)
    response.status = 303
    response.set_header("Location", path)
    return b""


def see_other_now(path):
    """A 303 to raise where nothing else of the answer matters (no cookie is set)."""
    return HTTPResponse(status=303, headers={"Location": path, "Cache-Control": "no-store"})


def take_flash():
    """The confirmation the last write left for this page: (its text, the id of a song it
    deleted, to offer bringing it back, or None), or None."""
    kind, _, song_id = (request.get_cookie(FLASH_COOKIE) or "").partition("-")
    flash = FLASHES.get(kind)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
        return flash, int(song_id) if kind == "deleted" and song_id.isdigit() else None
    return None


def page_url(path, query):
    query = query if isinstance(query, str) else urlencode(query)
    return f"{path}?{query}" if query else path
