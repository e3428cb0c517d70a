"""The list's query string: filters, q, sort, limit, cursor and count, each checked, every
bad one named at once; an export's, which has no pages; and the Link header that pages the
list (RFC 8288)."""

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

from bottle import request

from songs.cursors import (
    DEFAULT_SORT,
    backward,
    cursor_position,
    encode_cursor,
    query_fingerprint,
    read_cursor,
)
from songs.problems import Problem, problem_naming_each
from songs.song import FILTERS, MAX_TEXT_LENGTH, SORT_FIELDS
from songs.validation import CONTROL_OR_SURROGATE, check_text, decimal_digits
from songs.wire import timestamp

PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
MIN_SEARCH_LENGTH = 3  # the shortest substring the trigram index can find
EXPORT_PATHS = ("/api/songs.csv", "/api/songs.ndjson")


class ListQuery(NamedTuple):
    filters: dict  # parameter name: clean value, as FILTERS reads it
    sort: tuple  # ((field, descending), ...), always ending with id: the order is total
    limit: int
    after: tuple | None  # the sort values of the song the page starts after (or ends before)
    count: bool
    given: list  # the (name, value) pairs as sent, but the cursor: what Link repeats
    fingerprint: str  # query_fingerprint(filters, sort), which the cursor carries
    before: bool = False  # the page ends before `after`: the previous page of a cursor's

    @property
    def walk(self):
        """The sort the page is read in: the list's, or backward for a page before."""
        return backward(self.sort) if self.before else self.sort

    def page_of(self, rows):
        """(the page, in the list's order, of rows read in `walk` with limit + 1, the row a
        next page would start after or None, the row a previous page would end before or
        None)."""
        more, page = len(rows) > self.limit, rows[: self.limit]
        if self.before:
            page.reverse()
            return page, page[-1] if page else None, page[0] if more else None
        start = page[0] if self.after is not None and page else None
        return page, page[-1] if more else None, start


def read_list_query(export=False):
    """The list's query, or with `export` an export's; a 400 Problem names every bad
    parameter at once."""
    parameters = EXPORT_PARAMETERS if export else LIST_PARAMETERS
    values, errors, pairs = read_query(parameters, lambda name: not_a_parameter(name, export))
    filters = {name: values[name] for name in FILTER_NAMES if name in values}
    sort = values.get("sort", DEFAULT_SORT)
    fingerprint = query_fingerprint(filters, sort)
    after, before = None, "before" in values.get("cursor", {})
    if "cursor" in values:
        after = cursor_position(values["cursor"], fingerprint, sort)
        if after is None:
            errors["cursor"] = (
                "was made for other filters or another sort; follow the Link header, "
                "or drop the cursor to start again"
            )
    if errors:
        raise problem_naming_each(400, "parameter", errors)
    return ListQuery(
        filters,
        sort,
        values.get("limit", PAGE_SIZE),
        after,
        values.get("count", False),
        [(name, value) for name, value in pairs if name != "cursor"],
        fingerprint,
        before,
    )


