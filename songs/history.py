"""GET /api/song/<id>/history: a song's versions from the change log, newest first, paged
by version (songs/storage/history.py keeps the log)."""

import json
from urllib.parse import urlencode

from songs.listing import read_limit, read_query
from songs.problems import Problem, problem_naming_each
from songs.storage.history import has_history, song_history

HISTORY_PAGE_SIZE = 100


def read_version(value):
    if value.isascii() and value.isdigit() and len(value) <= 9 and int(value) >= 1:
        return int(value), None
    return None, "must be a version: a whole number from 1"


HISTORY_PARAMETERS = {"limit": read_limit, "before": read_version}


def history_page(conn, song_id, path):
    """(the page's JSON bytes, its Link header), or 404 when the log holds nothing of the
    song; a 400 names every bad parameter."""
    values, errors, _ = read_query(
        HISTORY_PARAMETERS,
        lambda name: f"is not a parameter of a song's history ({', '.join(HISTORY_PARAMETERS)})",
    )
    if errors:
        raise problem_naming_each(400, "parameter", errors)
    limit, before = values.get("limit", HISTORY_PAGE_SIZE), values.get("before")
    rows = song_history(conn, song_id, before or 2**31, limit + 1)
    if not rows and not has_history(conn, song_id):
        raise Problem(
            404,
            f"No song with id {song_id} is in the history: there never was one here.",
        )
    links = f'<{path}?{urlencode({"limit": limit})}>; rel="first"'
    if len(rows) > limit:
        following = urlencode({"limit": limit, "before": rows[limit - 1][0]})
        links = f'<{path}?{following}>; rel="next", {links}'
    return f"[{', '.join(map(version_json, rows[:limit]))}]".encode(), links


def version_json(row):
    """A version's JSON text, with the song's text as the log keeps it."""
    version, op, at, actor, request_id, song = row
    scalars = json.dumps(
        {"version": version, "op": op, "at": at, "actor": actor, "request_id": request_id},
        ensure_ascii=False,
    )
    return f'{scalars[:-1]}, "song": {song}}}'
