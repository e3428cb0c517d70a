"""What is PostgreSQL's own: one schema in two dialects, connections that survive an outage,
two instances on one database, moving a SQLite database in, and the install it needs.

Everything else runs on both backends through the database_url fixture (helpers/databases.py).
"""

import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from webtest import TestApp

import service
from helpers import POSTGRES_ONLY, POSTGRES_POOLED, SONG, create
from helpers.databases import admin_connection, cut_off
from helpers.gunicorn_server import ROOT, procfile_command
from helpers.load import mixed_writers_lose_nothing
from songs import cursors, storage
from songs.storage.common import BASELINE_VERSION
from songs.storage.queries import song_queries


def run(*args, env):
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def environment(**extra):
    return {**os.environ, **extra}


# One schema in two dialects


def sqlite_shape(path):
    """Tables, columns, primary keys, CHECK constraints and indexes of schema.sql, as words."""
    import sqlite3

    conn = sqlite3.connect(path)
    shape = {}
    for table in ("songs", "idempotency_keys"):
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        indexes = {}
        for _, name, _, origin, _ in conn.execute(f"PRAGMA index_list({table})"):
            if origin != "c":
                continue  # the primary key's own index
            keys = [row for row in conn.execute(f"PRAGMA index_xinfo({name})") if row[5]]
            indexes[name] = [row[2] + (" nocase" if row[4] == "NOCASE" else "") for row in keys]
        shape[table] = {
            "columns": [(c[1], c[2].lower(), bool(c[3]) or bool(c[5])) for c in columns],
            "primary key": [c[1] for c in columns if c[5]],
            "checks": sorted(re.findall(r"CONSTRAINT (\w+) CHECK", sql)),
            "indexes": indexes,
        }
    for column in conn.execute("PRAGMA table_info(songs_search_keys)").fetchall():
        shape["songs"]["indexes"][f"songs_search_{column[1]}"] = [f"{column[1]} trigram"]
    conn.close()
    return shape


def postgres_shape(url):
    """The same words, read from PostgreSQL's catalogue."""
    import psycopg

    types = {"bigint": "integer", "integer": "integer", "text": "text"}
    shape = {}
    with psycopg.connect(url) as conn:
        for table in ("songs", "idempotency_keys"):
            columns = conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s"
                " ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            constraints = conn.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass",
                (table,),
            ).fetchall()
            primary = [c for c in constraints if c[1] == "p"][0][2]
            indexes = {}
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = %s",
                (table,),
            ):
                if name.endswith("_pkey"):
                    continue
                keys = re.search(r"USING \w+ \((.*?)\)( WITH \(.*\))?$", definition)[1].split(", ")
                indexes[name] = [
                    re.sub(
                        r'^songs_nocase\((\w+)\) COLLATE "C"$|^(\w+) gin_trgm_ops$',
                        lambda m: f"{m[1]} nocase" if m[1] else f"{m[2]} trigram",
                        key,
                    )
                    for key in keys
                ]
            shape[table] = {
                "columns": [(c[0], types[c[1]], c[2] == "NO") for c in columns],
                "primary key": re.findall(r"\((\w+)\)", primary),
                "checks": sorted(c[0] for c in constraints if c[1] == "c"),
                "indexes": indexes,
            }
    return shape


@POSTGRES_ONLY
def test_both_schemas_define_the_same_columns_constraints_and_indexes(database_url, tmp_path):
    storage.open_database(database_url).init_schema()
    storage.SQLiteDatabase(str(tmp_path / "songs.db")).init_schema()

    sqlite, postgres = sqlite_shape(tmp_path / "songs.db"), postgres_shape(database_url)

    assert postgres == sqlite
    assert sqlite["songs"]["checks"] == [
        "artist_is_clean_text",
        "rating_is_1_to_5",
        "timestamps_are_rfc3339_utc",
        "title_is_clean_text",
    ]
    assert set(sqlite["songs"]["indexes"]) == {
        "songs_by_artist",
        "songs_by_title",
        "songs_by_rating",
        "songs_by_created_at",
        "songs_by_updated_at",
        "songs_search_artist_key",  # one FTS5 table on SQLite, a GIN index per column here
        "songs_search_title_key",
    }


