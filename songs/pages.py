"""Pages for people: the songs, a song, add, edit and delete, signing in, and the API's
reference, rendered on the server with Bottle's SimpleTemplate from views/; no script.

HTML forms can only GET and POST, so the pages have POST routes of their own beside the
API's, and share its list query (songs/listing.py), its validation (songs/validation.py)
and its writes (songs/records.py); an edit form's ETag is the API's If-Match. What every
form passes (CSRF, same site, the session) is songs/sessions.py. The API itself takes
only bearer tokens, so no cookie can make it write.
"""

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from bottle import request, response, template

from songs.access import author, connection, database, matching_token
from songs.conditional import entity_tag, etag_matches, request_preconditions, song_etag
from songs.cursors import DEFAULT_SORT
from songs.history import read_page_query, versions_shown
from songs.listing import EXPORT_PATHS, page_queries, read_list_query
from songs.problems import Problem, status_title
from songs.records import NONE, add_song, change_song, delete_song, restore_song, song_or_404
from songs.reference import reference
from songs.rows import (
    SHOWN,
    as_bound,
    escape,
    etag_columns,
    selectable_rows,
    shown_day,
    table_rows,
)
from songs.sessions import (
    count_failed_sign_in,
    csrf_token,
    end_session,
    forget_failed_sign_ins,
    local_path,
    page_url,
    read_form,
    require_reading,
    require_writing,
    see_other,
    see_other_now,
    sign_in_wait,
    signed_in,
    start_session,
    take_flash,
)
from songs.song import FIELDS, WRITABLE_FIELDS
from songs.storage import count_by_rating, select_page, song_from_row
from songs.storage.common import SELECT_COLUMNS
from songs.storage.history import deleted_songs
from songs.validation import validate_song

ROOT = Path(__file__).resolve().parent.parent
VIEWS = [str(ROOT / "views")]  # one list: Bottle caches each template by this list's id
STATIC_FILES = {"songs.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # a page holds its visitor's CSRF token
}


def load_static():
    """{name: (bytes, media type, ETag)} of static/, read once when the app is built."""
    files = {}
    for name, media_type in STATIC_FILES.items():
        body = (ROOT / "static" / name).read_bytes()
        etag = entity_tag(body)
        version = etag.strip('"')[:12]
        files[name] = (body, media_type, etag, f"/static/{name}?v={version}")
    return files


# Handlers


def songs_page():
    """GET /: the songs found by the API's list query, a page at a time, with a rating chart."""
    given = parse_qsl(request.query_string, keep_blank_values=True)
    cleaned = [(name, as_bound(name, value)) for name, value in given if value]
    if cleaned != given:  # a GET form sends its empty fields, and its dates as dates
        raise see_other_now(page_url("/", cleaned))
    require_reading()
    try:
        query = read_list_query()
    except Problem as error:
        if error.status_code != 400:
            raise
        # each bad parameter by its field, or the query string as a whole (not UTF-8)
        errors = field_errors(error, "parameter") or {"query": error.body}
        failed = {"rows": "", "listed": None, "selecting": False}
        return render("songs", 400, query=dict(given), errors=errors, **failed, **LIST_PAGE)
    conn = connection()
    selecting = not request.app.config["songs.api_tokens"] or signed_in()  # may write
    columns = etag_columns(conn) if selecting else SELECT_COLUMNS
    rows = select_page(conn, query.filters, query.walk, query.after, query.limit + 1, columns)
    rows, *ends = query.page_of(rows)  # and the rows the next and previous pages go from
    first, following, previous = page_queries(query, *(r and song_from_row(r) for r in ends))
    exports = urlencode([pair for pair in query.given if pair[0] != "limit"])
    listed = {
        "counts": count_by_rating(conn, query.filters),
        "sort": query.sort[0],
        "default_sort": query.sort == DEFAULT_SORT,
        "first": f"/?{first}" if query.after is not None else None,
        "next": following and f"/?{following}",
        "previous": previous and f"/?{previous}",
        "shown": len(rows),
        "sort_links": {field: sort_link(query, field) for field, _ in SHOWN},
        "as_json": page_url("/api/songs", [*query.given, *cursor_of(request.query_string)]),
        "here": page_url("/", request.query_string),
        "as_csv": page_url(EXPORT_PATHS[0], exports),
        "as_ndjson": page_url(EXPORT_PATHS[1], exports),
    }
    return render(
        "songs",
        query=dict(query.given),
        errors={},
        rows=(selectable_rows if selecting else table_rows)(rows),
        listed=listed,
        selecting=selecting,
        **LIST_PAGE,
    )


