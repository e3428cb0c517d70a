"""The songs as the handlers of the API and of the pages read and write them: the database
of the app serving the request, one song or a 404, and each write in its one transaction
(songs/storage holds the SQL)."""

import json

from bottle import request

from songs.conditional import check_write_preconditions
from songs.idempotency import replayed_song, request_digest
from songs.problems import song_not_found
from songs.storage import find_song, insert_song, remember_key, remove_song, update_song
from songs.wire import utc_now


def database():
    return request.app.config["songs.database"]


def connection():
    """The current thread's connection to the database of the app serving this request."""
    return database().connection()


def song_or_404(conn, song_id, for_update=False):
    song = find_song(conn, song_id, for_update)
    if song is None:
        raise song_not_found(song_id)
    return song


def add_song(fields, key=None):
    """The new song; with an Idempotency-Key, the one it made within 24 hours, if any."""
    with database().write_transaction() as conn:
        song = replayed_song(conn, key, fields) if key else None
        if song is None:
            song = insert_song(conn, fields, utc_now())
            if key:
                remember_key(
                    conn, key, request_digest(fields), json.dumps(song), song["created_at"]
                )
    return song


def change_song(song_id, fields):
    """The song with `fields` replaced: 404, then 428 and 412 (If-Match), then a write only if
    it changes anything.

    If-Match is compared with the song as it is inside the write transaction, so two writers
    holding the same ETag cannot both succeed.
    """
    with database().write_transaction() as conn:
        song = song_or_404(conn, song_id, for_update=True)
        check_write_preconditions(song)
        if any(song[name] != value for name, value in fields.items()):
            song = update_song(conn, song_id, {**song, **fields}, utc_now())
    return song


def delete_song(song_id):
    """404, then 428 and 412 (If-Match), then the song is gone."""
    with database().write_transaction() as conn:
        check_write_preconditions(song_or_404(conn, song_id, for_update=True))
        remove_song(conn, song_id)