@POSTGRES_ONLY
def test_the_trigram_indexes_take_writes_through_a_short_pending_list_that_searches_read(
    client, db
):
    # Written into one song at a time, a bulk load of 300,000 songs spent three quarters of
    # its time in these two indexes (migrations.py, step 9); a pending list batches them.
    for index in ("songs_search_artist_key", "songs_search_title_key"):
        options = db.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass(?)", (index,))
        assert options.fetchone() == (["fastupdate=on", "gin_pending_list_limit=64"],)

    for n in range(3):
        create(client, artist=f"Zyzzyva {n}", title=f"Quokka {n}")
    # in the list, not yet merged: the merge cleans at least one page of it
    merged = "SELECT gin_clean_pending_list(?::regclass)"
    assert db.execute(merged, ("songs_search_title_key",)).fetchone()[0] >= 1
    create(client, artist="Zyzzyva 3", title="Quokka 3")  # and one only in the artist's list
    found = client.get("/api/songs?q=zyzzyva").json + client.get("/api/songs?q=quokka").json
    assert sorted(song["title"] for song in found) == sorted([f"Quokka {n}" for n in range(4)] * 2)


def test_both_schema_files_record_the_baseline_the_steps_start_from():
    sqlite = (ROOT / "schema.sql").read_text()
    postgres = (ROOT / "schema-postgres.sql").read_text()
    baseline = str(BASELINE_VERSION)

    assert re.findall(r"PRAGMA user_version = (\d+);", sqlite) == [baseline]
    assert re.findall(r"INSERT INTO schema_version \(version\) VALUES \((\d+)\);", postgres) == [
        baseline
    ]
    assert storage.SCHEMA_VERSION == BASELINE_VERSION + len(storage.STEPS)


@POSTGRES_ONLY
def test_an_older_schema_version_is_upgraded_in_place_keeping_every_song(client, db):
    for n in range(5):
        create(client, title=f"Song {n}")
    db.execute("UPDATE schema_version SET version = 2")
    db.execute("ALTER TABLE songs DROP COLUMN artist_key, DROP COLUMN title_key")  # before 5
    db.execute("DROP TABLE song_counts")  # nor these, before version 4
    db.execute("DROP TABLE song_changes, song_changes_purged")  # nor the log, before 7 and 8
    for trigger in ("song_counts_added", "song_counts_removed", "song_counts_changed"):
        db.execute(f"DROP TRIGGER {trigger} ON songs")
    db.execute(  # an earlier version stored text as it was sent, decomposed too
        "INSERT INTO songs (artist, title, rating) VALUES ('E\u0301dith Piaf', 'Song 5', 3)"
    )
    columns = ", ".join(storage.SONG_FIELDS)
    before = db.execute(f"SELECT {columns} FROM songs ORDER BY id").fetchall()
    before[-1] = (before[-1][0], "\u00c9dith Piaf", *before[-1][2:])

    database = storage.open_database(client.app.config["songs.database"].url)
    database.init_schema()  # and the rest of init-db:
    assert storage.key_songs(database) == 6
    database.close()

    assert db.execute("SELECT version FROM schema_version").fetchall() == [
        (storage.SCHEMA_VERSION,)
    ]
    assert db.execute("SELECT to_regclass('songs_search_title_key') IS NOT NULL").fetchone() == (
        True,
    )
    assert db.execute(f"SELECT {columns} FROM songs ORDER BY id").fetchall() == before
    assert [song["title"] for song in client.get("/api/songs?q=ong%203").json] == ["Song 3"]
    assert [song["title"] for song in client.get("/api/songs?q=%C3%A9dith").json] == ["Song 5"]
    assert db.execute("SELECT rating, songs FROM song_counts").fetchall() == [(SONG["rating"], 6)]
    create(client, rating=1)  # the trigger is back
    assert db.execute("SELECT songs FROM song_counts WHERE rating = 1").fetchone() == (1,)


# Plans


