"""What each list query costs: SQLite's plan for every shape the API can produce, and the
work a page takes at two table sizes.

The statements are the ones the service runs for real HTTP requests, caught with
sqlite3's trace callback on the app's own connection.
"""

import base64
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from webtest import TestApp

import service
from songs import listing

# In one test process (make test's --dist loadgroup): its module fixtures seed 45,000 songs.
pytestmark = pytest.mark.xdist_group("storage_plans")

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("id", "rating", "artist", "title", "created_at", "updated_at")
FILTERS = [
    "",
    "q=Tiger",
    "artist=Amber%20Owls",
    "title=Rivers%20After",
    "rating=4",
    "rating=2,5",
    "min_rating=4",
    "max_rating=2",
    "created_after=2026-01-01T00:00:00Z",
    "created_before=2030-01-01T00:00:00Z",
    "updated_after=2026-01-01T00:00:00Z",
    "updated_before=2030-01-01T00:00:00Z",
    "artist=Amber%20Owls&rating=3,4",
    "q=Tiger&min_rating=3&created_after=2026-01-01T00:00:00Z",
    "rating=5&updated_before=2030-01-01T00:00:00Z",
]
SORTS = (
    [f"{'-' * descending}{field}" for field in FIELDS for descending in (False, True)]
    + [  # every pair of fields, in every pair of directions
        f"{'-' * first_desc}{first},{'-' * second_desc}{second}"
        for first, second in itertools.permutations(FIELDS[1:], 2)
        for first_desc, second_desc in itertools.product((False, True), repeat=2)
    ]
)
SELECTIVE = ("USING INDEX songs_by_artist (artist=?", "USING INDEX songs_by_title (title=?")


def seed(path, count):
    env = {"DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run(
        [sys.executable, str(ROOT / "service.py"), "seed", str(count)],
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """A client on 3,000 seeded songs, and the SELECTs on songs it has run since the last call."""
    path = tmp_path_factory.mktemp("plans") / "songs.db"
    seed(path, 3000)
    app = service.create_app(f"sqlite:///{path}")
    conn = app.config["songs.database"].connection()
    statements = []
    conn.set_trace_callback(statements.append)

    def run(url):
        statements.clear()
        resp = TestApp(app).get(url)
        pages = [
            sql
            for sql in statements
            if sql.startswith(("SELECT", "WITH")) and " ORDER BY " in sql and " LIMIT " in sql
        ]
        assert pages, f"{url}: no page's statement was caught"
        return resp, pages

    yield run, conn
    app.config["songs.database"].close()


def plan(conn, sql):
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def judge(steps):
    """Why a plan reads more than a page's worth of rows, or None when it does not.

    - A temporary B-tree that orders a whole result is fine only over songs picked by q,
      artist or title: so many are read, and no more.
    - One that orders within groups of the walked index's first field is fine unless that
      field is rating, whose five values make groups of a fifth of the table.
    - A walk that is not stopped by the page's end (a full scan) is never fine.
    """
    text = " | ".join(steps)
    selective = "songs_search" in text or any(index in text for index in SELECTIVE)
    if "USE TEMP B-TREE FOR ORDER BY" in text and not selective:
        return "sorts every song it reads, and it reads more than the matches of q, artist, title"
    if "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in text and "songs_by_rating" in text:
        return "sorts groups of a rating: a fifth of the table each"
    if re.search(r"SCAN songs( |$)", text) and "TEMP B-TREE FOR ORDER BY" in text:
        return "scans the table and sorts it: no page's end stops it"
    return None


@pytest.mark.parametrize("query", FILTERS)
def test_no_shape_of_the_list_scans_or_sorts_the_table(traced, query):
    run, conn = traced
    problems = []
    for sort in ["", *SORTS]:
        url = f"/api/songs?limit=20&{query}&sort={sort}" if sort else f"/api/songs?limit=20&{query}"
        resp, statements = run(url)
        next_link = resp.headers["Link"].split(">")[0][1:] if "next" in resp.headers["Link"] else ""
        if next_link:  # the second page seeks with the cursor
            statements += run(next_link)[1]
        for sql in statements:
            steps = plan(conn, sql)
            problem = judge(steps)
            if problem:
                problems.append(f"{url}: {problem}\n    {sql}\n    {' | '.join(steps)}")
    assert not problems, "\n".join(problems)


def test_the_judge_refuses_the_plans_it_should(traced):
    """The rules above, against plans a careless query would get."""
    _, conn = traced
    bad = [
        "SELECT id FROM songs ORDER BY artist, title DESC LIMIT 5",  # no index for the pair
        "SELECT id FROM songs WHERE rating IN (4, 5) ORDER BY id DESC LIMIT 5",
        "SELECT id FROM songs ORDER BY rating, title LIMIT 5",
        "SELECT id FROM songs WHERE created_at > '2000' ORDER BY title LIMIT 5",
    ]
    assert all(judge(plan(conn, sql)) for sql in bad), [plan(conn, sql) for sql in bad]


@pytest.fixture(scope="module")
def two_sizes(tmp_path_factory):
    """Apps on 2,000 and 40,000 seeded songs, each with a few songs only q=zyzzyva finds."""
    apps = []
    for count in (2_000, 40_000):
        path = tmp_path_factory.mktemp(f"songs{count}") / "songs.db"
        seed(path, count)
        app = service.create_app(f"sqlite:///{path}")
        client = TestApp(app)
        for n in range(9):
            client.post_json("/api/songs", {"artist": "Zyzzyva", "title": f"No. {n}", "rating": 3})
        apps.append(app)
    yield apps
    for app in apps:
        app.config["songs.database"].close()


def vm_steps(app, url):
    """SQLite virtual machine steps (in tens) that a request takes: work, not time."""
    conn = app.config["songs.database"].connection()
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 10)
    try:
        resp = TestApp(app).get(url)
    finally:
        conn.set_progress_handler(None, 0)
    return steps[0], resp


