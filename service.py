"""songs: a JSON API over one table of songs (artist, title, rating).

    GET     /healthz           200  {"status": "ok"} after a round trip to the database
    GET     /livez             200  {"status": "ok"} while the process answers at all
    GET     /readyz            200  as /healthz; 503 also while the instance drains on SIGTERM
    GET     /metrics           200  Prometheus metrics, summed over every worker (songs/metrics.py)
    GET     /api/openapi.json  200  this API's OpenAPI 3.1 document
    GET     /api/songs         200  songs found by filters, sort and q, a page at a time
                                    (limit, cursor, Link)
    GET     /api/songs.csv     200  every song found by the same filters and sort, as CSV
    GET     /api/songs.ndjson  200  the same as NDJSON, one song a line
    POST    /api/songs         201  the new song, with Location: /api/song/<id>; or a batch's
                                    (a JSON array or CSV: songs/batches.py)
    GET     /api/song/<id>     200  the song
    PUT     /api/song/<id>     200  the song, with artist, title and rating replaced
    PATCH   /api/song/<id>     200  the song, with the fields sent replaced (JSON Merge Patch)
    DELETE  /api/song/<id>     204  no body
    GET     /api/song/<id>/history  200  the song's versions, newest first
    POST    /api/song/<id>/restore  201  a deleted song back (200: a song set back to a version)
    GET     /api/songs/deleted      200  the songs deleted and not restored, the latest first
    GET     /api/changes            200  every change since a cursor, in order (Prefer: wait)

Pages for people, HTML that needs no script (songs/pages.py):

    GET     /                  the songs, found and sorted by the list's own query
    GET     /songs/new         a form to add a song; POST /songs adds it (303 to its page)
    POST    /songs/selected    the songs ticked on the list, deleted or rated (songs/bulk.py)
    GET     /songs/<id>        the song, with a form to edit it; POST saves it
    GET     /songs/<id>/delete asks first; POST deletes it
    GET     /sign-in           with API_TOKEN, a form that signs in; POST /sign-out ends it
    GET     /api               this API's reference, made from its OpenAPI document

/api/songs/<id> is the same resource as /api/song/<id>; HEAD works wherever GET does, and
OPTIONS answers 204 with Allow everywhere. Songs and lists carry strong ETags: If-None-Match
gives 304, If-Match guards writes (412). Prefer: return=minimal drops a write's body. Bodies
are JSON or forms; every error is application/problem+json (RFC 9457). Every response
carries an X-Request-ID, and CORS headers when CORS_ORIGINS allows the request's Origin.

Serve it with `make run`: `python service.py serve`, as the Procfile does, which becomes
gunicorn 'service:create_app()' on http://127.0.0.1:8000. Prepare a database with `python
service.py init-db`, fill it with `seed N` or `import FILE`, read it with `export FILE`,
copy it with `backup FILE`, or move a SQLite file into PostgreSQL with
`migrate-to-postgres FILE`. Settings come from the
environment: DATABASE_URL (a SQLite file or a PostgreSQL database), MAX_BODY_BYTES,
CORS_ORIGINS, REQUIRE_IF_MATCH, API_TOKEN, API_TOKEN_READS.

This file holds the routes and their handlers; each other concern is a module of songs/:
settings.py, access.py (request checks and tokens), headers.py (request ids and CORS),
listing.py and cursors.py (the list's query and its pages), exports.py, bodies.py,
validation.py and batches.py, records.py (the writes), history.py and feed.py (the change
log's history, undo and feed), conditional.py (ETags and preconditions), compression.py,
idempotency.py, openapi.py (the document as this configuration serves it), problems.py
(every error), pages.py, rows.py, bulk.py, reference.py and sessions.py (the pages, their
forms and sign-in, with views/ and static/), commands.py (the command line), worker.py and
access_log.py (gunicorn's worker and its access log), and storage/ (the SQL, for SQLite and
PostgreSQL).
"""

import threading
from pathlib import Path

from bottle import Bottle, request, response

from songs import pages, records, settings, storage
from songs.access import author, before_each_request, connection, database, may_read
from songs.bodies import ACCEPTED_PATCH_TYPES, read_patch_body, read_restore_body, read_song_body
from songs.bulk import selected_songs_page
from songs.commands import main
from songs.compression import compressed
from songs.conditional import (
    evaluate_preconditions,
    representation,
    request_preconditions,
    written,
    written_batch,
)
from songs.exports import EXPORTS_PER_WORKER, export_songs
from songs.feed import Waiters, changes_page
from songs.headers import add_common_headers
from songs.history import deleted_page, history_page
from songs.idempotency import idempotency_key
from songs.listing import EXPORT_PATHS, list_links, read_list_query
from songs.metrics import IDEMPOTENT_REPLAYS, exposition, info, observed
from songs.openapi import served_document
from songs.problems import (
    METRICS_PATH,
    PROBE_PATHS,
    Problem,
    allow_header,
    database_troubles,
    error_handler,
    log,
    not_in_history,
    unavailable,
)
from songs.records import song_or_404
from songs.storage import count_songs, select_json_page
from songs.storage.history import Retention, has_history
from songs.wire import json_array, json_body, song_path

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
SONG_ID_PATTERN = r"[1-9][0-9]{0,17}"  # positive and within SQLite's 64-bit INTEGER
SONG_PATHS = ["/api/song/<song_id:song_id>", "/api/songs/<song_id:song_id>"]
HISTORY_PATH = "/api/song/<song_id:song_id>/history"
RESTORE_PATH = "/api/song/<song_id:song_id>/restore"
DELETED_PATH = "/api/songs/deleted"
CHANGES_PATH = "/api/changes"
PAGE_PATH = "/songs/<song_id:song_id>"  # a song's page


