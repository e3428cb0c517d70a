"""Representations and their validators: strong ETags, If-Match and If-None-Match
(RFC 9110, 13), and Prefer: return= (RFC 7240)."""

import hashlib
import re
from dataclasses import dataclass

from bottle import request, response

from songs.compression import GZIP_SUFFIX
from songs.problems import Problem
from songs.wire import json_bytes, song_path


def representation(body, validated_with=""):
    """A GET's answer with its strong ETag: the body, or 304 and none if If-None-Match matches.

    `validated_with` is what else the ETag must change with, such as a list's Link header.
    """
    etag = entity_tag(body, validated_with)
    response.set_header("ETag", etag)
    if evaluate_preconditions(etag):
        response.status = 304
        return b""
    return body


def written(song, status):
    """A write's answer: the song and its ETag; no body (204) if Prefer asks for return=minimal."""
    body = json_bytes(song)
    response.set_header("ETag", entity_tag(body))
    if minimal():
        return b""
    response.status = status
    response.set_header("Content-Location", song_path(song["id"]))  # the body is the song
    response.content_type = "application/json"
    return body


def written_batch(songs):
    """A batch's answer: 201 with the new songs in order (each has its own URL and ETag: the
    list has neither); no body (204) if Prefer asks for return=minimal."""
    if minimal():
        return b""
    response.status = 201
    response.content_type = "application/json"
    return json_bytes(songs)


def minimal():
    """Whether Prefer asks for return=minimal, which sets 204; Preference-Applied says which
    return was applied."""
    preference = preferred_return()
    if preference:
        response.set_header("Preference-Applied", f"return={preference}")
    if preference == "minimal":
        response.status = 204
    return preference == "minimal"


def entity_tag(body, validated_with=""):
    """A strong ETag: a digest of the representation's exact bytes (RFC 9110, 8.8.3)."""
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update(validated_with.encode())
    return f'"{digest.hexdigest()}"'


def song_etag(song):
    return entity_tag(json_bytes(song))


def evaluate_preconditions(etag):
    """The request's If-Match, then If-None-Match (RFC 9110, 13.2.2): True for a 304, or a
    412 Problem.

    `etag` is None for a representation that has none (an export): only * matches it.
    """
    return request_preconditions().evaluate(etag, request.method in ("GET", "HEAD"))


@dataclass(frozen=True)
class Preconditions:
    """What a request makes a write depend on: its If-Match and If-None-Match values, and
    whether If-Match is required (REQUIRE_IF_MATCH). The write layer checks them against the
    song inside its transaction, without reading any request."""

    if_match: str | None = None
    if_none_match: str | None = None
    required: bool = False

    def evaluate(self, etag, reading=False):
        """True for a 304 (a read whose If-None-Match matches), else False or a 412 Problem."""
        if self.if_match is not None and not etag_matches(self.if_match, etag, strong=True):
            if etag is None:
                raise Problem(412, f"If-Match {self.if_match} cannot match: an export has no ETag.")
            raise Problem(
                412,
                f"If-Match {self.if_match} does not match the current ETag, {etag}: it changed "
                "since it was read. GET it again and retry.",
            )
        if self.if_none_match is not None and etag_matches(self.if_none_match, etag, strong=False):
            if reading:
                return True
            raise Problem(
                412, f"If-None-Match {self.if_none_match} matches the current ETag, {etag}."
            )
        return False

    def check_write(self, song):
        """Before a write to `song`: 428 if If-Match is required and absent, 412 if it fails."""
        if self.required and self.if_match is None:
            raise Problem(
                428,
                "Writes to a song need If-Match with the song's ETag, so that no change is "
                "lost; GET the song for its ETag.",
            )
        self.evaluate(song_etag(song))


def request_preconditions(if_match=None):
    """The request's Preconditions; `if_match` in place of its header (an edit form's ETag)."""
    environ = request.environ
    return Preconditions(
        environ.get("HTTP_IF_MATCH") if if_match is None else if_match,
        environ.get("HTTP_IF_NONE_MATCH"),
        request.app.config["songs.require_if_match"],
    )


ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def etag_matches(field, etag, strong):
    """Whether an If-Match or If-None-Match value lists `etag` (RFC 9110, 8.8.3.2 and 13.1).

    `*` matches any current representation. Our ETags are strong, so the strong comparison
    only differs in refusing a client's W/ tag. A value that is not a list of entity tags
    matches nothing.
    """
    if field.strip() == "*":
        return True
    return any(
        f'"{opaque.removesuffix(GZIP_SUFFIX)}"' == etag and not (strong and weak)
        for weak, opaque in ENTITY_TAG.findall(field)
    )


def preferred_return():
    """`minimal` or `representation` when Prefer asks for one (RFC 7240, 4.2); else None."""
    value = (preference("return") or "").lower()
    return value if value in ("minimal", "representation") else None


def preference(name):
    """The value of Prefer's first `name` preference, unquoted; None without one. Other
    preferences, and the parameters after `;`, are ignored, as RFC 7240 section 2 asks."""
    for given in request.environ.get("HTTP_PREFER", "").split(","):
        key, _, value = given.split(";", 1)[0].partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None
