"""Many songs in one request: POST /api/songs with a JSON array of songs or a CSV body (the
export's columns, as the `import` command reads them), every item checked by the one
validation (songs/validation.py) and every problem named by where it is: a JSON Pointer
(RFC 6901) into the array, or the CSV's line. records.add_songs writes all or none."""

import csv
import io

from songs.problems import Problem
from songs.song import READ_ONLY_FIELDS, SONG_FIELDS, WRITABLE_FIELDS, in_words
from songs.validation import JSONObject, json_type, validate_song

BYTES_PER_SONG = 1024  # a batch's body may hold max(MAX_BODY_BYTES, this × MAX_BATCH_SONGS)
LISTED_ERRORS = 100  # a problem's errors[] names the first of a batch's errors, and counts all
CSV_TYPE = "text/csv"


def csv_pattern():
    """A regular expression (ECMA-262, as OpenAPI's `pattern`) of CSV bodies that are surely
    a batch: the header artist,title,rating and each row unquoted, its texts at most 100
    characters (300 once NFC; the limit is 500) with no space at either end (the Text
    schema's classes). The service takes more (quoted fields, other columns and orders):
    JSON Schema cannot say all of CSV, and what it says is never refused. The rows are not
    counted (`{0,999}` is more than schemathesis's generator takes): MAX_BATCH_SONGS is said
    in words."""
    controls = r"\u0000-\u001f\u007f-\u009f"
    spaces = r"\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    inner, edge = f'[^,"{controls}]', f'[^,"{controls}{spaces}]'
    text = f"{edge}({inner}{{0,98}}{edge})?"
    row = f"{text},{text},[1-5]"
    return f"^artist,title,rating\\r?\\n({row}\\r?\\n)*{row}(\\r?\\n)?$"


def batch_limits(config):
    """(the most songs a batch holds, the most bytes its body holds)."""
    most = config["songs.max_batch_songs"]
    return most, max(config["songs.max_body_bytes"], most * BYTES_PER_SONG)


def json_batch(items, most):
    """The clean songs of a JSON array, in order; else a 422 Problem pointing at each bad
    item and field (/3/rating)."""
    check_size(len(items), most, "array")
    songs, errors = [], []
    for n, item in enumerate(items):
        if type(item) is not JSONObject:
            errors.append(
                {"pointer": f"/{n}", "message": f"must be an object, not {json_type(item)}"}
            )
            continue
        try:
            songs.append(validate_song(item, form=False))  # each its own 422: collected
        except Problem as problem:
            errors += [
                {"pointer": f"/{n}{pointer_token(error['field'])}", "message": error["message"]}
                for error in problem.members["errors"]
            ]
    if errors:
        raise batch_problem(errors, lambda error: f"{error['pointer']} {error['message']}")
    return songs


def csv_batch(body, most):
    """The clean songs of a CSV body, in order; else a 422 Problem naming each line and field."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(400, f"The CSV body is not valid UTF-8 (byte {error.start}).") from None
    songs, errors, rows = [], [], 0
    try:
        for line, song, problems in csv_songs(io.StringIO(text, newline="")):
            rows += 1
            if rows > most:
                break
            errors += [{"line": line, "field": field, "message": say} for field, say in problems]
            songs.append(song)
    except UnreadableCSV as error:
        raise Problem(422, f"The CSV body cannot be read: {error}.") from None
    check_size(rows, most, "CSV body")
    if errors:
        raise batch_problem(errors, describe_csv_error)
    return songs


class UnreadableCSV(ValueError):
    """A CSV text whose header does not name a song's fields (BadHeader), or that is not
    UTF-8 CSV at all: its message names the line."""


class BadHeader(UnreadableCSV):
    pass


def csv_songs(stream):
    """For each row of a CSV text after its header: (its first line's number, the clean
    song or None, [(field or None, what is wrong)]). The header must name the writable
    fields and may name the read-only ones (as an export does), which are ignored; else
    BadHeader. UnreadableCSV where the text stops being UTF-8 CSV."""
    reader = csv.reader(stream, strict=True)  # a stray quote is an error, not text
    try:
        header = next(reader, [])
        if (
            set(header) - set(SONG_FIELDS)
            or len(set(header)) != len(header)
            or set(WRITABLE_FIELDS) - set(header)
        ):
            raise BadHeader(
                f"line 1: the header must name {in_words(WRITABLE_FIELDS)}, and may name "
                f"{in_words(READ_ONLY_FIELDS)}, each once; it is {','.join(header)}"
            )
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num  # a quoted line break spans lines
            if not row:
                continue
            if len(row) != len(header):
                yield start, None, [(None, f"{len(row)} fields, the header has {len(header)}")]
                continue
            try:
                yield start, validate_song(list(zip(header, row, strict=True)), form=True), []
            except Problem as problem:
                yield start, None, [(e["field"], e["message"]) for e in problem.members["errors"]]
    except (csv.Error, UnicodeDecodeError) as error:
        raise UnreadableCSV(f"line {reader.line_num + 1}: not UTF-8 CSV ({error})") from None


def describe_csv_error(error):
    field = f" {error['field']}" if error["field"] else ""
    return f"line {error['line']}{field}: {error['message']}"


def check_size(count, most, kind):
    if count == 0:
        raise Problem(422, f"The {kind} holds no songs: a batch holds 1 to {most}.")
    if count > most:  # 422: the body is read, and the count is what is wrong with it
        raise Problem(
            422, f"The {kind} holds more than {most} songs, the most a batch may (MAX_BATCH_SONGS)."
        )


def batch_problem(errors, describe):
    """A 422 that creates nothing and names each error (the first LISTED_ERRORS)."""
    shown = "; ".join(describe(error) for error in errors[:3])
    more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
    return Problem(
        422,
        f"Nothing was created: {len(errors)} error{'s' if len(errors) > 1 else ''} in the "
        f"batch: {shown}{more}.",
        errors=errors[:LISTED_ERRORS],
        error_count=len(errors),
    )


def pointer_token(name):
    """A member name as a JSON Pointer's next reference token (RFC 6901, 4: ~ and / escaped)."""
    return "" if name is None else "/" + name.replace("~", "~0").replace("/", "~1")