def create_app(
    database_url=None,
    max_body_bytes=None,
    cors_origins=None,
    require_if_match=None,
    api_token=None,
    api_token_reads=None,
    history_days=None,
    metrics=None,
    max_batch_songs=None,
):
    """Build the WSGI app on DATABASE_URL's database, whose schema `init-db` has made.

    Each argument left as None is read from the environment variable of the same name.
    Nothing here touches the database, so a worker boots whatever the database is doing
    (busy, or out of reach: its requests are then 503s until the database is back).
    """
    database = storage.open_database(settings.database_url(database_url), serving=True)
    app = Bottle()
    app.config.update(
        settings.read_settings(
            max_body_bytes,
            cors_origins,
            require_if_match,
            api_token,
            api_token_reads,
            history_days,
            metrics,
            max_batch_songs,
        )
    )
    database.retention = Retention(app.config["songs.history_days"])  # records.py purges
    app.config.update(
        {
            "songs.database": database,
            "songs.openapi": served_document(
                OPENAPI_PATH.read_bytes(),
                app.config["songs.api_tokens"],
                app.config["songs.api_token_reads"],
                app.config["songs.cors_origins"],
                app.config["songs.metrics"],
                app.config["songs.max_batch_songs"],
            ),
            "songs.export_slots": threading.BoundedSemaphore(EXPORTS_PER_WORKER),
            "songs.feed_waiters": Waiters(),
            "songs.static": pages.load_static(),
        }
    )
    app.uninstall(True)  # handlers return bytes; Bottle's JSON and template plugins only add work
    app.install(database_troubles)
    app.router.add_filter("song_id", lambda config: (SONG_ID_PATTERN, int, str))
    app.default_error_handler = error_handler(pages.error_page)  # problem JSON, or a page
    app.add_hook("before_request", before_each_request)  # one hook: each costs a call chain
    app.add_hook("after_request", add_common_headers)

    app.route("/healthz", "GET", check_health)
    app.route("/livez", "GET", check_live)
    app.route("/readyz", "GET", check_ready)
    app.wsgi = observed(compressed(app.wsgi), app.config["songs.metrics"])  # for __call__
    metrics_paths = [METRICS_PATH] if app.config["songs.metrics"] else []
    if metrics_paths:
        info(storage.SCHEMA_VERSION)
        app.route(METRICS_PATH, "GET", get_metrics)
    app.route("/api/openapi.json", "GET", get_openapi)
    app.route("/api/songs", "GET", list_songs)
    app.route("/api/songs", "POST", create_song)
    app.route("/api/songs.csv", "GET", lambda: export("csv"))
    app.route("/api/songs.ndjson", "GET", lambda: export("ndjson"))
    app.route(SONG_PATHS, "GET", get_song)
    app.route(SONG_PATHS, "PUT", replace_song)
    app.route(SONG_PATHS, "PATCH", patch_song)
    app.route(SONG_PATHS, "DELETE", delete_song)
    app.route(HISTORY_PATH, "GET", get_history)
    app.route(RESTORE_PATH, "POST", restore_song)
    app.route(DELETED_PATH, "GET", list_deleted)
    app.route(CHANGES_PATH, "GET", changes_page)
    app.route(
        [
            *(*PROBE_PATHS, *metrics_paths, "/api/openapi.json", "/api/songs", *EXPORT_PATHS),
            *SONG_PATHS,
            *(HISTORY_PATH, RESTORE_PATH, DELETED_PATH, CHANGES_PATH),
        ],
        "OPTIONS",
        describe,
    )

    app.route("/", "GET", pages.songs_page)
    app.route("/api", "GET", pages.api_reference)
    app.route("/songs/new", "GET", pages.new_song_page)
    app.route("/songs/deleted", "GET", pages.deleted_songs_page)
    app.route("/songs", "POST", pages.create_song_page)
    app.route("/songs/selected", "POST", selected_songs_page)
    app.route(PAGE_PATH, "GET", pages.song_page)
    app.route(PAGE_PATH, "POST", pages.update_song_page)
    app.route(f"{PAGE_PATH}/delete", "GET", pages.delete_page)
    app.route(f"{PAGE_PATH}/delete", "POST", pages.delete_song_page)
    app.route(f"{PAGE_PATH}/restore", "POST", pages.restore_song_page)
    app.route("/sign-in", "GET", pages.sign_in_page)
    app.route("/sign-in", "POST", pages.sign_in)
    app.route("/sign-out", "POST", pages.sign_out)
    app.route("/static/<name>", "GET", pages.get_static)
    return app


