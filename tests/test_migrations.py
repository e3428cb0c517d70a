"""Schema changes as numbered steps (songs/storage/migrations.py), on every backend: a step
that adds a column runs once, keeps every song, records its version, and leaves a service
that reads and writes; a step that fails changes nothing."""

import pytest

from helpers import POOLED, SONG
from songs import records, storage
from songs.storage.migrations import Step, sql_statements

pytestmark = POOLED  # the storage contract: every backend, through PgBouncer too

NEXT = storage.SCHEMA_VERSION + 1
ADD_YEAR = Step(
    NEXT,
    "ALTER TABLE songs ADD COLUMN year INTEGER CHECK (year BETWEEN 1000 AND 9999);\n",
    "ALTER TABLE songs ADD COLUMN year integer CHECK (year BETWEEN 1000 AND 9999);",
)


def version(database):
    conn = database.connection()
    if isinstance(database, storage.SQLiteDatabase):
        return conn.execute("PRAGMA user_version").fetchone()[0]
    return conn.execute("SELECT version FROM schema_version").fetchone()[0]


def test_a_step_adding_a_column_runs_once_and_keeps_every_song(database):
    before, _ = records.add_song(database, SONG)
    steps = (*storage.STEPS, ADD_YEAR)

    database.init_schema(steps)
    database.init_schema(steps)  # again, as every start does: nothing is left to do
    database.close()  # the service's connections open on the new schema

    conn = database.connection()
    assert version(database) == NEXT
    assert conn.execute("SELECT id, year FROM songs").fetchall() == [(before["id"], None)]
    assert storage.find_song(conn, before["id"]) == before
    after, _ = records.add_song(database, {**SONG, "title": "Jaws II"})
    assert after["id"] > before["id"]
    with pytest.raises(storage.BrokenConstraint):  # the step's CHECK holds
        with database.write_transaction() as conn:
            conn.execute("UPDATE songs SET year = 99 WHERE id = ?", (after["id"],))


def test_a_step_that_fails_changes_nothing_and_records_nothing(database):
    records.add_song(database, SONG)
    failing = Step(
        NEXT,
        "ALTER TABLE songs ADD COLUMN year INTEGER;\nSELECT no_such_function();\n",
        "ALTER TABLE songs ADD COLUMN year integer; SELECT no_such_function();",
    )

    with pytest.raises(Exception, match="no_such_function"):
        database.init_schema((*storage.STEPS, failing))
    database.close()

    assert version(database) == storage.SCHEMA_VERSION
    database.init_schema((*storage.STEPS, ADD_YEAR))  # the column was not left behind
    assert version(database) == NEXT


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_sqlite_step_may_be_a_function_of_the_connection(database):
    """For what SQL alone cannot do on SQLite (a table rebuild), inside the step's
    transaction like any other."""
    seen = []

    def step(conn):
        seen.append(conn.in_transaction)
        conn.execute("ALTER TABLE songs ADD COLUMN year INTEGER")

    database.init_schema((*storage.STEPS, Step(NEXT, step, "")))

    assert seen == [True]
    assert version(database) == NEXT


def test_steps_are_numbered_one_after_another_from_the_baseline(database):
    skipping = Step(NEXT + 1, "SELECT 1;\n", "SELECT 1;")

    with pytest.raises(ValueError, match="numbered"):
        database.init_schema((*storage.STEPS, skipping))
    assert version(database) == storage.SCHEMA_VERSION


def test_a_scripts_statements_are_split_whole_triggers_included():
    script = (
        "CREATE TABLE t (a INTEGER);\n"
        "CREATE TRIGGER t_kept AFTER INSERT ON t BEGIN\n"
        "    UPDATE t SET a = a + 1;\n"
        "END;\n"
    )

    assert [s.split()[1] for s in sql_statements(script)] == ["TABLE", "TRIGGER"]
    with pytest.raises(ValueError):
        list(sql_statements("CREATE TABLE t (a INTEGER"))
