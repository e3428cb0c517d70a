"""The command line (`python service.py …`, as the Makefile runs it): init-db, seed, import,
export and backup on real files, and make clean, which never deletes a database."""

import contextlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from helpers import POOLED, POSTGRES_ONLY, SQLITE_ONLY, create
from helpers.answers import HOSTILE, rows_of
from helpers.commands import init_db, make
from helpers.gunicorn_server import ROOT
from helpers.load import write_until
from songs import storage
from songs.progress import Progress
from songs.storage.sqlite import sqlite_path


def test_hostile_values_round_trip_through_make_import_and_make_export(client, tmp_path):
    for artist, title, rating in HOSTILE:
        create(client, artist=artist, title=title, rating=rating)
    exported = tmp_path / "songs.csv"
    exported.write_bytes(client.get("/api/songs.csv?sort=id").body)
    copy = f"sqlite:///{tmp_path / 'copy.db'}"

    imported = make("import", f"FILE={exported}", env={"DATABASE_URL": copy})
    again = make("export", f"FILE={tmp_path / 'again.csv'}", env={"DATABASE_URL": copy})

    assert imported.returncode == 0, imported.stderr
    assert f"{len(HOSTILE)} songs imported" in imported.stdout
    assert again.returncode == 0, again.stderr
    original = [row[1:4] for row in rows_of(exported.read_text(encoding="utf-8"))]
    copied = [row[1:4] for row in rows_of((tmp_path / "again.csv").read_text(encoding="utf-8"))]
    assert copied == original
    assert original[1:] == [[a, t, str(r)] for a, t, r in HOSTILE]


def test_import_reports_the_line_and_field_of_every_bad_row_and_adds_nothing(
    client, tmp_path, database_url, dump
):
    create(client)
    before = dump()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "artist,title,rating\r\n"
        "Good,Song,5\r\n"
        'Spans,"two\r\nlines",3\r\n'
        ",Empty artist,9\r\n"
        "Too,many,3,fields\r\n"
        "\r\n"
        "Fine,Again,2\r\n",
        encoding="utf-8",
        newline="",
    )

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: title must not contain a control character (U+000D at index 3)",
        "line 5: artist must not be empty or only white space",
        "line 5: rating must be a whole number from 1 to 5, in decimal digits",
        "line 6: 4 fields, the header has 3",
    ]
    assert f"{bad}: nothing imported, 4 errors" in result.stderr
    assert dump() == before


@POOLED
def test_imports_one_after_another_each_add_every_song(tmp_path, database_url, db):
    """Through a transaction pooler too: each import's temporary table lives and dies in its
    one transaction, not in a server connection that the next import may be given."""
    songs = tmp_path / "songs.csv"
    songs.write_text("artist,title,rating\r\nA,One,1\r\nB,Two,2\r\n", newline="")

    results = [make("import", f"FILE={songs}", env={"DATABASE_URL": database_url}) for _ in "abc"]

    assert [(r.returncode, "2 songs imported" in r.stdout) for r in results] == [(0, True)] * 3, [
        r.stderr for r in results
    ]
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (6,)


def test_seed_and_import_record_each_song_they_add(tmp_path, database_url, client):
    songs = tmp_path / "songs.csv"
    songs.write_text("artist,title,rating\r\nA,One,1\r\nB,Two,2\r\n", newline="")
    env = {"DATABASE_URL": database_url}

    loads = [make("seed", "N=3", env=env), make("import", f"FILE={songs}", env=env)]

    assert [load.returncode for load in loads] == [0, 0], [load.stderr for load in loads]
    versions = [client.get(f"/api/song/{song_id}/history").json for song_id in range(1, 6)]
    assert [(v[0]["op"], v[0]["actor"]) for v in versions] == [("create", "command:seed")] * 3 + [
        ("create", "command:import")
    ] * 2
    listed = client.get("/api/songs?sort=id").json
    assert [v[0]["song"] for v in versions] == listed
    feed = client.get("/api/changes").json["changes"]
    assert [(change["op"], change["song"]) for change in feed] == [("create", s) for s in listed]


@pytest.mark.parametrize(
    "header",
    ["artist,title", "artist,title,rating,genre", "artist,title,rating,artist", ""],
)
def test_import_refuses_a_header_that_is_not_the_exports(tmp_path, database_url, header):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header}\r\nA,B,3\r\n")

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert "line 1: the header must name artist, title and rating" in result.stderr


def test_import_of_a_file_that_is_not_utf8_adds_nothing(tmp_path, database_url, db):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"artist,title,rating\r\nA,B,3\r\nCaf\xe9,B,3\r\n")

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert "not UTF-8 CSV" in result.stderr
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (0,)


def test_make_export_never_overwrites_a_file(tmp_path, database_url):
    target = tmp_path / "keep.csv"
    target.write_text("precious")

    result = make("export", f"FILE={target}", env={"DATABASE_URL": database_url})

    assert result.returncode != 0
    assert target.read_text() == "precious"


