"""A PostgreSQL server that stops answering without a word: a route that goes dark, or a
middlebox that forgets the flow, sends no reset, and a driver left to itself waits for
ever. Serving, no statement waits for its answer longer than ANSWER_DEADLINE_SECONDS, and
a process that met the deadline knows the database is silent (Silence).

The deadline is kept by psycopg's own wait loop, through a borrowed internal of psycopg
3.3 (pinned in requirements.txt, checked when the class is made):
Connection.wait(gen, interval, timeout), which raises psycopg.errors._WaitTimeout, an
OperationalError, when `timeout` passes. Keepalives and TCP_USER_TIMEOUT on the socket
let the kernel notice a dead flow on its own too.
"""

import functools
import inspect
import select
import threading
import time

from songs.storage.common import ANSWER_DEADLINE_SECONDS, REQUEST_BUDGET_SECONDS, Unavailable

# libpq's keywords for the socket, unless DATABASE_URL sets them: a flow that stops carrying
# acknowledgements or keepalive answers is ended by the kernel within the deadline.
SOCKET_OPTIONS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": int(ANSWER_DEADLINE_SECONDS * 1000),  # ms
}


class Silence:
    """What the threads of one process know of a database that stopped answering.

    When a statement's deadline passes, the database is silent since then: each thread's
    connection made before is let go at its next use (its flow may be gone with the
    network), and while the silence lasts one thread at a time tries to connect, the others
    waiting a moment for its word, then answering 503, instead of each waiting out a
    deadline of its own (PostgresConnection.reconnect). A connection made ends it.
    """

    def __init__(self):
        self.since = None  # time.monotonic() when it fell silent, None while it answers
        self.generation = 0  # connections made before the last silence are let go
        self.trying = threading.Lock()
        self.tried = 0.0  # when the last try to connect during a silence ended

    def began(self):
        if self.since is None:
            self.since = time.monotonic()
        self.generation += 1

    def ended(self):
        self.since = None

    def unavailable(self):
        since = self.since or time.monotonic()
        return Unavailable(
            f"The database has not answered for {time.monotonic() - since:.0f} s; try again.",
            "deadline",
        )


class Deadlines:
    """How long a PostgresConnection's next statement may wait (`answer_deadline`, and its
    thread's request deadline in `local`: PostgresDatabase.start_request)."""

    def time_left(self):
        """Seconds before this thread's request must be answered, or None (no deadline)."""
        deadline = getattr(self.local, "request_deadline", None)
        if self.answer_deadline is None or deadline is None:
            return None
        return deadline - time.monotonic()

    def statement_deadline(self):
        """The seconds the next statement may wait: the answer deadline, or what is left of
        the request's; Unavailable when none is."""
        left = self.time_left()
        if left is None:
            return self.answer_deadline
        if left <= 0:
            raise Unavailable(
                f"This request waited {REQUEST_BUDGET_SECONDS:g} s and more; try again.",
                "deadline",
            )
        return min(self.answer_deadline, left)


def dropped(raw):
    """Whether the server has ended this idle psycopg connection: it has something to read
    (a restart's or a terminated backend's last word, or the end of the stream), where an
    idle connection is owed nothing. A network gone silent says nothing: the deadlines
    catch that."""
    readable, _, _ = select.select([raw.fileno()], [], [], 0)
    return bool(readable)


@functools.cache
def deadline_connection_class():
    """psycopg's Connection, whose every wait for the server ends by its `deadline`."""
    import psycopg  # only with DATABASE_URL naming PostgreSQL (postgres.import_psycopg)

    if "timeout" not in inspect.signature(psycopg.Connection.wait).parameters or not hasattr(
        psycopg.errors, "_WaitTimeout"
    ):
        raise RuntimeError(
            "this psycopg has no deadline in Connection.wait: install requirements.txt"
        )

    class DeadlineConnection(psycopg.Connection):
        deadline = None  # seconds, or None for no deadline

        def wait(self, gen, *args, timeout=None, **kwargs):
            if timeout is None:
                timeout = self.deadline
            return super().wait(gen, *args, timeout=timeout, **kwargs)

    return DeadlineConnection
