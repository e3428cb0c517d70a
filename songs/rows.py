"""The songs page's parts: its table, a row a song (a box to select it, with its ETag, which
travels with the selection: songs/bulk.py; its title linked to its page, its artist to the
list of the artist's songs; the rest as text), and the days its form's date fields send.
"""

import functools
import html
import re
from datetime import date, timedelta
from urllib.parse import quote_plus

from songs.conditional import entity_tag
from songs.song import SHOWN_FIELDS, SONG_FIELDS
from songs.storage.common import SELECT_COLUMNS

LINKED = "title"  # the column that links to each song's page
FILTERING = "artist"  # the column that links to the list of songs with the same value
SHOWN = tuple(
    (field.name, f"{field.label} (UTC)" if field.kind == "time" else field.label)
    for field in SHOWN_FIELDS
)  # the songs table's columns: (field, heading)


def table_rows_function(fields, selectable):
    """The songs table's rows as HTML, made here rather than in the template: SimpleTemplate's
    per-value calls would cost a page of 100 songs as much again as the rest of it. One
    f-string a row, written once from `fields` (as dataclasses writes its __init__): a call
    a cell cost a page of 100 songs 180 µs, the f-string 80. Text is escaped; ids, integers
    and the stored timestamps (schema.sql's CHECKs) are digits and punctuation that need no
    escaping, and so are an ETag's hex digits and quote_plus's URL. `selectable`: with a
    box to select each song, for a visitor who may write."""
    song_id, title = (f"r[{SONG_FIELDS.index(name)}]" for name in ("id", LINKED))
    cells = [
        f'<td class="pick"><input type="checkbox" name="pick-{{{song_id}}}" value="1" '
        f'aria-label="Select {{escape({title})}}"><input type="hidden" '
        f'name="etag-{{{song_id}}}" value="{{etag_of(r)}}"></td>'
    ][: int(selectable)]
    for field in fields:
        value = f"r[{SONG_FIELDS.index(field.name)}]"
        if field.name == LINKED:
            cells.append(f'<td><a href="/songs/{{{song_id}}}">{{escape({value})}}</a></td>')
        elif field.name == FILTERING:
            link = f"/?{field.name}={{quote_plus({value})}}"
            cells.append(f'<td><a href="{link}">{{escape({value})}}</a></td>')
        elif field.kind == "text":
            cells.append(f"<td>{{escape({value})}}</td>")
        elif field.kind == "time":
            shown = f"{{{value}[:10]}} {{{value}[11:16]}}"
            cells.append(f'<td><time datetime="{{{value}}}">{shown}</time></td>')
        else:
            cells.append(f"<td>{{{value}}}</td>")
    row = "".join(["<tr>", *cells, "</tr>"])
    names = {"escape": escape, "quote_plus": artist_query, "etag_of": etag_of}
    return eval(f"lambda rows: ''.join([f'{row}\\n' for r in rows])", names)


def etag_of(row):
    """A row's song's ETag without its quotes, hex digits for a form's value, from the song's
    JSON that the database wrote last in the row (etag_columns): the bytes GET answers,
    digested as conditional.py's entity_tag does, without a dict and json.dumps a song."""
    return entity_tag(row[-1].encode())[1:-1]


def etag_columns(conn):
    """The columns of a page whose rows can be selected: a song's, then its JSON text."""
    return f"{SELECT_COLUMNS}, {conn.song_json}"


artist_query = functools.lru_cache(maxsize=4096)(quote_plus)  # a page repeats its artists


def escape(value):
    """{{ }}'s escape, as Bottle's but for &, <, >, " and ' only, and only when there is one:
    most values are numbers and plain words, and a page of songs holds hundreds of them."""
    text = value if type(value) is str else str(value)
    return html.escape(text) if NEEDS_ESCAPING.search(text) else text


NEEDS_ESCAPING = re.compile("[&<>\"']")
table_rows = table_rows_function(SHOWN_FIELDS, selectable=False)
selectable_rows = table_rows_function(SHOWN_FIELDS, selectable=True)


def as_bound(name, value):
    """A date from the form's "added from" and "added until" as the API's bound that takes
    the whole day in (UTC): created_after the day before's last instant, created_before the
    next day's first; any other value as it is."""
    if name not in DAY_BOUNDS or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    try:
        day = date.fromisoformat(value) + timedelta(days=DAY_BOUNDS[name])
    except (ValueError, OverflowError):
        return value  # the list names it as a bad value
    return f"{day.isoformat()}T{'23:59:59.999' if name == 'created_after' else '00:00:00.000'}Z"


def shown_day(name, bound):
    """The day the form shows for a bound as_bound made, or the bound's own date."""
    day = bound[:10]
    if bound[10:] in ("T23:59:59.999Z", "T00:00:00.000Z") and re.fullmatch(r"[0-9-]{10}", day):
        try:
            return (date.fromisoformat(day) - timedelta(days=DAY_BOUNDS[name])).isoformat()
        except (ValueError, OverflowError):
            pass
    return day


DAY_BOUNDS = {"created_after": -1, "created_before": 1}
