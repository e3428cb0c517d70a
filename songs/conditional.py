"""Representations and their validators: strong ETags, If-Match and If-None-Match
(RFC 9110, 13), and Prefer: return= (RFC 7240)."""

import hashlib
import re

from bottle import request, response

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
    preference = preferred_return()
    if preference:
        response.set_header("Preference-Applied", f"return={preference}")
    if preference == "minimal":
        response.status = 204
        return b""
    response.status = status
    response.set_header("Content-Location", song_path(song["id"]))  # the body is the song
    response.content_type = "application/json"
    return body


def entity_tag(body, validated_with=""):
    """A strong ETag: a digest of the representation's exact bytes (RFC 9110, 8.8.3)."""
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update(validated_with.encode())
    return f'"{digest.hexdigest()}"'


def song_etag(song):
    return entity_tag(json_bytes(song))


def evaluate_preconditions(etag):
    """If-Match, then If-None-Match (RFC 9110, 13.2.2): True for a 304, or a 412 Problem.

    `etag` is None for a representation that has none (an export): only * matches it.
    """
    if_match = request.environ.get("HTTP_IF_MATCH")
    if if_match is not None and not etag_matches(if_match, etag, strong=True):
        if etag is None:
            raise Problem(412, f"If-Match {if_match} cannot match: an export has no ETag.")
        raise Problem(
            412,
            f"If-Match {if_match} does not match the current ETag, {etag}: it changed since "
            "it was read. GET it again and retry.",
        )
    if_none_match = request.environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None and etag_matches(if_none_match, etag, strong=False):
        if request.method in ("GET", "HEAD"):
            return True
        raise Problem(412, f"If-None-Match {if_none_match} matches the current ETag, {etag}.")
    return False


def check_write_preconditions(song):
    """Before a write to `song`: 428 if If-Match is required and absent, 412 if it fails."""
    if request.app.config["songs.require_if_match"] and "HTTP_IF_MATCH" not in request.environ:
        raise Problem(
            428,
            "Writes to a song need If-Match with the song's ETag, so that no change is lost; "
            "GET the song for its ETag.",
        )
    evaluate_preconditions(song_etag(song))


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
        f'"{opaque}"' == etag and not (strong and weak)
        for weak, opaque in ENTITY_TAG.findall(field)
    )


def preferred_return():
    """`minimal` or `representation` when Prefer asks for one (RFC 7240, 4.2); else None.

    Other preferences are ignored, as RFC 7240 section 2 asks.
    """
    for preference in request.environ.get("HTTP_PREFER", "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return":
            value = value.strip().strip('"').lower()
            if value in ("minimal", "representation"):
                return value
    return None
