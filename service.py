"""songs: a JSON API over one table of songs (artist, title, rating).

    GET     /healthz           200  {"status": "ok"} after a round trip to the database
    GET     /api/openapi.json  200  this API's OpenAPI 3.1 document
    GET     /api/songs         200  songs found by filters, sort and q, a page at a time
                                    (limit, cursor, Link), or all as CSV or NDJSON (format)
    POST    /api/songs         201  the new song, with Location: /api/song/<id>
    GET     /api/song/<id>     200  the song
    PUT     /api/song/<id>     200  the song, with artist, title and rating replaced
    PATCH   /api/song/<id>     200  the song, with the fields sent replaced (JSON Merge Patch)
    DELETE  /api/song/<id>     204  no body

/api/songs/<id> is the same resource as /api/song/<id>; HEAD works wherever GET does, and
OPTIONS answers 204 with Allow everywhere. Songs and lists carry strong ETags: If-None-Match
gives 304, If-Match guards writes (412). Prefer: return=minimal drops a write's body. Bodies
are JSON or forms; every error is application/problem+json (RFC 9457). Every response
carries an X-Request-ID, and CORS headers when CORS_ORIGINS allows the request's Origin.

Serve it with `make run`, which runs gunicorn 'service:create_app()' on
http://127.0.0.1:8000; prepare a database with `python service.py init-db`, fill it with
`seed N` or `import FILE`, read it with `export FILE`, copy it with `backup FILE`, or move
a SQLite file into PostgreSQL with `migrate-to-postgres FILE`. The SQL is in storage.py.
Settings come from the environment: DATABASE_URL (a SQLite file or a PostgreSQL database),
MAX_BODY_BYTES, CORS_ORIGINS, REQUIRE_IF_MATCH, API_TOKEN, API_TOKEN_READS.
"""

import argparse
import base64
import binascii
import csv
import functools
import hashlib
import hmac
import io
import itertools
import json
import logging
import os
import random
import re
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

from bottle import Bottle, HTTPError, MultipartError, request, response

import storage
from storage import (
    RATINGS,
    SONG_FIELDS,
    count_songs,
    find_key,
    find_song,
    insert_song,
    remember_key,
    remove_song,
    select_page,
    song_batches,
    update_song,
)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
DEFAULT_DATABASE_URL = "sqlite:///songs.db"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
SORT_FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")
DEFAULT_SORT = (("id", True),)  # newest first
MIN_SEARCH_LENGTH = 3  # the shortest substring the trigram index can find
LIST_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "ndjson": "application/x-ndjson"}
EXPORTS_PER_WORKER = 1  # of gunicorn.conf.py's 2 threads: the other serves everything else
EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8; header=present",  # RFC 4180, 3
    "ndjson": "application/x-ndjson",
}
EX_TEMPFAIL = 75  # sysexits.h: the database is busy or out of reach; try again later
IDEMPOTENCY_TTL = timedelta(hours=24)  # how long a POST's Idempotency-Key is remembered
WRITABLE_FIELDS = ("artist", "title", "rating")
READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at"})
MAX_TEXT_LENGTH = 500
MAX_SONG_ID = 2**63 - 1  # SQLite's largest INTEGER
SONG_ID_PATTERN = r"[1-9][0-9]{0,17}"  # positive and within SQLite's 64-bit INTEGER
SONG_PATHS = ["/api/song/<song_id:song_id>", "/api/songs/<song_id:song_id>"]
ACCEPTED_BODY_TYPES = "application/json, application/x-www-form-urlencoded, multipart/form-data"
ACCEPTED_PATCH_TYPES = "application/merge-patch+json, application/json"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")  # what a client's id may be
CORS_ALLOWED_HEADERS = (
    "Content-Type, Authorization, If-Match, If-None-Match, Prefer, Idempotency-Key, X-Request-ID"
)
CORS_EXPOSED_HEADERS = (
    "Location, ETag, Link, X-Request-ID, X-Total-Count, Retry-After, Accept-Patch, "
    "Preference-Applied, Idempotent-Replayed"
)
CORS_MAX_AGE_SECONDS = 86400

log = logging.getLogger("songs")


def create_app(
    database_url=None,
    max_body_bytes=None,
    cors_origins=None,
    require_if_match=None,
    api_token=None,
    api_token_reads=None,
):
    """Build the WSGI app on DATABASE_URL's database, whose schema `init-db` has made.

    Each argument left as None is read from the environment variable of the same name.
    Nothing here touches the database, so a worker boots whatever the database is doing
    (busy, or out of reach: its requests are then 503s until the database is back).
    """
    env = os.environ.get
    database = storage.open_database(database_url or env("DATABASE_URL") or DEFAULT_DATABASE_URL)

    app = Bottle()
    app.config.update(
        {
            "songs.database": database,
            "songs.max_body_bytes": max_body_bytes
            or int_setting("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            "songs.cors_origins": origins_setting(
                env("CORS_ORIGINS", "") if cors_origins is None else cors_origins
            ),
            "songs.require_if_match": flag_setting(
                "REQUIRE_IF_MATCH",
                env("REQUIRE_IF_MATCH", "") if require_if_match is None else require_if_match,
            ),
            "songs.api_tokens": tokens_setting(
                env("API_TOKEN", "") if api_token is None else api_token
            ),
            "songs.api_token_reads": flag_setting(
                "API_TOKEN_READS",
                env("API_TOKEN_READS", "") if api_token_reads is None else api_token_reads,
            ),
            "songs.openapi": OPENAPI_PATH.read_bytes(),
            "songs.export_slots": threading.BoundedSemaphore(EXPORTS_PER_WORKER),
        }
    )
    app.uninstall(True)  # handlers return bytes; Bottle's JSON and template plugins only add work
    app.install(database_troubles)
    app.router.add_filter("song_id", lambda config: (SONG_ID_PATTERN, int, str))
    app.default_error_handler = render_problem
    app.add_hook("before_request", before_each_request)  # one hook: each costs a call chain
    app.add_hook("after_request", add_common_headers)

    app.route("/healthz", "GET", check_health)
    app.route("/api/openapi.json", "GET", get_openapi)
    app.route("/api/songs", "GET", list_songs)
    app.route("/api/songs", "POST", create_song)
    app.route(SONG_PATHS, "GET", get_song)
    app.route(SONG_PATHS, "PUT", replace_song)
    app.route(SONG_PATHS, "PATCH", patch_song)
    app.route(SONG_PATHS, "DELETE", delete_song)
    app.route(["/healthz", "/api/openapi.json", "/api/songs", *SONG_PATHS], "OPTIONS", describe)
    return app


