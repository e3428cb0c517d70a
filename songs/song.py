"""What a song is: its fields, declared once, in one table.

Validation, the SQL's columns, the list's sort and filters, cursors, the exports, the pages'
table and forms, the seed and the commands follow this table; tests/test_contract.py holds
the OpenAPI document to it. A new field also needs a schema step that adds its column, CHECK
and index (songs/storage/migrations.py), and its schemas in openapi.json: docs/changing.md,
"Adding a field".

This module imports nothing of the service, so that storage may follow it too.
"""

from typing import NamedTuple

MAX_SONG_ID = 2**63 - 1  # SQLite's largest INTEGER


class Field(NamedTuple):
    name: str
    kind: str  # "id", "text", "integer" or "time": how it is checked, compared and shown
    label: str  # its name for people: the pages' column heading and form label
    writable: bool = False  # sent by clients; else the service sets it
    low: int = 1  # the least an integer may be, or the fewest characters of a text
    high: int = 0  # the most an integer may be, or the most characters of a text
    shown: bool = False  # a column of the songs page's table
    filters: tuple = ()  # (parameter of the list, its comparison) for each filter on it


FIELDS = (
    Field("id", "id", "Id", high=MAX_SONG_ID),
    Field("artist", "text", "Artist", True, high=500, shown=True, filters=(("artist", "="),)),
    Field("title", "text", "Title", True, high=500, shown=True, filters=(("title", "="),)),
    Field(
        "rating",
        "integer",
        "Rating",
        writable=True,
        high=5,
        shown=True,
        filters=(("rating", "in"), ("min_rating", ">="), ("max_rating", "<=")),
    ),
    Field("created_at", "time", "Added", filters=(("created_after", ">"), ("created_before", "<"))),
    Field(
        "updated_at",
        "time",
        "Last change",
        shown=True,
        filters=(("updated_after", ">"), ("updated_before", "<")),
    ),
)
BY_NAME = {field.name: field for field in FIELDS}

SONG_FIELDS = tuple(field.name for field in FIELDS)  # a song's members and columns, in order
WRITABLE_FIELDS = tuple(field.name for field in FIELDS if field.writable)
READ_ONLY_FIELDS = tuple(field.name for field in FIELDS if not field.writable)  # set by it
TEXT_FIELDS = tuple(field.name for field in FIELDS if field.kind == "text")
SORT_FIELDS = SONG_FIELDS  # every field sorts, each by its own index, songs_by_<field>
SHOWN_FIELDS = tuple(field for field in FIELDS if field.shown)
FILTERS = {parameter: (field, how) for field in FIELDS for parameter, how in field.filters}
MAX_TEXT_LENGTH = max(field.high for field in FIELDS if field.kind == "text")
RATING = BY_NAME["rating"]  # the chart of the songs page, and the counts kept per rating
RATINGS = tuple(range(RATING.low, RATING.high + 1))


def in_words(names):
    """ "artist, title and rating" for ("artist", "title", "rating")."""
    *rest, last = names
    return f"{', '.join(rest)} and {last}" if rest else last
