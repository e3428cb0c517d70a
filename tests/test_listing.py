"""The list's query: filters, sort, search and count, each paged by keyset through Link."""

import itertools
import random
from urllib.parse import quote

import pytest

from helpers import HTTP_LAYER, POOLED, create
from helpers.answers import HOSTILE, links, next_url
from songs import storage

FIELDS = ("id", "artist", "title", "rating", "created_at", "updated_at")


@pytest.fixture
def catalogue(client, db):
    """40 songs with repeated artists, titles and ratings, and spread-out timestamps, updated
    later in another order than they were created."""
    rng = random.Random(5)
    artists = ["ABBA", "abba", "Björk", "Queen", "The Cure", "Cure"]
    titles = ["Dancing Queen", "Army of Me", "Lovecats", "Friday", "So, Long", 'Say "Hi"']
    rows = [
        (
            artist := rng.choice(artists),
            title := rng.choice(titles),
            rng.randint(1, 5),
            f"2026-0{1 + n // 10}-{10 + n % 10}T12:00:00.{n:03d}Z",
            f"2026-06-01T00:{40 - n:02d}:00.000Z",
            storage.search_key(artist),  # as the service writes them
            storage.search_key(title),
        )
        for n in range(40)
    ]
    db.insert_rows("songs", (*FIELDS[1:], *storage.KEY_FIELDS), rows)
    return client.get("/api/songs?limit=1000").json


def every_page(client, url):
    """Every song of a list, following next, with the number of pages."""
    songs, pages = [], 0
    while url:
        resp = client.get(url, status=200)
        songs += resp.json
        pages += 1
        url = next_url(resp)
        assert pages <= 100, "the pages do not end"
    return songs, pages


def sort_key(spec):
    """What the API promises for sort=spec, in Python: NOCASE text, id last in the last's way."""
    keys = [(part.removeprefix("-"), part.startswith("-")) for part in spec.split(",")]
    if keys[-1][0] != "id":
        keys.append(("id", keys[-1][1]))

    def key(song):
        out = []
        for field, descending in keys:
            value = song[field]
            if field in ("artist", "title"):
                value = value.lower()  # ASCII folding, as SQLite's NOCASE
            if isinstance(value, int):
                out.append(-value if descending else value)
            else:
                out.append(Reverse(value) if descending else value)
        return out

    return key


class Reverse:
    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return self.value > other.value

    def __eq__(self, other):
        return self.value == other.value


FILTERS = {
    "artist=abba": lambda s: s["artist"].lower() == "abba",
    "artist=Cure": lambda s: s["artist"] == "Cure",
    "title=army%20of%20me": lambda s: s["title"] == "Army of Me",
    "rating=4": lambda s: s["rating"] == 4,
    "rating=1,5": lambda s: s["rating"] in (1, 5),
    "min_rating=2&max_rating=3": lambda s: 2 <= s["rating"] <= 3,
    "created_after=2026-02-15T12:00:00.000Z": lambda s: (
        s["created_at"] > "2026-02-15T12:00:00.000Z"
    ),
    "created_before=2026-03-01T00:00:00%2B01:00": lambda s: (
        s["created_at"] < "2026-02-28T23:00:00.000Z"
    ),
    "updated_after=2026-06-01T00:20:00Z&updated_before=2026-06-01T00:30:00Z": lambda s: (
        "2026-06-01T00:20:00.000Z" < s["updated_at"] < "2026-06-01T00:30:00.000Z"
    ),
    "q=CUR": lambda s: "cur" in s["artist"].lower() or "cur" in s["title"].lower(),
    "q=%C3%B6rk": lambda s: "örk" in s["artist"].lower(),
    "q=o,%20L": lambda s: "o, l" in s["title"].lower(),
    "q=%22Hi": lambda s: '"hi' in s["title"].lower(),
    "q=abba&rating=3,4,5": lambda s: "abba" in s["artist"].lower() and s["rating"] >= 3,
}
SORTS = [
    "id",
    "-id",
    "rating",
    "-rating",
    "artist",
    "-title",
    "created_at",
    "-updated_at",
    "rating,title",
    "-rating,artist,-created_at",
    "artist,-title",
    "title,rating,-id",
]


