"""Where the songs are kept: a SQLite file (the default) or PostgreSQL, as DATABASE_URL says.

open_database(url) gives a Database: a connection per thread, opened on first use (so after
gunicorn forks) and kept; write_transaction() for the writes; init_schema() to create or
upgrade the schema from schema.sql or schema-postgres.sql. The two backends' connections
speak one interface: execute(sql, parameters) with ? placeholders, and the few fragments of
SQL in which the dialects differ (compare, sort_expression, search_term, ...). Every value
reaches SQL as a bound parameter; only the fragments below are formatted into statements.

Passing trouble (a busy SQLite file, a PostgreSQL server restarting or out of reach) is
raised as Unavailable, which the service answers with 503 and Retry-After.
"""

import fcntl
import functools
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

SCHEMA_VERSION = 3  # schema.sql's user_version, and schema-postgres.sql's schema_version
SQLITE_SCHEMA = Path(__file__).with_name("schema.sql")
POSTGRES_SCHEMA = Path(__file__).with_name("schema-postgres.sql")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # some platforms hand out the short one
BUSY_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5
SCHEMA_LOCK = 7_115_600_421_093  # the advisory lock that lets one process at a time apply it
SONG_FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")
SELECT_COLUMNS = ", ".join(SONG_FIELDS)
RATINGS = (1, 2, 3, 4, 5)
TEXT_FIELDS = ("artist", "title")  # compared and sorted case-insensitively (ASCII letters)
EXPORT_BATCH = 1000  # songs per query, per fetch and per chunk of an export


class Unavailable(Exception):
    """The database cannot answer now (busy, restarting, unreachable); a retry may succeed."""


class BrokenConstraint(Exception):
    """A write broke a constraint of the schema: the service's validation let a bad song by."""


def open_database(url):
    """The Database DATABASE_URL names: sqlite:///FILE, or postgresql:// (or postgres://)."""
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(url)
    return SQLiteDatabase(sqlite_path(url))


def sqlite_path(database_url):
    """The file of a URL: sqlite:///songs.db is relative, sqlite:////srv/songs.db absolute."""
    prefix = "sqlite:///"
    path = database_url[len(prefix) :] if database_url.startswith(prefix) else ""
    if not path or path == ":memory:" or "?" in path:
        shown = database_url if database_url.startswith("sqlite:") else "a URL of another kind"
        raise ValueError(  # anything but a SQLite URL may hold a password: it is not shown
            "DATABASE_URL must name a SQLite file, as sqlite:///songs.db (relative) or "
            "sqlite:////var/lib/songs.db (absolute), or a PostgreSQL database, as "
            f"postgresql://user:password@host:5432/songs; got {shown!r}"
        )
    return path


# SQLite


