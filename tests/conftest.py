import http.client
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from webtest import TestApp

import service

ROOT = Path(__file__).resolve().parent.parent
SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}


@pytest.fixture
def database_path(tmp_path):
    """A fresh SQLite file for each test, never the working directory's songs.db."""
    return tmp_path / "songs.db"


@pytest.fixture
def app(database_path):
    """The service built on the test's own database, as gunicorn would build it."""
    app = service.create_app(f"sqlite:///{database_path}")
    yield app
    app.config["songs.database"].close()


@pytest.fixture
def client(app):
    """WebTest over the app in-process: real HTTP semantics, real database file."""
    return TestApp(app)


@pytest.fixture
def dump(database_path):
    """Every row and every table of the test's database, to show a request changed nothing."""

    def dump():
        conn = sqlite3.connect(database_path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    return dump


def create(client, **fields):
    """POST a song (SONG with `fields` replaced) and return it."""
    return client.post_json("/api/songs", {**SONG, **fields}, status=201).json


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(process="web"):
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise AssertionError(f"the Procfile has no {process} process")


class Gunicorn:
    """The Procfile's web process under real gunicorn, on a free loopback port."""

    def __init__(self, database_url, log_path, workers=2, env=None):
        self.port = free_port()
        command = procfile_command()
        command[0] = str(Path(sys.executable).with_name(command[0]))  # the virtualenv's gunicorn
        environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "WEB_CONCURRENCY")}
        environ.update(
            DATABASE_URL=database_url,
            GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{self.port} --workers {workers}",
            **(env or {}),
        )
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited early:\n{self.log()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer /healthz within {timeout} s:\n{self.log()}")

    def request(self, method, path, body=None, headers=None, **options):
        """(status, headers, body bytes) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {}, **options)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def request_json(self, method, path, value=None):
        body = None if value is None else json.dumps(value)
        headers = {} if value is None else {"Content-Type": "application/json"}
        status, headers, raw = self.request(method, path, body, headers)
        return status, headers, json.loads(raw) if raw else None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start_gunicorn(tmp_path):
    """Starts real gunicorn servers for a test and always stops them."""
    servers = []

    def start(database_url=None, workers=2, env=None, wait=True):
        url = database_url or f"sqlite:///{tmp_path / 'songs.db'}"
        server = Gunicorn(url, tmp_path / f"gunicorn-{len(servers)}.log", workers, env)
        servers.append(server)
        return server.wait_ready() if wait else server

    yield start
    for server in servers:
        server.stop()
