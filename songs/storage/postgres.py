"""The PostgreSQL backend (postgresql:// or postgres://), through psycopg 3: a connection per
thread, made again when the server drops it, behind the interface of SQLiteConnection.

Serving, no statement waits for its answer longer than ANSWER_DEADLINE_SECONDS, whatever
the network does (silence.py).
"""

import re
import threading
import time
from contextlib import contextmanager

from songs.storage.common import (
    BUSY_TIMEOUT_SECONDS,
    RECONNECT_SECONDS,
    REQUEST_BUDGET_SECONDS,
    BrokenConstraint,
    Refused,
    Unavailable,
)
from songs.storage.measured import CONNECTIONS_DROPPED, CONNECTIONS_OPENED, in_database
from songs.storage.migrations import STEPS, apply_postgres_baseline, apply_postgres_steps
from songs.storage.postgres_dialect import PostgresDialect, postgres_sql
from songs.storage.silence import (
    SOCKET_OPTIONS,
    Deadlines,
    Silence,
    deadline_connection_class,
    dropped,
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # some platforms hand out the short one
CONNECT_TIMEOUT_SECONDS = 5
TRY_WAIT_SECONDS = 0.25  # see PostgresConnection.reconnect


# libpq's words for a connection the server refuses for good: it names no password.
REFUSALS = re.compile(
    r'(database|role) "[^"]*" does not exist|password authentication failed for user "[^"]*"'
    r'|no pg_hba\.conf entry for host "[^"]*", user "[^"]*", database "[^"]*"[^\n]*'
)
SCHEMA_LOCK = 7_115_600_421_093  # the advisory lock that lets one process at a time apply it
LOCK_TIMEOUT = f"SET LOCAL lock_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}"  # ms; begin()


def import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise RuntimeError(
            "DATABASE_URL names a PostgreSQL database, which needs psycopg: "
            "pip install -r requirements.txt"
        ) from None
    return psycopg


class PostgresDatabase:
    """One PostgreSQL database: a connection per thread, made again whenever one has died."""

    def __init__(self, url, answer_deadline=None):
        """answer_deadline: the seconds a statement may wait for its answer (serving), or
        None (the commands, whose bulk statements may rightly take minutes)."""
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
        self.answer_deadline = answer_deadline
        self.silence = Silence()

    def connection(self):
        local = self.local
        if getattr(local, "conn", None) is None:
            local.conn = PostgresConnection(self.url, self.answer_deadline, self.silence, local)
        return local.conn

    def start_request(self, queued_at):
        """A request taken from the worker's queue at `queued_at` (time.monotonic()): serving,
        its statements end by REQUEST_BUDGET_SECONDS after, whatever they wait for (a
        silent network, a pooler's queue, a thread behind others)."""
        self.local.request_deadline = queued_at + REQUEST_BUDGET_SECONDS

    @contextmanager
    def write_transaction(self):
        """BEGIN … COMMIT; rows a writer reads to change are locked FOR UPDATE (lock_row).
        BEGIN goes with the first statement in one round trip, and sets its lock wait; the
        COMMIT with the last, when it is sent by execute_last."""
        psycopg = import_psycopg()
        conn = self.connection()
        conn.begin()
        try:
            yield conn
            if not conn.committed:  # else its last statement took the COMMIT along
                conn.execute("COMMIT")
        except psycopg.IntegrityError as error:
            raise BrokenConstraint(str(error)) from error
        finally:
            conn.committed = False
            conn.end_transaction()

    def staged_write(self, table, columns, fill, write):
        """fill(conn) puts rows into a new temporary `table`, then write(conn) moves them; its
        result is given. One transaction, where the temporary table lives and dies (a pooler
        gives the next one another server connection): it locks no song until write does."""
        with self.write_transaction() as conn:
            conn.execute(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP")
            fill(conn)
            return write(conn)

    def after_bulk_write(self):
        """VACUUM the rating counts after a seed, import or move has added many songs: each
        statement's trigger leaves a dead version of the counts it changed behind, which a
        transaction of many statements cannot prune as it goes (before schema version 6,
        each song's did: a scan read through them all, 5 ms after a seed of 100,000 songs),
        and the key's index keeps an entry for each until a vacuum."""
        self.connection().execute("VACUUM song_counts")  # outside a transaction, as it must

    def init_schema(self, steps=STEPS):
        """schema-postgres.sql unless the database has its version (the baseline), then each
        step of migrations.py it lacks: one process at a time (an advisory lock), in one
        transaction each, so a release step and web processes starting at once take turns."""
        conn = PostgresConnection(self.url)
        try:
            apply_postgres_baseline(conn, SCHEMA_LOCK)
            apply_postgres_steps(conn, steps, SCHEMA_LOCK)
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


class PostgresConnection(PostgresDialect, Deadlines):
    """psycopg 3 behind the interface of SQLiteConnection, in autocommit mode.

    A connection the server dropped (a restart, a failover, an idle timeout) is made again
    by the next statement; one that found it dead outside a transaction had changed nothing,
    so it runs once more on the new connection. Else the trouble is raised as Unavailable.
    """

    def __init__(self, url, answer_deadline=None, silence=None, local=None):
        self.psycopg = import_psycopg()
        self.url = url
        self.raw = None
        self.begin_pending = False
        self.commit_with_next = self.committed = False  # see execute_last
        self.answer_deadline = answer_deadline
        self.silence = silence or Silence()
        self.generation = self.silence.generation
        self.local = local  # its thread's: the request's deadline (start_request)

    def connect(self, timeout=CONNECT_TIMEOUT_SECONDS):
        left = self.time_left()
        if left is not None:  # libpq takes whole seconds, and 2 at least
            timeout = max(2, min(timeout, int(left + 0.999)))
        options = {"autocommit": True}
        for keyword, value in {"connect_timeout": timeout, **SOCKET_OPTIONS}.items():
            if keyword not in self.url:
                options[keyword] = value
        self.generation = self.silence.generation
        try:
            # No statement is prepared on the server: a transaction pooler (PgBouncer before
            # 1.21) hands each transaction whichever server connection is free, where a
            # statement prepared on another does not exist. Each statement is then planned
            # for its own values, as a page by q or rating needs (a generic plan would walk
            # the table by id), and nothing is set for the session: see begin().
            self.raw = deadline_connection_class().connect(
                self.url, prepare_threshold=None, **options
            )
            self.raw.deadline = self.answer_deadline
            CONNECTIONS_OPENED.labels("postgresql").inc()
        except self.psycopg.OperationalError as error:
            if isinstance(error, self.psycopg.errors.ConnectionTimeout):
                self.silence.began()
            refusal = REFUSALS.search(str(error))
            if refusal:
                raise Refused(
                    "The database refuses this service; no retry can help until DATABASE_URL"
                    f" or the server changes ({refusal.group()})"
                ) from error
            raise Unavailable(f"The database cannot be reached; try again. ({error})") from error

    def execute(self, sql, params=()):
        sql = postgres_sql(sql)
        silence = self.silence
        if silence.since is None and self.generation == silence.generation:
            return self.answered(sql, params)
        if self.generation != silence.generation:
            self.let_go()  # made before the silence: its flow may be gone
        if silence.since is not None and self.raw is None:
            self.reconnect()
        return self.answered(sql, params)

    def reconnect(self):
        """While the database is silent, one thread at a time tries to connect, briefly, for
        all of the process's; the others wait a moment for its word (a network back answers
        at once), then are Unavailable. A connection made ends the silence (the server
        answered it); a try that failed meanwhile is Unavailable too."""
        silence = self.silence
        asked = time.monotonic()
        if not silence.trying.acquire(timeout=TRY_WAIT_SECONDS):
            raise silence.unavailable()
        try:
            if silence.since is None:
                return  # another thread's try ended it: connect as usual
            if silence.tried > asked:
                raise silence.unavailable()
            try:
                self.connect(RECONNECT_SECONDS)
            finally:
                silence.tried = time.monotonic()
            silence.ended()
        finally:
            silence.trying.release()

    def let_go(self):
        """Close a connection made before the database fell silent; Unavailable if it held a
        transaction, whose statements so far went with it."""
        self.generation = self.silence.generation
        if self.raw is None:
            return
        in_transaction = self.begin_pending or (
            not self.raw.closed
            and self.raw.info.transaction_status != self.psycopg.pq.TransactionStatus.IDLE
        )
        self.drop()
        if in_transaction:
            self.begin_pending = False
            raise Unavailable(
                "The database stopped answering during this transaction; try again.", "deadline"
            )

    @in_database
    def answered(self, sql, params):
        """execute's work; a statement answered ends a silence, a deadline passed begins one."""
        try:
            cursor = self.run(sql, params)
        except Unavailable as error:
            self.after_failure(error)
            raise
        if self.silence.since is not None:
            self.silence.ended()
        return cursor

    def after_failure(self, error):
        """After a statement's deadline passed, this connection, whose answer may still come,
        is never read again; and the database is silent, unless the wait was cut short by
        its request's deadline (a lock may rightly take longer than what was left)."""
        if isinstance(error.__cause__, self.psycopg.errors._WaitTimeout):
            if self.raw is not None and self.raw.deadline == self.answer_deadline:
                self.silence.began()
            self.drop()

    def run(self, sql, params):
        fresh = self.raw is None or self.raw.closed
        idle = fresh or self.raw.info.transaction_status == self.psycopg.pq.TransactionStatus.IDLE
        if not fresh and idle and self.commit_with_next and dropped(self.raw):
            self.drop()  # and made again, as it could not be sent once more (below)
            fresh = True
        if fresh:
            self.connect()
        try:
            return self.send(sql, params)
        except self.psycopg.OperationalError as error:
            # Not when a pooler refused (PgBouncer's own errors are protocol violations, as
            # its query_wait_timeout): it would only make the client wait as long again.
            # Nor when its COMMIT went along: it may have committed before its answer was lost.
            refused = isinstance(error, self.psycopg.errors.ProtocolViolation)
            if fresh or not idle or not self.raw.closed or refused or self.commit_with_next:
                raise self.unavailable(error) from error
        CONNECTIONS_DROPPED.labels("postgresql").inc()  # by the server, found as it was used
        self.connect()
        try:
            return self.send(sql, params)
        except self.psycopg.OperationalError as error:
            raise self.unavailable(error) from error

    def begin(self):
        """Start a transaction with its first statement, sent together: a round trip fewer.

        lock_timeout is SET LOCAL, for this transaction alone: a session's SET would hold on
        whichever server connection a transaction pooler gave this one, for other clients,
        and not on the next it gives. It is SQLite's busy timeout: a write kept from its
        lock this long is a 503 to retry. A statement outside a transaction is a read,
        which takes only ACCESS SHARE: no write of the service or of an import holds it
        up; an init-db that upgrades the schema does, for its one transaction (its DROP
        TRIGGER), as would a VACUUM FULL or an ALTER TABLE by hand.
        """
        self.begin_pending = True

    def execute_last(self, sql, params=()):
        """A write transaction's last statement, sent with its COMMIT in one round trip:
        nothing may follow it in the transaction, as a failure after it could not undo it.
        Its rows are read when both have been answered; if it fails, nothing commits."""
        self.commit_with_next = True
        try:
            cursor = self.execute(sql, params)
        finally:
            self.commit_with_next = False
        self.committed = True
        return cursor

    def send(self, sql, params):
        self.raw.deadline = self.statement_deadline()
        if not self.begin_pending and not self.commit_with_next:
            return self.raw.execute(sql, params)
        with self.raw.pipeline():
            if self.begin_pending:
                self.raw.execute("BEGIN")
                self.raw.execute(LOCK_TIMEOUT)
            cursor = self.raw.execute(sql, params)
            if self.commit_with_next:
                self.raw.execute("COMMIT")
        self.begin_pending = False
        return cursor

    def unavailable(self, error):
        if isinstance(error, self.psycopg.errors.LockNotAvailable):
            return Unavailable(f"The database is busy; try again. ({error})", "busy")
        if isinstance(error, self.psycopg.errors._WaitTimeout):
            waited = self.raw.deadline if self.raw is not None else self.answer_deadline
            return Unavailable(
                f"The database did not answer within {waited:.1f} s; try again.", "deadline"
            )
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

    def drop(self):
        """Close it after a fault; the next statement makes it again."""
        if self.raw is not None:
            CONNECTIONS_DROPPED.labels("postgresql").inc()
        self.close()

    def close(self):
        if self.raw is not None:
            self.raw.close()
            self.raw = None

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
        self.raw.deadline = self.answer_deadline  # each batch's; the answer has begun
        try:
            with self.raw.cursor(name="songs_export") as cursor:
                cursor.execute(postgres_sql(sql), params)
                while rows := cursor.fetchmany(size):
                    yield rows
            self.execute("COMMIT")
        except self.psycopg.OperationalError as error:
            unavailable = self.unavailable(error)
            unavailable.__cause__ = error
            self.after_failure(unavailable)
            raise unavailable from error
        finally:
            self.end_transaction()