# Handlers


def check_health():
    try:
        database().ping()
    except storage.Unavailable as error:
        log.warning("health check failed: %s", error)
        raise Problem(503, "The database cannot be read.", headers=RETRY_SOON) from error
    response.set_header("Cache-Control", "no-store")
    return json_body({"status": "ok"})


def get_openapi():
    response.content_type = "application/json"
    return representation(request.app.config["songs.openapi"])


def list_songs():
    query = read_list_query()
    conn = connection()
    add_vary("Accept")  # the format may come from Accept
    total = ""
    if query.count:
        total = str(count_songs(conn, query.filters))
        response.set_header("X-Total-Count", total)
    if query.format != "json":
        if evaluate_preconditions(None):
            response.status = 304
            return b""
        return export_songs(conn, query)
    rows = select_page(conn, query.filters, query.sort, query.after, query.limit + 1)
    songs = [dict(zip(SONG_FIELDS, row, strict=False)) for row in rows[: query.limit]]
    response.set_header("Link", list_links(query, songs[-1] if len(rows) > query.limit else None))
    return representation(json_body(songs), validated_with=response.get_header("Link") + total)


def create_song():
    key = idempotency_key()
    fields = read_song_body()
    with database().write_transaction() as conn:
        song = replayed_song(conn, key, fields) if key else None
        if song is None:
            song = insert_song(conn, fields, utc_now())
            if key:
                remember_key(
                    conn, key, request_digest(fields), json.dumps(song), song["created_at"]
                )
    response.set_header("Location", song_path(song["id"]))
    return written(song, 201)


def get_song(song_id):
    response.set_header("Accept-Patch", ACCEPTED_PATCH_TYPES)
    return representation(json_body(song_or_404(connection(), song_id)))


def replace_song(song_id):
    return change_song(song_id, read_song_body)


def patch_song(song_id):
    return change_song(song_id, read_patch_body)


def delete_song(song_id):
    with database().write_transaction() as conn:
        check_write_preconditions(song_or_404(conn, song_id, for_update=True))
        remove_song(conn, song_id)
    response.status = 204
    return b""


def describe(song_id=None):
    """204 with the methods this path allows (RFC 9110, 9.3.7), or a CORS preflight's answer.

    A missing song is 404, except to a preflight: that must succeed for the browser to send
    the request itself and show the client its real answer. With reads protected, only a
    client holding a token learns whether a song exists.
    """
    preflight = "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.environ
    if song_id is not None and not preflight and may_read():
        song_or_404(connection(), song_id)
    rule = request.route.rule
    methods = {route.method for route in request.app.routes if route.rule == rule}
    response.set_header("Allow", allow_header(methods))
    if "PATCH" in methods:
        response.set_header("Accept-Patch", ACCEPTED_PATCH_TYPES)
    response.status = 204
    return b""


def change_song(song_id, read_fields):
    """PUT and PATCH: 404, then 428 and 412, then the body's problems; a write only if it changes.

    Preconditions are judged before the content (RFC 9110, 13.2.1), and If-Match is compared
    with the song as it is inside the write transaction, so two writers holding the same ETag
    cannot both succeed.
    """
    try:
        fields = read_fields()
    except Problem:
        check_write_preconditions(song_or_404(connection(), song_id))
        raise
    with database().write_transaction() as conn:
        song = song_or_404(conn, song_id, for_update=True)
        check_write_preconditions(song)
        if any(song[name] != value for name, value in fields.items()):
            song = update_song(conn, song_id, {**song, **fields}, utc_now())
    return written(song, 200)


# Safe retries: Idempotency-Key on POST


def idempotency_key():
    """The request's Idempotency-Key (1 to 255 visible ASCII characters), or None; else 400."""
    key = request.environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is not None and not re.fullmatch(r"[\x21-\x7e]{1,255}", key.strip('"')):
        raise Problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return None if key is None else key.strip('"')  # the IETF draft quotes it, clients may not


def replayed_song(conn, key, fields):
    """The song created under `key` within 24 hours, or None; 422 if it asked for another."""
    remembered = find_key(conn, key, timestamp(datetime.now(timezone.utc) - IDEMPOTENCY_TTL))
    if remembered is None:
        return None
    digest, song = remembered
    if digest != request_digest(fields):
        raise Problem(
            422,
            "This Idempotency-Key was used within 24 hours for a different song; "
            "use a new key for a new song.",
        )
    response.set_header("Idempotent-Replayed", "true")
    return json.loads(song)


def request_digest(fields):
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=16).hexdigest()


# Headers every response carries


def before_each_request():
    take_request_id()
    check_path()
    check_token()


def take_request_id():
    """Keep the client's X-Request-ID when it is sane, else make one (before every request)."""
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    valid = REQUEST_ID_PATTERN.fullmatch(given)
    request.environ["songs.request_id"] = given if valid else os.urandom(16).hex()


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
    """With API_TOKEN set, writes (and reads, with API_TOKEN_READS=1) need one of its tokens.

    As a bearer token (RFC 6750), compared in constant time with every configured token.
    /healthz and OPTIONS (CORS preflights carry no credentials) stay open.
    """
    config = request.app.config
    method = request.environ["REQUEST_METHOD"]
    if not config["songs.api_tokens"] or method == "OPTIONS":
        return
    if request.environ.get("PATH_INFO") == "/healthz":
        return
    if method in ("GET", "HEAD") and not config["songs.api_token_reads"]:
        return
    if holds_token():
        return
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


