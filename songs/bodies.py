"""Request bodies: read whole and measured, parsed by their media type (JSON, urlencoded or
multipart forms, JSON Merge Patch), then validated as a song."""

import io
import json
from urllib.parse import parse_qsl

from bottle import MultipartError, request

from songs.batches import CSV_TYPE, batch_limits, csv_batch, json_batch
from songs.problems import Problem, log, problem_naming_each
from songs.validation import JSONObject, validate_song

ACCEPTED_BODY_TYPES = "application/json, application/x-www-form-urlencoded, multipart/form-data"
ACCEPTED_NEW_TYPES = f"{ACCEPTED_BODY_TYPES}, {CSV_TYPE}"  # POST /api/songs: batches too
ACCEPTED_PATCH_TYPES = "application/merge-patch+json, application/json"
BATCH_TYPES = ("application/json", CSV_TYPE)


def read_song_body(batch=False):
    """The body's artist, title and rating; Problems come as 413, 415, 400, 422, in that order.

    With `batch` (POST /api/songs), a JSON array or a CSV body is a list of songs, all valid
    or a 422 naming each item's problems (songs/batches.py), within larger limits.
    """
    config = request.app.config
    limit, media_type = config["songs.max_body_bytes"], body_media_type()
    most, batch_limit = batch_limits(config)
    body = read_body(batch_limit if batch and media_type in BATCH_TYPES else limit)
    if batch and media_type == CSV_TYPE:
        return csv_batch(body, most)
    parse = BODY_PARSERS.get(media_type)
    if parse is None:
        accepted = ACCEPTED_NEW_TYPES if batch else ACCEPTED_BODY_TYPES
        detail = f"A song body must be one of {accepted}, not {media_type or 'untyped'}."
        raise Problem(415, detail, headers={"Accept": accepted})
    parsed = parse(body)
    if batch and media_type == "application/json" and type(parsed) is list:  # not an object
        return json_batch(parsed, most)
    if len(body) > limit:  # read within a batch's limit
        raise too_large(limit)
    return validate_song(parsed, form=media_type != "application/json")


def read_patch_body():
    """The fields a JSON Merge Patch sets (RFC 7396); Problems as for read_song_body.

    Plain application/json is read as a merge patch too; other types are 415 with
    Accept-Patch (RFC 5789, 2.2).
    """
    body = read_body(request.app.config["songs.max_body_bytes"])
    media_type = body_media_type()
    if media_type not in ("application/merge-patch+json", "application/json"):
        detail = f"A patch must be one of {ACCEPTED_PATCH_TYPES}, not {media_type or 'untyped'}."
        raise Problem(415, detail, headers={"Accept-Patch": ACCEPTED_PATCH_TYPES})
    return validate_song(parse_json(body), form=False, patch=True)


def read_restore_body():
    """A restore's version, or None: no body, or a JSON object, {} or {"version": N}."""
    body = read_body(request.app.config["songs.max_body_bytes"])
    if not body:
        return None
    if body_media_type() != "application/json":
        detail = f"A restore's body must be application/json, not {body_media_type() or 'untyped'}."
        raise Problem(415, detail, headers={"Accept": "application/json"})
    pairs = parse_json(body)
    if not isinstance(pairs, JSONObject):
        raise Problem(422, 'A restore\'s body must be a JSON object, such as {"version": 2}.')
    errors = {
        name: "is not a field of a restore (version)" for name, _ in pairs if name != "version"
    }
    versions = [value for name, value in pairs if name == "version"]
    version = versions[0] if versions else None
    if type(version) is float and version.is_integer():  # 2.0 is a whole number in JSON
        version = int(version)
    if len(versions) > 1:
        errors["version"] = "is given more than once"
    elif versions and not (type(version) is int and 1 <= version < 2**31):
        errors["version"] = "must be a version of the song: a whole number from 1"
    if errors:
        raise problem_naming_each(422, "field", errors)
    return version


def body_media_type():
    """The request's Content-Type without its parameters, lowercased; "" when there is none."""
    return request.environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()


def read_body(limit):
    """The request body, chunked or not, as bytes; a 413 Problem past `limit` bytes."""
    environ = request.environ
    length = environ.get("CONTENT_LENGTH") or "0"
    # gunicorn has already de-chunked wsgi.input but leaves the header, which would make
    # Bottle parse the chunks a second time (bottlepy/bottle#700): read it here.
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked and not (length.isascii() and length.isdigit()):
        raise Problem(400, "The Content-Length header is not a number.")
    digits = length.lstrip("0") or "0"  # leading zeros are allowed, and never reach int()
    if not chunked and (len(digits) > 15 or int(digits) > limit):
        raise too_large(limit)
    declared = 0 if chunked else int(digits)
    try:
        body = environ["wsgi.input"].read(limit + 1 if chunked else declared)
    except Exception as error:  # the server's, reading the stream: gunicorn raises its
        # ParseException (InvalidChunkSize, ChunkMissingTerminator...) or NoMoreData
        raise Problem(
            400,
            "The request body could not be read: its chunked encoding is malformed, "
            "or it ended early.",
        ) from error
    if len(body) > limit:
        raise too_large(limit)
    if not chunked and len(body) < declared:  # gunicorn returns what came before EOF
        raise Problem(
            400,
            f"The request body ended after {len(body)} of the {declared} bytes its "
            "Content-Length announced; nothing was changed. Send it again.",
        )
    return body


def too_large(limit):
    return Problem(413, f"The request body is larger than the limit of {limit} bytes.")


def parse_json(body):
    try:
        return json.loads(
            body.decode("utf-8"),
            object_pairs_hook=JSONObject,
            parse_int=parse_json_integer,
            parse_constant=reject_json_constant,
        )
    except UnicodeDecodeError as error:
        raise Problem(400, f"The body is not valid UTF-8 (byte {error.start}).") from None
    except RecursionError:
        raise Problem(400, "The JSON body is nested too deeply.") from None
    except ValueError as error:
        raise Problem(400, f"The body is not valid JSON: {error}.") from None


def parse_json_integer(digits):
    # Past 4300 digits int() refuses to convert; any such number is far outside every
    # range the API accepts, so a stand-in of the same sign fails validation the same way.
    if len(digits) > 4300:
        return -(10**4300) if digits.startswith("-") else 10**4300
    return int(digits)


def reject_json_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_urlencoded(body):
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Problem(400, "The form body is not valid UTF-8 once percent-decoded.") from None


def parse_multipart(body):
    # Bottle's parser reads the body from the WSGI input; hand it the bytes read_body has
    # already read and measured.
    environ = request.environ
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    try:
        pairs = list(request.POST.allitems())
    except MultipartError as error:
        raise Problem(400, f"The multipart body is malformed: {error.body}") from None
    except UnicodeError:
        raise Problem(400, "A multipart field is not valid UTF-8.") from None
    except Exception as error:  # Bottle's parser fails on some malformed headers with
        # ValueError, LookupError and others (a charset on the type, a parameter without =,
        # a part's Content-Length not a number): every one is the body's fault
        log.info("a multipart body Bottle could not parse: %r", error)
        raise Problem(400, "The multipart body is malformed: its headers cannot be read.") from None
    if any(name is None for name, _ in pairs):
        raise Problem(400, "The multipart body is malformed: a part has no name.")
    return pairs


BODY_PARSERS = {
    "application/json": parse_json,
    "application/x-www-form-urlencoded": parse_urlencoded,
    "multipart/form-data": parse_multipart,
}
