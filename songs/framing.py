"""Where a request read from a socket ends: its head, its declared body, chunked or not,
and 100 Continue (for the worker's loop, songs/worker.py, which reads each request whole
before a thread takes it; gunicorn's parser judges the request itself, on the thread)."""

import re

from songs.settings import DEFAULT_MAX_BODY_BYTES, int_setting


def buffered_body_bytes():
    """Past MAX_BODY_BYTES, which the service refuses (413) without reading the body."""
    try:
        limit = int_setting("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    except ValueError:  # the service refuses the setting itself, in one line
        limit = DEFAULT_MAX_BODY_BYTES
    return max(128 * 1024, limit + 1)


BUFFERED_BODY_BYTES = buffered_body_bytes()
LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
EXPECTS_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)


def request_is_whole(received):
    """Whether `received` holds a whole request head and its body (or as much of the body as
    is buffered here). gunicorn's parser judges the request itself, on the thread."""
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        return len(received) > 65536  # far past gunicorn's limits: let it refuse the head
    head, body = received[: head_end + 2], received[head_end + 4 :]
    if CHUNKED.search(head):
        return body.endswith(b"0\r\n\r\n") or len(body) > BUFFERED_BODY_BYTES
    declared = declared_length(head)
    if declared > BUFFERED_BODY_BYTES and EXPECTS_CONTINUE.search(head):
        return True  # the service refuses it (413) at its head: no 100 Continue from here
    return len(body) >= min(declared, BUFFERED_BODY_BYTES)


def declared_length(head):
    """Content-Length's value, leading zeros and all (gunicorn accepts them); a length of
    more than 12 digits, never accepted, is taken as more than is buffered."""
    length = LENGTH.search(head)
    if not length:
        return 0
    digits = length.group(1).lstrip(b"0")
    return int(digits or b"0") if len(digits) <= 12 else BUFFERED_BODY_BYTES + 1


def head_of(received):
    head_end = received.find(b"\r\n\r\n")
    return received[: head_end + 2] if head_end >= 0 else b""


def body_is_in(received):
    """Whether the body, if any, came with the head: a 100 Continue would come too late."""
    head = head_of(received)
    return not CHUNKED.search(head) and declared_length(head) <= BUFFERED_BODY_BYTES


def answered_continue(received):
    """The request without its Expect: 100-continue, which the loop answered or which came
    with its body: gunicorn's thread would send 100 Continue again."""
    head = head_of(received)
    return EXPECTS_CONTINUE.sub(b"", head, count=1) + received[len(head) :]