def read_query(parameters, unknown):
    """The query string read by `parameters` ({name: its reader}): (clean values by name,
    errors by name, the pairs as sent); `unknown(name)` says what is wrong with a name that
    is not among them. 400 if it is not UTF-8."""
    try:
        pairs = parse_qsl(request.query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Problem(400, "The query string is not valid UTF-8 once percent-decoded.") from None
    values, errors = {}, {}
    for name, value in pairs:
        read = parameters.get(name)
        if name in values or name in errors:
            errors.setdefault(name, "is given more than once")
        elif read is None:
            errors[name] = unknown(name)
        else:
            clean, problem = read(value)
            if problem:
                errors[name] = problem
            else:
                values[name] = clean
    return values, errors, pairs


def read_parameters(parameters, what):
    """The query string's clean values by name, read by `parameters`; a 400 names every bad
    parameter, and every name that is not one of `what`'s."""
    values, errors, _ = read_query(
        parameters, lambda name: f"is not a parameter of {what} ({', '.join(parameters)})"
    )
    if errors:
        raise problem_naming_each(400, "parameter", errors)
    return values


def not_a_parameter(name, export):
    if export and name in ("limit", "cursor"):
        return "does not apply to an export: it holds every matching song, in one answer"
    if not export and name == "format":
        return f"is not a parameter of this list: exports are at {' and '.join(EXPORT_PATHS)}"
    names = ", ".join(EXPORT_PARAMETERS if export else LIST_PARAMETERS)
    return f"is not a parameter of this {'export' if export else 'list'} ({names})"


def read_limit(value):
    if value.isascii() and value.isdigit() and len(value) <= 9 and 1 <= int(value) <= MAX_PAGE_SIZE:
        return int(value), None
    return None, f"must be a whole number from 1 to {MAX_PAGE_SIZE}"


def read_sort(value):
    """((field, descending), ...) ending with id, which breaks ties in the last key's direction.

    So sort=-x lists exactly the reverse of sort=x, and one index per field serves both.
    """
    keys, seen = [], set()
    for part in value.split(","):
        field = part.removeprefix("-")
        if field not in SORT_FIELDS:
            fields = ", ".join(SORT_FIELDS)
            return None, f'has "{part}", not one of {fields}, each with - for descending'
        if field in seen:
            return None, f"names {field} twice"
        if "id" in seen:
            return None, "must end at id: ids are unique, so no field after it could break a tie"
        seen.add(field)
        keys.append((field, part.startswith("-")))
    if "id" not in seen:
        keys.append(("id", keys[-1][1]))
    return tuple(keys), None


def read_flag(value):
    if value in ("true", "false"):
        return value == "true", None
    return None, "must be true or false"


def read_search(value):
    """A substring to find in artist or title, in NFC as they are; the trigram index needs
    three characters. (Each backend folds its case with search_key, as the songs' own.)"""
    bad = CONTROL_OR_SURROGATE.search(value)
    if bad:
        return None, f"must not contain a control character (U+{ord(bad.group()):04X})"
    value = unicodedata.normalize("NFC", value)
    if not MIN_SEARCH_LENGTH <= len(value) <= MAX_TEXT_LENGTH:
        return None, f"must be {MIN_SEARCH_LENGTH} to {MAX_TEXT_LENGTH} characters long"
    return value, None


def read_integers(field):
    """A filter's reader of one value of an integer field, or several separated by commas."""

    def read(value):
        numbers = [plain_number(part) for part in value.split(",")]
        if all(n is not None and field.low <= n <= field.high for n in numbers):
            return tuple(sorted(set(numbers))), None
        return None, (
            f"must be a {field.name} from {field.low} to {field.high}, or several separated by "
            "commas (4,5)"
        )

    return read


def read_integer(field):
    """A filter's reader of an integer bound."""

    def read(value):
        number = plain_number(value)
        if number is not None and field.low <= number <= field.high:
            return number, None
        return None, f"must be a whole number from {field.low} to {field.high}"

    return read


RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def read_time(value, round_up):
    """An RFC 3339 date-time as the stored timestamps write it, in UTC to the millisecond.

    Stored times are whole milliseconds, so a bound with a finer fraction is rounded down
    for a strict "after" and up for a strict "before" (`round_up`): the same songs match.
    A leap second (:60) is the last instant of its minute.
    """
    match = RFC3339.fullmatch(value)
    problem = (
        "must be an RFC 3339 date-time such as 2026-11-24T10:00:00Z "
        "(in a URL, write + in an offset as %2B)"
    )
    if match is None:
        return None, problem
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    fraction = fraction or ""
    millisecond, finer = int(fraction[:3].ljust(3, "0")), fraction[3:].strip("0") != ""
    if second == "60":
        second, millisecond, finer = "59", 999, True
    try:
        zone = timezone.utc
        if offset not in ("Z", "z"):
            hours, minutes = int(offset[1:3]), int(offset[4:])
            if minutes > 59:
                raise ValueError(offset)
            zone = timezone(
                (-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
            )
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            millisecond * 1000,
            tzinfo=zone,
        ) + timedelta(milliseconds=int(finer and round_up))
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None, f"{problem}, a real one between the years 0001 and 9999"
    return timestamp(moment), None


def plain_number(value):
    """The number that `value` writes in plain decimal digits (no leading zero), else None."""
    number = decimal_digits(value)
    return number if str(number) == value else None


def filter_reader(field, how):
    """What reads a filter's value: by its field's kind, and how it compares (songs/song.py)."""
    if field.kind == "text":
        return lambda value: check_text(value, field.high)
    if field.kind == "integer":
        return read_integers(field) if how == "in" else read_integer(field)
    return lambda value: read_time(value, round_up=how == "<")  # a time: after (>), before (<)


FILTER_NAMES = ("q", *FILTERS)
LIST_PARAMETERS = {
    "limit": read_limit,
    "cursor": read_cursor,  # and once the filters and sort are known, cursor_position
    "sort": read_sort,
    "count": read_flag,
    "q": read_search,
    **{name: filter_reader(field, how) for name, (field, how) in FILTERS.items()},
}
EXPORT_PARAMETERS = {
    name: read for name, read in LIST_PARAMETERS.items() if name not in ("limit", "cursor")
}


def page_queries(query, last_song, first_song=None):
    """The query strings of the first page, of the next (after `last_song`, when there is
    more) and of the previous (before `first_song`, when there is one): the filters and
    sort kept (the list's Link header, and the songs page's)."""
    first = urlencode(
        [*(pair for pair in query.given if pair[0] != "limit"), ("limit", query.limit)]
    )

    def beside(song, before):
        if song is None:
            return None
        position = [song[field] for field, _ in query.sort]
        return f"{first}&cursor={encode_cursor(position, query.fingerprint, before)}"

    return first, beside(last_song, False), beside(first_song, True)  # a cursor is URL-safe


def list_links(query, last_song, first_song=None):
    """RFC 8288 Link: next when there is more, prev when there is a page before, first."""
    first, following, previous = page_queries(query, last_song, first_song)
    links = [(following, "next"), (previous, "prev"), (first, "first")]
    return ", ".join(f'</api/songs?{link}>; rel="{rel}"' for link, rel in links if link)