MISLED = [  # (the list's query, the filters of its first SELECT)
    ("q=tist%207", {"q": "tist 7"}),
    ("artist=Artist%207", {"artist": "Artist 7"}),
    ("title=TITLE%207", {"title": "TITLE 7"}),
    ("rating=5", {"rating": (5,)}),
    ("sort=-rating", {"rating": (5,)}),  # its first query: the songs rated 5, newest first
]


@POSTGRES_ONLY
def test_a_page_reads_its_own_index_when_the_statistics_mislead(make_app, db):
    """Statistics from 2,000 varied songs, then 6,000 recent ones that match none of these
    queries: a plan that walks the id index and filters reads all 6,000 for each page. Each
    query of MISLED on one such table (they only read it); every one that goes wrong is
    named."""
    columns = ("artist", "title", "rating", *storage.KEY_FIELDS)  # as the service writes them
    db.insert_rows(
        "songs",
        columns,
        [
            (
                f"Artist {n % 10}",
                f"Title {n % 10}",
                n % 5 + 1,
                f"artist {n % 10}",
                f"title {n % 10}",
            )
            for n in range(2000)
        ],
    )
    db.execute("ANALYZE songs")
    db.insert_rows(
        "songs", columns, [("Gregori Klosman", "Jaws", 3, "gregori klosman", "jaws")] * 6000
    )
    client, wrong = TestApp(make_app()), []

    for query, filters in MISLED:
        (sql, params), *_ = song_queries(db, filters, cursors.DEFAULT_SORT, None)
        plan = db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql} LIMIT 101", params)
        plan = plan.fetchone()[0]
        if rows_read(plan[0]["Plan"]) > 1000:
            wrong.append(f"{query} read {rows_read(plan[0]['Plan'])} rows: {json.dumps(plan)}")
        if len(client.get(f"/api/songs?{query}").json) != 100:
            wrong.append(f"{query} did not answer 100 songs")

    assert wrong == []


def rows_read(node):
    """Rows a plan's nodes produced or threw away by filter, summed over the tree."""
    own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
    return own + sum(rows_read(child) for child in node.get("Plans", []))


# Connections


@POSTGRES_ONLY
def test_the_chart_of_a_big_seed_reads_a_page_or_two_of_the_kept_counts(own_database):
    """Each seeded song's trigger leaves a dead version of a count; the songs page's chart
    must not read through them (it read 109 pages after this seed).

    On a database of its own: a transaction open in another test's schema of the same
    database would keep the dead versions from being removed."""
    _, database_url = own_database
    database = storage.open_database(database_url)
    database.init_schema()
    db = database.connection()
    seeded = run(
        sys.executable,
        str(ROOT / "service.py"),
        "seed",
        "20000",
        env=environment(DATABASE_URL=database_url),
    )
    assert seeded.returncode == 0, seeded.stderr
    statements = []

    class Recorder:  # the real query of count_by_rating, kept to be explained
        def __getattr__(self, name):
            return getattr(db, name)

        def execute(self, sql, params=()):
            statements.append((sql, params))
            return db.execute(sql, params)

    counts = storage.count_by_rating(Recorder(), {})
    ((sql, params),) = statements
    plan = db.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params).fetchone()[0]

    database.close()

    assert sum(counts.values()) == 20000
    assert plan[0]["Plan"]["Shared Hit Blocks"] + plan[0]["Plan"]["Shared Read Blocks"] <= 3


@POSTGRES_ONLY
def test_building_the_app_leaves_no_connection_open_for_a_fork_to_share(database_url):
    application = database_url.split("application_name=")[1].split("&")[0]
    storage.open_database(database_url).init_schema()  # init-db's connection, closed

    app = service.create_app(database_url)
    with admin_connection() as admin:
        open_before_a_request = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchone()[0]
        TestApp(app).get("/api/songs")
        open_after = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchone()[0]
    app.config["songs.database"].close()

    assert (open_before_a_request, open_after) == (0, 1)


@POSTGRES_ONLY
def test_each_thread_reuses_one_connection_in_autocommit_preparing_nothing(app):
    database = app.config["songs.database"]
    mine = database.connection()
    mine.execute("SELECT 1")
    raw = mine.raw
    theirs = []

    def in_another_thread():
        theirs.append(database.connection())
        database.close()

    other = threading.Thread(target=in_another_thread)
    other.start()
    other.join()
    mine.execute("SELECT 1")

    assert database.connection() is mine and mine.raw is raw
    assert theirs and theirs[0] is not mine
    assert raw.autocommit and raw.prepare_threshold is None


