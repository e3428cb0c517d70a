"""Values as the API writes them: JSON bytes, UTC timestamps, a song's path."""

import json
from datetime import datetime, timezone

from bottle import response


def json_body(value):
    response.content_type = "application/json"
    return json_bytes(value)


def json_bytes(value):
    return json.dumps(value, ensure_ascii=False).encode()


def json_array(texts):
    """The JSON array of items already written as JSON texts, as json_bytes writes a list."""
    response.content_type = "application/json"
    return f"[{', '.join(texts)}]".encode()


def song_path(song_id):
    return f"/api/song/{song_id}"


def utc_now():
    return timestamp(datetime.now(timezone.utc))


def timestamp(moment):
    """A UTC datetime in RFC 3339 with milliseconds, as the API shows it and schema.sql checks.
    isoformat's first 23 characters (YYYY-MM-DDTHH:MM:SS.mmm, a year below 1000 padded), at a
    third of strftime's cost: every write takes one inside its transaction."""
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"