def test_make_seed_adds_n_songs_that_every_query_can_find(tmp_path, client, database_url):
    result = make("seed", "N=2500", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    resp = client.get("/api/songs?count=true&limit=1")
    assert resp.headers["X-Total-Count"] == "2500"
    artist = resp.json[0]["artist"]
    assert int(client.get(f"/api/songs?artist={artist}&count=true").headers["X-Total-Count"]) > 1
    word = artist.split()[0][:4]
    found = client.get(f"/api/songs?q={word}&count=true").headers["X-Total-Count"]
    assert int(found) > 1


def test_import_of_a_missing_file_says_so(tmp_path, database_url):
    result = make(
        "import",
        f"FILE={tmp_path / 'none.csv'}",
        env={"DATABASE_URL": database_url},
    )

    assert result.returncode != 0
    assert f"{tmp_path / 'none.csv'}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_import_of_many_bad_rows_shows_the_first_hundred_and_counts_the_rest(
    tmp_path, database_url, db
):
    bad = tmp_path / "bad.csv"
    bad.write_text("artist,title,rating\n" + "A,B,9\n" * 5000)

    result = make("import", f"FILE={bad}", env={"DATABASE_URL": database_url})

    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert len([line for line in lines if line.startswith("line ")]) == 100
    assert f"{bad}: nothing imported, 5000 errors (4900 more not shown)" in lines
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (0,)