@POSTGRES_POOLED
def test_every_transaction_has_the_lock_timeout_and_no_other_client_inherits_it(app, database_url):
    """Through PgBouncer, six threads share two server connections, each transaction on
    whichever is free; each runs the same statements over and over, as psycopg would
    prepare them (a statement prepared on one server connection is not on the next)."""
    import psycopg

    database = app.config["songs.database"]

    def transactions(_):
        seen = set()
        for _ in range(10):
            with database.write_transaction() as conn:
                seen.add(conn.execute("SHOW lock_timeout").fetchone()[0])
                conn.execute("SELECT count(*) FROM songs WHERE rating = ?", (3,)).fetchone()
            database.connection().execute("SELECT id FROM songs WHERE id = ?", (1,)).fetchall()
        database.close()  # this thread's
        return seen

    with ThreadPoolExecutor(6) as pool:
        seen = set().union(*pool.map(transactions, range(6)))
    with psycopg.connect(database_url, autocommit=True) as other:
        theirs = {other.execute("SHOW lock_timeout").fetchone()[0] for _ in range(10)}
    outside = database.connection().execute("SHOW lock_timeout").fetchone()[0]

    assert seen == {"5s"}
    assert theirs == {"0"} and outside == "0"  # the server's default: nothing leaked


@POSTGRES_POOLED
def test_advisory_locks_end_with_their_transaction(client, db):
    create(client)
    client.post_json("/api/songs", SONG, headers={"Idempotency-Key": "held-1"}, status=201)
    client.post_json("/api/songs", SONG, headers={"Idempotency-Key": "held-1"}, status=201)

    held = db.execute(  # by this test's connections: its schema's name, or its own database
        "SELECT count(*) FROM pg_locks JOIN pg_stat_activity a USING (pid)"
        " WHERE locktype = 'advisory' AND a.datname = current_database()"
        " AND a.application_name = current_setting('application_name')"
    ).fetchone()[0]

    assert held == 0  # a session's lock (pg_advisory_lock) would outlive it, on a shared one


@POSTGRES_ONLY
def test_a_connection_the_server_dropped_is_made_again_and_the_read_answered(client):
    create(client)
    terminate_the_services_connections(client)

    assert len(client.get("/api/songs", status=200).json) == 1
    assert client.post_json("/api/songs", SONG, status=201).json["id"] == 2


@POSTGRES_ONLY
def test_a_post_on_a_connection_the_server_dropped_is_made_once_on_a_new_one(client):
    """A POST sends its COMMIT along with it, so a failure cannot be sent again (it may have
    committed); a connection the server ended says so before the POST is sent."""
    create(client)
    terminate_the_services_connections(client)
    conn = client.app.config["songs.database"].connection().raw
    deadline = time.monotonic() + 10
    while not select.select([conn.fileno()], [], [], 0.05)[0]:  # the server's last word
        assert time.monotonic() < deadline, "the terminated backend never closed its end"

    assert client.post_json("/api/songs", SONG, status=201).json["id"] == 2
    assert [song["id"] for song in client.get("/api/songs").json] == [2, 1]


def terminate_the_services_connections(client):
    application = client.app.config["songs.database"].url.split("application_name=")[1]
    application = application.split("&")[0]
    with admin_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application,),
        )


