"""Safe retries of a POST: an Idempotency-Key is remembered with its song for 24 hours."""

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

from bottle import request

from songs.problems import Problem
from songs.storage import find_key
from songs.wire import timestamp

IDEMPOTENCY_TTL = timedelta(hours=24)  # how long a POST's Idempotency-Key is remembered


def idempotency_key():
    """The request's Idempotency-Key (1 to 255 visible ASCII characters), or None; else 400."""
    key = request.environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is not None and not re.fullmatch(r"[\x21-\x7e]{1,255}", key.strip('"')):
        raise Problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return None if key is None else key.strip('"')  # the IETF draft quotes it, clients may not


def replayed_song(conn, key, fields):
    """The song (or a batch's songs) created under `key` within 24 hours, or None; 422 if it
    asked for another."""
    remembered = find_key(conn, key, timestamp(datetime.now(timezone.utc) - IDEMPOTENCY_TTL))
    if remembered is None:
        return None
    digest, song = remembered
    if digest != request_digest(fields):
        raise Problem(
            422,
            "This Idempotency-Key was used within 24 hours for a different song or batch; "
            "use a new key for a new request.",
        )
    return json.loads(song)


def request_digest(fields):
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=16).hexdigest()