def deep_cursor(app, first_page_url, next_url):
    """The next link with its cursor moved to the position of a song 90% of the way down
    the table by id, or of a later one if no full page follows that one's."""
    base, _, token = next_url.partition("cursor=")
    cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    client = TestApp(app)
    count = int(client.get("/api/songs?count=true&limit=1").headers["X-Total-Count"])
    sort = parse_qs(urlsplit(first_page_url).query).get("sort", ["-id"])[0]
    for song_id in range(count // 10, count // 10 + 20):
        song = client.get(f"/api/song/{song_id}").json
        cursor["after"] = [song[field] for field, _ in listing.read_sort(sort)[0]]
        token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).rstrip(b"=").decode()
        if len(client.get(f"{base}cursor={token}").json) == 3:
            break
    return f"{base}cursor={token}"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "artist=Amber%20Owls",
        "min_rating=2&max_rating=4",
        "min_rating=3&count=true",
        "sort=rating",
        "sort=-rating,title",
        "sort=-updated_at,title",
        "q=zyzzyva",
        "rating=5&sort=-updated_at",
        "created_after=2000-01-01T00:00:00Z&sort=artist",
    ],
)
def test_a_page_costs_the_same_work_on_a_table_twenty_times_larger(two_sizes, query):
    costs = []
    for app in two_sizes:
        url = f"/api/songs?limit=3&{query}"
        first_steps, first = vm_steps(app, url)
        next_url = first.headers["Link"].split(">")[0][1:]
        deep_steps, deep = vm_steps(app, deep_cursor(app, url, next_url))
        costs.append((first_steps, deep_steps, len(first.json), len(deep.json)))

    assert costs[0][2] == costs[1][2] == 3  # full first pages at both sizes
    assert costs[0][3] <= costs[1][3]  # and the larger table's deep page no emptier
    for small_steps, large_steps in zip(costs[0][:2], costs[1][:2], strict=True):
        assert large_steps <= small_steps * 1.5 + 20, costs


def test_a_rating_filter_reads_as_much_however_many_recent_songs_it_excludes(tmp_path):
    """min_rating=4 in the id order does not walk past every newer song rated lower: each
    allowed rating's songs are walked in id order (songs_by_rating), and the walks merged."""
    path = tmp_path / "songs.db"
    seed(path, 2000)
    app = service.create_app(f"sqlite:///{path}")
    conn = app.config["songs.database"].connection()
    costs = []
    for _ in range(2):
        costs.append([vm_steps(app, f"/api/songs?limit=20&{query}")[0] for query in RATED])
        conn.execute(  # 5,000 newer songs, every one rated 3
            "WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n"
            " WHERE value < 5000) INSERT INTO songs (artist, title, rating, created_at,"
            " updated_at) SELECT 'Recent', 'Song ' || value, 3, '2030-01-01T00:00:00.000Z',"
            " '2030-01-01T00:00:00.000Z' FROM n"
        )
    app.config["songs.database"].close()
    for query, before, after in zip(RATED, *costs, strict=True):
        assert after <= before * 1.5 + 20, (query, costs)


RATED = ["min_rating=4", "max_rating=2", "rating=1,5", "min_rating=4&sort=id"]