@POSTGRES_POOLED
def test_an_outage_is_503s_and_the_service_serves_again_without_a_restart(
    start_gunicorn, own_database, backend
):
    """Under load, every connection is cut and new ones are refused for a while; then allowed.

    Through PgBouncer, a request first waits for a server connection, up to its
    query_wait_timeout (2 s in tests/helpers/pgbouncer.py)."""
    name, url = own_database
    wait = 0.2 if backend == "postgresql" else 2.5
    outage = 2 if backend == "postgresql" else 5
    server = start_gunicorn(url, workers=2)
    samples, acknowledged, stop = [], [], threading.Event()

    def load(c):
        n = 0
        while not stop.is_set():
            n += 1
            sent = time.monotonic()
            if n % 2:
                status, headers, body = server.request("GET", "/api/songs?limit=5")
            else:
                song = {**SONG, "title": f"c{c}-{n}"}
                status, headers, body = server.request(
                    "POST", "/api/songs", json.dumps(song), {"Content-Type": "application/json"}
                )
                if status == 201:
                    acknowledged.append(json.loads(body)["id"])
            samples.append((sent, time.monotonic(), status, headers.get("Retry-After"), body))

    with ThreadPoolExecutor(4) as pool, admin_connection() as admin:
        for c in range(4):
            pool.submit(load, c)
        time.sleep(1)
        cut = cut_off(admin, name)
        time.sleep(outage)
        probes = [server.request("GET", path)[0] for path in ("/readyz", "/livez")]
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        allowed = time.monotonic()
        time.sleep(2 + wait)
        stop.set()

    # Each request by when it was sent and answered: one answered before the cut can reach
    # a thread that the busy machine wakes late, and one sent before it be answered after.
    during = [s for s in samples if cut + wait < s[0] and s[1] < allowed]
    after = [s for s in samples if s[0] > allowed + wait + 0.5]
    assert during and {s[2] for s in during} == {503}
    assert all(s[3] == "1" and json.loads(s[4])["status"] == 503 for s in during)
    assert not [s for s in samples if s[2] >= 500 and s[2] != 503]
    assert after and {s[2] for s in after} <= {200, 201}
    assert probes == [503, 200]  # not ready, and alive: a restart would not help
    log = server.log()
    assert log.count("Booting worker") == 2, log  # served again by the same workers
    assert "Traceback" not in log
    import psycopg

    with psycopg.connect(url) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM songs")}
    assert set(acknowledged) <= stored


# Three instances, one database (through PgBouncer, a pool of 2 for their 12 threads)


@POSTGRES_POOLED
def test_three_instances_on_one_database_see_each_others_writes_and_lose_none(
    start_gunicorn, db, database_url
):
    servers = [start_gunicorn(workers=2) for _ in range(3)]
    one, two, three = servers

    status, headers, song = one.request_json("POST", "/api/songs", SONG)
    assert status == 201
    assert two.request_json("GET", f"/api/song/{song['id']}")[2] == song
    status, _, changed = three.request_json("PATCH", f"/api/song/{song['id']}", {"rating": 5})
    assert status == 200
    assert one.request_json("GET", f"/api/song/{song['id']}")[2] == changed
    assert len({json.dumps(server.request_json("GET", "/api/songs")[2]) for server in servers}) == 1

    def post_many(n):
        server = servers[n % 3]
        return [
            server.request_json("POST", "/api/songs", {**SONG, "title": f"{n}-{k}"})[2]["id"]
            for k in range(15)
        ]

    with ThreadPoolExecutor(16) as pool:
        ids = [i for batch in pool.map(post_many, range(16)) for i in batch]
    assert len(ids) == len(set(ids)) == 16 * 15
    stored = {row[0] for row in db.execute("SELECT id FROM songs")}
    assert stored == {song["id"], *ids}

    mixed_writers_lose_nothing(servers, db, database_url)
    assert "opens at most 4 PostgreSQL connections: 2 workers x 2 threads" in one.log()


@POSTGRES_POOLED
def test_racing_if_match_writers_on_three_instances_have_exactly_one_winner(start_gunicorn):
    servers = [start_gunicorn(workers=2) for _ in range(3)]
    status, headers, song = servers[0].request_json("POST", "/api/songs", SONG)
    path = f"/api/song/{song['id']}"

    for round_ in range(10):
        etag = servers[round_ % 3].request("GET", path)[1]["ETag"]
        barrier = threading.Barrier(9)

        def write(n, etag=etag, barrier=barrier, round_=round_):
            body = json.dumps({**SONG, "title": f"round {round_} writer {n}"})
            headers = {"If-Match": etag, "Content-Type": "application/json"}
            barrier.wait()
            return servers[n % 3].request("PUT", path, body, headers)[::2]

        with ThreadPoolExecutor(9) as pool:
            results = list(pool.map(write, range(9)))
        assert sorted(status for status, _ in results) == [200] + [412] * 8
        winner = next(json.loads(raw) for status, raw in results if status == 200)
        assert servers[(round_ + 1) % 3].request_json("GET", path)[2] == winner