LIST_PAGE = {"columns": SHOWN, "day": shown_day}  # what the songs page's template is given


def new_song_page():
    require_writing()
    return render("new", form={}, errors={})


def create_song_page():
    form = read_form()
    require_writing()
    try:
        fields = validate_song(song_pairs(form), form=True)
    except Problem as error:
        return render("new", 422, form=dict(song_pairs(form)), errors=field_errors(error))
    song, _ = add_song(database(), fields, by=author())
    return see_other(
        "/songs/new" if form.get("then") == "another" else f"/songs/{song['id']}", "added"
    )


def song_page(song_id):
    require_reading()
    song, history = song_or_404(connection(), song_id), versions_shown(connection(), song_id)
    etag, back = song_etag(song), list_path(request.query.get("back"), referrer())
    return render("song", song=song, form=song, etag=etag, errors={}, history=history, back=back)


def referrer():
    """The path and query of the Referer, when it is a page of this site (else None)."""
    parts = urlsplit(request.environ.get("HTTP_REFERER", ""))
    here = request.urlparts
    same = (parts.scheme, parts.netloc) == (here.scheme, here.netloc)
    return same and page_url(parts.path, parts.query) or None


def list_path(*paths):
    """The first of `paths` that is the songs list of this site (/ and its query), or None:
    where "Back to the list" leads, the search kept."""
    return next(
        (
            path
            for path in paths
            if path and local_path(path) == path and urlsplit(path).path == "/"
        ),
        None,
    )


def update_song_page(song_id):
    """POST /songs/<id>: the edit form; its ETag is the API's If-Match, for people."""
    form = read_form()
    require_writing()
    preconditions = form_preconditions(form)
    try:
        fields = validate_song(song_pairs(form), form=True)
        song = change_song(database(), song_id, fields, preconditions, author())
    except Problem as error:
        return edit_refused(song_id, form, error)
    # If-Match held, so the song had the form's ETag: it still has it only if nothing changed
    unchanged = song_etag(song) == preconditions.if_match
    back = list_path(form.get("back"))
    path = page_url(f"/songs/{song_id}", [("back", back)] if back else [])
    return see_other(path, "unchanged" if unchanged else "saved")


def delete_page(song_id):
    require_writing()
    song = song_or_404(connection(), song_id)
    return render("delete", song=song, etag=song_etag(song))


def delete_song_page(song_id):
    form = read_form()
    require_writing()
    try:
        delete_song(database(), song_id, form_preconditions(form), author())
    except Problem as error:
        if error.status_code != 412:
            raise
        song = song_or_404(connection(), song_id)
        return render("delete", 409, song=song, etag=song_etag(song), changed=True)
    return see_other("/", f"deleted-{song_id}")


def deleted_songs_page():
    """GET /songs/deleted: the songs deleted and not brought back, the latest first, each
    with a button that restores it (the API's GET /api/songs/deleted, for people)."""
    require_reading()
    limit, before = read_page_query("the deleted songs")
    rows = deleted_songs(connection(), before, limit + 1)
    deleted = [(json.loads(row[-1]), row[3], row[4]) for row in rows[:limit]]
    more = len(rows) > limit and [("limit", limit), ("before", rows[limit - 1][0])]
    older = page_url("/songs/deleted", more) if more else None
    return render("deleted", deleted=deleted, older=older)


def restore_song_page(song_id):
    """POST /songs/<id>/restore: a deleted song back (the Undo after a delete), or with a
    form's version and ETag (as If-Match), the song set back to that version."""
    form = read_form()
    require_writing()
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    preconditions = form_preconditions(form) if version else NONE
    try:
        restore_song(database(), song_id, version, preconditions, author())
    except Problem as error:
        if error.status_code != 412:
            raise
        changed = "Someone changed this song after you opened its page, so it was not restored."
        raise Problem(409, f"{changed} Open the page again to see it as it is.") from None
    return see_other(f"/songs/{song_id}", "restored")


def api_reference():
    """GET /api: the served OpenAPI document as a page, each operation with a curl example."""
    base = f"{request.urlparts.scheme}://{request.urlparts.netloc}"
    document, operations = reference(request.app.config["songs.openapi"], base)
    return render("reference", document=document, operations=operations)


def require_tokens():
    if not request.app.config["songs.api_tokens"]:
        raise Problem(404, "This service has no API_TOKEN, so there is nothing to sign in to.")


def sign_in_page():
    require_tokens()
    return render("sign_in", next=local_path(request.query.get("next")), error=None)