class SQLiteDatabase:
    """One SQLite file in WAL mode; its writers take turns on a file lock.

    Each thread keeps its connection while the file at `path` is the one it opened and was
    writable when opened; otherwise (the file replaced, removed, or made writable again)
    the next write opens it anew, so a fault of the file lasts no longer than the fault.
    """

    def __init__(self, path):
        self.path = path
        self.name = path
        self.local = threading.local()

    def connection(self):
        local = self.local
        if getattr(local, "conn", None) is None:
            try:
                # mode=rw: a file that has gone is an error, never a new empty database.
                local.conn = connect_sqlite(self.path, mode="rw")
                # A descriptor per thread, as flock() locks belong to the open file. A file of
                # its own, as closing a descriptor of the database drops SQLite's POSIX locks.
                local.writer_lock = open(self.path + "-writelock", "ab")
            except (sqlite3.Error, OSError) as error:
                self.close()
                raise Unavailable(f"The database cannot be opened: {error}") from error
            local.opened = file_identity(self.path), writable(self.path)
        return local.conn

    @contextmanager
    def write_transaction(self):
        """BEGIN IMMEDIATE … COMMIT on this thread's connection, the service's writers in turn.

        Writers queue on a file lock before SQLite's: a writer tries it every 0.1 to 0.5 ms,
        where SQLite's busy handler sleeps 1, 2, 5 ms and more between tries while the lock
        may be free (bench/results.md). SQLite's lock still arbitrates with anything else
        that writes, and a process that dies releases its file lock with it. The two waits
        together last at most BUSY_TIMEOUT_SECONDS: then the write is Unavailable.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        self.check_file()
        conn, lock = self.local.conn, self.local.writer_lock
        if not lock_until(lock, deadline):
            raise Unavailable("The database is busy; try again.")
        faulty = False  # the file failed to be written: this connection is let go after
        left = max(1, int((deadline - time.monotonic()) * 1000))
        shortened = left < BUSY_TIMEOUT_SECONDS * 1000 - 50  # the file lock took some of it
        try:
            if shortened:
                conn.execute(f"PRAGMA busy_timeout = {left}")
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as error:
            raise BrokenConstraint(str(error)) from error
        except sqlite3.OperationalError as error:
            faulty = is_file_fault(error)
            if faulty:
                raise Unavailable(f"The database file cannot be written now. ({error})") from error
            if is_busy(error):
                raise Unavailable("The database is busy; try again.") from error
            raise
        finally:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if shortened and not faulty:
                    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            except sqlite3.Error:
                faulty = True
            fcntl.flock(lock, fcntl.LOCK_UN)
            if faulty:  # so that the next write opens the file again, once the fault is over
                self.close()

    def check_file(self):
        """Open this thread's connection, anew if the file changed since; Unavailable if the
        file is gone or cannot be written."""
        self.connection()
        if self.local.opened != (file_identity(self.path), True):
            self.close()
            self.connection()
            if self.local.opened[0] is None:
                raise Unavailable("The database file has gone; nothing can be stored.")
            if not self.local.opened[1]:
                raise Unavailable("The database file cannot be written now; try again.")

    def init_schema(self):
        """Apply schema.sql and switch to WAL, unless the file has both already: then nothing is
        written. Idempotent, and safe for processes starting at once."""
        if sqlite3.sqlite_version_info < (3, 37):
            raise RuntimeError(
                f"SQLite 3.37 or later is needed (STRICT tables); this is {sqlite3.sqlite_version}"
            )
        try:
            conn = connect_sqlite(self.path, mode="rwc")
        except sqlite3.OperationalError as error:
            raise RuntimeError(
                f"{self.path}: the database file cannot be opened ({error})"
            ) from None
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if current == SCHEMA_VERSION and journal == "wal":
                return
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{SQLITE_SCHEMA.read_text()}\nCOMMIT;")
            except sqlite3.OperationalError as error:
                if "fts5" not in str(error):
                    raise
                message = f"SQLite with FTS5 is needed (for q); this one has not: {error}"
                raise RuntimeError(message) from error
            # Changing the journal mode does not wait on the busy timeout, so workers racing
            # to convert a new file get "database is locked" at once: retry until the timeout.
            deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
            while True:
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    def ping(self):
        """Unavailable unless this file can be read and written (for /healthz)."""
        self.check_file()
        self.local.conn.ping()

    def backup(self, target, progress=None):
        """Copy the database to a new file through SQLite's online backup API; its song count.

        In WAL mode the copy reads one snapshot and blocks no writer. It is written beside
        `target` under a name holding this process's id, and linked into place only once it
        passes its integrity check, never over a file that appeared meanwhile. Copies left
        by a backup that was killed (SIGKILL leaves no chance to clean up) are removed by
        the next one. `progress` is sqlite3's backup callback.
        """
        folder, name = os.path.split(os.path.abspath(target))
        remove_abandoned_copies(folder)
        partial = os.path.join(folder, f".{name}.{os.getpid()}.partial")
        copy = sqlite3.connect(partial)
        try:
            self.connection().backup(copy, progress=progress)
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            count = copy.execute("SELECT count(*) FROM songs").fetchone()[0]
            copy.close()
            if check != "ok":
                raise ValueError(f"the copy failed its integrity check ({check}); nothing was kept")
            try:
                os.link(partial, target)
            except FileExistsError:
                raise ValueError(
                    f"{target} appeared during the copy; it is kept as it was, and the copy dropped"
                ) from None
        finally:
            copy.close()
            Path(partial).unlink(missing_ok=True)
        return count

    def close(self):
        """Close the calling thread's connection, if it has one."""
        for name in ("conn", "writer_lock"):
            resource = getattr(self.local, name, None)
            if resource is not None:
                resource.close()
            setattr(self.local, name, None)