def cookies_of(headers):
    """{name: value} of a response's Set-Cookie headers."""
    pairs = (header.split(";")[0].partition("=") for header in headers.get_all("Set-Cookie", []))
    return {name: value for name, _, value in pairs}


def post_page_form(server, path, fields, cookies):
    """A page's form POST as a browser sends it: (status, headers)."""
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    body = "&".join(f"{name}={value}" for name, value in fields.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    status, headers, _ = server.request("POST", path, body, headers)
    return status, headers


@POSTGRES_ONLY
def test_a_session_signed_out_on_one_instance_is_refused_by_another(start_gunicorn):
    token = "an-api-token-of-16-or-more"
    one, two = (start_gunicorn(workers=2, env={"API_TOKEN": token}) for _ in range(2))
    csrf = cookies_of(one.request("GET", "/sign-in")[1])["songs_csrf"]
    status, headers = post_page_form(
        one, "/sign-in", {"csrf_token": csrf, "token": token}, {"songs_csrf": csrf}
    )
    assert status == 303
    browser = {"songs_csrf": csrf, "songs_session": cookies_of(headers)["songs_session"]}
    copied = dict(browser)

    def may_add(server, cookies):
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return server.request("GET", "/songs/new", headers={"Cookie": cookie})[0] == 200

    assert may_add(two, copied)
    assert post_page_form(one, "/sign-out", {"csrf_token": csrf}, browser)[0] == 303

    assert not may_add(two, copied) and not may_add(one, copied)
    song = {"csrf_token": csrf, "artist": "A", "title": "B", "rating": "3"}
    assert post_page_form(two, "/songs", song, copied)[0] == 401


# Moving house


@pytest.fixture
def sqlite_songs(tmp_path):
    """A SQLite database with a history: deletes past the largest id, a patch, a key."""
    path = tmp_path / "old.db"
    storage.open_database(f"sqlite:///{path}").init_schema()
    app = service.create_app(f"sqlite:///{path}")
    client = TestApp(app)
    for n in range(30):
        create(client, artist=f"Artist {n % 4}", title=f"Song {n}", rating=n % 5 + 1)
    client.patch_json("/api/song/3", {"title": "Patched"})
    for song_id in (7, 29, 30):
        client.delete(f"/api/song/{song_id}")
    keyed = client.post_json("/api/songs", SONG, headers={"Idempotency-Key": "move-1"}).json
    client.delete(f"/api/song/{keyed['id']}")  # the largest id ever given is now gone
    songs = client.get("/api/songs?sort=id&limit=1000").json
    app.config["songs.database"].close()
    return path, songs, keyed


def migrate(path, database_url):
    return run(
        "make",
        "--no-print-directory",
        "migrate-to-postgres",
        f"FILE={path}",
        env=environment(DATABASE_URL=database_url),
    )


@POSTGRES_ONLY
def test_migrate_to_postgres_copies_every_song_with_its_id_timestamps_and_sequence(
    client, sqlite_songs, dump
):
    path, songs, keyed = sqlite_songs

    result = migrate(path, client.app.config["songs.database"].url)

    assert result.returncode == 0, result.stderr
    assert "27 songs copied" in result.stdout and "all 27 checked equal" in result.stdout
    assert client.get("/api/songs?sort=id&limit=1000").json == songs
    assert client.post_json("/api/songs", SONG).json["id"] == keyed["id"] + 1
    replay = client.post_json("/api/songs", SONG, headers={"Idempotency-Key": "move-1"})
    assert replay.json == keyed and replay.headers["Idempotent-Replayed"] == "true"

    before = dump()
    again = migrate(path, client.app.config["songs.database"].url)
    assert again.returncode == 0, again.stderr
    assert "0 songs copied" in again.stdout and "27 there already" in again.stdout
    assert dump() == before


@POSTGRES_ONLY
def test_migrate_to_postgres_stops_and_keeps_nothing_when_an_id_holds_another_song(
    client, sqlite_songs, dump
):
    path, songs, _ = sqlite_songs
    create(client, title="Already here")  # id 1 in PostgreSQL, another song than the file's
    before = dump()

    result = migrate(path, client.app.config["songs.database"].url)

    assert result.returncode != 0
    assert "1 song differs between" in result.stderr and "with ids 1;" in result.stderr
    assert "nothing was copied" in result.stderr
    assert dump() == before


@POSTGRES_ONLY
def test_migrate_to_postgres_counts_every_song_that_differs_and_names_the_first_ten(
    client, sqlite_songs, dump
):
    path, songs, _ = sqlite_songs
    for n in range(12):  # ids 1 to 12 in PostgreSQL, other songs than the file's (no 7)
        create(client, title=f"Already here {n}")
    before = dump()

    result = migrate(path, client.app.config["songs.database"].url)

    assert result.returncode != 0
    assert "11 songs differ between" in result.stderr
    assert "with ids 1, 2, 3, 4, 5, 6, 8, 9, 10, 11 and more;" in result.stderr
    assert dump() == before


@POSTGRES_ONLY
def test_migrate_to_postgres_names_a_file_it_cannot_read(client, tmp_path):
    result = migrate(tmp_path / "missing.db", client.app.config["songs.database"].url)

    assert result.returncode != 0
    assert "missing.db: not a songs database that can be read" in result.stderr


def test_migrate_to_postgres_needs_postgresql_in_database_url(tmp_path):
    result = migrate(tmp_path / "old.db", f"sqlite:///{tmp_path / 'new.db'}")

    assert result.returncode != 0
    assert "DATABASE_URL must name the PostgreSQL database to move into" in result.stderr


# Install, URLs and deploys


def test_postgresql_without_psycopg_is_a_clear_error_naming_the_requirements_file():
    program = (
        "import sys; sys.modules['psycopg'] = None\n"  # what an install without it looks like
        "import service\n"
        "service.create_app('postgresql://songs:s3cret@127.0.0.1:5432/songs')\n"
    )
    result = run(sys.executable, "-c", program, env=environment())

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "RuntimeError: DATABASE_URL names a PostgreSQL database, which needs psycopg: "
        "pip install -r requirements.txt"
    )
    assert "s3cret" not in result.stderr


