"""The SQLite backend: one file, in WAL mode, a connection per thread, writes one at a time
behind a file lock with a bounded wait (the default, sqlite:///songs.db)."""

import fcntl
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from urllib.parse import quote

from songs.storage.common import (
    BASELINE_VERSION,
    BUSY_TIMEOUT_SECONDS,
    INDEXED_COLUMNS,
    SQLITE_LOG_JSON,
    SQLITE_SONG_JSON,
    TEXT_FIELDS,
    BrokenConstraint,
    Unavailable,
    search_key,
)
from songs.storage.measured import CONNECTIONS_DROPPED, CONNECTIONS_OPENED, LOCK_WAITS, in_database
from songs.storage.migrations import STEPS, apply_sqlite_baseline, apply_sqlite_steps, latest
from songs.storage.sqlite_backup import backup

# The WAL's pages go into the file (a checkpoint, with its fsync) after a process's every
# CHECKPOINT_WRITES writes, outside the writers' turn (checkpoint_when_due). SQLite's own
# checkpoint, at AUTOCHECKPOINT_PAGES (its default is 1,000), runs inside a COMMIT, while
# every other writer waits: now only after a bulk load, or if the service's fell behind.
CHECKPOINT_WRITES = 64
AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of WAL


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
        self.writes, self.checkpointing = 0, threading.Lock()  # see checkpoint_when_due

    def start_request(self, queued_at):
        """Nothing: a write's wait is the busy timeout's (PostgresDatabase's bounds more)."""

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
            CONNECTIONS_OPENED.labels("sqlite").inc()
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
            raise Unavailable("The database is busy; try again.", "busy")
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
                raise Unavailable("The database is busy; try again.", "busy") from error
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
                self.drop()
        self.checkpoint_when_due(conn)

    def checkpoint_when_due(self, conn):
        """After a write, outside the writers' turn: the WAL's pages copied into the file
        (a PASSIVE checkpoint, which waits for no one and keeps no one waiting) once this
        process has written CHECKPOINT_WRITES times since its last, by one of its threads at
        a time. The request that runs it waits for its fsync; no other does."""
        self.writes += 1
        if self.writes < CHECKPOINT_WRITES or not self.checkpointing.acquire(blocking=False):
            return
        try:
            self.writes = 0
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # the next one due tries again; SQLite's own checkpoint is the backstop
        finally:
            self.checkpointing.release()

    def staged_write(self, table, columns, fill, write):
        """fill(conn) puts rows into a new temporary `table` holding no lock, however long it
        takes; then write(conn), in one write transaction, moves them; its result is given."""
        conn = self.connection()
        conn.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")  # this connection's own
        try:
            conn.execute("BEGIN")  # of the temporary table alone: no lock on the songs
            fill(conn)
            conn.execute("COMMIT")
            with self.write_transaction() as conn:
                return write(conn)
        finally:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.execute(f"DROP TABLE temp.{table}")
            except sqlite3.Error:
                pass  # a connection a fault closed took its temporary table with it

    def after_bulk_write(self):
        """Nothing: SQLite changes the rating counts in place (PostgresDatabase's)."""

    def check_file(self):
        """Open this thread's connection, anew if the file changed since; Unavailable if the
        file is gone or cannot be written."""
        self.connection()
        if self.local.opened != (file_identity(self.path), True):
            self.drop()
            self.connection()
            if self.local.opened[0] is None:
                raise Unavailable("The database file has gone; nothing can be stored.")
            if not self.local.opened[1]:
                raise Unavailable("The database file cannot be written now; try again.")

    def init_schema(self, steps=STEPS):
        """Apply schema.sql unless the file has its version (the baseline), then each step of
        songs/storage/migrations.py it lacks, and switch to WAL; nothing is written when the
        file has all of it. Idempotent, and safe for processes starting at once."""
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
            if current >= latest(steps) and journal == "wal":
                return
            try:
                if current < BASELINE_VERSION:
                    apply_sqlite_baseline(conn)
            except sqlite3.OperationalError as error:
                if "fts5" not in str(error):
                    raise
                message = f"SQLite with FTS5 is needed (for q); this one has not: {error}"
                raise RuntimeError(message) from error
            apply_sqlite_steps(conn, steps)
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
        """A copy of the database at `target` (sqlite_backup.py); its song count."""
        return backup(self.connection(), target, progress)

    def drop(self):
        """Close the calling thread's connection after a fault, to be opened anew."""
        CONNECTIONS_DROPPED.labels("sqlite").inc()
        self.close()

    def close(self):
        """Close the calling thread's connection, if it has one."""
        for name in ("conn", "writer_lock"):
            resource = getattr(self.local, name, None)
            if resource is not None:
                resource.close()
            setattr(self.local, name, None)


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
    conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
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
            if pause == 0.0001:  # the first try: another writer has the turn
                LOCK_WAITS.inc()
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.0005)


class TimedCursor(sqlite3.Cursor):
    """sqlite3's cursor, its time in SQLite added to the request's (songs/metrics.py): a
    statement runs in execute and in the fetches that step through its rows."""

    execute = in_database(sqlite3.Cursor.execute)
    fetchall = in_database(sqlite3.Cursor.fetchall)
    fetchone = in_database(sqlite3.Cursor.fetchone)


class SQLiteConnection(sqlite3.Connection):
    """sqlite3's own connection, with SQLite's side of the fragments that differ."""

    streams = False  # exports page by keyset (song_batches)
    lock_row = ""  # BEGIN IMMEDIATE has locked the whole database already
    lock_songs = ""  # and every other writer waits for its end
    lock_log = ""  # so the log's positions commit in their order, and every one seen is final
    wait_for_log = ""
    shapes_plans = False  # INDEXED BY names the walk instead (song_queries)
    logs_in_statement = False  # no data-modifying WITH: a write, then log_change
    song_json = SQLITE_SONG_JSON
    version_json, change_json = SQLITE_LOG_JSON  # storage/history.py

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
        """The songs whose artist or title holds `value`, both folded by search_key, from the
        FTS5 trigram index of the keys."""
        phrase = '"' + search_key(value).replace('"', '""') + '"'  # one phrase: the substring
        return "id IN (SELECT rowid FROM songs_search_keys WHERE songs_search_keys MATCH ?)", [
            phrase
        ]

    @staticmethod
    def index_hint(driver):
        # The planner would sort a whole table rather than walk an index whose order only
        # starts the sort's, so the walk is named.
        return f" INDEXED BY songs_by_{driver}" if driver in INDEXED_COLUMNS else ""

    def execute(self, sql, params=()):
        return self.cursor(TimedCursor).execute(sql, params)

    def execute_last(self, sql, params=()):
        """At once; the write transaction commits after (PostgresConnection's takes the
        COMMIT along)."""
        return self.execute(sql, params)

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