def remove_abandoned_copies(folder):
    """The .partial files of backups into `folder` whose process no longer runs."""
    for partial in Path(folder).glob(".*.partial"):
        pid = partial.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not process_runs(int(pid)):
            partial.unlink(missing_ok=True)


def process_runs(pid):
    try:
        os.kill(pid, 0)  # no signal: only whether there is such a process
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def connect_sqlite(path, mode):
    """A connection in autocommit mode (transactions are explicit) that waits for the write lock.

    `mode` is SQLite's: rw opens an existing file only, rwc creates it if missing.
    """
    conn = sqlite3.connect(
        f"file:{quote(os.path.abspath(path))}?mode={mode}",
        uri=True,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_SECONDS,
        factory=SQLiteConnection,
    )
    conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode; durable across process crashes
    return conn


FILE_FAULTS = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
FILE_FAULT_MESSAGES = (  # Python 3.10 has no sqlite_errorname
    "attempt to write a readonly database",
    "disk I/O error",
    "database or disk is full",
    "unable to open database file",
)


def is_busy(error):
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(error)


def is_file_fault(error):
    """Whether SQLite failed to write the file: read-only, an I/O error, a full disk."""
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(FILE_FAULTS) or str(error).startswith(FILE_FAULT_MESSAGES)


def file_identity(path):
    """(device, inode) of the file at `path`, or None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def writable(path):
    """Whether this process can write the database file, and its WAL when there is one."""
    wal = path + "-wal"
    return os.access(path, os.W_OK) and (not os.path.exists(wal) or os.access(wal, os.W_OK))


def lock_until(lock, deadline):
    """flock(LOCK_EX) that gives up at `deadline` (False): flock itself cannot time out, so
    it is tried without blocking, at pauses growing from 0.1 ms to 0.5 ms."""
    pause = 0.0001
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.0005)


class SQLiteConnection(sqlite3.Connection):
    """sqlite3's own connection, with SQLite's side of the fragments that differ."""

    streams = False  # exports page by keyset (song_batches)
    lock_row = ""  # BEGIN IMMEDIATE has locked the whole database already
    shapes_plans = False  # INDEXED BY names the walk instead (song_queries)

    @staticmethod
    def compare(field, operator, indexed):
        """`field operator ?`, case-insensitive for text; + keeps an unwalked column's index out."""
        operand = field if field in indexed else f"+{field}"
        collation = " COLLATE NOCASE" if field in TEXT_FIELDS else ""
        return f"{operand} {operator} ?{collation}"

    @staticmethod
    def operand(column, indexed):
        """The column, or +column: SQLite's unary + keeps a term from choosing its index
        (sqlite.org/optoverview.html), so the planner walks the one the page needs."""
        return column if column in indexed else f"+{column}"

    @staticmethod
    def sort_expression(field):
        return f"{field} COLLATE NOCASE" if field in TEXT_FIELDS else field

    @staticmethod
    def search_term(value):
        """The songs whose artist or title holds `value`, from the FTS5 trigram index."""
        phrase = '"' + value.replace('"', '""') + '"'  # one phrase: the substring
        return "id IN (SELECT rowid FROM songs_search WHERE songs_search MATCH ?)", [phrase]

    @staticmethod
    def index_hint(driver):
        # The planner would sort a whole table rather than walk an index whose order only
        # starts the sort's, so the walk is named.
        return f" INDEXED BY songs_by_{driver}" if driver in INDEXED_COLUMNS else ""

    def lock_key(self, key):
        """Nothing: BEGIN IMMEDIATE already serializes the writers, retries among them."""

    def insert_rows(self, table, columns, rows):
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def ping(self):
        try:
            self.execute("SELECT 1 FROM songs LIMIT 1").fetchall()
        except sqlite3.Error as error:
            raise Unavailable(f"The database cannot be read: {error}") from error


# PostgreSQL


def import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise RuntimeError(
            "DATABASE_URL names a PostgreSQL database, which needs psycopg: "
            "pip install -r requirements-postgres.txt"
        ) from None
    return psycopg


