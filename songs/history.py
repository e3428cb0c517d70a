"""A song's history (GET /api/song/<id>/history, newest first, paged by version) and the
songs deleted and not restored (GET /api/songs/deleted, the latest deletion first, paged by
position in the log), from the change log that songs/storage/history.py keeps."""

import json
from urllib.parse import urlencode

from songs.listing import read_limit, read_parameters
from songs.problems import not_in_history
from songs.song import FIELDS
from songs.storage.history import PAST_EVERY_ONE, deleted_songs, has_history, song_history

HISTORY_PAGE_SIZE = 100


def read_before(value):
    if value.isascii() and value.isdigit() and len(value) <= 18 and int(value) >= 1:
        return int(value), None
    return None, "must be a whole number from 1, as the Link header gives it"


PAGE_PARAMETERS = {"limit": read_limit, "before": read_before}


def history_page(conn, song_id, path):
    """(the page's JSON bytes, its Link header), or 404 when the log holds nothing of the
    song; a 400 names every bad parameter."""
    limit, before = read_page_query("a song's history")
    rows = song_history(conn, song_id, before, limit + 1, f"version, {conn.version_json}")
    if not rows and not has_history(conn, song_id):
        raise not_in_history(song_id)
    return page_of(rows, limit, path)


def deleted_page(conn, path):
    """The songs deleted and not restored since, as history_page answers them."""
    limit, before = read_page_query("the deleted songs")
    rows = deleted_songs(conn, before, limit + 1, conn.version_json)
    return page_of(rows, limit, path)


def read_page_query(what):
    values = read_parameters(PAGE_PARAMETERS, what)
    return values.get("limit", HISTORY_PAGE_SIZE), values.get("before", PAST_EVERY_ONE)


def page_of(rows, limit, path):
    """A page's JSON bytes and Link header from `rows` of (its key, a version's JSON text):
    rows beyond `limit` mean there is more, before the last one's key (its version, or its
    position in the log)."""
    links = f'<{path}?{urlencode({"limit": limit})}>; rel="first"'
    if len(rows) > limit:
        following = urlencode({"limit": limit, "before": rows[limit - 1][0]})
        links = f'<{path}?{following}>; rel="next", {links}'
    return f"[{', '.join(row[1] for row in rows[:limit])}]".encode(), links


def versions_shown(conn, song_id, limit=20):
    """A song page's history: its latest `limit` versions, newest first, each a dict of
    version, op, at, actor and `changed`, the (label, before, after) of each writable field
    that the version changed from the one before it."""
    rows = song_history(conn, song_id, PAST_EVERY_ONE, limit + 1)
    songs = [json.loads(row[-1]) for row in rows]
    shown = []
    for n, (version, op, at, actor, _, _) in enumerate(rows[:limit]):
        before = songs[n + 1] if n + 1 < len(songs) else None
        changed = [
            (field.label, before[field.name], songs[n][field.name])
            for field in FIELDS
            if field.writable and before is not None and before[field.name] != songs[n][field.name]
        ]
        shown.append({"version": version, "op": op, "at": at, "actor": actor, "changed": changed})
    return shown
