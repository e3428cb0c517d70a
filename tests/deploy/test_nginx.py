"""deploy/nginx.conf, run by Debian's nginx in front of real gunicorn: HTTPS with a
self-signed certificate, plain HTTP redirected, the pages' cookies Secure, the client's
address in nginx's log and the service's, the service's own compression passed through,
nginx's refusals as problems, and slow clients held at nginx, not at gunicorn.

The sample runs as it is, but for its addresses and paths (REPLACED); clients connect from
127.0.0.2, so that the client's address differs from nginx's (127.0.0.1)."""

import gzip
import http.client
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from helpers.containers import ROOT, need, which
from helpers.gunicorn_server import free_port, serve_sqlite, stop_group

HOST = "songs.example.com"
CLIENT = "127.0.0.2"
SLOW_CLIENTS = 24


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    server = serve_sqlite(tmp_path_factory.mktemp("gunicorn"))
    yield server
    server.stop()


class Nginx:
    def __init__(self, folder, upstream_port):
        self.folder, self.http, self.https = folder, free_port(), free_port()
        self.certificate = folder / "fullchain.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
             "-keyout", str(folder / "privkey.pem"), "-out", str(self.certificate)],
            check=True, capture_output=True,
        )  # fmt: skip
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        for sample, here in self.replaced(upstream_port).items():
            assert sample in site, f"deploy/nginx.conf no longer holds {sample!r}"
            site = site.replace(sample, here)
        (folder / "songs.conf").write_text(site)
        (folder / "nginx.conf").write_text(MAIN.format(folder=folder, user=USER))
        command = [which("nginx"), "-p", str(folder), "-c", str(folder / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(command, start_new_session=True)
        self.wait_listening()

    def replaced(self, upstream_port):
        live = "/etc/letsencrypt/live/songs.example.com"
        return {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
            "    listen 80;\n    listen [::]:80;": f"    listen 127.0.0.1:{self.http};",
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;": (
                f"    listen 127.0.0.1:{self.https} ssl http2;"
            ),
            f"{live}/fullchain.pem": str(self.certificate),
            f"{live}/privkey.pem": str(self.folder / "privkey.pem"),
            "/var/log/nginx/songs.access.log": str(self.folder / "access.log"),
        }

    def wait_listening(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.https), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, (self.folder / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx is not listening"
                time.sleep(0.05)

    def connection(self):
        context = ssl.create_default_context(cafile=str(self.certificate))
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https, context=context, timeout=10, source_address=(CLIENT, 0)
        )

    def request(self, method, path, body=None, headers=None):
        connection = self.connection()
        try:
            connection.request(method, path, body, {"Host": HOST, **(headers or {})})
            answer = connection.getresponse()
            return answer.status, answer.headers, answer.read()
        finally:
            connection.close()

    def stop(self):
        stop_group(self.process)


USER = "user root root;" if os.geteuid() == 0 else ""  # its workers may then read tmp_path
MAIN = """\
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/songs.conf;
}}
"""


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    need("nginx", "openssl")
    server = Nginx(tmp_path_factory.mktemp("nginx"), gunicorn.port)
    yield server
    server.stop()


SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}
JSON = {"Content-Type": "application/json"}


def test_https_serves_the_api_and_both_logs_name_the_client(nginx, gunicorn):
    status, headers, body = nginx.request("POST", "/api/songs", json.dumps(SONG), JSON)
    assert status == 201, body
    song = json.loads(body)

    status, headers, body = nginx.request("GET", headers["Location"])

    assert (status, json.loads(body)) == (200, song)
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert f"{CLIENT} - - " in (nginx.folder / "access.log").read_text()
    logged = gunicorn.lines_with(f"GET /api/song/{song['id']} ")
    assert logged and logged[-1].startswith(f"{CLIENT} "), logged