class PostgresDatabase:
    """One PostgreSQL database: a connection per thread, made again whenever one has died."""

    def __init__(self, url):
        psycopg = import_psycopg()
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:  # libpq's message quotes the URL, password and all
            raise ValueError(
                "DATABASE_URL is not a PostgreSQL URL that libpq can read, such as "
                "postgresql://user:password@host:5432/songs (the value is not shown: it may "
                "hold a password; a password with @, : or / needs them percent-encoded)"
            ) from None
        self.url = url
        self.name = (  # no user and no password: this is shown and logged
            f"PostgreSQL database {params.get('dbname', '')} on "
            f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        )
        self.local = threading.local()

    def connection(self):
        local = self.local
        if getattr(local, "conn", None) is None:
            local.conn = PostgresConnection(self.url)
        return local.conn

    @contextmanager
    def write_transaction(self):
        """BEGIN … COMMIT; rows a writer reads to change are locked FOR UPDATE (lock_row)."""
        psycopg = import_psycopg()
        conn = self.connection()
        conn.begin()
        try:
            yield conn
            conn.execute("COMMIT")
        except psycopg.IntegrityError as error:
            raise BrokenConstraint(str(error)) from error
        finally:
            conn.end_transaction()

    def init_schema(self):
        """Apply schema-postgres.sql unless the database has this version of it already.

        One process at a time (an advisory lock), in one transaction: a deploy's release
        step and web processes starting at once cannot trip over each other.
        """
        conn = PostgresConnection(self.url)
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            if conn.schema_version() < SCHEMA_VERSION:
                conn.raw.execute(POSTGRES_SCHEMA.read_text())  # no parameters: a script
            conn.execute("COMMIT")
        finally:
            conn.close()

    def ping(self):
        """Unavailable unless the database answers a read of songs (for /healthz)."""
        self.connection().ping()

    def close(self):
        local = self.local
        if getattr(local, "conn", None) is not None:
            local.conn.close()
            local.conn = None


@functools.lru_cache(maxsize=4096)
def postgres_sql(sql):
    """The service's SQL with psycopg's placeholders: ? becomes %s, and a % is doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresConnection:
    """psycopg 3 behind the interface of SQLiteConnection, in autocommit mode.

    A connection the server dropped (a restart, a failover, an idle timeout) is made again
    by the next statement; one that found it dead outside a transaction had changed nothing,
    so it runs once more on the new connection. Else the trouble is raised as Unavailable.
    """

    streams = True  # exports read one server-side cursor (stream)
    lock_row = " FOR UPDATE"  # a writer's read locks the row until it commits
    shapes_plans = True  # see song_queries

    def __init__(self, url):
        self.psycopg = import_psycopg()
        self.url = url
        self.raw = None
        self.begin_pending = False

    def connect(self):
        options = {"autocommit": True}
        if "connect_timeout" not in self.url:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        try:
            self.raw = self.psycopg.connect(self.url, **options)
            # lock_timeout as SQLite's busy timeout: a write kept from its lock this long is a
            # 503 to retry. Custom plans: psycopg prepares a statement run often, and a generic
            # plan cannot see how few songs a q pattern or a rating picks, so it would walk the
            # whole table by id rather than read the matches from their index.
            self.raw.execute(
                f"SET lock_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)};"
                " SET plan_cache_mode = force_custom_plan"
            )
        except self.psycopg.OperationalError as error:
            raise Unavailable(f"The database cannot be reached; try again. ({error})") from error

    def execute(self, sql, params=()):
        sql = postgres_sql(sql)
        fresh = self.raw is None or self.raw.closed
        if fresh:
            self.connect()
        idle = self.raw.info.transaction_status == self.psycopg.pq.TransactionStatus.IDLE
        try:
            return self.send(sql, params)
        except self.psycopg.OperationalError as error:
            if fresh or not idle or not self.raw.closed:
                raise self.unavailable(error) from error
        self.connect()
        try:
            return self.send(sql, params)
        except self.psycopg.OperationalError as error:
            raise self.unavailable(error) from error

    def begin(self):
        """Start a transaction with its first statement, sent together: a round trip fewer."""
        self.begin_pending = True

    def send(self, sql, params):
        if not self.begin_pending:
            return self.raw.execute(sql, params)
        with self.raw.pipeline():
            self.raw.execute("BEGIN")
            cursor = self.raw.execute(sql, params)
        self.begin_pending = False
        return cursor

    def unavailable(self, error):
        if isinstance(error, self.psycopg.errors.LockNotAvailable):
            return Unavailable(f"The database is busy; try again. ({error})")
        return Unavailable(f"The database failed; try again. ({error})")

    def end_transaction(self):
        """Roll back whatever is still open, as after a failure; a dead connection is let go."""
        self.begin_pending = False
        if self.raw is None or self.raw.closed:
            return
        if self.raw.info.transaction_status != self.psycopg.pq.TransactionStatus.IDLE:
            try:
                self.raw.execute("ROLLBACK")
            except self.psycopg.OperationalError:
                self.raw.close()

    def close(self):
        if self.raw is not None:
            self.raw.close()
            self.raw = None

    def schema_version(self):
        """The version schema-postgres.sql recorded in the current schema, 0 when none."""
        table = self.execute(
            "SELECT to_regclass(format('%I.schema_version', current_schema()))"
        ).fetchone()[0]
        if table is None:
            return 0
        return self.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

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
        """The songs whose artist or title holds `value`, from the pg_trgm GIN index."""
        pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return "(artist ILIKE ? OR title ILIKE ?)", [pattern, pattern]

    @staticmethod
    def index_hint(driver):
        return ""

    def lock_key(self, key):
        """Retries of one Idempotency-Key take turns: the second waits, then finds the first's."""
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    def insert_rows(self, table, columns, rows):
        if self.raw is None or self.raw.closed:
            self.connect()
        with self.raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def ping(self):
        try:  # a server out of reach is already Unavailable (execute)
            self.execute("SELECT 1 FROM songs LIMIT 1").fetchall()
        except self.psycopg.Error as error:
            raise Unavailable(f"The database cannot be read: {error}") from error

    def stream(self, sql, params, size):
        """The rows of one SELECT, `size` at a time, from a server-side cursor in a read-only
        transaction: one snapshot, and the service holds one batch at a time."""
        self.execute("BEGIN READ ONLY")
        try:
            with self.raw.cursor(name="songs_export") as cursor:
                cursor.execute(postgres_sql(sql), params)
                while rows := cursor.fetchmany(size):
                    yield rows
            self.execute("COMMIT")
        except self.psycopg.OperationalError as error:
            raise self.unavailable(error) from error
        finally:
            self.end_transaction()


