"""Headers every response carries: X-Request-ID, Cache-Control, Vary, and CORS when on."""

import os
import re

from bottle import request, response

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")  # what a client's id may be
CORS_ALLOWED_HEADERS = (
    "Content-Type, Authorization, If-Match, If-None-Match, Prefer, Idempotency-Key, X-Request-ID"
)
CORS_EXPOSED_HEADERS = (
    "Location, ETag, Link, X-Request-ID, X-Total-Count, Retry-After, Accept-Patch, "
    "Preference-Applied, Idempotent-Replayed, Server-Timing, traceparent"
)
CORS_MAX_AGE_SECONDS = 86400


def take_request_id():
    """Keep the client's X-Request-ID when it is sane, else make one (before every request)."""
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    valid = REQUEST_ID_PATTERN.fullmatch(given)
    request.environ["songs.request_id"] = given if valid else os.urandom(16).hex()


def add_common_headers():
    """X-Request-ID, Cache-Control and CORS, after every request and on every problem."""
    response.set_header("X-Request-ID", request.environ["songs.request_id"])
    if response.get_header("Cache-Control") is None:
        response.set_header("Cache-Control", "no-cache")  # stored, but revalidated before each use
    allowed = request.app.config["songs.cors_origins"]
    if allowed:
        add_cors_headers(allowed, request.environ.get("HTTP_ORIGIN"))


def add_cors_headers(allowed, origin):
    """The CORS answer for `origin`: nothing unless CORS_ORIGINS lists it (or is *)."""
    if "*" not in allowed:
        add_vary("Origin")  # the answer differs by Origin
    if origin is None or not ("*" in allowed or origin in allowed):
        return
    response.set_header("Access-Control-Allow-Origin", "*" if "*" in allowed else origin)
    preflight = "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.environ
    if request.method == "OPTIONS" and preflight:
        response.set_header("Access-Control-Allow-Methods", response.get_header("Allow", ""))
        response.set_header("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS)
        response.set_header("Access-Control-Max-Age", str(CORS_MAX_AGE_SECONDS))
    else:
        response.set_header("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS)


def add_vary(name):
    vary = response.get_header("Vary")
    response.set_header("Vary", f"{vary}, {name}" if vary else name)
