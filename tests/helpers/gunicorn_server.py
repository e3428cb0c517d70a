"""Real gunicorn for the tests and the benchmark (standard library only).

A command runs from the project root, so with gunicorn.conf.py, on a free loopback port,
its output going to a log file.
"""

import contextlib
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stop_group(process, timeout=30):
    """SIGTERM to a process started in a session of its own and its children; SIGKILL if they
    are still there after `timeout` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(process="web"):
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise LookupError(f"the Procfile has no {process} process")


def serve_sqlite(folder, env=None, workers=2):
    """The Procfile's web process, ready, on a new SQLite database in `folder`: a server that a
    module's tests share (stop it after them)."""
    server = Gunicorn(
        procfile_command(),
        folder / "gunicorn.log",
        env={"DATABASE_URL": f"sqlite:///{folder / 'songs.db'}", **(env or {})},
        gunicorn_args=f"--workers {workers}",
    )
    server.wait_ready()
    return server


class Gunicorn:
    """A gunicorn command (the virtualenv's), started at once; call wait_ready before use."""

    def __init__(
        self,
        command,
        log_path,
        env=None,
        gunicorn_args="",
        stderr_path=None,
        port=None,
        bind=True,
        cwd=ROOT,
    ):
        """Output goes to log_path; stderr to stderr_path instead, when one is given; it runs
        in `cwd`, the project's folder unless told.

        bind=False leaves the address to gunicorn itself (PORT), with no GUNICORN_CMD_ARGS.
        """
        self.port = port or free_port()
        command = [str(Path(sys.executable).with_name(command[0])), *command[1:]]
        ours = ("PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS")
        environ = {k: v for k, v in os.environ.items() if k not in ours}
        environ.update(env or {})
        # Each server's metrics in a folder beside its log, which goes with the test's
        # tmp_path even when the server is killed; None: the master makes its own.
        if environ.get("PROMETHEUS_MULTIPROC_DIR", "") is None:
            del environ["PROMETHEUS_MULTIPROC_DIR"]
        elif "PROMETHEUS_MULTIPROC_DIR" not in (env or {}):
            folder = log_path.parent / f"{log_path.stem}-metrics"
            folder.mkdir(exist_ok=True)
            environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        if bind:
            environ["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{self.port} {gunicorn_args}"
        self.log_path = log_path
        self.started = time.perf_counter()
        with open(log_path, "ab") as log, open(stderr_path or os.devnull, "ab") as errors:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=environ,
                stdout=log,
                stderr=errors if stderr_path else subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout=30):
        """Seconds from start to the first 200 on /healthz; else a RuntimeError with the log."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s:\n{self.log()}")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None, timeout=30, **options):
        """(status, headers, body bytes) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {}, **options)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()  # headers: case-insensitive
        finally:
            conn.close()

    def request_json(self, method, path, value=None):
        body = None if value is None else json.dumps(value)
        headers = {} if value is None else {"Content-Type": "application/json"}
        status, headers, raw = self.request(method, path, body, headers)
        return status, headers, json.loads(raw) if raw else None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def lines_with(self, text, timeout=10, count=1):
        """The log's lines holding `text`, once there are `count` (or fewer after `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(lines := [line for line in self.log().splitlines() if text in line]) < count:
            if time.monotonic() > deadline:
                return lines
            time.sleep(0.02)
        return lines

    def workers(self):
        """The pids of the master's children, its workers."""
        master = self.process.pid
        return Path(f"/proc/{master}/task/{master}/children").read_text().split()

    def wait_gone(self, workers, timeout=10):
        """Wait until none of `workers` (pids) is a worker of this master any more, or for
        `timeout`: the ones still there."""
        deadline = time.monotonic() + timeout
        while (left := set(workers) & set(self.workers())) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def wait_listening(self, count, timeout=30):
        """Wait until `count` workers each hold a socket listening on the port."""
        deadline = time.monotonic() + timeout
        while len(self.listening_workers()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} workers listen:\n{self.log()}")
            time.sleep(0.05)

    def listening_workers(self):
        """The pids of the workers that hold a socket listening on the port."""
        listeners, _ = self.port_sockets()
        return {pid for pid, held in self.worker_sockets().items() if held & listeners}

    def holders(self):
        """{client's port: worker pid} for each connection a worker holds."""
        _, connections = self.port_sockets()
        return {
            connections[inode]: pid
            for pid, held in self.worker_sockets().items()
            for inode in held & connections.keys()
        }

    def worker_sockets(self):
        """{worker pid: the inodes of its sockets}, from Linux's /proc."""
        sockets = {}
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}").joinpath("fd").glob("*"):
                with contextlib.suppress(OSError):
                    if (target := os.readlink(fd)).startswith("socket:["):
                        sockets.setdefault(pid, set()).add(target[8:-1])
        return sockets

    def port_sockets(self):
        """The inodes of the TCP sockets on the port: (listening, {connected: client's port})."""
        listeners, connections = set(), {}
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local_port, remote_port = (int(f.rpartition(":")[2], 16) for f in fields[1:3])
            if local_port == self.port and fields[3] == "0A":  # LISTEN
                listeners.add(fields[9])
            elif local_port == self.port:
                connections[fields[9]] = remote_port
        return listeners, connections

    @contextlib.contextmanager
    def keepalive_load(self, connections, path="/healthz"):
        """tests/helpers/keepalive_load.py on this server while the block runs: yields its
        connections' local ports, once each has had an answer."""
        load = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("keepalive_load.py")),
                str(self.port),
                str(connections),
                path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            ports = [int(port) for port in load.stdout.readline().split()]
            if len(ports) != connections:
                raise RuntimeError(f"the load's connections were not all answered:\n{self.log()}")
            yield ports
        finally:
            load.kill()
            load.wait()
            load.stdout.close()

    def stop(self):
        stop_group(self.process)