# Songs


def find_song(conn, song_id, for_update=False):
    """The song with this id as a dict, or None; `for_update` locks it until the commit."""
    rows = conn.execute(
        f"SELECT {SELECT_COLUMNS} FROM songs WHERE id = ?{conn.lock_row if for_update else ''}",
        (song_id,),
    ).fetchall()
    return song_from_row(rows[0]) if rows else None


def song_from_row(row):
    return dict(zip(SONG_FIELDS, row, strict=False))  # strict costs, and the SELECTs are ours


def insert_song(conn, fields, now):
    rows = conn.execute(
        "INSERT INTO songs (artist, title, rating, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        f" RETURNING {SELECT_COLUMNS}",
        (fields["artist"], fields["title"], fields["rating"], now, now),
    ).fetchall()
    return song_from_row(rows[0])


def update_song(conn, song_id, fields, now):
    """The replaced song, or None when there is no song with that id."""
    rows = conn.execute(
        "UPDATE songs SET artist = ?, title = ?, rating = ?, updated_at = ? WHERE id = ?"
        f" RETURNING {SELECT_COLUMNS}",
        (fields["artist"], fields["title"], fields["rating"], now, song_id),
    ).fetchall()
    return song_from_row(rows[0]) if rows else None


def remove_song(conn, song_id):
    """True when a song was deleted."""
    return conn.execute("DELETE FROM songs WHERE id = ?", (song_id,)).rowcount > 0


# Idempotency keys


def find_key(conn, key, expired):
    """(request digest, song JSON) remembered for `key`, after forgetting keys from before
    `expired`; None when there is none. Inside the write transaction, retries take turns."""
    conn.lock_key(key)
    conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (expired,))
    rows = conn.execute(
        "SELECT request, song FROM idempotency_keys WHERE key = ?", (key,)
    ).fetchall()
    return tuple(rows[0]) if rows else None


