"""gunicorn's gthread worker, with each request read whole before a thread takes it (its
access log is songs/access_log.py).

gthread hands a connection to a thread as soon as its first byte arrives, and the thread
then blocks reading the rest: a client that sends its headers a byte at a time holds that
thread for as long as it likes, and a few such clients hold every thread of the service.
Here the worker's event loop, which waits on every connection at once, reads each request
(its head, and a body up to BUFFERED_BODY_BYTES, more than the service accepts) as it
arrives, and gives it to a thread only once it is all there; a client that waits for 100
Continue gets it from the loop, which then reads its body too. A request not all there
within REQUEST_SECONDS of its first byte is answered 408 and closed. So a slow or
silent client costs a socket, never a thread. Each answer's writes are bounded too: a
client that stops reading releases the thread within SEND_TIMEOUT_SECONDS of the write it
stalls, instead of holding it (and an export's database transaction) open. The thread
parses the request with gunicorn's own parser, from the bytes read here: what is
accepted, and how, is gunicorn's. With TLS in gunicorn itself (certfile), connections are
served as plain gthread serves them: terminate TLS in front instead.

It borrows gthread's internals, all present together in gunicorn 27.0 (pinned in
requirements.txt), and checked as this module is imported and as each worker starts
(check_borrowed), so that another gunicorn fails in one line naming what it lacks:
ThreadWorker's accept, set_accept_enabled, enqueue_req, handle_request,
on_client_socket_readable and murder_pending, and its poller, keepalived_conns and
nr_conns; TConn's init, sock, parser (and the parser's unreader) and data_ready. HTTP/1.1
only: gunicorn.conf.py refuses to start with HTTP/2 cleartext on, whose connections this
loop would read as HTTP/1.1.
"""

import errno
import os
import selectors
import signal
import socket
import struct
import threading
import time
from functools import partial

import gunicorn
from gunicorn.workers.gthread import TConn, ThreadWorker

from songs import forwarded
from songs.framing import (
    CONTINUE,
    EXPECTS_CONTINUE,
    answered_continue,
    body_is_in,
    head_of,
    request_is_whole,
)


def client_timeout():
    """CLIENT_TIMEOUT: the seconds a client has to send a whole request, and to take each
    write of an answer (10 unless set)."""
    value = os.environ.get("CLIENT_TIMEOUT") or "10"
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= 3600):
        raise SystemExit(
            f"CLIENT_TIMEOUT must be a whole number of seconds, 1 to 3600; got {value!r}"
        )
    return int(value)


def drain_seconds():
    """DRAIN_SECONDS: how long a worker serves on after SIGTERM while /readyz answers 503, so
    that a router that probes it stops sending before it closes (0, the default: it stops
    at once). At most 15, within gunicorn.conf.py's graceful_timeout of 20."""
    value = os.environ.get("DRAIN_SECONDS") or "0"
    if not (value.isascii() and value.isdigit() and int(value) <= 15):
        raise SystemExit(f"DRAIN_SECONDS must be a whole number of seconds, 0 to 15; got {value!r}")
    return int(value)


