"""The one function that checks a song's fields as a body or a form sends them, by what
songs/song.py declares of each, naming every problem at once (schema.sql repeats the same
rules as CHECK constraints)."""

import re
import unicodedata

from songs.problems import Problem, problem_naming_each
from songs.song import BY_NAME, MAX_TEXT_LENGTH, READ_ONLY_FIELDS, WRITABLE_FIELDS, in_words

CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
NOT_A_FIELD = f"is not a field of a song ({', '.join(WRITABLE_FIELDS)})"
NOT_REMOVABLE = f"cannot be removed: every song has an {in_words(WRITABLE_FIELDS)}"


class JSONObject(list):
    """A JSON object's (name, value) pairs, duplicates kept, so validation can name them."""


def validate_song(pairs, form, patch=False):
    """The clean artist, title and rating, or a 422 Problem naming every bad field at once.

    A patch needs none of the fields, and may not remove one (set it to null).
    """
    if not form and type(pairs) is not JSONObject:
        message = f"must be a JSON object, not {json_type(pairs)}"
        raise Problem(422, f"The body {message}.", errors=[{"field": None, "message": message}])
    song, errors, seen = {}, {}, set()
    for name, value in pairs:
        if name in seen:
            errors.setdefault(name, "is given more than once")
            continue
        seen.add(name)
        if name in READ_ONLY_FIELDS:
            continue
        field = BY_NAME.get(name)
        if field is None:
            clean, problem = None, NOT_A_FIELD
        elif patch and value is None:
            clean, problem = None, NOT_REMOVABLE
        elif field.kind == "integer":
            clean, problem = check_integer(value, field, form)
        else:
            clean, problem = check_text(value, field.high)
        if problem:
            errors[name] = problem
        else:
            song[name] = clean
    for name in WRITABLE_FIELDS:
        if name not in seen and not patch:
            errors[name] = "is required"
    if errors:
        raise problem_naming_each(422, "field", errors)
    return song


def check_text(value, most=MAX_TEXT_LENGTH):
    """(the text trimmed of white space, in Unicode's composed form NFC, None), or (None, what
    is wrong with what remains). NFC: "é" typed as one character or as "e" and an accent is
    the same text, stored and compared alike."""
    if not isinstance(value, str):
        return None, f"must be a string, not {json_type(value)}"
    text = value.strip()  # first: a pasted tab or line break around the text is not an error
    bad = CONTROL_OR_SURROGATE.search(text)
    if bad:
        kind = "an unpaired surrogate" if bad.group() >= "\ud800" else "a control character"
        at = bad.start() + len(value) - len(value.lstrip())  # in the value as it was sent
        return None, f"must not contain {kind} (U+{ord(bad.group()):04X} at index {at})"
    if not text:
        return None, "must not be empty or only white space"
    text = unicodedata.normalize("NFC", text)  # a surrogate would raise: refused above
    if len(text) > most:
        return None, f"must be at most {most} characters, not {len(text)}"
    return text, None


def check_integer(value, field, form):
    """(the integer, None), or (None, what is wrong with it); forms give it as decimal digits."""
    if form:
        number = decimal_digits(value)
        if number is not None and field.low <= number <= field.high:
            return number, None
        return None, f"must be a whole number from {field.low} to {field.high}, in decimal digits"
    if type(value) is float and value.is_integer():
        value = int(value)  # 3.0 is the integer 3, in JSON Schema as in JSON (RFC 8259, 6)
    if type(value) is int and field.low <= value <= field.high:
        return value, None
    kind = "" if type(value) is int else f", not {json_type(value)}"
    return None, f"must be an integer from {field.low} to {field.high}{kind}"


def decimal_digits(value):
    """The number that ASCII decimal digits write (leading zeros allowed), else None."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= 19 else None


JSON_TYPE_NAMES = (  # in order: a bool is an int, and a JSONObject a list
    (type(None), "null"),
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number with a fraction"),
    (str, "a string"),
    (JSONObject, "an object"),
    (list, "an array"),
)


def json_type(value):
    """What a value is, in JSON's words, for error messages (a form's file is "a file upload")."""
    return next(
        (name for kind, name in JSON_TYPE_NAMES if isinstance(value, kind)), "a file upload"
    )