def remember_key(conn, key, digest, song_json, created_at):
    conn.execute(
        "INSERT INTO idempotency_keys (key, request, song, created_at) VALUES (?, ?, ?, ?)",
        (key, digest, song_json, created_at),
    )


# The list: filters, sort and keyset pagination, each page from one index

FILTER_COLUMNS = {  # each filter of the list, and the column it reads
    "q": "songs_search",
    "artist": "artist",
    "title": "title",
    "rating": "rating",
    "min_rating": "rating",
    "max_rating": "rating",
    "created_after": "created_at",
    "created_before": "created_at",
    "updated_after": "updated_at",
    "updated_before": "updated_at",
}
FILTER_OPERATORS = {
    "artist": "=",
    "title": "=",
    "min_rating": ">=",
    "max_rating": "<=",
    "created_after": ">",
    "created_before": "<",
    "updated_after": ">",
    "updated_before": "<",
}
SELECTIVE_FILTERS = {"q", "artist", "title"}
INDEXED_COLUMNS = {"artist", "title", "rating", "created_at", "updated_at"}  # songs_by_<column>


def select_page(conn, filters, sort, after, limit):
    """Up to `limit` rows matching `filters`, in `sort`'s order, after the position `after`.

    A sort that starts with rating walks each rating in turn: five values make groups of a
    fifth of the table each, which no index ordered by rating alone could order further,
    while the next key's index orders each group as it walks (schema.sql).
    """
    if sort[0][0] != "rating" or SELECTIVE_FILTERS & filters.keys():
        return select_songs(conn, filters, sort, after, limit)
    (_, descending), rest = sort[0], sort[1:]
    others = {name: value for name, value in filters.items() if FILTER_COLUMNS[name] != "rating"}
    rows = []
    for rating in sorted(allowed_ratings(filters), reverse=descending):
        if after is not None and (rating > after[0] if descending else rating < after[0]):
            continue  # the cursor is past this rating
        resume = after[1:] if after is not None and rating == after[0] else None
        rows += select_songs(conn, {**others, "rating": (rating,)}, rest, resume, limit - len(rows))
        if len(rows) == limit:
            break
    return rows


def select_songs(conn, filters, sort, after, limit):
    """Rows for select_page from one index's walk (driving_column), in the seeks of resumes."""
    rows = []
    for sql, params in song_queries(conn, filters, sort, after):
        rows += conn.execute(f"{sql} LIMIT ?", (*params, limit - len(rows))).fetchall()
        if len(rows) == limit:
            break
    return rows


def song_queries(conn, filters, sort, after):
    """(SELECT, parameters) of each seek in order; only our own fragments are formatted in.

    SQLite is told which index to walk (index_hint). PostgreSQL cannot be, and its planner,
    estimating from statistics, may walk the id index and filter, reading past every other
    song when the recent ones all have another rating or artist, or no match for q. So on
    PostgreSQL the query is shaped to leave one good plan: q's matches are read first (a
    materialized CTE, as SQLite's q does), and a rating, artist or title that allows one
    value is written as a range from it to itself (which the planner does not take for one
    value) and leads the order (which so changes nothing): that column's index is then the
    one walk that gives the order without a sort.
    """
    driver = driving_column(filters, sort)
    indexed = {driver, "id"}
    source, head, head_params = "songs", "", []
    if conn.shapes_plans and "q" in filters:
        term, head_params = conn.search_term(filters["q"])
        head = f"WITH found AS MATERIALIZED (SELECT {SELECT_COLUMNS} FROM songs WHERE {term}) "
        source, filters = "found", {n: v for n, v in filters.items() if n != "q"}
    pinned = conn.shapes_plans and pinned_filter(filters, driver, sort)
    terms, params = filter_terms(conn, filters, indexed, pinned)
    keys = ((driver, sort[0][1]), *sort) if pinned else sort
    order = ", ".join(
        f"{conn.sort_expression(field)} {'DESC' if desc else 'ASC'}" for field, desc in keys
    )
    index = conn.index_hint(driver)
    for seek_terms, seek_params in resumes(conn, sort, after, indexed):
        where = " AND ".join([*terms, *seek_terms])
        yield (
            f"{head}SELECT {SELECT_COLUMNS} FROM {source}{index}"
            f"{' WHERE ' if where else ''}{where} ORDER BY {order}",
            (*head_params, *params, *seek_params),
        )


