"""Keyset cursors: where a page of the list ends, as the sort values of its last song (the
next page starts after it) or its first (the previous page ends before it) and a fingerprint
of the filters and sort it belongs to, in URL-safe base64 JSON."""

import base64
import binascii
import functools
import hashlib
import json
import re

from songs.song import BY_NAME
from songs.validation import check_text

DEFAULT_SORT = (("id", True),)  # the list's order without sort=: newest first


def encode_cursor(position, fingerprint, before=False):
    token = json.dumps(
        {"before" if before else "after": list(position), "query": fingerprint},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def read_cursor(token):
    """(the decoded cursor, None), or (None, the problem) when it is not one of encode_cursor's.

    Cursors are not signed: one holds only a position in a list anyone may read, so a forged
    one can reach no song its maker could not page to; its values are checked as strictly
    as the parameters they stand for (cursor_position). A signature would need a key shared
    by every instance, and would break the cursors clients hold whenever it changed.
    """
    not_ours = None, "is not a cursor from this list's Link header"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,8000}", token):
        return not_ours
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested too deep
        return not_ours
    if isinstance(value, dict) and value.keys() == {"id"}:  # a cursor from before sorting
        value = {"after": [value["id"]], "query": query_fingerprint({}, DEFAULT_SORT)}
    if (
        not isinstance(value, dict)
        or value.keys() not in ({"after", "query"}, {"before", "query"})
        or not isinstance(value.get("after", value.get("before")), list)
        or not value.get("after", value.get("before"))
    ):
        return not_ours
    return value, None


def cursor_position(cursor, fingerprint, sort):
    """The sort values a cursor continues after (or, a cursor `before`, ends before); None
    when it belongs to another query."""
    after = cursor.get("after", cursor.get("before"))
    if (
        cursor["query"] != fingerprint
        or len(after) != len(sort)
        or not all(sort_value_is_valid(field, v) for (field, _), v in zip(sort, after, strict=True))
    ):
        return None
    return tuple(after)


def sort_value_is_valid(field, value):
    """Whether `value` could be a stored song's `field`: anyone can make up a cursor, so its
    values are checked as strictly as the schema checks a song's."""
    field = BY_NAME[field]
    if field.kind in ("id", "integer"):
        return type(value) is int and field.low <= value <= field.high
    if field.kind == "text":
        return check_text(value, field.high) == (value, None)
    return type(value) is str and STORED_TIME.fullmatch(value) is not None


def backward(sort):
    """The sort walked the other way: a page before a cursor is read in it, then reversed."""
    return tuple((field, not descending) for field, descending in sort)


STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def query_fingerprint(filters, sort):
    """What a cursor belongs to: a digest of the filters and the sort, clean values only."""
    return fingerprint_of(tuple(sorted(filters.items())), sort)


@functools.lru_cache(maxsize=1024)  # most lists are asked for again and again
def fingerprint_of(filters, sort):
    canonical = json.dumps([filters, sort], ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()
