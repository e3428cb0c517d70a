"""The writes, each in its one transaction: they take what they need as arguments (the
database, the fields, the preconditions, the Idempotency-Key) and return what happened,
reading no request and setting no response, so that the API's handlers, the pages and the
command line call them alike (songs/storage holds the SQL)."""

import json

from songs.conditional import Preconditions, song_etag
from songs.idempotency import replayed_song, request_digest
from songs.problems import Problem, not_in_history, problem_naming_each, song_not_found
from songs.settings import ANONYMOUS
from songs.song import WRITABLE_FIELDS
from songs.storage import (
    find_song,
    find_songs,
    insert_song,
    insert_song_again,
    insert_songs,
    remember_key,
    remove_song,
    remove_songs,
    update_song,
    update_songs,
)
from songs.storage.history import PAST_EVERY_ONE, Author, song_history
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
    return remembered(
        database, fields, key, lambda conn, now: insert_song(conn, fields, now, by, last=not key)
    )


def add_songs(database, batch, key=None, by=NOBODY):
    """(the new songs, in the batch's order, False): every one in one transaction, or none;
    each in the change log as `by`'s; an Idempotency-Key as for add_song, for the batch."""

    return remembered(
        database, batch, key, lambda conn, now: insert_songs(conn, batch, now, by, last=not key)
    )


def remembered(database, asked, key, write):
    """(what write(conn, now) makes of `asked`, False), in one write transaction; with an
    Idempotency-Key that was used for the same `asked` within 24 hours, (what it made then,
    True), or 422 if it was used for something else; the key remembered otherwise."""
    with database.write_transaction() as conn:
        made = replayed_song(conn, key, asked) if key else None
        if made is not None:
            return made, True
        now = utc_now()
        made = write(conn, now)
        if key:
            remember_key(conn, key, request_digest(asked), json.dumps(made), now)
    purge_when_due(database)
    return made, False


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
            song = update_song(conn, song_id, {**song, **fields}, utc_now(), by, last=True)
    purge_when_due(database)
    return song


def delete_song(database, song_id, preconditions=NONE, by=NOBODY):
    """404, then 428 and 412 (`preconditions`), then the song is gone: the song it was."""
    with database.write_transaction() as conn:
        song = song_or_404(conn, song_id, for_update=True)
        preconditions.check_write(song)
        remove_song(conn, song_id, utc_now(), by, last=True)
    purge_when_due(database)
    return song


def delete_songs(database, versions, by=NOBODY):
    """The songs of `versions` deleted, those that still have their ETags (change_many)."""
    return change_many(
        database,
        versions,
        lambda conn, songs, now: remove_songs(conn, [song["id"] for song in songs], now, by),
    )


def rate_songs(database, versions, rating, by=NOBODY):
    """The songs of `versions` given `rating`, those that still have their ETags; a song so
    rated already is left as it is."""

    def rate(conn, songs, now):
        other = [{**song, "rating": rating} for song in songs if song["rating"] != rating]
        rated = {song["id"]: song for song in update_songs(conn, other, now, by)}
        return [rated.get(song["id"], song) for song in songs]

    return change_many(database, versions, rate)


def change_many(database, versions, change):
    """In one transaction, change(conn, songs, now) for the songs of `versions`, (id, ETag)
    pairs, that have that ETag still, their rows locked first: (the songs changed, [(id, the
    song as it is now, or None when it is gone)] for the others, which are left as they are)."""
    with database.write_transaction() as conn:
        now = utc_now()
        found = find_songs(conn, [song_id for song_id, _ in versions], for_update=True)
        kept, refused = [], []
        for song_id, etag in versions:
            song = found.get(song_id)
            if song is not None and song_etag(song) == etag:
                kept.append(song)
            else:
                refused.append((song_id, song))
        done = change(conn, kept, now)
    purge_when_due(database)
    return done, refused


def restore_song(database, song_id, version=None, preconditions=NONE, by=NOBODY):
    """A deleted song back, with its id and its last values or those of `version`: (the
    song, True). An existing song set back to `version` as a new version, after 428 and 412
    (`preconditions`): (the song, False); without a version, 409. 404 if the history holds
    nothing of the song, 422 if it has no such version."""
    with database.write_transaction() as conn:
        current = find_song(conn, song_id, for_update=True)
        if current is not None:
            preconditions.check_write(current)
            if version is None:
                raise Problem(
                    409,
                    f"Song {song_id} is not deleted, so there is nothing to bring back; to set "
                    'it back to an earlier version, send {"version": <version>}.',
                )
        elif preconditions.if_match is not None:
            raise Problem(
                412, f"If-Match {preconditions.if_match} cannot match: song {song_id} is deleted."
            )
        source = version_of(conn, song_id, version)
        fields = {name: source[name] for name in WRITABLE_FIELDS}
        now = utc_now()
        if current is None:
            created_at = source["created_at"]
            song = insert_song_again(conn, song_id, fields, created_at, now, by, last=True)
        elif any(current[name] != value for name, value in fields.items()):
            song = update_song(conn, song_id, fields, now, by, "restore", last=True)
        else:
            return current, False
    purge_when_due(database)
    return song, current is None


def purge_when_due(database):
    """The change log's old versions gone, now and then (HISTORY_DAYS: storage/history.py),
    by the app's database; a database opened otherwise (a command's) keeps them."""
    retention = getattr(database, "retention", None)
    if retention is not None:
        retention.purge_when_due(database)


def version_of(conn, song_id, version=None):
    """The song as `version` (its latest, by default) left it; 404 if the history holds
    nothing of it, 422 if it has no such version."""
    latest = song_history(conn, song_id, PAST_EVERY_ONE, 1)
    if not latest:
        raise not_in_history(song_id)
    row = latest[0]
    if version is not None:
        rows = song_history(conn, song_id, version + 1, 1)
        if not rows or rows[0][0] != version:
            message = f"names no version of song {song_id}, whose versions are 1 to {row[0]}"
            raise problem_naming_each(422, "field", {"version": message})
        row = rows[0]
    return json.loads(row[-1])