def pinned_filter(filters, driver, sort):
    """The filter that allows one value of `driver` only, when the sort does not name it."""
    if driver in (field for field, _ in sort):
        return None
    if driver == "rating" and len(filters.get("rating", ())) == 1:
        return "rating"
    return driver if driver in TEXT_FIELDS and driver in filters else None


def count_songs(conn, filters):
    terms, params = filter_terms(conn, filters, indexed=set(FILTER_COLUMNS.values()))
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    return conn.execute(f"SELECT count(*) FROM songs{where}", params).fetchone()[0]


def driving_column(filters, sort):
    """The column whose index a page walks: a filter that picks few songs, else the sort's.

    q, artist and title pick few songs, so their matches are read and sorted; otherwise the
    walk follows the sort and checks the other filters song by song, and stops at the page's
    end. One rating with the id order has an index that serves both.
    """
    for name in ("q", "artist", "title"):
        if name in filters:
            return FILTER_COLUMNS[name]
    if sort[0][0] == "id" and len(filters.get("rating", ())) == 1:
        return "rating"
    return sort[0][0]


def filter_terms(conn, filters, indexed, pinned=None):
    """WHERE terms and their parameters; only columns in `indexed` may use an index. The
    `pinned` filter's one value is written as a range, between it and itself (song_queries)."""
    terms, params = [], []
    for name, value in filters.items():
        column = FILTER_COLUMNS[name]
        if name == pinned:
            one = value[0] if name == "rating" else value
            terms.append(
                f"{conn.compare(column, '>=', indexed)} AND {conn.compare(column, '<=', indexed)}"
            )
            params += [one, one]
        elif name == "q":
            term, term_params = conn.search_term(value)
            terms.append(term)
            params += term_params
        elif name == "rating":
            terms.append(f"{conn.operand(column, indexed)} IN ({', '.join('?' * len(value))})")
            params += value
        elif column in TEXT_FIELDS:
            terms.append(conn.compare(column, FILTER_OPERATORS[name], indexed))
            params.append(value)
        else:
            terms.append(f"{conn.operand(column, indexed)} {FILTER_OPERATORS[name]} ?")
            params.append(value)
    return terms, params


def resumes(conn, sort, after, indexed):
    """(terms, parameters) of each seek that continues a walk after the position `after`.

    Keyset pagination in two seeks, in the order the songs come: the songs tied with
    `after` on every key but id, past its id; then the songs past it on those keys. A
    single comparison of every key at once (a row value) makes SQLite seek on the first
    key only and read all its ties before the cursor: most of a rating, say.
    """
    if after is None:
        return [([], [])]
    *keys, (_, id_descending) = sort  # a sort always ends with id
    ties = [conn.compare(field, "=", indexed) for field, _ in keys]
    seeks = [([*ties, f"id {'<' if id_descending else '>'} ?"], list(after))]
    if keys:
        seeks.append(past(conn, keys, after[:-1], indexed))
    return seeks


def past(conn, keys, values, indexed):
    """The term for songs strictly past `values` on `keys`, led by a bound an index seeks to."""
    (field, descending), rest = keys[0], keys[1:]
    beyond = "<" if descending else ">"
    if not rest:
        return [conn.compare(field, beyond, indexed)], [values[0]]
    (inner,), params = past(conn, rest, values[1:], indexed)
    term = (
        f"{conn.compare(field, beyond + '=', indexed)} AND ({conn.compare(field, beyond, indexed)}"
        f" OR ({conn.compare(field, '=', indexed)} AND {inner}))"
    )
    return [f"({term})"], [values[0], values[0], values[0], *params]


def allowed_ratings(filters):
    low, high = filters.get("min_rating", 1), filters.get("max_rating", 5)
    return [rating for rating in filters.get("rating", RATINGS) if low <= rating <= high]