def test_plain_http_is_redirected_to_https_keeping_the_method(nginx):
    for method in ("GET", "POST"):
        connection = http.client.HTTPConnection("127.0.0.1", nginx.http, timeout=10)
        connection.request(method, "/api/songs?limit=1", headers={"Host": HOST})
        answer = connection.getresponse()
        connection.close()

        assert answer.status == 308
        assert answer.headers["Location"] == f"https://{HOST}/api/songs?limit=1"


def test_the_pages_cookies_are_secure_over_https_only(nginx, gunicorn):
    _, headers, _ = nginx.request("GET", "/songs/new")
    _, direct, _ = gunicorn.request("GET", "/songs/new")  # plain HTTP, no proxy

    assert "Secure" in headers["Set-Cookie"]
    assert "Secure" not in direct["Set-Cookie"]


def test_the_services_compression_and_etags_pass_through(nginx, gunicorn):
    songs = [{**SONG, "title": f"Jaws {n}"} for n in range(40)]
    assert nginx.request("POST", "/api/songs", json.dumps(songs), JSON)[0] == 201
    accepts = {"Accept-Encoding": "gzip"}

    status, headers, body = nginx.request("GET", "/api/songs?limit=40", headers=accepts)
    _, direct, direct_body = gunicorn.request("GET", "/api/songs?limit=40", headers=accepts)

    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["ETag"] == direct["ETag"] and not headers["ETag"].startswith("W/")
    assert gzip.decompress(body) == gzip.decompress(direct_body)


def test_what_nginx_refuses_is_a_problem(nginx):
    too_large = b"[" + b" " * (1000 * 1024) + b"]"

    status, headers, body = nginx.request("POST", "/api/songs", too_large, JSON)
    long_status, _, long_body = nginx.request("GET", "/api/songs?q=" + "a" * 9000)

    assert (status, headers["Content-Type"]) == (413, "application/problem+json")
    assert json.loads(body)["status"] == 413
    assert (long_status, json.loads(long_body)["status"]) == (414, 414)


def test_a_service_that_does_not_answer_is_a_problem_with_retry_after(tmp_path):
    need("nginx", "openssl")
    nowhere = Nginx(tmp_path, free_port())  # nothing listens on its upstream
    try:
        status, headers, body = nowhere.request("GET", "/api/songs")
    finally:
        nowhere.stop()

    assert (status, headers["Content-Type"]) == (503, "application/problem+json")
    assert headers["Retry-After"] == "5"
    assert json.loads(body)["title"] == "Service Unavailable"


def slow_client(port, certificate):
    """A TLS connection that sends half a request's headers, and then waits."""
    context = ssl.create_default_context(cafile=str(certificate))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT, 0))
    connection = context.wrap_socket(raw, server_hostname="127.0.0.1")
    connection.sendall(f"POST /api/songs HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: 1\r\n".encode())
    return connection


def test_slow_clients_are_held_at_nginx_and_gunicorn_never_sees_them(nginx, gunicorn):
    slow = [slow_client(nginx.https, nginx.certificate) for _ in range(SLOW_CLIENTS)]
    try:
        for connection in slow:  # each keeps dribbling: one more header line
            connection.sendall(b"X-More: 1\r\n")
        answers = [nginx.request("GET", "/healthz")[0] for _ in range(10)]
        held_by_gunicorn = gunicorn.holders()
    finally:
        for connection in slow:
            connection.close()

    assert answers == [200] * 10
    assert len(held_by_gunicorn) <= 2, held_by_gunicorn  # nginx's own kept-alive ones
    assert "X-Slow" not in gunicorn.log()


def test_without_nginx_gunicorn_holds_each_slow_client_itself(gunicorn):
    """The measure above, seeing what nginx spares gunicorn."""
    slow = [socket.create_connection(("127.0.0.1", gunicorn.port)) for _ in range(SLOW_CLIENTS)]
    try:
        for connection in slow:
            connection.sendall(f"POST /api/songs HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        deadline = time.monotonic() + 10
        while len(held := gunicorn.holders()) < SLOW_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for connection in slow:
            connection.close()

    assert len(held) >= SLOW_CLIENTS