def holds_token():
    """Whether the request's Authorization is a bearer token of API_TOKEN's."""
    scheme, _, given = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    given = given.strip().encode()
    matched = False
    for token in request.app.config["songs.api_tokens"]:  # all compared: timing tells nothing
        matched |= hmac.compare_digest(given, token)
    return scheme.lower() == "bearer" and matched


def may_read():
    """Whether this request may read songs: reads are open, or it holds a token."""
    config = request.app.config
    return not (config["songs.api_tokens"] and config["songs.api_token_reads"]) or holds_token()


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


# Representations, validators and preferences


def representation(body, validated_with=""):
    """A GET's answer with its strong ETag: the body, or 304 and none if If-None-Match matches.

    `validated_with` is what else the ETag must change with, such as a list's Link header.
    """
    etag = entity_tag(body, validated_with)
    response.set_header("ETag", etag)
    if evaluate_preconditions(etag):
        response.status = 304
        return b""
    return body


def written(song, status):
    """A write's answer: the song and its ETag; no body (204) if Prefer asks for return=minimal."""
    body = json_bytes(song)
    response.set_header("ETag", entity_tag(body))
    preference = preferred_return()
    if preference:
        response.set_header("Preference-Applied", f"return={preference}")
    if preference == "minimal":
        response.status = 204
        return b""
    response.status = status
    response.set_header("Content-Location", song_path(song["id"]))  # the body is the song
    response.content_type = "application/json"
    return body


def entity_tag(body, validated_with=""):
    """A strong ETag: a digest of the representation's exact bytes (RFC 9110, 8.8.3)."""
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update(validated_with.encode())
    return f'"{digest.hexdigest()}"'


def song_etag(song):
    return entity_tag(json_bytes(song))


def evaluate_preconditions(etag):
    """If-Match, then If-None-Match (RFC 9110, 13.2.2): True for a 304, or a 412 Problem.

    `etag` is None for a representation that has none (an export): only * matches it.
    """
    if_match = request.environ.get("HTTP_IF_MATCH")
    if if_match is not None and not etag_matches(if_match, etag, strong=True):
        if etag is None:
            raise Problem(412, f"If-Match {if_match} cannot match: an export has no ETag.")
        raise Problem(
            412,
            f"If-Match {if_match} does not match the current ETag, {etag}: it changed since "
            "it was read. GET it again and retry.",
        )
    if_none_match = request.environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None and etag_matches(if_none_match, etag, strong=False):
        if request.method in ("GET", "HEAD"):
            return True
        raise Problem(412, f"If-None-Match {if_none_match} matches the current ETag, {etag}.")
    return False


def check_write_preconditions(song):
    """Before a write to `song`: 428 if If-Match is required and absent, 412 if it fails."""
    if request.app.config["songs.require_if_match"] and "HTTP_IF_MATCH" not in request.environ:
        raise Problem(
            428,
            "Writes to a song need If-Match with the song's ETag, so that no change is lost; "
            "GET the song for its ETag.",
        )
    evaluate_preconditions(song_etag(song))


ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def etag_matches(field, etag, strong):
    """Whether an If-Match or If-None-Match value lists `etag` (RFC 9110, 8.8.3.2 and 13.1).

    `*` matches any current representation. Our ETags are strong, so the strong comparison
    only differs in refusing a client's W/ tag. A value that is not a list of entity tags
    matches nothing.
    """
    if field.strip() == "*":
        return True
    return any(
        f'"{opaque}"' == etag and not (strong and weak)
        for weak, opaque in ENTITY_TAG.findall(field)
    )


