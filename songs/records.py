"""The writes, each in its one transaction: they take what they need as arguments (the
database, the fields, the preconditions, the Idempotency-Key) and return what happened,
reading no request and setting no response, so that the API's handlers, the pages and the
command line call them alike (songs/storage holds the SQL)."""

import json

from songs.conditional import Preconditions
from songs.idempotency import replayed_song, request_digest
from songs.problems import song_not_found
from songs.settings import ANONYMOUS
from songs.storage import find_song, insert_song, remember_key, remove_song, update_song
from songs.storage.history import Author, log_change
from songs.wire import utc_now

NONE = Preconditions()  # a write that depends on nothing
NOBODY = Author(ANONYMOUS)  # a write that no token made


def song_or_404(conn, song_id, for_update=False):
    song = find_song(conn, song_id, for_update)
    if song is None:
        raise song_not_found(song_id)
    return song


def add_song(database, fields, key=None, by=NOBODY):
    """(the new song, False); with an Idempotency-Key that made a song within 24 hours, (that
    song, True), or 422 if the key made another. Each write is logged as `by`'s."""
    with database.write_transaction() as conn:
        song = replayed_song(conn, key, fields) if key else None
        if song is not None:
            return song, True
        song = insert_song(conn, fields, utc_now())
        log_change(conn, "create", song, song["updated_at"], by)
        if key:
            remember_key(conn, key, request_digest(fields), json.dumps(song), song["created_at"])
    return song, False


def change_song(database, song_id, fields, preconditions=NONE, by=NOBODY):
    """The song with `fields` replaced: 404, then 428 and 412 (`preconditions`), then a write
    only if it changes anything.

    The preconditions are judged against the song as it is inside the write transaction, so
    two writers holding the same ETag cannot both succeed.
    """
    with database.write_transaction() as conn:
        song = song_or_404(conn, song_id, for_update=True)
        preconditions.check_write(song)
        if any(song[name] != value for name, value in fields.items()):
            song = update_song(conn, song_id, {**song, **fields}, utc_now())
            log_change(conn, "update", song, song["updated_at"], by)
    return song


def delete_song(database, song_id, preconditions=NONE, by=NOBODY):
    """404, then 428 and 412 (`preconditions`), then the song is gone: the song it was."""
    with database.write_transaction() as conn:
        song = song_or_404(conn, song_id, for_update=True)
        preconditions.check_write(song)
        remove_song(conn, song_id)
        log_change(conn, "delete", song, utc_now(), by)
    return song