@POOLED  # the storage contract: every backend, through PgBouncer too
def test_every_filter_and_sort_pages_through_exactly_the_matching_songs_in_order(client, catalogue):
    """Each of the 195 queries (every filter, and none, with every sort, and none) on one
    catalogue per backend: they only read it. Every query that goes wrong is named."""
    wrong = []
    for query, sort in itertools.product(["", *FILTERS], ["", *SORTS]):
        expected = [s for s in catalogue if FILTERS.get(query, lambda s: True)(s)]
        expected.sort(key=sort_key(sort or "-id"))
        params = "&".join(p for p in (query, f"sort={quote(sort)}" if sort else "") if p)

        songs, pages = every_page(client, f"/api/songs?limit=3&{params}")

        if [s["id"] for s in songs] != [s["id"] for s in expected]:
            wrong.append(f"{params}: {[s['id'] for s in songs]}, not {[s['id'] for s in expected]}")
        elif pages != max(1, -(-len(expected) // 3)):
            wrong.append(f"{params}: {pages} pages for {len(expected)} songs")

    assert wrong == []


def test_paging_a_filtered_sorted_list_while_songs_are_inserted_sees_each_song_once(
    client, catalogue
):
    url = "/api/songs?limit=4&min_rating=3&sort=-rating,title"
    before = [s["id"] for s in catalogue if s["rating"] >= 3]
    seen, inserted = [], []
    while url and len(seen) < 1000:
        resp = client.get(url, status=200)
        seen += [s["id"] for s in resp.json]
        url = next_url(resp)
        for rating in (2, 3, 5):  # one the filter hides, and two it shows, before and after
            inserted.append(create(client, title="Aaa", rating=rating)["id"])
            inserted.append(create(client, title="Zzz", rating=rating)["id"])

    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen) <= set(before) | set(inserted)
    ratings = {s["id"]: s["rating"] for s in client.get("/api/songs?limit=1000").json}
    assert all(ratings[song_id] >= 3 for song_id in seen)


def test_links_keep_the_filters_and_sort_and_first_starts_over(client, catalogue):
    resp = client.get("/api/songs?rating=1,5&sort=-rating,title&limit=2&count=true")
    found = links(resp)

    assert found["first"] == "/api/songs?rating=1%2C5&sort=-rating%2Ctitle&count=true&limit=2"
    assert found["next"].startswith(found["first"] + "&cursor=")
    assert client.get(found["first"]).json == resp.json


@HTTP_LAYER
@pytest.mark.parametrize(
    "other",
    ["rating=1,4", "sort=-rating", "sort=-rating,title&artist=ABBA", "q=abba", "sort=title"],
)
def test_a_cursor_used_with_other_filters_or_sort_is_400(client, catalogue, other):
    cursor = next_url(client.get("/api/songs?rating=1,5&sort=-rating,title&limit=2"))
    token = cursor.rpartition("cursor=")[2]

    resp = client.get(f"/api/songs?{other}&cursor={token}", status=400)

    assert resp.json["errors"] == [
        {
            "parameter": "cursor",
            "message": "was made for other filters or another sort; follow the Link header, "
            "or drop the cursor to start again",
        }
    ]


def test_a_cursor_keeps_working_with_another_limit_or_count(client, catalogue):
    token = next_url(client.get("/api/songs?rating=1,5&limit=2")).rpartition("cursor=")[2]

    assert client.get(f"/api/songs?rating=1,5&limit=5&count=true&cursor={token}").status_int == 200


def test_a_cursor_from_before_sorting_still_pages_the_default_list(client, catalogue):
    token = "eyJpZCI6MTB9"  # {"id":10}, the cursor format of an earlier version

    resp = client.get(f"/api/songs?cursor={token}", status=200)

    assert [s["id"] for s in resp.json] == list(range(9, 0, -1))


def test_count_adds_x_total_count_of_the_matching_songs_and_is_never_sent_unasked(
    client, catalogue
):
    matching = sum(1 for s in catalogue if s["rating"] in (1, 5))

    counted = client.get("/api/songs?rating=1,5&limit=1&count=true")
    plain = client.get("/api/songs?rating=1,5&limit=1")

    assert counted.headers["X-Total-Count"] == str(matching)
    assert "X-Total-Count" not in plain.headers
    assert client.get("/api/songs?count=true&q=zzzz").headers["X-Total-Count"] == "0"
    assert client.get("/api/songs?count=false").headers.get("X-Total-Count") is None
    # Rating filters alone are counted from the kept counts; the rest by counting the songs.
    for query, wanted in [
        ("", len(catalogue)),
        ("min_rating=4", sum(1 for s in catalogue if s["rating"] >= 4)),
        ("max_rating=2&rating=2,3", sum(1 for s in catalogue if s["rating"] == 2)),
        (
            "min_rating=2&artist=abba",
            sum(s["rating"] >= 2 and s["artist"] in ("ABBA", "abba") for s in catalogue),
        ),
    ]:
        total = client.get(f"/api/songs?{query}&count=true").headers["X-Total-Count"]
        assert total == str(wanted), query


def test_the_etag_of_a_counted_page_changes_with_the_count(client, catalogue):
    url = "/api/songs?sort=id&limit=1&count=true"
    first = client.get(url)
    create(client)  # after the page: the page is the same, the count is not

    second = client.get(url)

    assert second.body == first.body
    assert second.headers["ETag"] != first.headers["ETag"]


def test_artist_and_title_match_whole_values_ignoring_ascii_case(client, catalogue):
    resp = client.get("/api/songs?artist=%20ABBA%20&limit=1000")

    assert {s["artist"] for s in resp.json} == {"ABBA", "abba"}
    assert client.get("/api/songs?artist=ABB").json == []
    assert client.get("/api/songs?title=army").json == []


def test_q_finds_a_substring_whatever_its_case_in_artist_or_title(client):
    create(client, artist="Sigur Rós", title="Hoppípolla")
    create(client, artist="Other", title="ROSES are red")
    create(client, artist="Nobody", title="Nothing")

    found = client.get("/api/songs?q=r%C3%93S").json  # rÓS
    roses = client.get("/api/songs?q=ros").json

    assert [s["title"] for s in found] == ["Hoppípolla"]
    assert [s["title"] for s in roses] == ["ROSES are red"]


def test_q_follows_updates_and_deletes(client):
    song = create(client, title="Original")
    client.patch_json(f"/api/song/{song['id']}", {"title": "Renamed"})

    assert client.get("/api/songs?q=origin").json == []
    assert [s["id"] for s in client.get("/api/songs?q=rename").json] == [song["id"]]
    client.delete(f"/api/song/{song['id']}")
    assert client.get("/api/songs?q=rename").json == []


@HTTP_LAYER
@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        (
            "sort=name",
            "sort",
            'has "name", not one of id, artist, title, rating, created_at, '
            "updated_at, each with - for descending",
        ),
        (
            "sort=",
            "sort",
            'has "", not one of id, artist, title, rating, created_at, '
            "updated_at, each with - for descending",
        ),
        ("sort=rating,-rating", "sort", "names rating twice"),
        (
            "sort=id,rating",
            "sort",
            "must end at id: ids are unique, so no field after it could break a tie",
        ),
        (
            "rating=9",
            "rating",
            "must be a rating from 1 to 5, or several separated by commas (4,5)",
        ),
        (
            "rating=4,",
            "rating",
            "must be a rating from 1 to 5, or several separated by commas (4,5)",
        ),
        ("rating=", "rating", "must be a rating from 1 to 5, or several separated by commas (4,5)"),
        ("min_rating=0", "min_rating", "must be a whole number from 1 to 5"),
        ("max_rating=five", "max_rating", "must be a whole number from 1 to 5"),
        (
            "created_after=2026-11-24",
            "created_after",
            "must be an RFC 3339 date-time such as "
            "2026-11-24T10:00:00Z (in a URL, write + in an offset as %2B)",
        ),
        (
            "created_after=2026-11-24T10:00:00+01:00",
            "created_after",
            "must be an RFC 3339 "
            "date-time such as 2026-11-24T10:00:00Z (in a URL, write + in an offset as %2B)",
        ),
        (
            "updated_before=2026-02-30T00:00:00Z",
            "updated_before",
            "must be an RFC 3339 date-time "
            "such as 2026-11-24T10:00:00Z (in a URL, write + in an offset as %2B), a real one "
            "between the years 0001 and 9999",
        ),
        (
            "updated_after=0000-01-01T00:00:00Z",
            "updated_after",
            "must be an RFC 3339 date-time "
            "such as 2026-11-24T10:00:00Z (in a URL, write + in an offset as %2B), a real one "
            "between the years 0001 and 9999",
        ),
        ("q=ab", "q", "must be 3 to 500 characters long"),
        ("q=" + "a" * 501, "q", "must be 3 to 500 characters long"),
        ("q=ab%0Acd", "q", "must not contain a control character (U+000A)"),
        ("artist=", "artist", "must not be empty or only white space"),
        ("title=a%00b", "title", "must not contain a control character (U+0000 at index 1)"),
        ("count=yes", "count", "must be true or false"),
        ("rating=4&rating=5", "rating", "is given more than once"),
    ],
)
def test_a_bad_parameter_is_400_naming_it_and_what_is_wrong(client, query, parameter, message):
    resp = client.get(f"/api/songs?{query}", status=400)

    assert resp.json["errors"] == [{"parameter": parameter, "message": message}]


