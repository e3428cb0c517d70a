"""The few fragments of SQL in which PostgreSQL's dialect differs from SQLite's, for the
queries of songs/storage/queries.py and the locks of its writers (PostgresConnection has
them)."""

import functools

from songs.storage.common import POSTGRES_LOG_JSON, POSTGRES_SONG_JSON, TEXT_FIELDS, search_key


@functools.lru_cache(maxsize=4096)
def postgres_sql(sql):
    """The service's SQL with psycopg's placeholders: ? becomes %s, and a % is doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


# The change log's lock (storage/history.py), one for each schema: each writer of the log
# holds it shared (writers never wait for each other, so their commits share a flush), and
# a reader that finds a position missing takes it alone, which waits for the writers in
# flight (changes_after). Services in other schemas of the database take locks of their own.
LOG_LOCK = "711560042, hashtext(current_schema())"


class PostgresDialect:
    song_json = POSTGRES_SONG_JSON
    version_json, change_json = POSTGRES_LOG_JSON  # storage/history.py
    streams = True  # exports read one server-side cursor (PostgresConnection.stream)
    lock_row = " FOR UPDATE"  # a writer's read locks the row until it commits
    lock_songs = "LOCK TABLE songs IN SHARE ROW EXCLUSIVE MODE"  # writers wait, readers not
    lock_log = f"SELECT pg_advisory_xact_lock_shared({LOG_LOCK})"
    wait_for_log = f"SELECT pg_advisory_xact_lock({LOG_LOCK})"
    shapes_plans = True  # see song_queries
    logs_in_statement = True  # a write and its record in the change log (write_logged)

    @staticmethod
    def compare(field, operator, indexed):
        """`field operator ?`; text folds ASCII letters only and compares bytes, as NOCASE."""
        if field in TEXT_FIELDS:
            return f'songs_nocase({field}) COLLATE "C" {operator} songs_nocase(?)'
        return f"{field} {operator} ?"

    @staticmethod
    def operand(column, indexed):
        return column  # PostgreSQL's planner weighs the indexes with its statistics

    @staticmethod
    def sort_expression(field):
        return f'songs_nocase({field}) COLLATE "C"' if field in TEXT_FIELDS else field

    @staticmethod
    def search_term(value):
        """The songs whose artist or title holds `value`, both folded by search_key, from the
        pg_trgm GIN indexes of the keys."""
        key = search_key(value)
        pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return "(artist_key LIKE ? OR title_key LIKE ?)", [pattern, pattern]

    @staticmethod
    def index_hint(driver):
        return ""

    def schema_version(self):
        """The version schema-postgres.sql recorded in the current schema, 0 when none."""
        table = self.execute(
            "SELECT to_regclass(format('%I.schema_version', current_schema()))"
        ).fetchone()[0]
        if table is None:
            return 0
        return self.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

    def lock_key(self, key):
        """Retries of one Idempotency-Key take turns: the second waits, then finds the first's."""
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))
