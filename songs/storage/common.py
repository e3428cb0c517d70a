"""What both backends and the queries share: the schema's version and files, a song's
columns (songs/song.py declares its fields), the lock wait, and the two errors the service
answers."""

import unicodedata
from pathlib import Path

from songs.song import FIELDS, SONG_FIELDS, SORT_FIELDS, TEXT_FIELDS

ROOT = Path(__file__).resolve().parents[2]  # where schema.sql is, beside service.py
SQLITE_SCHEMA = ROOT / "schema.sql"
POSTGRES_SCHEMA = ROOT / "schema-postgres.sql"
BASELINE_VERSION = 5  # schema.sql's user_version, schema-postgres.sql's schema_version


BUSY_TIMEOUT_SECONDS = 5.0
# A statement not answered in this long is abandoned, its connection closed (PostgreSQL):
# past the lock wait, so that only an answer that is not coming is given up.
ANSWER_DEADLINE_SECONDS = BUSY_TIMEOUT_SECONDS + 2
# While the database is silent, one request at a time spends this long trying to connect;
# a request that waited for a thread behind a deadline is still answered within the bound.
RECONNECT_SECONDS = 2  # libpq's least connect_timeout
ANSWER_BOUND_SECONDS = ANSWER_DEADLINE_SECONDS + RECONNECT_SECONDS + 1  # docs/operating.md
# From the moment a worker's thread could take it, a request's statements end within this:
# whatever they waited for, it is answered within the bound.
REQUEST_BUDGET_SECONDS = ANSWER_BOUND_SECONDS - 1
SELECT_COLUMNS = ", ".join(SONG_FIELDS)
# Text is compared and sorted case-insensitively (ASCII letters); q searches its keys.
KEY_FIELDS = tuple(f"{field}_key" for field in TEXT_FIELDS)  # search_key of each
INDEXED_COLUMNS = set(SORT_FIELDS) - {"id"}  # songs_by_<column>, schema.sql
EXPORT_BATCH = 1000  # songs per query, per fetch and per chunk of an export


def song_json_sql(quote):
    """SQL of a song's JSON text, byte for byte as songs/wire.py writes the song (json.dumps,
    ensure_ascii=False): its fields in order, ", " and ": " between, numbers as digits, and
    strings as `quote(column)` makes them (the backend's JSON string: it escapes " and \\,
    and schema.sql lets no control character in). A page's rows then need no dict each, nor
    json.dumps: the database writes each song's text as it reads it.
    """
    members = [
        f"'{', ' if n else '{'}\"{field.name}\": ' || "
        + (field.name if field.kind in ("id", "integer") else quote(field.name))
        for n, field in enumerate(FIELDS)
    ]
    return " || ".join([*members, "'}'"])


def log_json_sql(quote):
    """SQL of a change log row's JSON text, in a song's history and in the feed, with the
    song's text as the log keeps it and the separators of json.dumps: (a version's, a
    change's). A change's song is null for a delete: a tombstone."""
    common = f"', \"at\": ' || {quote('at')} || ', \"actor\": ' || {quote('actor')}"
    version = (
        "'{\"version\": ' || version || ', \"op\": \"' || op || '\"' || "
        f"{common} || ', \"request_id\": ' || COALESCE({quote('request_id')}, 'null')"
        " || ', \"song\": ' || song || '}'"
    )
    change = (
        '\'{"cursor": "\' || position || \'", "op": "\' || op || \'", "id": \' || song_id'
        f" || ', \"version\": ' || version || {common}"
        " || ', \"song\": ' || CASE WHEN op = 'delete' THEN 'null' ELSE song END || '}'"
    )
    return version, change


def sqlite_quote(column):
    return f"json_quote({column})"


def postgres_quote(column):
    return f"to_json({column})::text"


SQLITE_SONG_JSON, POSTGRES_SONG_JSON = song_json_sql(sqlite_quote), song_json_sql(postgres_quote)
SQLITE_LOG_JSON, POSTGRES_LOG_JSON = log_json_sql(sqlite_quote), log_json_sql(postgres_quote)


class Unavailable(Exception):
    """The database cannot answer now (busy, restarting, unreachable); a retry may succeed.
    Its cause, for the metrics: busy (a lock held too long), deadline (the database slower
    than the request's bound), or unavailable (out of reach, unreadable or unwritable)."""

    def __init__(self, message, cause="unavailable"):
        super().__init__(message)
        self.cause = cause


class Refused(Unavailable):
    """The database refuses this service for good (no such database or role, a wrong
    password): requests are still 503s, but `init-db` stops, as no retry can succeed."""


class BrokenConstraint(Exception):
    """A write broke a constraint of the schema: the service's validation let a bad song by."""


def search_key(text):
    """What q finds a song's artist or title by, and a search term is folded to: the text's
    full Unicode case folding (Python's casefold: İ, ẞ and ß, Σ and ς, ﬁ and fi), in NFC.

    Computed here and stored beside the text (songs.artist_key, songs.title_key), so that
    both backends search one folding, not SQLite's FTS5 and PostgreSQL's locale each theirs.
    """
    return unicodedata.normalize("NFC", text.casefold())


def composed_and_keyed(*texts):
    """The texts (a song's TEXT_FIELDS, in order) in NFC, as the service writes them, then their
    search keys (rows from before schema version 5, or from elsewhere, may hold other forms)."""
    composed = [unicodedata.normalize("NFC", text) for text in texts]
    return (*composed, *map(search_key, composed))
