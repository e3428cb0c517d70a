"""Properties of validation, over bodies Hypothesis makes up, through HTTP.

What is accepted reads back identical after the documented trimming; what is rejected leaves
the database file and its WAL byte-for-byte as they were. Which bodies are accepted is
exactly what the OpenAPI document's schemas say, checked with an independent JSON Schema
validator.
"""

import json
import unicodedata

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from webtest import TestApp

from helpers.gunicorn_server import ROOT
from songs import validation

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())
SPACES = " \u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROLS = "\x00\t\n\r\x1b\x7f\x85\x9f"
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

characters = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(SPACES),
    st.sampled_from(CONTROLS),
    st.sampled_from("aZ9é🎵"),
)
plain_texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=12
)
texts = st.one_of(
    plain_texts,
    st.text(characters, max_size=12),
    st.builds(
        lambda left, size, right: left + "x" * size + right,
        st.text(st.sampled_from(SPACES), max_size=3),
        st.integers(min_value=498, max_value=502),
        st.text(st.sampled_from(SPACES), max_size=3),
    ),
)
ratings = st.one_of(
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=-2, max_value=8),
    st.sampled_from([3.0, 4.5, 1e300, 2**63, True, None, "3", [3], {"n": 3}]),
)
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
extras = {"id": anything, "updated_at": anything, "genre": anything}
fields = {"artist": texts, "title": texts, "rating": ratings}
likely_songs = st.fixed_dictionaries(
    {"artist": plain_texts, "title": plain_texts, "rating": st.sampled_from([1, 2, 3, 4, 5, 5.0])},
    optional={"id": anything, "created_at": anything},
)
songs = st.one_of(likely_songs, st.fixed_dictionaries(fields, optional=extras))
patches = st.fixed_dictionaries({}, optional={**fields, **extras})
bodies = st.one_of(songs, patches)


def validator(schema_name):
    schema = DOCUMENT["components"]["schemas"][schema_name]
    return jsonschema_rs.validator_for({**schema, "components": DOCUMENT["components"]})


@pytest.fixture
def stored(backend, database_path, dump):
    """What the database holds: on SQLite the file and its write-ahead log, exactly as they are
    on disk; on PostgreSQL every row of every table."""
    if backend != "sqlite":
        return dump
    files = [database_path, database_path.with_name(database_path.name + "-wal")]

    def stored_bytes():
        assert database_path.exists()
        return [path.read_bytes() if path.exists() else None for path in files]

    return stored_bytes


def trimmed(body):
    """The body's fields as the service stores them: text trimmed and in NFC (check_text)."""
    return {
        name: unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else int(value)
        for name, value in body.items()
        if name in validation.WRITABLE_FIELDS
    }


def test_a_song_is_created_exactly_when_the_document_says_it_is_valid(client, stored):
    schema = validator("SongInput")

    @PROPERTY_SETTINGS
    @given(body=bodies)
    def check(body):
        before = stored()

        resp = client.post(
            "/api/songs", json.dumps(body), content_type="application/json", expect_errors=True
        )

        event(f"status {resp.status_int}")
        if schema.is_valid(body):
            assert resp.status_int == 201, resp.text
            song = client.get(resp.headers["Location"]).json
            assert {name: song[name] for name in validation.WRITABLE_FIELDS} == trimmed(body)
        else:
            assert resp.status_int == 422, resp.text
            assert stored() == before

    check()


def test_a_patch_applies_exactly_when_the_document_says_it_is_valid(client, stored):
    schema = validator("SongPatch")
    client.post_json("/api/songs", {"artist": "Jaws", "title": "Klosman", "rating": 3})

    @PROPERTY_SETTINGS
    @given(body=patches)
    def check(body):
        current = client.get("/api/song/1").json
        before = stored()

        resp = client.patch(
            "/api/song/1",
            json.dumps(body),
            content_type="application/merge-patch+json",
            expect_errors=True,
        )

        event(f"status {resp.status_int}")
        if schema.is_valid(body):
            assert resp.status_int == 200, resp.text
            expected = {**current, **trimmed(body)}
            song = client.get("/api/song/1").json
            assert song == {**expected, "updated_at": song["updated_at"]}
            if song == {**current, "updated_at": song["updated_at"]}:
                assert song["updated_at"] == current["updated_at"]
        else:
            assert resp.status_int == 422, resp.text
            assert stored() == before

    check()


def test_the_documented_text_pattern_is_the_validation_rule(client):
    pattern = validator("Text")

    @PROPERTY_SETTINGS
    @given(text=texts)
    def check(text):
        body = {"artist": text, "title": "t", "rating": 1}

        resp = client.post_json("/api/songs", body, expect_errors=True)

        event(f"status {resp.status_int}")
        assert (resp.status_int == 201) == pattern.is_valid(text), (text, resp.text)

    check()


def test_form_bodies_are_validated_as_json_ones(make_app):
    app = make_app()
    client = TestApp(app)
    schema = validator("SongInput")

    @PROPERTY_SETTINGS
    @given(artist=texts, title=texts, rating=st.integers(min_value=-1, max_value=7))
    def check(artist, title, rating):
        body = {"artist": artist, "title": title, "rating": rating}

        resp = client.post("/api/songs", body, expect_errors=True)

        event(f"status {resp.status_int}")
        assert (resp.status_int == 201) == schema.is_valid(body), (body, resp.text)

    check()
    app.config["songs.database"].close()