def sign_in():
    """A session for a token of API_TOKEN's; else 401, and after a few failures from this
    address, 429 until its wait is over (no token is even compared meanwhile)."""
    form = read_form()
    require_tokens()
    following = local_path(form.get("next"))
    if wait := sign_in_wait():
        return sign_in_refused(following, wait)
    given = form.get("token", "").strip().encode()
    token = matching_token(given)
    if token is None:
        if not given:
            return render("sign_in", 401, next=following, error="Enter an API token.")
        count_failed_sign_in()
        error = "That is not an API token of this service."
        return render("sign_in", 401, next=following, error=error)
    forget_failed_sign_ins()
    start_session(token)
    return see_other(following, "signed-in")


def sign_in_refused(following, wait):
    response.set_header("Retry-After", str(wait))
    error = (
        f"Too many failed sign-ins: nothing was tried. Try again in {wait} second"
        f"{'' if wait == 1 else 's'}."
    )
    return render("sign_in", 429, next=following, error=error)


def sign_out():
    """Ends the session on the server; with `everywhere`, every session of its token."""
    form = read_form()
    end_session(everywhere=form.get("everywhere") == "1")
    return see_other("/", "signed-out")


def get_static(name):
    """A file of static/, with its ETag; a long life when the URL names its version (?v=)."""
    found = request.app.config["songs.static"].get(name)
    if found is None:
        raise Problem(404, f"Nothing is at {request.path}.")
    body, media_type, etag, url = found
    response.content_type = media_type
    response.set_header("ETag", etag)
    response.set_header("X-Content-Type-Options", "nosniff")
    if request.fullpath + "?" + request.query_string == url:
        response.set_header("Cache-Control", "public, max-age=31536000, immutable")
    if etag_matches(request.environ.get("HTTP_IF_NONE_MATCH", ""), etag, strong=False):
        response.status = 304
        return b""
    return body


# Rendering


def render(name, status=200, **values):
    response.status = f"{status} {status_title(status)}"
    response.content_type = "text/html; charset=utf-8"
    for header, value in PAGE_HEADERS.items():
        response.set_header(header, value)
    config = request.app.config
    return template(
        name,
        template_lookup=VIEWS,
        template_settings={"escape_func": escape},
        csrf=csrf_token,  # called only by a page with a form that posts: no cookie else
        needs_sign_in=bool(config["songs.api_tokens"]),
        history_days=config["songs.history_days"],
        signed_in=signed_in(),
        flash=take_flash(),
        static={name: found[3] for name, found in config["songs.static"].items()},
        fields=FIELDS,
        **values,
    ).encode()


def error_page(problem):
    """An error's page for people, made of its problem (songs/problems.py chooses)."""
    return render("error", problem["status"], problem=problem)


def edit_refused(song_id, form, error):
    """The edit form again: with the current song when it changed since the form was read
    (409: the person's values offered to apply to it), or with each field's error next to
    it and the input kept (422)."""
    current = song_or_404(connection(), song_id)
    tried = dict(song_pairs(form))
    if error.status_code not in (412, 422):
        raise error
    kept = {"song": current, "errors": {}, "back": list_path(form.get("back"))}
    if error.status_code == 412 or form.get("etag") != song_etag(current):
        # the fields the person changed from the version they opened, onto the current one
        mine = {k: v for k, v in tried.items() if form.get(f"was-{k}", v) != v}
        merged = {**{k: str(current[k]) for k in WRITABLE_FIELDS}, **mine}
        return render(
            "song", 409, form=current, etag=song_etag(current), conflict=mine, merged=merged, **kept
        )
    kept["errors"] = field_errors(error)
    return render("song", 422, form=tried, etag=form["etag"], conflict=False, **kept)


def form_preconditions(form):
    """The request's preconditions, with the form's ETag as If-Match: records.py checks it as
    the API's."""
    return request_preconditions(if_match=form.get("etag", "") or '""')  # none matches nothing


def field_errors(error, kind="field"):
    """{field (or parameter): its message} from a Problem that names each."""
    return {item[kind]: item["message"] for item in error.members.get("errors", [])}


def sort_link(query, field):
    """The songs page sorted by `field`: ascending, or descending when it already is."""
    ascending = query.sort[0] == (field, False)
    kept = [pair for pair in query.given if pair[0] not in ("sort", "cursor")]
    return page_url("/", [*kept, ("sort", f"-{field}" if ascending else field)])


def cursor_of(query_string):
    return [pair for pair in parse_qsl(query_string) if pair[0] == "cursor"]


def song_pairs(form):
    return [(name, form[name]) for name in WRITABLE_FIELDS if name in form]
