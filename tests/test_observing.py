"""What an operator sees: /metrics summed over every worker (through a real Prometheus),
Server-Timing and traceparent on every answer, and JSON logs with no secret in them."""

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from webtest import TestApp

from helpers import SONG, SQLITE_ONLY, create
from helpers.prometheus import Prometheus

TOKEN = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
TOKENS = f"prometheus:{TOKEN}:read,alice:{WRITER}"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SERVER_TIMING = re.compile(r"db;dur=[0-9]+\.[0-9]{3}, total;dur=[0-9]+\.[0-9]{3}")


def traceparent_of(resp):
    return re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])", resp.headers["traceparent"])


# Timing and traces, on every answer


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/song/1", 200),
        ("HEAD", "/api/song/1", 200),
        ("GET", "/api/song/2", 404),
        ("POST", "/api/song/1", 405),
        ("GET", "/nothing", 404),
        ("OPTIONS", "/api/songs", 204),
        ("GET", "/livez", 200),
        ("GET", "/", 200),
    ],
)
def test_every_answer_has_server_timing_and_a_traceparent_of_its_own(client, method, path, status):
    create(client)

    first = client.request(path, method=method, status=status, expect_errors=True)
    second = client.request(path, method=method, status=status, expect_errors=True)

    assert SERVER_TIMING.fullmatch(first.headers["Server-Timing"])
    assert traceparent_of(first) and traceparent_of(second)
    assert traceparent_of(first)[1] != traceparent_of(second)[1]  # a new trace each time
    assert traceparent_of(first)[3] == "00"  # made here, so not sampled by anyone