def song_batches(conn, filters, sort):
    """Every song matching `filters` in `sort`'s order, as lists of rows: memory stays flat.

    PostgreSQL reads one server-side cursor; SQLite walks the list by keyset, a page at a
    time, as select_page does (a long read would keep its WAL from being checkpointed).
    """
    if conn.streams:
        ((sql, params),) = song_queries(conn, filters, sort, None)
        yield from conn.stream(sql, params, EXPORT_BATCH)
        return
    after = None
    while True:
        rows = select_page(conn, filters, sort, after, EXPORT_BATCH)
        if rows:
            yield rows
        if len(rows) < EXPORT_BATCH:
            return
        after = tuple(rows[-1][SONG_FIELDS.index(field)] for field, _ in sort)


# Moving house: a SQLite file's songs into PostgreSQL


def migrate_from_sqlite(path, database):
    """Copy every song of the SQLite file at `path` into PostgreSQL `database`, with its id and
    timestamps, and its idempotency keys; move the id sequence past every id the file used.

    In one transaction, with writers to songs held off: songs already copied are left as they
    are, so it can run again; a song whose id holds a different song stops it (ValueError)
    before anything is kept. Returns (songs in the file, songs added, the next id).
    """
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        source.execute("BEGIN")  # one snapshot of the file
        total = source.execute("SELECT count(*) FROM songs").fetchone()[0]
    except sqlite3.Error as error:
        raise ValueError(f"{path}: not a songs database that can be read ({error})") from None
    try:
        with database.write_transaction() as conn:
            conn.execute("LOCK TABLE songs IN EXCLUSIVE MODE")  # reads go on, writes wait
            conn.execute("CREATE TEMPORARY TABLE incoming (LIKE songs) ON COMMIT DROP")
            conn.insert_rows(
                "incoming", SONG_FIELDS, source.execute(f"SELECT {SELECT_COLUMNS} FROM songs")
            )
            added = conn.execute(
                f"INSERT INTO songs ({SELECT_COLUMNS}) SELECT {SELECT_COLUMNS} FROM incoming"
                " ON CONFLICT (id) DO NOTHING"
            ).rowcount
            different = [
                row[0]
                for row in conn.execute(
                    "SELECT incoming.id FROM incoming LEFT JOIN songs USING (id)"
                    " WHERE (songs.artist, songs.title, songs.rating, songs.created_at,"
                    " songs.updated_at) IS DISTINCT FROM (incoming.artist, incoming.title,"
                    " incoming.rating, incoming.created_at, incoming.updated_at)"
                    " ORDER BY incoming.id LIMIT 10"
                )
            ]
            if different:
                raise ValueError(
                    f"the songs with ids {', '.join(map(str, different))} differ between "
                    f"{path} and {database.name}; nothing was copied"
                )
            matched = conn.execute(
                "SELECT count(*) FROM incoming JOIN songs USING (id, artist, title, rating,"
                " created_at, updated_at)"
            ).fetchone()[0]
            if matched != total:
                raise ValueError(f"{matched} of {total} songs matched; nothing was copied")
            copy_idempotency_keys(source, conn)
            next_id = move_id_sequence(source, conn)
    finally:
        source.close()
    return total, added, next_id


def copy_idempotency_keys(source, conn):
    """The file's remembered Idempotency-Keys, so that a retry across the move is still safe."""
    try:
        keys = source.execute("SELECT key, request, song, created_at FROM idempotency_keys")
    except sqlite3.OperationalError:
        return  # a file from before schema version 3 has none
    columns = ("key", "request", "song", "created_at")
    conn.execute("CREATE TEMPORARY TABLE incoming_keys (LIKE idempotency_keys) ON COMMIT DROP")
    conn.insert_rows("incoming_keys", columns, keys)
    conn.execute(
        "INSERT INTO idempotency_keys SELECT * FROM incoming_keys ON CONFLICT (key) DO NOTHING"
    )


def move_id_sequence(source, conn):
    """Past the largest id the file ever gave (AUTOINCREMENT's record, deleted songs too)."""
    try:
        row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'songs'").fetchone()
    except sqlite3.OperationalError:
        row = None
    sequence = conn.execute("SELECT pg_get_serial_sequence('songs', 'id')").fetchone()[0]
    last, largest = conn.execute(
        "SELECT coalesce(pg_sequence_last_value(?::regclass), 0), coalesce(max(id), 0) FROM songs",
        (sequence,),
    ).fetchone()
    target = max(row[0] if row else 0, largest, last)
    if target > last:
        conn.execute("SELECT setval(?::regclass, ?)", (sequence, target))
    return target + 1
