"""The OpenAPI document as the ecosystem's tools take it: Redocly CLI (`recommended`) and
Spectral (`spectral:oas`) find nothing in it, in every token configuration, with the rules
that redocly.yaml and .spectral.yaml turn off (each with its reason there); and a TypeScript
client made from it by openapi-typescript compiles under `tsc --strict` and calls every
operation of a real server, each answer as expected.

The tools are pinned in tests/node/ (tests/helpers/node_tools.py installs them); without
Node.js these tests are left out, an error under CI=true.
"""

import json
import re
import subprocess

import pytest
from webtest import TestApp

from helpers import HTTP_LAYER, node_tools
from helpers.gunicorn_server import ROOT, serve_sqlite

pytestmark = [pytest.mark.node, HTTP_LAYER]  # the documents: the same on every backend
WRITER, READER = "writer:linters-token-0123456789", "ci:linters-reader-0123456789:read"
CONFIGURATIONS = {  # the settings that change what the document says
    "open": {},
    "writes need a token": {"api_token": WRITER},
    "reads need one too": {"api_token": WRITER, "api_token_reads": "1"},
    "a read-only token": {"api_token": f"{WRITER},{READER}"},
    "no metrics, no CORS": {"metrics": "0", "cors_origins": ""},
    "CORS, a small batch": {"cors_origins": "https://songs.example", "max_batch_songs": 10},
}


@pytest.fixture
def documents(make_app, tmp_path):
    """The document as a service in each configuration serves it, a file each, named after
    the configuration: each linter reads them all in one run."""
    paths = {}
    for name, settings in CONFIGURATIONS.items():
        served = TestApp(make_app(**settings)).get("/api/openapi.json")
        paths[name] = tmp_path / f"{name.replace(' ', '-').replace(',', '')}.json"
        paths[name].write_bytes(served.body)
    return paths


def run(command, **options):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **options)


def test_redocly_recommended_finds_nothing_in_any_configuration(documents):
    linted = run(
        [node_tools.tool("redocly"), "lint", *map(str, documents.values()), "--format=json"]
        + [f"--config={ROOT / 'redocly.yaml'}"]
    )

    reports = json_values(linted.stdout)  # one a document, in their order
    assert len(reports) == len(documents), linted.stderr
    assert [
        (name, each["ruleId"], each["location"][0]["pointer"])
        for name, report in zip(documents, reports, strict=True)
        for each in report["problems"]
    ] == []
    assert linted.returncode == 0, linted.stderr


def json_values(text):
    """The JSON values written one after another in `text`."""
    decoder, values, text, at = json.JSONDecoder(), [], text.strip(), 0
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def test_spectral_oas_finds_nothing_in_any_configuration(documents):
    linted = run(
        [node_tools.tool("spectral"), "lint", *map(str, documents.values()), "--format=json"]
        + [f"--ruleset={ROOT / '.spectral.yaml'}", "--fail-severity=hint", "--quiet"]
    )

    problems = json.loads(linted.stdout)
    assert [(each["source"], each["code"], each["path"]) for each in problems] == []
    assert linted.returncode == 0, linted.stderr


TOKEN = WRITER.partition(":")[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # one worker, whose scrape counts every request up to it
    server = serve_sqlite(tmp_path_factory.mktemp("typescript"), {"API_TOKEN": TOKEN}, workers=1)
    yield server
    server.stop()


def operations(document):
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }


def requests_served(server):
    """(method, route) of each request the server has answered, from its metrics."""
    status, _, body = server.request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200
    counted = re.findall(
        r'^http_server_request_duration_seconds_count\{http_request_method="([A-Z]+)",'
        r'http_response_status_code="\d+",http_route="([^"]+)"\}',
        body.decode(),
        re.MULTILINE,
    )
    return set(counted)


def test_a_strict_typescript_client_compiles_and_calls_every_operation(server, tmp_path):
    status, _, served = server.request("GET", "/api/openapi.json")
    assert status == 200
    (tmp_path / "openapi.json").write_bytes(served)
    (tmp_path / "client.ts").write_text((ROOT / "tests" / "node" / "client.ts").read_text())
    (tmp_path / "node_modules").symlink_to(node_tools.MODULES)
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    typed = run(
        [node_tools.tool("openapi-typescript"), "openapi.json", "-o", "songs.d.ts"], cwd=tmp_path
    )
    assert typed.returncode == 0, typed.stderr

    compiled = run([node_tools.tool("tsc"), "--project", "."], cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    called = run(["node", "out/client.js", server.url(""), TOKEN], cwd=tmp_path)

    assert called.returncode == 0, called.stderr
    assert operations(json.loads(served)) <= requests_served(server)


TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noUncheckedIndexedAccess": True,
        "exactOptionalPropertyTypes": True,
        "target": "es2022",
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "types": ["node"],
        "lib": ["es2022", "dom"],
        "outDir": "out",
    },
    "files": ["client.ts"],
}