def test_an_import_reads_a_rating_with_more_leading_zeros_than_int_reads(
    tmp_path, database_url, db
):
    songs = tmp_path / "zeros.csv"
    songs.write_text("artist,title,rating\nA,B," + "0" * 5000 + "4\n")

    result = make("import", f"FILE={songs}", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    assert db.execute("SELECT rating FROM songs").fetchall() == [(4,)]


def test_init_db_on_a_database_with_songs_keeps_every_one(client, database_url, dump):
    for n in range(5):
        create(client, title=f"Song {n}")
    client.delete("/api/song/5", status=204)
    before = dump()

    first, second = init_db(database_url), init_db(database_url)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    name = storage.open_database(database_url).name
    assert second.stdout == f"{name}: schema ready, 4 songs\n"
    assert dump() == before
    assert create(client)["id"] == 6


def test_init_db_with_a_bad_database_url_fails_with_the_reason(tmp_path):
    result = init_db("mysql://songs:secret-password@localhost/songs", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr == (
        "service.py: DATABASE_URL must name a SQLite file, as sqlite:///songs.db (relative) "
        "or sqlite:////var/lib/songs.db (absolute), or a PostgreSQL database, as "
        "postgresql://user:password@host:5432/songs; got 'a URL of another kind'\n"
    )
    assert "secret-password" not in result.stdout + result.stderr


def test_make_clean_removes_the_environment_and_caches_but_never_a_database(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    for folder in (".venv/bin", ".pytest_cache", "__pycache__"):
        (tmp_path / folder).mkdir(parents=True)
    databases = ["songs.db", "songs.db-wal", "songs.db-shm", "songs.db-writelock", "other.db"]
    for name in databases:
        (tmp_path / name).write_bytes(b"keep")

    result = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".venv").exists() and not (tmp_path / ".pytest_cache").exists()
    assert [(tmp_path / name).read_bytes() for name in databases] == [b"keep"] * len(databases)


@SQLITE_ONLY
def test_a_file_that_appears_at_the_backups_target_during_the_copy_is_kept(client, database_url):
    create(client)
    database = client.app.config["songs.database"]
    target = Path(sqlite_path(database_url)).with_name("copy.db")

    def someone_else_writes_the_target(status, remaining, total):
        target.write_text("precious")

    with pytest.raises(ValueError, match="appeared during the copy; it is kept as it was"):
        database.backup(str(target), progress=someone_else_writes_the_target)

    assert target.read_text() == "precious"
    assert list(target.parent.glob("*.partial")) == list(target.parent.glob(".*.partial")) == []


@SQLITE_ONLY
def test_a_backup_removes_the_copies_that_killed_backups_left_and_no_other(client, tmp_path):
    create(client)
    abandoned = tmp_path / ".old.db.4194999.partial"  # no process has this id
    running = tmp_path / f".other.db.{os.getpid()}.partial"  # a backup still running
    abandoned.write_bytes(b"x" * 1000)
    running.write_bytes(b"y")

    count = client.app.config["songs.database"].backup(str(tmp_path / "copy.db"))

    assert count == 1
    assert not abandoned.exists() and running.read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.glob(".*.partial")) == [running.name]


@SQLITE_ONLY  # PostgreSQL is backed up with its own tools (README)
def test_make_backup_copies_a_consistent_database_while_the_service_takes_writes(
    start_gunicorn, tmp_path
):
    database = tmp_path / "songs.db"
    server = start_gunicorn(f"sqlite:///{database}", workers=2)
    acknowledged, lock, stop = {}, threading.Lock(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        for client in range(4):
            pool.submit(write_until, server, stop, acknowledged, lock, client)
        time.sleep(0.5)
        with lock:
            before = set(acknowledged)
        backup = tmp_path / "copy.db"
        result = subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), "backup", f"FILE={backup}"],
            env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        time.sleep(0.3)
        stop.set()

    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = {row[0] for row in conn.execute("SELECT id FROM songs")}
    finally:
        conn.close()
    assert before <= copied  # everything acknowledged before the backup began
    assert copied <= set(acknowledged)
    assert len(acknowledged) > len(copied)  # the service kept writing during and after
    again = subprocess.run(
        [sys.executable, str(ROOT / "service.py"), "backup", str(backup)],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites


def test_export_says_how_many_songs_it_wrote(client, database_url, tmp_path):
    for n in range(3):
        create(client, title=f"Song {n}")

    result = make("export", f"FILE={tmp_path / 'out.csv'}", env={"DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'out.csv'}: 3 songs exported" in result.stderr
    assert len(rows_of((tmp_path / "out.csv").read_text())) == 1 + 3


@POSTGRES_ONLY
def test_each_bulk_command_writes_each_count_a_handful_of_times_not_once_per_song(
    tmp_path, database_url, db
):
    """The counts by rating are kept once per statement (schema version 6): a bulk load's
    cost per song does not grow with the songs before it in its transaction."""
    db.execute("CREATE TABLE count_writes (rating integer)")
    db.execute(
        "CREATE FUNCTION note_count_write() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN INSERT INTO count_writes VALUES (NEW.rating); RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER noted AFTER INSERT OR UPDATE ON song_counts"
        " FOR EACH ROW EXECUTE FUNCTION note_count_write()"
    )
    songs = tmp_path / "songs.csv"
    lines = (f"Artist {n % 97},Title {n},{n % 5 + 1}" for n in range(3000))
    songs.write_text("\n".join(["artist,title,rating", *lines]) + "\n")
    source = tmp_path / "source.db"
    assert make("seed", "N=3000", env={"DATABASE_URL": f"sqlite:///{source}"}).returncode == 0
    env = {"DATABASE_URL": database_url}

    loads = [  # the move first: it keeps its songs' ids
        make("migrate-to-postgres", f"FILE={source}", env=env),
        make("import", f"FILE={songs}", env=env),
        make("seed", "N=3000", env=env),
    ]

    assert [load.returncode for load in loads] == [0, 0, 0], [load.stderr for load in loads]
    assert db.execute("SELECT count(*) FROM songs").fetchone() == (9000,)
    writes = db.execute("SELECT rating, count(*) FROM count_writes GROUP BY 1 ORDER BY 1")
    writes = writes.fetchall()
    # Each rating's count: written once a load, and made (at 0) the first time it is needed.
    assert [rating for rating, _ in writes] == [1, 2, 3, 4, 5]
    assert all(count <= len(loads) + 1 for _, count in writes), writes
    kept = db.execute("SELECT rating, songs FROM song_counts WHERE songs > 0 ORDER BY rating")
    counted = db.execute("SELECT rating, count(*) FROM songs GROUP BY rating ORDER BY rating")
    assert kept.fetchall() == counted.fetchall()


def test_a_seed_on_a_terminal_shows_a_bar_that_it_clears_before_its_last_line(tmp_path):
    """On a pseudo-terminal, as a person running make seed sees it (on SQLite)."""
    leader, follower = os.openpty()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'songs.db'}"}
    with subprocess.Popen(
        [sys.executable, str(ROOT / "service.py"), "seed", "20000"],
        env=env,
        stdout=follower,
        stderr=follower,
    ) as seed:
        os.close(follower)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the seed has ended
            while chunk := os.read(leader, 4096):
                shown += chunk
    os.close(leader)

    assert seed.returncode == 0
    text = shown.decode()
    assert re.search(r"\r\[#*\.*\] +\d+% seed: added [\d,]+ of 20,000 songs, [\d,]+/s, ", text)
    assert text.endswith("\r\x1b[K" + f"{tmp_path / 'songs.db'}: 20000 songs added\r\n")


def test_a_long_command_off_a_terminal_says_how_far_it_is_every_few_seconds():
    """As under a release step or in a log: a line every EVERY seconds, none redrawn."""
    now = [0.0]
    shown = io.StringIO()
    done = Progress(
        "import: checked", fraction=lambda: now[0] / 20, stream=shown, clock=lambda: now[0]
    )

    for second in range(1, 13):
        now[0] = second
        done.advance(1000)
    done.finish()

    assert shown.getvalue().splitlines() == [
        "import: checked 5,000 songs, 1,000/s, 15 s left",
        "import: checked 10,000 songs, 1,000/s, 10 s left",
    ]


@POSTGRES_ONLY
def test_init_db_where_the_search_path_cannot_see_pg_trgm_says_so_in_one_line(database_url):
    """pg_trgm lives in public here; a search_path of the schema alone cannot see its
    operator classes, and the schema cannot be made: a line that says why, no traceback."""
    alone = database_url.replace(quote(",public", safe=""), "")
    assert alone != database_url

    result = init_db(alone)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "schema-postgres.sql cannot be applied" in result.stderr
    assert "gin_trgm_ops" in result.stderr and "search_path" in result.stderr
