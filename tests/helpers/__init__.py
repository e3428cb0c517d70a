"""What the tests share: a song to send, the marks that choose each test's backends, and
creating a song through the API. Fixtures are in helpers/databases.py and helpers/servers.py
(tests/conftest.py loads them); the real servers the tests start are the other modules here."""

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's (apt-get install chromium); Playwright drives it

SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}


SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # overrides the backend fixture


POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgresql"])


# Once more through a real PgBouncer in transaction pooling mode (tests/helpers/pgbouncer.py), on a
# database of the test's own: PgBouncer passes no search_path for a schema of its own.
POOLED = pytest.mark.pooled  # a test or module that asks for the backend runs on all three


POSTGRES_POOLED = pytest.mark.parametrize("backend", ["postgresql", "pgbouncer"])


# The HTTP layer (parameters, bodies, problems, headers, preconditions) is the same whatever
# the backend: a test or module so marked runs on SQLite only. What the backends must do
# alike is held by the tests that are not: storage, listing, records, migrations, commands.
HTTP_LAYER = pytest.mark.http_layer
# In a module marked HTTP_LAYER, a test of what the database keeps (sessions, counts) that
# runs on each backend all the same.
EVERY_BACKEND = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def create(client, **fields):
    """POST a song (SONG with `fields` replaced) and return it."""
    return client.post_json("/api/songs", {**SONG, **fields}, status=201).json