# Handlers


def check_health():
    try:
        database().ping()
    except storage.Unavailable as error:
        log.warning("health check failed: %s", error)
        raise unavailable(error.cause, "The database cannot be read.") from error
    return check_live()


def check_live():
    response.set_header("Cache-Control", "no-store")
    return json_body({"status": "ok"})


def check_ready():
    """/healthz's answer, and 503 while this worker drains after SIGTERM (songs/worker.py)."""
    draining = request.environ.get("songs.draining")
    if draining is not None and draining():
        raise unavailable("draining", "This instance is stopping: send requests to another.")
    return check_health()


def get_metrics():
    body, content_type = exposition()
    response.content_type = content_type
    response.set_header("Cache-Control", "no-store")
    return body


def get_openapi():
    response.content_type = "application/json"
    return representation(request.app.config["songs.openapi"])


def list_songs():
    query = read_list_query()
    conn = connection()
    total = counted(conn, query)
    rows = select_json_page(conn, query.filters, query.walk, query.after, query.limit + 1)
    page, last, first = query.page_of(rows)  # each the song's values of the sort, its JSON
    fields = [field for field, _ in query.sort]
    last, first = (row and dict(zip(fields, row[:-1], strict=True)) for row in (last, first))
    response.set_header("Link", list_links(query, last, first))
    body = json_array([row[-1] for row in page])
    return representation(body, validated_with=response.get_header("Link") + total)


def export(export_format):
    query = read_list_query(export=True)
    conn = connection()
    counted(conn, query)
    if evaluate_preconditions(None):
        response.status = 304
        return b""
    return export_songs(conn, query, export_format)


def counted(conn, query):
    """X-Total-Count when count=true asks for it: its value, else an empty string."""
    if not query.count:
        return ""
    total = str(count_songs(conn, query.filters))
    response.set_header("X-Total-Count", total)
    return total


def create_song():
    """One song (201 with its Location), or a batch: a JSON array or CSV, all or none."""
    key = idempotency_key()
    fields = read_song_body(batch=True)
    add = records.add_songs if type(fields) is list else records.add_song
    created, replayed = add(database(), fields, key, author())
    if replayed:
        response.set_header("Idempotent-Replayed", "true")
        IDEMPOTENT_REPLAYS.inc()
    if type(created) is list:
        return written_batch(created)
    response.set_header("Location", song_path(created["id"]))
    return written(created, 201)


def get_song(song_id):
    response.set_header("Accept-Patch", ACCEPTED_PATCH_TYPES)
    return representation(json_body(song_or_404(connection(), song_id)))


def get_history(song_id):
    return log_page(*history_page(connection(), song_id, request.path))


def list_deleted():
    return log_page(*deleted_page(connection(), request.path))


def log_page(body, links):
    response.set_header("Link", links)
    response.content_type = "application/json"
    return representation(body, validated_with=links)


def restore_song(song_id):
    """POST /api/song/<id>/restore: 428 and 412, then the body's problems, then the write."""
    preconditions = request_preconditions()
    version = read_restore_body()
    song, created = records.restore_song(database(), song_id, version, preconditions, author())
    if created:
        response.set_header("Location", song_path(song_id))
    return written(song, 201 if created else 200)


def replace_song(song_id):
    return change_song(song_id, read_song_body)


def patch_song(song_id):
    return change_song(song_id, read_patch_body)


def delete_song(song_id):
    records.delete_song(database(), song_id, request_preconditions(), author())
    response.status = 204
    return b""


def describe(song_id=None):
    """204 with the methods this path allows (RFC 9110, 9.3.7), or a CORS preflight's answer.

    A missing song is 404, except to a preflight: that must succeed for the browser to send
    the request itself and show the client its real answer. With reads protected, only a
    client holding a token learns whether a song exists.
    """
    preflight = "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.environ
    rule = request.route.rule
    if song_id is not None and not preflight and may_read():
        if rule in (HISTORY_PATH, RESTORE_PATH):  # a deleted song's too
            if not has_history(connection(), song_id):
                raise not_in_history(song_id)
        else:
            song_or_404(connection(), song_id)
    methods = {route.method for route in request.app.routes if route.rule == rule}
    response.set_header("Allow", allow_header(methods))
    if "PATCH" in methods:
        response.set_header("Accept-Patch", ACCEPTED_PATCH_TYPES)
    response.status = 204
    return b""


def change_song(song_id, read_fields):
    """PUT and PATCH: 404, then 428 and 412, then the body's problems (RFC 9110, 13.2.1:
    preconditions are judged before the content), then records.change_song."""
    preconditions = request_preconditions()
    try:
        fields = read_fields()
    except Problem:
        preconditions.check_write(song_or_404(connection(), song_id))
        raise
    song = records.change_song(database(), song_id, fields, preconditions, author())
    return written(song, 200)


if __name__ == "__main__":
    main()