@pytest.mark.parametrize(
    ("bound", "included"),
    [
        ("created_after=2026-01-10T12:00:00.000Z", False),  # strictly after
        ("created_after=2026-01-10T11:59:59.9999Z", True),
        ("created_after=2026-01-10T12:00:00.0001Z", False),
        ("created_before=2026-01-10T12:00:00.0001Z", True),
        ("created_before=2026-01-10T12:00:00Z", False),
        ("created_before=2026-01-10T13:00:00.000001%2B01:00", True),
        ("created_after=2026-01-10t07:59:59.999-04:00", True),
        ("created_after=2026-01-10T11:59:60Z", True),  # a leap second ends its minute
        ("created_before=2026-01-10T11:59:60Z", False),
        ("created_before=0999-01-01T00:00:00Z", False),  # a year under 1000 keeps its zero
        ("created_after=0999-12-31T23:59:59Z", True),
    ],
)
def test_time_bounds_are_strict_and_exact_to_the_millisecond_in_any_offset(
    client, db, bound, included
):
    db.execute(
        "INSERT INTO songs (artist, title, rating, created_at, updated_at)"
        " VALUES ('A', 'B', 3, '2026-01-10T12:00:00.000Z', '2026-01-10T12:00:00.000Z')"
    )

    assert len(client.get(f"/api/songs?{bound}").json) == int(included)