REQUEST_SECONDS = SEND_TIMEOUT_SECONDS = client_timeout()
DRAIN_SECONDS = drain_seconds()
# As struct timevals for SO_RCVTIMEO and SO_SNDTIMEO. A send that times out after copying
# part of its data returns that part, and the next one waits again: two waits of half the
# timeout bound a write that a client stalls to the whole of it.
RECEIVE_TIMEVAL = struct.pack("ll", REQUEST_SECONDS, 0)
SEND_TIMEVAL = struct.pack("ll", SEND_TIMEOUT_SECONDS // 2, SEND_TIMEOUT_SECONDS % 2 * 500_000)


TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
# accept() failing for want of a file or memory: the connection waits in the kernel's queue
# while this worker stops accepting a moment, instead of dying with every connection it holds.
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
ACCEPT_PAUSE_SECONDS = 0.5


BORROWED = {  # what of gthread this worker uses: (the class, its methods, an instance's fields)
    "ThreadWorker": (
        ThreadWorker,
        "accept set_accept_enabled enqueue_req handle_request on_client_socket_readable"
        " murder_pending",
        "poller keepalived_conns nr_conns",
    ),
    "TConn": (TConn, "init", "sock parser data_ready"),
}


def check_borrowed(instances=None, borrowed=BORROWED):
    """RuntimeError naming each borrowed internal this gunicorn lacks; `instances`, a
    {name: object}, has instance fields checked too."""
    missing = []
    for name, (cls, methods, fields) in borrowed.items():
        missing += [f"{name}.{m}" for m in methods.split() if not callable(getattr(cls, m, None))]
        if instances and name in instances:
            missing += [f"{name}.{f}" for f in fields.split() if not hasattr(instances[name], f)]
    if missing:
        raise RuntimeError(
            f"songs.worker needs gunicorn 27.0's gthread internals; gunicorn "
            f"{gunicorn.__version__} lacks {', '.join(missing)}: install requirements.txt"
        )


check_borrowed()


# A new worker has the master's signal handlers until it sets its own, and those queue a
# signal for the master's loop, which the worker never runs: a SIGTERM then was lost, and
# the worker served on until graceful_timeout's SIGKILL. The stopping signals are held
# (blocked) across the fork of each worker, and the worker takes them, pending ones first,
# once its own handlers are in place. Only a worker's fork: the master's other forks (a
# re-exec's new master) keep the signals as they were.
STOPPING = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
held = {"registered": False, "next_fork": False, "mask": None}  # next_fork: a worker's


def hold_stopping_signals_across_forks():
    """Once per master (os.fork calls these around every fork it makes)."""
    if not held["registered"]:
        held["registered"] = True
        os.register_at_fork(before=hold, after_in_parent=let_go, after_in_child=forked)


def hold():
    if held["next_fork"]:
        held["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)


def let_go():
    """In the master, at once; in a worker, once its handlers are set (init_signals)."""
    held["next_fork"] = False
    if held["mask"] is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held["mask"])
        held["mask"] = None


def forked():
    held["next_fork"] = False


class BufferedThreadWorker(ThreadWorker):
    @classmethod
    def check_config(cls, cfg, log):
        """In the master, as it starts (and reloads)."""
        super().check_config(cfg, log)
        hold_stopping_signals_across_forks()

    def init_signals(self):
        super().init_signals()
        let_go()

    def __init__(self, *args, **kwargs):
        """In the master, just before it forks this worker (gunicorn's spawn_worker)."""
        super().__init__(*args, **kwargs)
        ends = socket.socketpair()  # a connection of gthread's, for its fields, then closed
        try:
            check_borrowed({"ThreadWorker": self, "TConn": TConn(self.cfg, ends[0], None, None)})
        finally:
            for end in ends:
                end.close()
        self.reading = {}  # connection: (bytes so far, deadline), in the order they came
        self.continued = set()  # the connections reading now that were sent 100 Continue
        self.accept_paused_until = 0.0
        self.accept_error_logged = 0.0
        self.handling = threading.local()  # each thread's request: when it was queued
        self.draining_until = 0.0  # after a SIGTERM, with DRAIN_SECONDS: when it stops
        held["next_fork"] = True  # last: a worker that failed to be made is never forked

    def handle_exit(self, sig, frame):
        """SIGTERM: with DRAIN_SECONDS, serve on that long as draining (/readyz 503), then
        stop as gthread stops. A platform may send it to every process, and the master sends
        it on: one more does not cut the drain short (SIGINT or SIGQUIT stop it at once)."""
        if not DRAIN_SECONDS:
            super().handle_exit(sig, frame)
        elif self.alive and not self.draining_until:
            self.draining_until = time.monotonic() + DRAIN_SECONDS

    def notify(self):
        """At least once a second, from gthread's loop: the end of a drain, when it comes."""
        super().notify()
        if self.draining_until and time.monotonic() >= self.draining_until and self.alive:
            super().handle_exit(signal.SIGTERM, None)

    def accept(self, listener):
        try:
            client, address = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        except OSError as error:
            if error.errno not in OUT_OF_RESOURCES:
                raise
            self.pause_accepting(error)
            return
        self.take(client, address, listener)

    def pause_accepting(self, error):
        """Stop accepting for ACCEPT_PAUSE_SECONDS, saying why at most every ten seconds."""
        now = time.monotonic()
        self.accept_paused_until = now + ACCEPT_PAUSE_SECONDS
        super().set_accept_enabled(False)
        if now - self.accept_error_logged >= 10:
            self.accept_error_logged = now
            self.log.error(
                "cannot accept a connection (%s): this worker holds %d and pauses accepting; "
                "if it goes on, raise the limit on open files (ulimit -n)",
                os.strerror(error.errno),
                self.nr_conns,
            )

    def take(self, client, address, listener):
        """A new connection: its request read here, or with TLS, gthread's way (the bytes
        read here would be TLS records)."""
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())
        if self.cfg.is_ssl:
            client.setblocking(True)
            self.enqueue_req(conn)
        else:  # the kernel bounds each blocking send and read of a thread
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, SEND_TIMEVAL)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, RECEIVE_TIMEVAL)
            self.read_request(conn)

    def enqueue_req(self, conn):
        conn.queued_at = time.monotonic()  # its request's deadline counts from here
        super().enqueue_req(conn)

    def load_wsgi(self):
        """The app, given each request's time in the queue as environ["songs.queued_at"], the
        worker's threads, whether it is stopping (for the change feed's waiters) and whether
        it is draining or stopping (for /readyz); and, behind a trusted proxy, the client's
        address as REMOTE_ADDR (songs/forwarded.py)."""
        super().load_wsgi()
        app, handling, threads = self.wsgi, self.handling, self.cfg.threads
        trusted = forwarded.trusting(self.cfg.forwarded_allow_ips)

        def stopping():
            return not self.alive

        def draining():
            return bool(self.draining_until) or not self.alive

        def with_queued_at(environ, start_response):
            environ["songs.queued_at"] = handling.queued_at
            environ["songs.threads"], environ["songs.stopping"] = threads, stopping
            environ["songs.draining"] = draining
            forwarded.take_client_address(environ, trusted)
            return app(environ, start_response)

        self.wsgi = with_queued_at

    def set_accept_enabled(self, enabled):
        if enabled and time.monotonic() < self.accept_paused_until:
            return  # gthread's loop asks again each time round, at least once a second
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive and self.cfg.reuse_port:
            self.close_listeners()

    def close_listeners(self):
        """With reuse_port a worker has a listening socket of its own, and the kernel goes on
        queueing a share of new connections on it until it is closed; gthread keeps it open
        while it finishes its requests, and closing it then resets whatever queued meanwhile.
        A stopping worker takes what is queued now and closes it at once, so that new
        connections go to the other workers. (Linux's net.ipv4.tcp_migrate_req = 1 also
        hands a closed socket's queue to them.)"""
        for listener in self.sockets:
            while True:
                try:
                    client, address = listener.accept()
                except ConnectionAbortedError:
                    continue
                except OSError:  # none queued, or no file left to take one: let them go
                    break
                self.take(client, address, listener)
            listener.close()

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has a next request coming: read it here too."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.read_request(conn)

    def read_request(self, conn):
        """Read what has come of the request at once (for a kept-alive connection, usually
        all of it), and wait on the poller only for the rest."""
        self.reading[conn] = (b"", time.monotonic() + REQUEST_SECONDS)
        if not self.receive(conn, registered=False):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_readable, conn))

    def on_readable(self, conn, sock):
        self.receive(conn, registered=True)

    def receive(self, conn, registered):
        """Read what the socket holds; True once the request is with a thread (or the
        connection closed), False while more is to come."""
        try:
            data = conn.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        received, deadline = self.reading[conn]
        received += data
        if data and not request_is_whole(received):
            if conn not in self.continued and EXPECTS_CONTINUE.search(head_of(received)):
                self.continued.add(conn)
                try:  # 25 bytes into an empty send buffer: never blocks
                    conn.sock.send(CONTINUE, socket.MSG_DONTWAIT)
                except OSError:
                    pass
            self.reading[conn] = (received, deadline)
            return False
        if b"100-continue" in received and (conn in self.continued or body_is_in(received)):
            received = answered_continue(received)  # or gunicorn would send it once more
        self.forget(conn, registered)
        if not received:  # the client went away without a word
            self.nr_conns -= 1
            conn.close()
            return True
        # Whole, or all the client will send (it closed its side): gunicorn's parser and
        # the service judge what came, a body cut short included.
        conn.init()  # gunicorn's parser on this socket, blocking again for the thread
        conn.parser.unreader.unread(received)
        conn.data_ready = True
        self.enqueue_req(conn)
        return True

    def handle_request(self, req, conn):
        """gthread's, on a socket whose every send (and read) ends within the timeout: set
        once with SO_SNDTIMEO and SO_RCVTIMEO, since a Python timeout polls before each."""
        if self.cfg.is_ssl:
            conn.sock.settimeout(SEND_TIMEOUT_SECONDS)
        # Once: a next request read from the same buffer counts from when it is handled.
        self.handling.queued_at, conn.queued_at = getattr(conn, "queued_at", None), None
        try:
            return super().handle_request(req, conn)
        except (TimeoutError, BlockingIOError):  # Python's timeout, or the kernel's
            self.log.info("closed a connection whose client stopped reading its answer")
            return False  # and the thread goes back to the pool

    def forget(self, conn, registered=True):
        del self.reading[conn]
        self.continued.discard(conn)
        if registered:
            self.poller.unregister(conn.sock)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn, (received, deadline) in list(self.reading.items()):
            if deadline > now:
                break  # the rest came later
            self.forget(conn)
            try:
                if received:  # a connection that never sent a byte is closed without a word
                    conn.sock.send(TIMED_OUT)
            except OSError:
                pass
            self.nr_conns -= 1
            conn.close()