def test_a_valid_traceparent_s_trace_goes_on_with_this_service_s_span(client):
    given = f"00-{TRACE}-00f067aa0ba902b7-01"

    resp = client.get("/api/songs", headers={"traceparent": given})

    trace = traceparent_of(resp)
    assert (trace[1], trace[3]) == (TRACE, "01")
    assert trace[2] != "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "given",
    [
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # an all-zero trace id is invalid
        f"00-{TRACE}-{'0' * 16}-01",  # and an all-zero parent id
        f"00-{TRACE.upper()}-00f067aa0ba902b7-01",  # hex is lower case
        f"00-{TRACE}-00f067aa0ba902b7",
        "garbage",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(client, given):
    resp = client.get("/api/songs", headers={"traceparent": given})

    assert traceparent_of(resp)[1] not in (TRACE, TRACE.upper(), "0" * 32)


def test_server_timing_counts_the_database_s_time(client):
    for n in range(200):
        create(client, title=f"Song {n}")

    timing = client.get("/api/songs?limit=200").headers["Server-Timing"]

    database, total = (float(ms) for ms in re.findall(r"dur=([0-9.]+)", timing))
    assert 0 < database < total


# /metrics, in one process


def samples(client, **headers):
    """{(name, labels as text): value} of a scrape."""
    text = client.get("/metrics", headers=headers).text
    return {
        (m[1], m[2] or ""): float(m[3])
        for m in re.finditer(r"^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$", text, re.M)
    }


def test_metrics_label_a_route_by_its_template_and_never_by_its_path_or_query(client):
    create(client)
    client.get("/api/song/1?api_key=hunter2hunter2")
    client.get("/api/song/987654", status=404)
    TestApp(client.app, lint=False).request("/api/songs", method="FROB", status=405)

    scrape = client.get("/metrics").text
    counted = samples(client)

    assert "987654" not in scrape and "hunter2" not in scrape
    song = (
        'http_request_method="GET",http_response_status_code="{}",'
        'http_route="/api/song/{{song_id}}"'
    )
    assert counted[("http_server_request_duration_seconds_count", song.format(200))] >= 1
    assert counted[("http_server_request_duration_seconds_count", song.format(404))] >= 1
    assert 'http_request_method="_OTHER"' in scrape  # no label of a client's choosing
    assert re.search(r'^songs_info\{schema_version="\d+",version="[0-9.]+"\} 1.0$', scrape, re.M)


def test_a_503_is_counted_by_its_cause(client, db):
    before = samples(client).get(("songs_unavailable_responses_total", 'cause="unavailable"'), 0)
    db.execute("DROP TABLE songs")

    client.get("/healthz", status=503)
    client.get("/readyz", status=503)

    after = samples(client)[("songs_unavailable_responses_total", 'cause="unavailable"')]
    assert after == before + 2


def test_with_api_token_metrics_need_a_token_even_where_reads_are_open(make_app):
    client = TestApp(make_app(api_token=TOKENS))

    refused = client.get("/metrics", status=401)
    client.get("/api/songs", status=200)  # reads stay open (API_TOKEN_READS unset)

    assert refused.content_type == "application/problem+json"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_int == 200


def test_metrics_off_serves_no_metrics_and_keeps_timing_and_traces(make_app):
    client = TestApp(make_app(metrics="0"))

    resp = client.get("/api/songs")

    assert client.get("/metrics", status=404).content_type == "application/problem+json"
    assert "/metrics" not in client.get("/api/openapi.json").json["paths"]
    assert SERVER_TIMING.fullmatch(resp.headers["Server-Timing"]) and traceparent_of(resp)


# Against the real thing


@SQLITE_ONLY
def test_prometheus_sums_every_worker_and_keeps_a_killed_worker_s_counts(start_gunicorn, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "histogram_1.db").write_bytes(b"")  # an earlier run's: emptied as it starts
    server = start_gunicorn(
        workers=4, env={"API_TOKEN": TOKENS, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    )
    authorization = {"Authorization": f"Bearer {WRITER}", "Content-Type": "application/json"}
    assert server.request("POST", "/api/songs", json.dumps(SONG), authorization)[0] == 201
    prometheus = Prometheus(tmp_path / "prometheus", server.port, TOKEN)
    reads = 'sum(http_server_request_duration_seconds_count{http_route="/api/song/{song_id}"})'

    def read(n):  # each on a new connection: the kernel spreads them over the workers
        with ThreadPoolExecutor(8) as pool:
            statuses = pool.map(lambda _: server.request("GET", "/api/song/1")[0], range(n))
            assert list(statuses) == [200] * n

    try:
        read(400)
        first = prometheus.value_once(reads, 400)
        counting = {p.name for p in folder.glob("histogram_*.db")}  # a file per worker

        victim = int(server.workers()[0])
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while str(victim) in server.workers() or len(server.workers()) < 4:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        read(100)
        second = prometheus.value_once(reads, 500)
        writes = prometheus.query(
            'sum(http_server_request_duration_seconds_count{http_request_method="POST"})'
        )
    finally:
        prometheus.stop()

    assert (first, second, writes) == (400, 500, 1)  # the killed worker's count is still there
    assert len(counting) >= 2 and "histogram_1.db" not in counting
    assert f"histogram_{victim}.db" in {p.name for p in folder.glob("histogram_*.db")}


# JSON logs


def form(server, path, fields, cookies):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
    return server.request("POST", path, urlencode(fields), headers)


@SQLITE_ONLY
def test_json_logs_parse_line_by_line_with_each_request_s_fields_and_no_secret(
    start_gunicorn, tmp_path
):
    errors = tmp_path / "stderr.log"
    server = start_gunicorn(
        workers=2, env={"LOG_FORMAT": "json", "API_TOKEN": TOKENS}, stderr_path=errors
    )
    writer = {"Authorization": f"Bearer {WRITER}", "Content-Type": "application/json"}
    created = server.request("POST", "/api/songs?api_key=hunter2hunter2", json.dumps(SONG), writer)
    traced = server.request(
        "GET", "/api/song/1", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    )
    refused = server.request("DELETE", "/api/song/1")
    csrf = re.search(r"songs_csrf=([^;]+)", server.request("GET", "/sign-in")[1]["Set-Cookie"])[1]
    cookies = f"songs_csrf={csrf}"
    wrong = form(
        server, "/sign-in", {"csrf_token": csrf, "token": "wrong-guess-0123456789"}, cookies
    )
    right = form(server, "/sign-in", {"csrf_token": csrf, "token": WRITER}, cookies)
    session = re.search(r"songs_session=([^;]+)", right[1]["Set-Cookie"])[1]
    page = server.request("GET", "/", headers={"Cookie": f"{cookies}; songs_session={session}"})
    server.stop()

    statuses = [answer[0] for answer in (created, traced, refused, wrong, right, page)]
    assert statuses == [201, 200, 401, 401, 303, 200]
    text = server.log() + errors.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line, or this fails
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert all(
        set(e) == set(ACCESS_FIELDS) and re.fullmatch(r"[0-9a-f]{32}", e["trace_id"])
        for e in access
    )
    # each found by its request: two workers write their lines in whichever order they end
    post, get, delete = (
        next(e for e in access if (e["method"], e["path"].partition("?")[0]) == request)
        for request in (("POST", "/api/songs"), ("GET", "/api/song/1"), ("DELETE", "/api/song/1"))
    )
    assert (post["route"], post["status"], post["actor"], post["problem"]) == (
        "/api/songs",
        201,
        "alice",
        None,
    )
    assert post["path"] == "/api/songs?api_key=[redacted]" and post["db_ms"] > 0
    assert (get["trace_id"], get["route"]) == (TRACE, "/api/song/{song_id}")
    assert delete["status"] == 401 and "Authorization" in delete["problem"]
    failed = [e for e in entries if e["message"].startswith("sign-in failed")]
    assert failed and failed[0]["level"] == "warning" and failed[0]["request_id"]
    for secret in (WRITER, TOKEN, "hunter2hunter2", "wrong-guess-0123456789", session, csrf):
        assert secret not in text


ACCESS_FIELDS = (
    "time level logger message request_id trace_id method path route status duration_ms db_ms"
    " bytes actor problem client"
).split()


@SQLITE_ONLY
def test_without_a_folder_given_the_master_makes_one_sums_it_and_removes_it_as_it_exits(
    start_gunicorn,
):
    server = start_gunicorn(workers=2, env={"PROMETHEUS_MULTIPROC_DIR": None})
    line = server.lines_with("The workers' metrics are kept in ")[0]
    folder = Path(line.split(" kept in ")[1].split(" until ")[0])
    server.wait_listening(2)  # ready is one worker answering; the other may still be booting
    with ThreadPoolExecutor(4) as pool:  # over both workers
        assert set(pool.map(lambda _: server.request("GET", "/livez")[0], range(40))) == {200}
    deadline, counted = time.monotonic() + 10, None
    while counted != 40:  # the other worker's tally is written within a second
        assert time.monotonic() < deadline, counted
        scrape = server.request("GET", "/metrics")[2].decode()
        counted = sum(
            float(m[1])
            for m in re.finditer(
                r'^http_server_request_duration_seconds_count\{[^}]*"/livez"[^}]*\} (\S+)$',
                scrape,
                re.M,
            )
        )
    made = {p.name for p in folder.glob("histogram_*.db")}
    server.stop()

    assert len(made) == 2  # one file per worker, summed
    assert not folder.exists()
