"""The OpenAPI document: served for the configuration, and in step with the routes
(schemathesis holds the service to it: test_schemathesis.py)."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webtest import TestApp

from helpers import HTTP_LAYER
from helpers.contract import DOCUMENT, documented_operations, served_operations
from helpers.gunicorn_server import ROOT
from songs import bodies, headers, listing, song, validation
from songs.batches import csv_pattern
from songs.settings import DEFAULT_MAX_BATCH_SONGS

pytestmark = HTTP_LAYER  # the document as served: the same on every backend

TOKEN = "a-token-of-twenty-characters-or-more"


def test_the_document_is_served_as_json_with_an_etag(client):
    resp = client.get("/api/openapi.json", status=200)

    assert resp.content_type == "application/json"
    assert resp.json["paths"] == without_security(DOCUMENT)["paths"]  # no token configured
    assert resp.json["openapi"] == "3.1.0"
    assert client.head("/api/openapi.json").headers["ETag"] == resp.headers["ETag"]


def without_security(document):
    """The document with every operation saying it needs no token, and no 401 declared."""
    document = json.loads(json.dumps(document))
    for path, method in documented_operations(document):
        operation = document["paths"][path][method]
        operation["security"] = []
        operation["responses"].pop("401", None)
    return document


def guarded(document):
    """The operations the document says need a bearer token, each with its 401 declared."""
    needs = set()
    for path, method in documented_operations(document):
        operation = document["paths"][path][method]
        assert "security" in operation, (method, path)  # said outright, [] when none
        assert bool(operation["security"]) == ("401" in operation["responses"]), (method, path)
        if operation["security"]:
            needs.add((path, method))
    return needs


SONG_PATHS = ("/api/song/{song_id}", "/api/songs/{song_id}")
BODY = b'{"artist": "A", "title": "B", "rating": 2}'
WRITES = {("/api/songs", "post"), ("/api/song/{song_id}/restore", "post")} | {
    (p, m) for m in ("put", "patch", "delete") for p in SONG_PATHS
}
READS = {
    (p, m)
    for m in ("get", "head")
    for p in (
        "/api/songs",
        *listing.EXPORT_PATHS,
        *SONG_PATHS,
        "/api/song/{song_id}/history",
        "/api/songs/deleted",
        "/api/changes",
    )
}
METRICS = {("/metrics", "get"), ("/metrics", "head")}  # for operators: a token, with tokens
CONFIGURATIONS = {
    "no token": ({}, set()),
    "API_TOKEN": ({"api_token": TOKEN}, WRITES | METRICS),
    "API_TOKEN and API_TOKEN_READS": (
        {"api_token": TOKEN, "api_token_reads": "1"},
        WRITES | READS | METRICS,
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
        headers={"Authorization": f"Bearer {TOKEN}"},
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


def test_the_served_document_tells_the_batch_limit_this_configuration_has(make_app):
    document = TestApp(make_app(max_batch_songs=25)).get("/api/openapi.json").json

    assert document["components"]["schemas"]["SongBatch"]["maxItems"] == 25


def test_with_a_token_and_cors_on_the_served_document_is_openapi_json_as_it_is(make_app):
    client = TestApp(make_app(api_token=TOKEN, cors_origins="*"))

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
    batch = DOCUMENT["components"]["schemas"]["SongBatch"]
    assert batch["maxItems"] == DEFAULT_MAX_BATCH_SONGS
    assert DOCUMENT["components"]["schemas"]["SongCsv"]["pattern"] == csv_pattern()
    fields = "|".join(listing.SORT_FIELDS)
    no_field_twice, nothing_after_id = rf"(?!.*\b({fields})\b.*\b\1\b)", r"(?!.*\bid\b,)"
    assert parameters["Sort"]["schema"]["pattern"] == (
        f"^{no_field_twice}{nothing_after_id}-?({fields})(,-?({fields}))*$"
    )


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/api/songs", listing.LIST_PARAMETERS),
        *((path, listing.EXPORT_PARAMETERS) for path in listing.EXPORT_PATHS),
    ],
)
def test_the_list_and_exports_document_exactly_the_parameters_they_read(path, parameters):
    for method in ("get", "head"):
        operation = DOCUMENT["paths"][path][method]
        names = [
            DOCUMENT["components"]["parameters"][ref["$ref"].rpartition("/")[2]]
            for ref in operation["parameters"]
        ]
        query = [parameter["name"] for parameter in names if parameter["in"] == "query"]

        assert sorted(query) == sorted(parameters)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([f"{way}{field}" for field in listing.SORT_FIELDS for way in ("", "-")]),
        min_size=1,
        max_size=5,
    ).map(",".join)
)
def test_the_documented_sort_pattern_accepts_exactly_the_sorts_the_list_does(value):
    pattern = DOCUMENT["components"]["parameters"]["Sort"]["schema"]["pattern"]

    assert bool(re.search(pattern, value)) == (listing.read_sort(value)[1] is None), value


def test_each_media_type_of_a_body_has_a_schema_of_its_own():
    """A generated client chooses the media type by the class of the body it is given."""
    for path, method in documented_operations():
        content = DOCUMENT["paths"][path][method].get("requestBody", {}).get("content", {})
        schemas = [media["schema"]["$ref"] for media in content.values()]

        assert len(schemas) == len(set(schemas)), (method, path)
    patch = DOCUMENT["paths"]["/api/song/{song_id}"]["patch"]["requestBody"]["content"]
    assert next(iter(patch)) == "application/merge-patch+json"


def test_the_documents_song_schemas_follow_the_fields_declared_once():
    """songs/song.py is the one declaration of a song's fields: the document must say the
    same of each (its JSON type, bounds, whether a client writes it) and nothing more."""
    schemas = DOCUMENT["components"]["schemas"]
    song_schema = schemas["Song"]
    json_types = {"id": "integer", "integer": "integer", "text": "string", "time": "string"}

    assert song_schema["required"] == list(song.SONG_FIELDS)
    assert list(song_schema["properties"]) == list(song.SONG_FIELDS)
    for field in song.FIELDS:
        described = song_schema["properties"][field.name]
        assert described["type"] == json_types[field.kind], field.name
        assert described.get("readOnly", False) is not field.writable, field.name
        if field.kind == "text":
            assert (described["minLength"], described["maxLength"]) == (field.low, field.high)
            assert f"1 to {field.high} characters" in schemas["Text"]["description"]
        if field.kind == "integer":
            assert (described["minimum"], described["maximum"]) == (field.low, field.high)
        if field.kind == "time":
            assert described["format"] == "date-time"
    for name in ("SongInput", "SongForm", "SongPatch"):
        properties = schemas[name]["properties"]
        assert set(properties) == set(song.SONG_FIELDS), name
        for field in song.FIELDS:
            described = properties[field.name]
            ignored = "Ignored" in described.get("$ref", described.get("description", ""))
            assert ignored is not field.writable, (name, field.name)
        if name != "SongPatch":
            assert schemas[name]["required"] == list(song.WRITABLE_FIELDS), name


def test_the_documents_list_parameters_are_the_declared_filters():
    parameters = DOCUMENT["components"]["parameters"]
    listed = [
        parameters[reference["$ref"].rpartition("/")[2]]
        for reference in DOCUMENT["paths"]["/api/songs"]["get"]["parameters"]
    ]
    documented = {
        parameter["name"]: parameter
        for parameter in listed
        if parameter["in"] == "query" and parameter["name"] not in ("limit", "cursor")
    }

    assert set(documented) == {"sort", "count", "q", *song.FILTERS}
    for name, (field, how) in song.FILTERS.items():
        schema = documented[name]["schema"]
        if field.kind == "integer" and how != "in":
            assert (schema["minimum"], schema["maximum"]) == (field.low, field.high), name
        if field.kind == "integer" and how == "in":
            one = f"[{field.low}-{field.high}]"
            assert schema["pattern"] == f"^{one}(,{one})*$", name
        if field.kind == "time":
            assert schema["format"] == "date-time", name
