"""Stock schemathesis against real gunicorn: every check, every phase, no configuration.

It reads the document the server serves, with no token and with tokens on every operation
(`make fuzz` adds the third configuration, tokens on writes only, whose checks are a part of
the second's: schemathesis's `ignored_auth` tries each secured operation without its token), and
finds no failure but those EXCUSES excuses: each one check, on the operations named, when the
answer is the one HTTP (or the draft the service follows) requires and schemathesis cannot
know it should be. Each is checked against the request and the answer it excuses; anything
else schemathesis reports fails the test. `make fuzz` runs it longer, with a new seed.
"""

import base64
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from helpers import HTTP_LAYER
from helpers.gunicorn_server import ROOT

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES, SEED = 15, 20261202  # make test's fixed budget; `make fuzz` goes further (300)
TOKEN = "schemathesis-token-0123456789"
CONFIGURATIONS = {
    "no token": {},
    "API_TOKEN": {"API_TOKEN": TOKEN},
    "API_TOKEN and API_TOKEN_READS": {"API_TOKEN": TOKEN, "API_TOKEN_READS": "1"},
}
FUZZ_ONLY = {"API_TOKEN"}  # make test leaves it out, make fuzz runs it
PHASES = ("examples", "coverage", "fuzzing", "stateful")


def operations_with(header):
    """'METHOD /path' of every documented operation that takes this header."""
    return {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
        and {"$ref": f"#/components/parameters/{header}"} in operation.get("parameters", [])
    }


PRECONDITIONED = operations_with("If-Match") | operations_with("If-None-Match")


class Interaction(NamedTuple):
    method: str
    url: str
    headers: dict  # the request's, names in lower case
    status: int
    problem: dict  # the answer's problem document; for HEAD, that of the same GET

    def carries(self, *names):
        return any(name.lower() in self.headers for name in names)


def a_failed_precondition(interaction):
    return interaction.status == 412 and interaction.carries("If-Match", "If-None-Match")


def a_made_up_cursor(interaction):
    named = {error["parameter"] for error in interaction.problem.get("errors", [])}
    return interaction.status == 400 and named == {"cursor"}


def a_reused_idempotency_key(interaction):
    return (
        interaction.status == 422
        and interaction.carries("Idempotency-Key")
        and "Idempotency-Key was used" in interaction.problem.get("detail", "")
    )


def a_version_the_song_never_had(interaction):
    named = {error.get("field") for error in interaction.problem.get("errors", [])}
    return interaction.status == 422 and named == {"version"}


def a_cursor_past_the_feeds_end(interaction):
    return interaction.status == 410 and "past the end of this feed" in interaction.problem.get(
        "detail", ""
    )


def the_history_or_undo_of_a_deleted_song(interaction):
    return 200 <= interaction.status < 300 and urlsplit(interaction.url).path.endswith(
        ("/history", "/restore")
    )


class Excuse(NamedTuple):
    check: str
    operations: set
    excuses: object  # Interaction -> bool
    why: str


EXCUSES = [
    Excuse(
        "positive_data_acceptance",
        PRECONDITIONED,
        a_failed_precondition,
        "RFC 9110, 13.1.1 and 13.1.2: a valid If-Match that matches no current ETag (or an "
        "If-None-Match that does, on a write) must not be performed, and is a 412",
    ),
    Excuse(
        "negative_data_rejection",
        PRECONDITIONED,
        a_failed_precondition,
        "RFC 9110, 13.2.2: preconditions are evaluated before the content is processed, so "
        "a failed one is a 412 even when the body is also wrong",
    ),
    Excuse(
        "positive_data_acceptance",
        {"GET /api/songs", "HEAD /api/songs"},
        a_made_up_cursor,
        "RFC 9110, 15.5.1: a cursor is opaque, minted by the service in a Link header (RFC "
        "8288); a string of the documented shape that it did not mint is a client error",
    ),
    Excuse(
        "positive_data_acceptance",
        {"POST /api/songs"},
        a_reused_idempotency_key,
        "draft-ietf-httpapi-idempotency-key-header, 2.7: a key reused with another body is a "
        "422; schemathesis sends its example keys again with other songs",
    ),
    Excuse(
        "positive_data_acceptance",
        {"POST /api/song/{song_id}/restore"},
        a_version_the_song_never_had,
        "RFC 9110, 15.5.21: a version number of the documented shape that the song never had "
        "is content the service understands but cannot act on, a 422 naming it",
    ),
    Excuse(
        "positive_data_acceptance",
        {"GET /api/changes", "HEAD /api/changes"},
        a_cursor_past_the_feeds_end,
        "RFC 9110, 15.5.11: a cursor is a place in the feed that the service gave; one of the "
        "documented shape past the feed's end is no longer valid here (another database's, or "
        "one restored since), and Gone says to list again rather than wait for changes that "
        "may never come",
    ),
    Excuse(
        "use_after_free",
        {"DELETE /api/song/{song_id}", "DELETE /api/songs/{song_id}"},
        the_history_or_undo_of_a_deleted_song,
        "a song's history and its restore (/api/song/{song_id}/history, /restore) are resources "
        "of their own that outlive the song, as documented, so that a deletion can be seen and "
        "undone; schemathesis takes them for parts of the song by their paths",
    ),
]


