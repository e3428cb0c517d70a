"""Values as the API writes them: JSON bytes, UTC timestamps, a song's path."""

import json
from datetime import datetime, timezone

from bottle import response


def json_body(value):
    response.content_type = "application/json"
    return json_bytes(value)


def json_bytes(value):
    return json.dumps(value, ensure_ascii=False).encode()


def song_path(song_id):
    return f"/api/song/{song_id}"


def utc_now():
    return timestamp(datetime.now(timezone.utc))


def timestamp(moment):
    """A UTC datetime in RFC 3339 with milliseconds, as the API shows it and schema.sql checks."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