def preferred_return():
    """`minimal` or `representation` when Prefer asks for one (RFC 7240, 4.2); else None.

    Other preferences are ignored, as RFC 7240 section 2 asks.
    """
    for preference in request.environ.get("HTTP_PREFER", "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return":
            value = value.strip().strip('"').lower()
            if value in ("minimal", "representation"):
                return value
    return None


# The list's query string: filters, sort, cursor, count and format


class ListQuery(NamedTuple):
    filters: dict  # parameter name: clean value, as FILTERS reads it
    sort: tuple  # ((field, descending), ...), always ending with id: the order is total
    limit: int
    after: tuple | None  # the sort values of the song the page starts after
    count: bool
    format: str  # a key of LIST_MEDIA_TYPES
    given: list  # the (name, value) pairs as sent, but the cursor: what Link repeats
    fingerprint: str  # query_fingerprint(filters, sort), which the cursor carries


def read_list_query():
    """The list's query; a 400 Problem names every bad parameter at once."""
    try:
        pairs = parse_qsl(request.query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Problem(400, "The query string is not valid UTF-8 once percent-decoded.") from None
    values, errors = {}, {}
    for name, value in pairs:
        read = LIST_PARAMETERS.get(name)
        if name in values or name in errors:
            errors.setdefault(name, "is given more than once")
        elif read is None:
            errors[name] = f"is not a parameter of this list ({', '.join(LIST_PARAMETERS)})"
        else:
            clean, problem = read(value)
            if problem:
                errors[name] = problem
            else:
                values[name] = clean
    export = values.get("format") or negotiated_format()
    if export != "json":
        for name in ("limit", "cursor"):
            if name in values:
                errors[name] = f"does not apply to an export ({export}): it holds every song"
    filters = {name: values[name] for name in FILTERS if name in values}
    sort = values.get("sort", DEFAULT_SORT)
    fingerprint = query_fingerprint(filters, sort)
    after = None
    if "cursor" in values:
        after = cursor_position(values["cursor"], fingerprint, sort)
        if after is None:
            errors["cursor"] = (
                "was made for other filters or another sort; follow the Link header, "
                "or drop the cursor to start again"
            )
    if errors:
        raise problem_naming_each(400, "parameter", errors)
    return ListQuery(
        filters,
        sort,
        values.get("limit", PAGE_SIZE),
        after,
        values.get("count", False),
        export,
        [(name, value) for name, value in pairs if name != "cursor"],
        fingerprint,
    )


def read_limit(value):
    if value.isascii() and value.isdigit() and len(value) <= 9 and 1 <= int(value) <= MAX_PAGE_SIZE:
        return int(value), None
    return None, f"must be a whole number from 1 to {MAX_PAGE_SIZE}"


def read_sort(value):
    """((field, descending), ...) ending with id, which breaks ties in the last key's direction.

    So sort=-x lists exactly the reverse of sort=x, and one index per field serves both.
    """
    keys, seen = [], set()
    for part in value.split(","):
        field = part.removeprefix("-")
        if field not in SORT_FIELDS:
            fields = ", ".join(SORT_FIELDS)
            return None, f'has "{part}", not one of {fields}, each with - for descending'
        if field in seen:
            return None, f"names {field} twice"
        if "id" in seen:
            return None, "must end at id: ids are unique, so no field after it could break a tie"
        seen.add(field)
        keys.append((field, part.startswith("-")))
    if "id" not in seen:
        keys.append(("id", keys[-1][1]))
    return tuple(keys), None


def read_flag(value):
    if value in ("true", "false"):
        return value == "true", None
    return None, "must be true or false"


def read_format(value):
    if value in LIST_MEDIA_TYPES:
        return value, None
    return None, f"must be one of {', '.join(LIST_MEDIA_TYPES)}"


def read_search(value):
    """A substring to find in artist or title; the trigram index needs three characters."""
    bad = CONTROL_OR_SURROGATE.search(value)
    if bad:
        return None, f"must not contain a control character (U+{ord(bad.group()):04X})"
    if not MIN_SEARCH_LENGTH <= len(value) <= MAX_TEXT_LENGTH:
        return None, f"must be {MIN_SEARCH_LENGTH} to {MAX_TEXT_LENGTH} characters long"
    return value, None


def read_ratings(value):
    ratings = value.split(",")
    if all(rating in FORM_RATINGS for rating in ratings):
        return tuple(sorted({int(rating) for rating in ratings})), None
    return None, "must be a rating from 1 to 5, or several separated by commas (4,5)"


def read_rating(value):
    if value in FORM_RATINGS:
        return int(value), None
    return None, "must be a whole number from 1 to 5"


RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def read_time(value, round_up):
    """An RFC 3339 date-time as the stored timestamps write it, in UTC to the millisecond.

    Stored times are whole milliseconds, so a bound with a finer fraction is rounded down
    for a strict "after" and up for a strict "before" (`round_up`): the same songs match.
    A leap second (:60) is the last instant of its minute.
    """
    match = RFC3339.fullmatch(value)
    problem = (
        "must be an RFC 3339 date-time such as 2026-11-24T10:00:00Z "
        "(in a URL, write + in an offset as %2B)"
    )
    if match is None:
        return None, problem
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    fraction = fraction or ""
    millisecond, finer = int(fraction[:3].ljust(3, "0")), fraction[3:].strip("0") != ""
    if second == "60":
        second, millisecond, finer = "59", 999, True
    try:
        zone = timezone.utc
        if offset not in ("Z", "z"):
            hours, minutes = int(offset[1:3]), int(offset[4:])
            if minutes > 59:
                raise ValueError(offset)
            zone = timezone(
                (-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
            )
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            millisecond * 1000,
            tzinfo=zone,
        ) + timedelta(milliseconds=int(finer and round_up))
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None, f"{problem}, a real one between the years 0001 and 9999"
    return timestamp(moment), None


def negotiated_format():
    """The list format Accept prefers (RFC 9110, 12.5.1); JSON when it prefers none of them.

    Each format takes the q of the most specific range that matches it.
    """
    accept = request.environ.get("HTTP_ACCEPT")
    if not accept or accept in ("*/*", "application/json"):
        return "json"
    scores = {}
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_range = media_range.lower()
        for format_name, media_type in LIST_MEDIA_TYPES.items():
            kind = media_type.split("/")[0]
            specificity = {media_type: 3, f"{kind}/*": 2, "*/*": 1}.get(media_range)
            if specificity and specificity > scores.get(format_name, (0, 0))[0]:
                scores[format_name] = (specificity, quality)
    best = max(LIST_MEDIA_TYPES, key=lambda name: scores.get(name, (0, 0))[1])
    return best if scores.get(best, (0, 0))[1] > 0 else "json"


def encode_cursor(position, fingerprint):
    token = json.dumps(
        {"after": list(position), "query": fingerprint},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def read_cursor(token):
    """(the decoded cursor, None), or (None, the problem) when it is not one of encode_cursor's.

    Cursors are not signed: one holds only a position in a list anyone may read, so a forged
    one can reach no song its maker could not page to; its values are checked as strictly
    as the parameters they stand for (cursor_position). A signature would need a key shared
    by every instance, and would break the cursors clients hold whenever it changed.
    """
    not_ours = None, "is not a cursor from this list's Link header"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,8000}", token):
        return not_ours
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested too deep
        return not_ours
    if isinstance(value, dict) and value.keys() == {"id"}:  # a cursor from before sorting
        value = {"after": [value["id"]], "query": query_fingerprint({}, DEFAULT_SORT)}
    if (
        not isinstance(value, dict)
        or value.keys() != {"after", "query"}
        or not isinstance(value["after"], list)
        or not value["after"]
    ):
        return not_ours
    return value, None


def cursor_position(cursor, fingerprint, sort):
    """The sort values a cursor continues after; None when it belongs to another query."""
    after = cursor["after"]
    if (
        cursor["query"] != fingerprint
        or len(after) != len(sort)
        or not all(sort_value_is_valid(field, v) for (field, _), v in zip(sort, after, strict=True))
    ):
        return None
    return tuple(after)


def sort_value_is_valid(field, value):
    """Whether `value` could be a stored song's `field`: anyone can make up a cursor, so its
    values are checked as strictly as the schema checks a song's."""
    if field == "id":
        return type(value) is int and 1 <= value <= MAX_SONG_ID
    if field == "rating":
        return value in RATINGS and type(value) is int
    if field in WRITABLE_FIELDS:
        return check_text(value) == (value, None)
    return type(value) is str and STORED_TIME.fullmatch(value) is not None


STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def query_fingerprint(filters, sort):
    """What a cursor belongs to: a digest of the filters and the sort, clean values only."""
    return fingerprint_of(tuple(sorted(filters.items())), sort)


@functools.lru_cache(maxsize=1024)  # most lists are asked for again and again
def fingerprint_of(filters, sort):
    canonical = json.dumps([filters, sort], ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


FILTERS = (
    "q",
    "artist",
    "title",
    "rating",
    "min_rating",
    "max_rating",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
)
LIST_PARAMETERS = {
    "limit": read_limit,
    "cursor": read_cursor,  # and once the filters and sort are known, cursor_position
    "sort": read_sort,
    "count": read_flag,
    "format": read_format,
    "q": read_search,
    "artist": lambda value: check_text(value),  # defined with the body's validation, below
    "title": lambda value: check_text(value),
    "rating": read_ratings,
    "min_rating": read_rating,
    "max_rating": read_rating,
    "created_after": lambda value: read_time(value, round_up=False),
    "created_before": lambda value: read_time(value, round_up=True),
    "updated_after": lambda value: read_time(value, round_up=False),
    "updated_before": lambda value: read_time(value, round_up=True),
}


def list_links(query, last_song):
    """RFC 8288 Link: first, and next when there is more, both keeping the filters and sort."""
    base = urlencode(
        [*(pair for pair in query.given if pair[0] != "limit"), ("limit", query.limit)]
    )
    first = f'</api/songs?{base}>; rel="first"'
    if last_song is None:
        return first
    cursor = encode_cursor([last_song[field] for field, _ in query.sort], query.fingerprint)
    return f'</api/songs?{base}&cursor={cursor}>; rel="next", {first}'  # a cursor is URL-safe


# Request bodies


def read_song_body():
    """The body's artist, title and rating; Problems come as 413, 415, 400, 422, in that order."""
    body = read_body(request.app.config["songs.max_body_bytes"])
    media_type = body_media_type()
    parse = BODY_PARSERS.get(media_type)
    if parse is None:
        detail = f"A song body must be one of {ACCEPTED_BODY_TYPES}, not {media_type or 'untyped'}."
        raise Problem(415, detail, headers={"Accept": ACCEPTED_BODY_TYPES})
    return validate_song(parse(body), form=media_type != "application/json")


def read_patch_body():
    """The fields a JSON Merge Patch sets (RFC 7396); Problems as for read_song_body.

    Plain application/json is read as a merge patch too; other types are 415 with
    Accept-Patch (RFC 5789, 2.2).
    """
    body = read_body(request.app.config["songs.max_body_bytes"])
    media_type = body_media_type()
    if media_type not in ("application/merge-patch+json", "application/json"):
        detail = f"A patch must be one of {ACCEPTED_PATCH_TYPES}, not {media_type or 'untyped'}."
        raise Problem(415, detail, headers={"Accept-Patch": ACCEPTED_PATCH_TYPES})
    return validate_song(parse_json(body), form=False, patch=True)


def body_media_type():
    """The request's Content-Type without its parameters, lowercased; "" when there is none."""
    return request.environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()


def read_body(limit):
    """The request body, chunked or not, as bytes; a 413 Problem past `limit` bytes."""
    environ = request.environ
    length = environ.get("CONTENT_LENGTH") or "0"
    # gunicorn has already de-chunked wsgi.input but leaves the header, which would make
    # Bottle parse the chunks a second time (bottlepy/bottle#700): read it here.
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked and not length.isdigit():
        raise Problem(400, "The Content-Length header is not a number.")
    too_large = Problem(413, f"The request body is larger than the limit of {limit} bytes.")
    if not chunked and int(length) > limit:
        raise too_large
    try:
        body = environ["wsgi.input"].read(limit + 1 if chunked else int(length))
    except Exception as error:  # the server's, reading the stream: gunicorn raises its
        # ParseException (InvalidChunkSize, ChunkMissingTerminator...) or NoMoreData
        raise Problem(
            400,
            "The request body could not be read: its chunked encoding is malformed, "
            "or it ended early.",
        ) from error
    if len(body) > limit:
        raise too_large
    if not chunked and len(body) < int(length):  # gunicorn returns what came before EOF
        raise Problem(
            400,
            f"The request body ended after {len(body)} of the {length} bytes its "
            "Content-Length announced; nothing was changed. Send it again.",
        )
    return body


class JSONObject(list):
    """A JSON object's (name, value) pairs, duplicates kept, so validation can name them."""


def parse_json(body):
    try:
        return json.loads(
            body.decode("utf-8"),
            object_pairs_hook=JSONObject,
            parse_int=parse_json_integer,
            parse_constant=reject_json_constant,
        )
    except UnicodeDecodeError as error:
        raise Problem(400, f"The body is not valid UTF-8 (byte {error.start}).") from None
    except RecursionError:
        raise Problem(400, "The JSON body is nested too deeply.") from None
    except ValueError as error:
        raise Problem(400, f"The body is not valid JSON: {error}.") from None


def parse_json_integer(digits):
    # Past 4300 digits int() refuses to convert; any such number is far outside every
    # range the API accepts, so a stand-in of the same sign fails validation the same way.
    if len(digits) > 4300:
        return -(10**4300) if digits.startswith("-") else 10**4300
    return int(digits)


def reject_json_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_urlencoded(body):
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Problem(400, "The form body is not valid UTF-8 once percent-decoded.") from None


def parse_multipart(body):
    # Bottle's parser reads the body from the WSGI input; hand it the bytes read_body has
    # already read and measured.
    environ = request.environ
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    try:
        pairs = list(request.POST.allitems())
    except MultipartError as error:
        raise Problem(400, f"The multipart body is malformed: {error.body}") from None
    except UnicodeError:
        raise Problem(400, "A multipart field is not valid UTF-8.") from None
    except Exception as error:  # Bottle's parser fails on some malformed headers with
        # ValueError, LookupError and others (a charset on the type, a parameter without =,
        # a part's Content-Length not a number): every one is the body's fault
        log.info("a multipart body Bottle could not parse: %r", error)
        raise Problem(400, "The multipart body is malformed: its headers cannot be read.") from None
    if any(name is None for name, _ in pairs):
        raise Problem(400, "The multipart body is malformed: a part has no name.")
    return pairs


BODY_PARSERS = {
    "application/json": parse_json,
    "application/x-www-form-urlencoded": parse_urlencoded,
    "multipart/form-data": parse_multipart,
}


# Validation

CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
FORM_RATINGS = {"1", "2", "3", "4", "5"}


def validate_song(pairs, form, patch=False):
    """The clean artist, title and rating, or a 422 Problem naming every bad field at once.

    A patch needs none of the fields, and may not remove one (set it to null).
    """
    if not form and type(pairs) is not JSONObject:
        message = f"must be a JSON object, not {json_type(pairs)}"
        raise Problem(422, f"The body {message}.", errors=[{"field": None, "message": message}])
    song, errors, seen = {}, {}, set()
    for name, value in pairs:
        if name in seen:
            errors.setdefault(name, "is given more than once")
            continue
        seen.add(name)
        if name in READ_ONLY_FIELDS:
            continue
        if patch and value is None and name in WRITABLE_FIELDS:
            clean, problem = None, "cannot be removed: every song has an artist, title and rating"
        elif name == "rating":
            clean, problem = check_rating(value, form)
        elif name in WRITABLE_FIELDS:
            clean, problem = check_text(value)
        else:
            clean, problem = None, "is not a field of a song (artist, title, rating)"
        if problem:
            errors[name] = problem
        else:
            song[name] = clean
    for name in WRITABLE_FIELDS:
        if name not in seen and not patch:
            errors[name] = "is required"
    if errors:
        raise problem_naming_each(422, "field", errors)
    return song


def check_text(value):
    """(the trimmed text, None), or (None, what is wrong with it)."""
    if not isinstance(value, str):
        return None, f"must be a string, not {json_type(value)}"
    bad = CONTROL_OR_SURROGATE.search(value)
    if bad:
        kind = "an unpaired surrogate" if bad.group() >= "\ud800" else "a control character"
        return None, f"must not contain {kind} (U+{ord(bad.group()):04X} at index {bad.start()})"
    text = value.strip()
    if not text:
        return None, "must not be empty or only white space"
    if len(text) > MAX_TEXT_LENGTH:
        return None, f"must be at most {MAX_TEXT_LENGTH} characters, not {len(text)}"
    return text, None


def check_rating(value, form):
    """(the rating, None), or (None, what is wrong with it); forms give it as decimal digits."""
    if form:
        digits = value.lstrip("0") if isinstance(value, str) else None
        if digits in FORM_RATINGS:
            return int(digits), None
        return None, "must be a whole number from 1 to 5, in decimal digits"
    if type(value) is float and value.is_integer():
        value = int(value)  # 3.0 is the integer 3, in JSON Schema as in JSON (RFC 8259, 6)
    if type(value) is int and 1 <= value <= 5:
        return value, None
    kind = "" if type(value) is int else f", not {json_type(value)}"
    return None, f"must be an integer from 1 to 5{kind}"


JSON_TYPE_NAMES = (  # in order: a bool is an int, and a JSONObject a list
    (type(None), "null"),
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number with a fraction"),
    (str, "a string"),
    (JSONObject, "an object"),
    (list, "an array"),
)


def json_type(value):
    """What a value is, in JSON's words, for error messages (a form's file is "a file upload")."""
    return next(
        (name for kind, name in JSON_TYPE_NAMES if isinstance(value, kind)), "a file upload"
    )


# Responses and problems


def json_body(value):
    response.content_type = "application/json"
    return json_bytes(value)


def json_bytes(value):
    return json.dumps(value, ensure_ascii=False).encode()


def song_path(song_id):
    return f"/api/song/{song_id}"


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


def song_or_404(conn, song_id, for_update=False):
    song = find_song(conn, song_id, for_update)
    if song is None:
        raise song_not_found(song_id)
    return song


def render_problem(error):
    """Every error's body: RFC 9457 problem JSON, never a traceback (bottlepy/bottle#710)."""
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
    problem = {
        "type": "about:blank",
        "title": status_title(status),
        "status": status,
        "detail": detail,
        "request_id": request_id,
        **getattr(error, "members", {}),
    }
    response.set_header("Cache-Control", "no-store")
    add_common_headers()  # again: Bottle drops them when a handler fails with a 500
    response.content_type = "application/problem+json"
    return json.dumps(problem).encode()  # ASCII: a field name may hold a lone surrogate


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


# The database of the app serving the request (storage.py holds the SQL)


def database():
    return request.app.config["songs.database"]


def connection():
    """The current thread's connection to the database of the app serving this request."""
    return database().connection()


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


# Settings


ORIGIN_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def origins_setting(value):
    """CORS_ORIGINS: empty (CORS off), *, or a comma-separated list of origins."""
    origins = frozenset(origin.strip() for origin in value.split(",") if origin.strip())
    for origin in origins - {"*"}:
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not ORIGIN_HOST.fullmatch(host):
            raise ValueError(
                "CORS_ORIGINS must be * or origins such as https://example.com, separated "
                f"by commas; got {origin!r}"
            )
    return origins


def tokens_setting(value):
    """API_TOKEN: tokens separated by commas (several, to rotate them); empty for none."""
    tokens = [token.strip() for token in value.split(",") if token.strip()]
    for token in tokens:
        if not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,}", token):
            raise ValueError(
                "API_TOKEN must be tokens of at least 16 letters, digits or ._~+/=- "
                "separated by commas (the value is not shown)"
            )
    return tuple(token.encode() for token in tokens)


def flag_setting(name, value):
    value = value.strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ValueError(f"{name} must be 1 or 0 (or true or false); got {value!r}")
    return value in ("1", "true", "yes", "on")


def int_setting(name, default):
    value = os.environ.get(name) or str(default)
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise ValueError(f"{name} must be a positive whole number; got {value!r}")
    return int(value)


def utc_now():
    return timestamp(datetime.now(timezone.utc))


def timestamp(moment):
    """A UTC datetime in RFC 3339 with milliseconds, as the API shows it and schema.sql checks."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


# Exports: every matching song, streamed


def export_songs(conn, query):
    """The whole list as CSV or NDJSON, streamed a batch at a time: memory stays flat.

    A worker streams EXPORTS_PER_WORKER exports at once, so that clients slow to read them
    cannot take every thread; one more is a 503 to retry.
    """
    slots = request.app.config["songs.export_slots"]
    if not slots.acquire(blocking=False):
        raise Problem(
            503,
            "This worker is streaming as many exports as it serves at once; try again soon.",
            headers={"Retry-After": "5"},
        )
    try:
        response.content_type = EXPORT_CONTENT_TYPES[query.format]
        response.set_header("Content-Disposition", f'attachment; filename="songs.{query.format}"')
        encode = csv_chunks if query.format == "csv" else ndjson_chunks
        batches = song_batches(conn, query.filters, query.sort)
        first = next(batches, None)  # here: a database in trouble is a 503, not a cut stream
        chunks = encode(itertools.chain([first] if first else [], batches))
    except BaseException:
        slots.release()
        raise
    return Releasing(chunks, slots)


class Releasing:
    """An answer's chunks that release `slot` when the server closes them (PEP 3333), read
    to the end or not: a generator never started would not run its finally."""

    def __init__(self, chunks, slot):
        self.chunks, self.slot = chunks, slot

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.chunks.close()
        if self.slot is not None:
            self.slot, slot = None, self.slot
            slot.release()


def csv_chunks(batches):
    """RFC 4180: a header row, CRLF line ends, fields with a comma, quote or line break quoted.

    Values are written as stored: a text such as =SUM(A1) stays text for the import, so a
    spreadsheet that runs formulas should open the file as text.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SONG_FIELDS)
    for rows in batches:
        writer.writerows(rows)
        yield drain(buffer)
    if buffer.tell():
        yield drain(buffer)  # nothing matched: the header alone


def ndjson_chunks(batches):
    for rows in batches:
        yield "".join(
            json.dumps(dict(zip(SONG_FIELDS, row, strict=False)), ensure_ascii=False) + "\n"
            for row in rows
        ).encode()


def drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


# Command line


def main(argv=None):
    parser = argparse.ArgumentParser(prog="service.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init-db", help="create or upgrade the schema, keeping every song")
    seed = commands.add_parser("seed", help="add N sample songs, 10,000 a transaction")
    seed.add_argument("count", metavar="N", type=positive_count)
    load = commands.add_parser(
        "import", help="add the songs of a CSV file (the export's format), all or none"
    )
    load.add_argument("file", help="a CSV file with a header row; - reads standard input")
    dump = commands.add_parser("export", help="write every song as CSV, oldest first")
    dump.add_argument("file", nargs="?", default="-", help="a new file; - (the default) is stdout")
    copy = commands.add_parser("backup", help="write a consistent copy, while the service runs")
    copy.add_argument("file", help="a new file")
    move = commands.add_parser(
        "migrate-to-postgres",
        help="copy every song of a SQLite file into DATABASE_URL's PostgreSQL, ids kept",
    )
    move.add_argument("file", help="the SQLite database file, as sqlite:///FILE named it")
    args = parser.parse_args(argv)
    # SIGTERM ends a command as Ctrl-C would: its transaction rolls back, its files go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        database = storage.open_database(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"service.py: {error}\n")
    try:
        database.init_schema()
        message = COMMANDS[args.command](database, args)
    except RuntimeError as error:  # init_schema's: this SQLite, or this file, cannot serve
        parser.exit(2, f"service.py: {error}\n")
    except storage.Unavailable as error:  # EX_TEMPFAIL: the same command may work later
        parser.exit(EX_TEMPFAIL, f"service.py: {error}\n")
    finally:
        database.close()
    if message:
        print(message, file=sys.stderr if args.command == "export" else sys.stdout)


def init_db(database, args):
    return f"{database.name}: schema ready, {count_songs(database.connection(), {})} songs"


def seed_songs(database, args):
    """N made-up songs, one a second up to now, from a generator seeded with N: repeatable.

    Added SEED_BATCH at a time, each batch its own transaction, so the service's writes
    wait for one batch at most, not for the whole seed.
    """
    rng = random.Random(args.count)
    start = datetime.now(timezone.utc) - timedelta(seconds=args.count)
    artists = [f"{first} {second}" for first in SEED_WORDS[0] for second in SEED_WORDS[1]]

    def songs():
        for n in range(args.count):
            stamp = timestamp(start + timedelta(seconds=n))
            title = " ".join(rng.choice(words) for words in SEED_WORDS[1:])
            yield rng.choice(artists), title, rng.randint(1, 5), stamp, stamp

    rows = songs()
    while batch := list(itertools.islice(rows, SEED_BATCH)):  # the service's writes go between
        with database.write_transaction() as conn:
            conn.insert_rows(
                "songs", ("artist", "title", "rating", "created_at", "updated_at"), batch
            )
    return f"{database.name}: {args.count} songs added"


SEED_BATCH = 10_000  # songs a transaction: about a second of holding the write lock


SEED_WORDS = (
    "Amber Arctic Blue Broken Crimson Electric Golden Hollow Iron Lunar Midnight Neon "
    "Paper Quiet Silver Velvet Wild Young".split(),
    "Anchors Atlas Birds Cities Echoes Foxes Harbour Horses Lanterns Machines Mirrors "
    "Owls Pilots Rivers Saints Strangers Tigers Wolves".split(),
    "After All Before Dancing Falling Lost Only Running Slow Still Summer Under".split(),
)


def import_songs(database, args):
    """Every row through the API's validation; then all are added, or none, each error named.

    The file is read and checked first, into a temporary table, holding no lock (however
    slowly it comes); the service's writes wait only while the checked songs are added, in
    one INSERT … SELECT. Past MAX_IMPORT_ERRORS errors, the rest are counted, not kept.
    """
    try:
        stream = (
            open(args.file, encoding="utf-8-sig", newline="")
            if args.file != "-"
            else io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        )
    except OSError as error:
        sys.exit(f"{args.file}: {error.strerror}")
    errors = ImportErrors()
    conn = database.connection()
    conn.execute(
        "CREATE TEMPORARY TABLE import_rows (line INTEGER, artist TEXT, title TEXT, rating INTEGER)"
    )
    with stream:
        conn.execute("BEGIN")  # of the temporary table alone: no lock on the songs
        rows = checked_rows(stream, args.file, errors)
        conn.insert_rows("import_rows", ("line", *WRITABLE_FIELDS), rows)
        conn.execute("COMMIT")
    if errors.count:
        sys.exit("\n".join([*errors.shown, f"{args.file}: nothing imported, {errors}"]))
    now = utc_now()
    with database.write_transaction() as conn:
        added = conn.execute(
            f"INSERT INTO songs ({', '.join(WRITABLE_FIELDS)}, created_at, updated_at)"
            f" SELECT {', '.join(WRITABLE_FIELDS)}, ?, ? FROM import_rows ORDER BY line",
            (now, now),
        ).rowcount
    return f"{args.file}: {added} songs imported"


MAX_IMPORT_ERRORS = 100


class ImportErrors:
    """An import's errors: the first MAX_IMPORT_ERRORS as lines to show, and how many in all."""

    def __init__(self):
        self.shown, self.count = [], 0

    def add(self, line):
        self.count += 1
        if len(self.shown) < MAX_IMPORT_ERRORS:
            self.shown.append(line)

    def __str__(self):
        hidden = self.count - len(self.shown)
        return f"{self.count} errors" + (f" ({hidden} more not shown)" if hidden else "")


def checked_rows(stream, name, errors):
    """(line, artist, title, rating) for each row of a CSV file that validate_song accepts;
    the problems of the others go to `errors`, with their line numbers."""
    reader = csv.reader(stream)
    try:
        header = next(reader, [])
        if (
            set(header) - set(SONG_FIELDS)
            or len(set(header)) != len(header)
            or set(WRITABLE_FIELDS) - set(header)
        ):
            sys.exit(
                f"{name}: line 1: the header must name artist, title and rating, and "
                f"may name id, created_at and updated_at, each once; it is {','.join(header)}"
            )
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num  # a quoted line break spans lines
            if not row:
                continue
            if len(row) != len(header):
                errors.add(f"line {start}: {len(row)} fields, the header has {len(header)}")
                continue
            try:
                song = validate_song(list(zip(header, row, strict=True)), form=True)
            except Problem as problem:
                for error in problem.members["errors"]:
                    errors.add(f"line {start}: {error['field']} {error['message']}")
                continue
            if not errors.count:  # once one row is bad, none will be added
                yield (start, *(song[field] for field in WRITABLE_FIELDS))
    except (csv.Error, UnicodeDecodeError) as error:
        errors.add(f"line {reader.line_num + 1}: not UTF-8 CSV ({error}); reading stopped")


def export_to_csv(database, args):
    """Oldest first, so that importing the file adds the songs in their original order."""
    if args.file != "-" and os.path.exists(args.file):
        sys.exit(f"{args.file} exists; export writes a new file, and overwrites nothing")
    batches = song_batches(database.connection(), {}, (("id", False),))
    with open(args.file, "xb") if args.file != "-" else sys.stdout.buffer as out:
        for chunk in csv_chunks(batches):
            out.write(chunk)
    return f"{args.file}: exported" if args.file != "-" else ""


def backup(database, args):
    """A consistent copy of a SQLite database, taken while the service writes (storage.py)."""
    if not isinstance(database, storage.SQLiteDatabase):
        sys.exit("backup copies a SQLite file; back PostgreSQL up with pg_dump (README)")
    if os.path.exists(args.file):
        sys.exit(f"{args.file} exists; backup writes a new file, and overwrites nothing")
    try:
        count = database.backup(args.file)
    except ValueError as error:
        sys.exit(str(error))
    return f"{args.file}: {count} songs, integrity ok"


def migrate_to_postgres(database, args):
    """Every song of a SQLite file, ids and timestamps kept, into DATABASE_URL's PostgreSQL."""
    if not isinstance(database, storage.PostgresDatabase):
        sys.exit("DATABASE_URL must name the PostgreSQL database to move into (postgresql://…)")
    print(  # up front, as the service's writes wait meanwhile (reads go on)
        f"{database.name}: copying the songs of {args.file}, in one transaction that holds "
        "the service's writes until it ends (they get 503 after 5 s; reads go on)",
        file=sys.stderr,
    )
    try:
        total, added, next_id = storage.migrate_from_sqlite(args.file, database)
    except ValueError as error:
        sys.exit(str(error))
    return (
        f"{database.name}: {added} songs copied from {args.file}, {total - added} there already;"
        f" all {total} checked equal; the next song's id is {next_id}"
    )


def positive_count(value):
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {value!r}")
    return int(value)


COMMANDS = {
    "init-db": init_db,
    "seed": seed_songs,
    "import": import_songs,
    "export": export_to_csv,
    "backup": backup,
    "migrate-to-postgres": migrate_to_postgres,
}


if __name__ == "__main__":
    main()
