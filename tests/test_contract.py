"""The OpenAPI document: served, in step with the routes, and held to by schemathesis."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from webtest import TestApp

from gunicorn_server import ROOT
from songs import bodies, headers, listing, validation

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
FUZZ_EXAMPLES, FUZZ_SEED = 40, 20261124  # make test's fixed budget; `make fuzz` goes further
FUZZ_TOKEN = "schemathesis-token-0123456789"  # so its ignored_auth check proves the 401s


def served_operations(app):
    """(OpenAPI path, method) for every route the app serves, HEAD included where GET is."""
    operations = set()
    for route in app.routes:
        path = re.sub(r"<(\w+):\w+>", r"{\1}", route.rule)
        operations.add((path, route.method.lower()))
        if route.method == "GET":
            operations.add((path, "head"))
    return operations


def documented_operations(document=DOCUMENT):
    methods = {"get", "head", "post", "put", "patch", "delete", "options"}
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }


def test_the_document_is_served_as_json_with_an_etag(client):
    resp = client.get("/api/openapi.json", status=200)

    assert resp.content_type == "application/json"
    assert resp.json["paths"] == without_security(DOCUMENT)["paths"]  # no token configured
    assert resp.json["openapi"] == "3.1.0"
    assert client.head("/api/openapi.json").headers["ETag"] == resp.headers["ETag"]


def without_security(document):
    """The document with no operation asking for a token, and no 401 declared."""
    document = json.loads(json.dumps(document))
    for path, method in documented_operations(document):
        operation = document["paths"][path][method]
        operation.pop("security", None)
        operation["responses"].pop("401", None)
    return document


def guarded(document):
    """The operations the document says need a bearer token, each with its 401 declared."""
    needs = set()
    for path, method in documented_operations(document):
        operation = document["paths"][path][method]
        assert ("security" in operation) == ("401" in operation["responses"]), (method, path)
        if "security" in operation:
            needs.add((path, method))
    return needs


SONG_PATHS = ("/api/song/{song_id}", "/api/songs/{song_id}")
BODY = b'{"artist": "A", "title": "B", "rating": 2}'
WRITES = {("/api/songs", "post")} | {(p, m) for m in ("put", "patch", "delete") for p in SONG_PATHS}
READS = {(p, m) for m in ("get", "head") for p in ("/api/songs", *SONG_PATHS)}
CONFIGURATIONS = {
    "no token": ({}, set()),
    "API_TOKEN": ({"api_token": FUZZ_TOKEN}, WRITES),
    "API_TOKEN and API_TOKEN_READS": (
        {"api_token": FUZZ_TOKEN, "api_token_reads": "1"},
        WRITES | READS,
    ),
}


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_the_served_document_asks_for_a_token_exactly_where_the_service_does(
    make_app, configuration
):
    settings, expected = CONFIGURATIONS[configuration]
    client = TestApp(make_app(**settings))
    client.post_json(
        "/api/songs",
        {"artist": "A", "title": "B", "rating": 1},
        headers={"Authorization": f"Bearer {FUZZ_TOKEN}"},
    )

    document = client.get("/api/openapi.json").json
    answered_401 = set()
    for path, method in documented_operations(document):
        resp = client.request(
            path.replace("{song_id}", "1"),
            method=method.upper(),
            body=BODY if method in ("post", "put", "patch") else b"",
            headers={"Content-Type": "application/json"},
            expect_errors=True,
        )
        if resp.status_int == 401:
            answered_401.add((path, method))

    assert guarded(document) == expected == answered_401
    assert ("securitySchemes" in document["components"]) == bool(expected)
    assert ("Bearer" in document["info"]["description"]) == bool(expected)


@pytest.mark.parametrize("origins", ["", "https://songs.example"])
def test_the_served_document_tells_of_cors_headers_only_when_cors_is_on(make_app, origins):
    document = TestApp(make_app(cors_origins=origins)).get("/api/openapi.json").json

    assert ("Access-Control-Allow-Origin" in document["info"]["description"]) == bool(origins)


def test_with_a_token_and_cors_on_the_served_document_is_openapi_json_as_it_is(make_app):
    client = TestApp(make_app(api_token=FUZZ_TOKEN, cors_origins="*"))

    assert client.get("/api/openapi.json").body == (ROOT / "openapi.json").read_bytes()


def test_every_route_served_is_documented_and_every_documented_one_served(app):
    assert served_operations(app) == documented_operations()


def test_every_operation_documents_its_responses_and_an_id(app):
    ids = [
        operation["operationId"]
        for path, method in documented_operations()
        for operation in [DOCUMENT["paths"][path][method]]
        if operation["responses"]
    ]

    assert len(ids) == len(set(ids)) == len(documented_operations())


def test_the_description_names_every_header_cors_exposes():
    description = DOCUMENT["info"]["description"]
    exposed = description.split(" and expose ", 1)[1].split(".", 1)[0].replace(" and ", ", ")

    assert exposed.split(", ") == headers.CORS_EXPOSED_HEADERS.split(", ")


def test_the_documented_limits_are_the_service_limits():
    parameters = DOCUMENT["components"]["parameters"]
    song = DOCUMENT["components"]["schemas"]["Song"]["properties"]

    assert parameters["Limit"]["schema"]["maximum"] == listing.MAX_PAGE_SIZE
    assert parameters["Limit"]["schema"]["default"] == listing.PAGE_SIZE
    assert song["artist"]["maxLength"] == song["title"]["maxLength"] == validation.MAX_TEXT_LENGTH
    accept_patch = DOCUMENT["components"]["headers"]["Accept-Patch"]["schema"]["const"]
    assert accept_patch == bodies.ACCEPTED_PATCH_TYPES
    request_id = DOCUMENT["components"]["headers"]["X-Request-ID"]["schema"]["pattern"]
    assert request_id == f"^{headers.REQUEST_ID_PATTERN.pattern}$"
    assert parameters["Q"]["schema"]["minLength"] == listing.MIN_SEARCH_LENGTH
    assert parameters["Format"]["schema"]["enum"] == list(listing.LIST_MEDIA_TYPES)
    fields = "|".join(listing.SORT_FIELDS)
    assert parameters["Sort"]["schema"]["pattern"] == f"^-?({fields})(,-?({fields}))*$"


def test_the_list_documents_exactly_the_parameters_it_reads():
    for method in ("get", "head"):
        operation = DOCUMENT["paths"]["/api/songs"][method]
        names = [
            DOCUMENT["components"]["parameters"][ref["$ref"].rpartition("/")[2]]
            for ref in operation["parameters"]
        ]
        query = [parameter["name"] for parameter in names if parameter["in"] == "query"]

        assert sorted(query) == sorted(listing.LIST_PARAMETERS)


def test_schemathesis_finds_no_failure_against_real_gunicorn(start_gunicorn, tmp_path, request):
    examples = request.config.getoption("fuzz_examples") or FUZZ_EXAMPLES
    seed = request.config.getoption("fuzz_seed") or FUZZ_SEED
    budget = ["--max-examples", str(examples), "--seed", str(seed)]
    server = start_gunicorn(env={"API_TOKEN": FUZZ_TOKEN})
    command = [
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        server.url("/api/openapi.json"),
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {FUZZ_TOKEN}",
        *budget,
    ]

    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=3600)

    print(run.stdout[-3000:])  # the summary, with the seed, shown by pytest -s or on failure
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in run.stdout, run.stdout
    assert " passed" in run.stdout and "failed" not in run.stdout.split("SUMMARY")[-1]
    assert not re.search(r'" 5\d\d ', server.log()), "a 5xx is in the access log"
    assert "Traceback" not in server.log()
