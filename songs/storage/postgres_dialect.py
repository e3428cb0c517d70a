"""The few fragments of SQL in which PostgreSQL's dialect differs from SQLite's, for the
queries of songs/storage/queries.py (PostgresConnection has them)."""

import functools

from songs.storage.common import POSTGRES_LOG_JSON, POSTGRES_SONG_JSON, TEXT_FIELDS, search_key


@functools.lru_cache(maxsize=4096)
def postgres_sql(sql):
    """The service's SQL with psycopg's placeholders: ? becomes %s, and a % is doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDialect:
    song_json = POSTGRES_SONG_JSON
    version_json, change_json = POSTGRES_LOG_JSON  # storage/history.py

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