@HTTP_LAYER
def test_bad_parameters_change_nothing(client, catalogue, dump):
    before = dump()

    client.get("/api/songs?sort=nope&rating=0&format=csv&limit=0", status=400)

    assert dump() == before


TRICKY_TITLES = [  # ids 1 to 12, in this order
    "İstanbul",
    "istanbul",
    "Irmak",
    "ılık",  # a dotless ı: no other letter folds to it
    "Straße",
    "STRASSE",
    "GROẞ",  # a capital sharp s
    "ΣΟΦΌΣ",
    "σοφός",  # a final sigma
    "ﬁne",  # a ligature
    "\u00c9dith",  # É composed (NFC)
    "E\u0301dith",  # É decomposed (NFD): stored composed
]


TRICKY_QUERIES = [  # (query, the ids it finds)
    ("q=Stra%C3%9Fe", [5, 6]),  # ß folds to ss, both ways
    ("q=STRASSE", [5, 6]),
    ("q=gro%C3%9F", [7]),
    ("q=%CF%83%CE%BF%CF%86%CF%8C%CF%82", [8, 9]),  # σοφός: final and capital sigma too
    ("q=fine", [10]),
    ("q=%C3%A9dith", [11, 12]),  # édith, composed
    ("q=e%CC%81dith", [11, 12]),  # édith, decomposed
    ("q=%C4%B0st", [1]),  # İ folds to i and a combining dot, as Unicode's full folding has it
    ("q=ist", [2]),
    ("q=%C4%B1l%C4%B1", [4]),  # ılı
    ("title=%C3%89dith", [11, 12]),  # the filters fold ASCII letters only, on both
    ("title=E%CC%81dith", [11, 12]),
    ("title=%C3%A9dith", []),
    ("title=strasse", [6]),
    ("title=%C4%B0stanbul", [1]),
]


def test_tricky_letters_are_folded_and_composed_alike_on_both_backends(client):
    """Each of TRICKY_QUERIES on one set of songs per backend (they only read it); every
    query that finds other songs is named."""
    for title in TRICKY_TITLES:
        create(client, artist="Tricky", title=title)

    found = {
        query: [song["id"] for song in client.get(f"/api/songs?{query}&sort=id&limit=100").json]
        for query, _ in TRICKY_QUERIES
    }

    assert found == dict(TRICKY_QUERIES)


def test_a_song_sent_decomposed_is_stored_and_answered_composed(client):
    song = create(client, artist="E\u0301dith Piaf", title="Non, je ne regrette rien")

    assert song["artist"] == "\u00c9dith Piaf"
    assert client.get(f"/api/song/{song['id']}").json["artist"] == "\u00c9dith Piaf"


@POOLED
def test_a_page_is_byte_for_byte_the_songs_as_each_is_answered_alone(client):
    """The database writes each song's JSON text for a page (song_json_sql): the same bytes
    as json.dumps of the song, for every hostile text, on every backend, in every sort."""
    for artist, title, rating in [*HOSTILE, ("Édith \u2028 Piaf", "\u00e9\u0301 \U0001f3b5", 5)]:
        create(client, artist=artist, title=title, rating=rating)
    for sort in ("id", "-artist", "title", "-rating,title", "updated_at"):
        page = client.get(f"/api/songs?sort={sort}&limit=4")
        alone = [client.get(f"/api/song/{song['id']}").body for song in page.json]
        assert page.body == b"[" + b", ".join(alone) + b"]", sort
        following = client.get(next_url(page))
        assert following.json[0] not in page.json
    assert client.get("/api/songs?artist=nobody").body == b"[]"
