"""The pages' forms and who sends them: the CSRF token and same-site check every POST
passes, the session cookie a sign-in sets, and the one-line confirmation after a write.

The CSRF token is a random value in an HttpOnly cookie that each form repeats (the double
submit of OWASP's cheat sheet); a POST also passes only from this site, as the browser
tells it in Sec-Fetch-Site and Origin. The session cookie holds its expiry and an HMAC of
it keyed by the API token signed in with, never the token: rotating the token ends it.
"""

import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import urlencode, urlsplit

from bottle import HTTPResponse, request, response

from songs.bodies import BODY_PARSERS, body_media_type, read_body
from songs.problems import Problem

CSRF_COOKIE, SESSION_COOKIE, FLASH_COOKIE = "songs_csrf", "songs_session", "songs_flash"
SESSION_SECONDS = 8 * 3600
FLASHES = {
    "added": "The song was added.",
    "saved": "Your changes were saved.",
    "unchanged": "Nothing changed: the song already had those values.",
    "deleted": "The song was deleted.",
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
    value = request.get_cookie(SESSION_COOKIE) or ""
    expiry, _, mac = value.partition(".")
    # At most 12 digits before int(): past 4,300 it raises, and any longer is no time of ours.
    if not (expiry.isascii() and expiry.isdigit() and len(expiry) <= 12):
        return False
    if int(expiry) <= time.time():
        return False
    matched = False
    for token in request.app.config["songs.api_tokens"]:  # all compared: timing tells nothing
        matched |= hmac.compare_digest(mac, session_mac(token, int(expiry)))
    return matched


def start_session(token):
    expiry = int(time.time()) + SESSION_SECONDS
    set_cookie(SESSION_COOKIE, f"{expiry}.{session_mac(token, expiry)}", max_age=SESSION_SECONDS)


def end_session():
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_mac(token, expiry):
    return hmac.new(token, f"songs session until {expiry}".encode(), hashlib.sha256).hexdigest()


def require_reading():
    config = request.app.config
    if config["songs.api_tokens"] and config["songs.api_token_reads"] and not signed_in():
        to_sign_in()


def require_writing():
    if request.app.config["songs.api_tokens"] and not signed_in():
        to_sign_in()


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
    flash = FLASHES.get(request.get_cookie(FLASH_COOKIE) or "")
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return flash


def page_url(path, query):
    query = query if isinstance(query, str) else urlencode(query)
    return f"{path}?{query}" if query else path