def problem_of(response, method, url, headers):
    """The problem document of an answer, asking again with GET when it was HEAD's."""
    content = response.get("content") or {}
    body = base64.b64decode(content["$base64"]) if "$base64" in content else b""
    if method == "HEAD":
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            body = error.read()
    try:
        problem = json.loads(body)
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def failures_in(report):
    """(check, operation, Interaction) for every failed check in schemathesis's NDJSON events."""
    for line in report.read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        if not event:
            continue
        recorder = event["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                exchange = recorder["interactions"][case_id]
                request, response = exchange["request"], exchange["response"]
                headers = {name.lower(): values[0] for name, values in request["headers"].items()}
                yield (
                    check["name"],
                    check["failure_info"]["failure"]["operation"],
                    Interaction(
                        request["method"],
                        request["uri"],
                        headers,
                        response["status_code"],
                        problem_of(response, request["method"], request["uri"], headers),
                    ),
                )


def excused(check, operation, interaction):
    return any(excused_by(excuse, check, operation, interaction) for excuse in EXCUSES)


def excused_by(excuse, check, operation, interaction):
    return check == excuse.check and operation in excuse.operations and excuse.excuses(interaction)


def pytest_generate_tests(metafunc):
    if "configuration" in metafunc.fixturenames:
        fuzzing = metafunc.config.getoption("fuzz_examples") is not None
        chosen = [name for name in CONFIGURATIONS if fuzzing or name not in FUZZ_ONLY]
        metafunc.parametrize("configuration", chosen)


@HTTP_LAYER  # the HTTP layer, the same on every backend; test_properties.py holds each
# backend to the document (every song it allows is stored, on PostgreSQL too)
def test_stock_schemathesis_finds_nothing_but_what_http_requires(
    start_gunicorn, tmp_path, request, configuration
):
    run_stock_schemathesis(start_gunicorn, tmp_path, request, CONFIGURATIONS[configuration])


def run_stock_schemathesis(start_gunicorn, tmp_path, request, env):
    examples = request.config.getoption("fuzz_examples") or EXAMPLES
    seed = request.config.getoption("fuzz_seed") or SEED
    server = start_gunicorn(env=env)
    report = tmp_path / "events.ndjson"
    command = [
        str(SCHEMATHESIS),
        "--no-color",
        "run",
        server.url("/api/openapi.json"),
        "--checks",
        "all",
        "--continue-on-failure",  # an excused failure must not end an operation's search
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--output-sanitize",
        "false",  # the excuses read the request's headers
    ]
    if "API_TOKEN" in env:
        command += ["--header", f"Authorization: Bearer {TOKEN}"]

    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=3600)

    print(run.stdout[-3000:])  # the summary, with the seed, shown by pytest -s or on failure
    finished = [
        json.loads(line)["PhaseFinished"]["phase"]["name"]
        for line in report.read_text().splitlines()
        if '"PhaseFinished"' in line
    ]
    assert set(PHASES) <= set(finished), run.stdout[-5000:]
    failures = list(failures_in(report))
    for excuse in EXCUSES:  # what each excuse covered, shown by pytest -s
        covered = [f for f in failures if excused_by(excuse, *f)]
        print(f"excused {len(covered)} {excuse.check} on {sorted({f[1] for f in covered})}")
    unexcused = [
        f"{check} on {operation}: {interaction.status} for {interaction.method} "
        f"{interaction.url} {interaction.headers} {interaction.problem}"
        for check, operation, interaction in failures
        if not excused(check, operation, interaction)
    ]
    assert unexcused == [], "\n".join(unexcused) + "\n" + run.stdout[-5000:]
    assert run.returncode in (0, 1), run.stdout[-5000:] + run.stderr[-5000:]  # 1: excused ones
    assert (run.returncode == 1) == bool(failures)
    assert not re.search(r'" 5\d\d ', server.log()), "a 5xx is in the access log"
    assert "Traceback" not in server.log()