def test_sqlite_never_imports_psycopg(tmp_path):
    program = (
        "import sys, service\n"
        f"service.create_app('sqlite:///{tmp_path / 'songs.db'}')\n"
        "assert 'psycopg' not in sys.modules, 'psycopg was imported'\n"
    )
    result = run(sys.executable, "-c", program, env=environment())

    assert result.returncode == 0, result.stderr


@POSTGRES_ONLY
def test_the_postgres_scheme_some_platforms_hand_out_works_too(database_url):
    url = database_url.replace("postgresql://", "postgres://", 1)
    storage.open_database(url).init_schema()
    app = service.create_app(url)
    client = TestApp(app)

    created = create(client)

    assert client.get(f"/api/song/{created['id']}").json == created
    app.config["songs.database"].close()


def test_the_procfile_release_step_creates_the_schema_before_web_processes_start(
    database_url, db, dump
):
    command = procfile_command("release")
    assert command[0] == "python"
    command[0] = sys.executable
    db.execute(  # as the service writes it, keys and all
        "INSERT INTO songs (artist, title, rating, artist_key, title_key)"
        " VALUES ('Kept', 'Song', 3, 'kept', 'song')"
    )
    before = dump()

    result = run(*command, env=environment(DATABASE_URL=database_url))

    assert result.returncode == 0, result.stderr
    assert "schema ready, 1 songs" in result.stdout
    assert dump() == before


@pytest.mark.parametrize(
    "url", ["postgresql://songs:s3cret-pw@[::1/songs", "postgresql://songs:s3cret%zz-pw@db/songs"]
)
def test_a_postgresql_url_libpq_cannot_read_is_refused_without_showing_its_password(url):
    result = run(sys.executable, "service.py", "init-db", env=environment(DATABASE_URL=url))

    assert result.returncode == 2
    assert "DATABASE_URL is not a PostgreSQL URL that libpq can read" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
