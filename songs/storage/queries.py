"""The SQL of the service's songs, the same for both backends: songs by id, and the list
(filters, sort and keyset pagination, each page from one index) and its exports. What the
service keeps beside the songs is in kept.py."""

import heapq
import itertools
import operator

from songs.song import BY_NAME, FILTERS, RATING, RATINGS, SONG_FIELDS, TEXT_FIELDS, WRITABLE_FIELDS
from songs.storage.common import (
    EXPORT_BATCH,
    KEY_FIELDS,
    SELECT_COLUMNS,
    composed_and_keyed,
    search_key,
)
from songs.storage.history import log_change, logged_statement

# Songs


def find_song(conn, song_id, for_update=False):
    """The song with this id as a dict, or None; `for_update` locks it until the commit."""
    rows = conn.execute(
        f"SELECT {SELECT_COLUMNS} FROM songs WHERE id = ?{conn.lock_row if for_update else ''}",
        (song_id,),
    ).fetchall()
    return song_from_row(rows[0]) if rows else None


def song_from_row(row):
    return dict(zip(SONG_FIELDS, row, strict=False))  # strict costs, and the SELECTs are ours


def insert_song(conn, fields, now, by, last=False):
    """The new song, its creation recorded as `by`'s (write_logged)."""
    values = (*written_values(fields), now, now)
    return write_logged(conn, INSERT_SONG, values, "create", now, by, last)


def insert_song_again(conn, song_id, fields, created_at, now, by, last=False):
    """The song `song_id` added back with `fields`: a deleted song restored, its id kept."""
    values = (song_id, *written_values(fields), created_at, now)
    return write_logged(conn, INSERT_SONG_AGAIN, values, "restore", now, by, last)


def update_song(conn, song_id, fields, now, by, op="update", last=False):
    """The replaced song, or None when there is no song with that id."""
    values = (*written_values(fields), now, song_id)
    return write_logged(conn, UPDATE_SONG, values, op, now, by, last)


def remove_song(conn, song_id, now, by, last=False):
    """The song as it was when deleted, or None when there was no song with that id."""
    return write_logged(conn, DELETE_SONG, (song_id,), "delete", now, by, last)


def write_logged(conn, write, params, op, at, by, last=False):
    """The song that `write` (one song's INSERT, UPDATE or DELETE, RETURNING SELECT_COLUMNS)
    leaves, or for a DELETE the song as it was, recorded in the change log as `op` at `at`
    by `by` (storage/history.py); None when it wrote no row. On PostgreSQL the record is
    made by the same statement (logged_statement): no statement more for the server to
    parse, plan and answer, and the song's JSON written by the server. An UPDATE's or a
    DELETE's caller holds the song's row already (find_song, for_update): the statement
    reads the song's last version in its one snapshot, which would not see a version that
    another writer committed while this one waited for the row. `last`: nothing follows it
    in the write transaction, which then commits with it (execute_last)."""
    if conn.logs_in_statement:
        statement = logged_statement(write, conn.song_json, conn.lock_log)
        execute = conn.execute_last if last else conn.execute
        rows = execute(statement, (*params, op, at, by.actor, by.request_id)).fetchall()
        return song_from_row(rows[0]) if rows else None
    rows = conn.execute(write, params).fetchall()
    if not rows:
        return None
    song = song_from_row(rows[0])
    log_change(conn, op, song, at, by)
    return song


def written_values(fields):
    """What a write sets from a song's fields: each writable one, then each text's key."""
    keys = (search_key(fields[name]) for name in TEXT_FIELDS)
    return (*(fields[name] for name in WRITABLE_FIELDS), *keys)


WRITTEN = (*WRITABLE_FIELDS, *KEY_FIELDS)  # the columns written_values gives, in order
KINDS = [  # the SQL type of each, for a table that stages them, and for insert_songs's arrays
    "INTEGER" if getattr(BY_NAME.get(name), "kind", "") == "integer" else "TEXT" for name in WRITTEN
]
WRITTEN_TYPES = ", ".join(f"{name} {kind}" for name, kind in zip(WRITTEN, KINDS, strict=True))
INSERT_SONG = (
    f"INSERT INTO songs ({', '.join((*WRITTEN, 'created_at', 'updated_at'))})"
    f" VALUES ({', '.join('?' * (len(WRITTEN) + 2))}) RETURNING {SELECT_COLUMNS}"
)
INSERT_SONG_AGAIN = (
    f"INSERT INTO songs ({', '.join(('id', *WRITTEN, 'created_at', 'updated_at'))})"
    f" VALUES ({', '.join('?' * (len(WRITTEN) + 3))}) RETURNING {SELECT_COLUMNS}"
)
UPDATE_SONG = (
    f"UPDATE songs SET {', '.join(f'{name} = ?' for name in (*WRITTEN, 'updated_at'))}"
    f" WHERE id = ? RETURNING {SELECT_COLUMNS}"
)
DELETE_SONG = f"DELETE FROM songs WHERE id = ? RETURNING {SELECT_COLUMNS}"


def key_songs(database):
    """The songs whose keys are '' (added by hand, or before schema version 5): their text
    made NFC, and their search keys written; how many. Run by every command (init-db as
    gunicorn starts, too); a scan of the table when there are none."""
    conn = database.connection()
    if not conn.execute(f"SELECT 1 FROM songs WHERE {UNKEYED} LIMIT 1").fetchall():
        return 0

    def fill(conn):
        rows = conn.execute(f"SELECT {', '.join(('id', *TEXT_FIELDS))} FROM songs WHERE {UNKEYED}")
        keyed = ((song_id, *composed_and_keyed(*texts)) for song_id, *texts in rows.fetchall())
        conn.insert_rows("keyed_songs", KEYED_COLUMNS, keyed)

    def write(conn):
        changes = ", ".join(f"{name} = k.{name}" for name in KEYED_COLUMNS[1:])
        return conn.execute(
            f"UPDATE songs SET {changes} FROM keyed_songs AS k"
            f" WHERE songs.id = k.id AND songs.{UNKEYED}"  # else the service wrote it since
        ).rowcount

    columns = ", ".join(["id BIGINT", *(f"{name} TEXT" for name in KEYED_COLUMNS[1:])])
    return database.staged_write("keyed_songs", columns, fill, write)


KEYED_COLUMNS = ("id", *TEXT_FIELDS, *KEY_FIELDS)
UNKEYED = f"{KEY_FIELDS[0]} = ''"  # a song the service wrote has every key


# The list: filters, sort and keyset pagination, each page from one index

FILTER_COLUMNS = {"q": "songs_search", **{name: field.name for name, (field, _) in FILTERS.items()}}
FILTER_OPERATORS = {name: how for name, (_, how) in FILTERS.items() if how != "in"}
SELECTIVE_FILTERS = {"q", "artist", "title"}


def select_json_page(conn, filters, sort, after, limit):
    """As select_page, each row the song's values of the sort's fields (which a cursor after
    it holds), then its JSON text (song_json_sql)."""
    columns = ", ".join([*(field for field, _ in sort), conn.song_json])
    return select_page(conn, filters, sort, after, limit, columns)


def select_page(conn, filters, sort, after, limit, columns=SELECT_COLUMNS):
    """Up to `limit` rows (`columns` of each song) matching `filters`, in `sort`'s order,
    after the position `after`.

    A sort that starts with rating walks each rating in turn: five values make groups of a
    fifth of the table each, which no index ordered by rating alone could order further,
    while the next key's index orders each group as it walks (schema.sql).

    The id order with a filter that allows some ratings, not all, walks each allowed one's
    songs in id order (songs_by_rating) and merges them, where a walk of all songs would
    read past every newer song of another rating: after a burst of songs rated 3, a page
    of min_rating=4 read them all. Either way a page reads at most a page per rating.
    """
    (first, descending), rest = sort[0], sort[1:]
    if SELECTIVE_FILTERS & filters.keys():
        return select_songs(conn, filters, sort, after, limit, columns)
    others = {name: value for name, value in filters.items() if FILTER_COLUMNS[name] != "rating"}
    allowed = allowed_ratings(filters)
    if first == "id" and 1 < len(allowed) < len(RATINGS):
        walks = [
            select_songs(conn, {**others, "rating": (rating,)}, sort, after, limit, columns)
            for rating in allowed
        ]  # each row starts with its id (the sort's one field: columns, select_json_page)
        merged = heapq.merge(*walks, key=operator.itemgetter(0), reverse=descending)
        return list(itertools.islice(merged, limit))
    if first != "rating":
        return select_songs(conn, filters, sort, after, limit, columns)
    rows = []
    for rating in sorted(allowed, reverse=descending):
        if after is not None and (rating > after[0] if descending else rating < after[0]):
            continue  # the cursor is past this rating
        resume = after[1:] if after is not None and rating == after[0] else None
        rows += select_songs(
            conn, {**others, "rating": (rating,)}, rest, resume, limit - len(rows), columns
        )
        if len(rows) == limit:
            break
    return rows


def select_songs(conn, filters, sort, after, limit, columns=SELECT_COLUMNS):
    """Rows for select_page from one index's walk (driving_column), in the seeks of resumes."""
    rows = []
    for sql, params in song_queries(conn, filters, sort, after, columns):
        rows += conn.execute(f"{sql} LIMIT ?", (*params, limit - len(rows))).fetchall()
        if len(rows) == limit:
            break
    return rows


def song_queries(conn, filters, sort, after, columns=SELECT_COLUMNS):
    """(SELECT, parameters) of each seek in order; only our own fragments are formatted in.

    SQLite is told which index to walk (index_hint). PostgreSQL cannot be, and its planner,
    estimating from statistics, may walk the id index and filter, reading past every other
    song when the recent ones all have another rating or artist, or no match for q. So on
    PostgreSQL the query is shaped to leave one good plan: q's matches are read first (a
    materialized CTE, as SQLite's q does), and a rating, artist or title that allows one
    value is written as a range from it to itself (which the planner does not take for one
    value) and leads the order (which so changes nothing): that column's index is then the
    one walk that gives the order without a sort.
    """
    driver = driving_column(filters, sort)
    indexed = {driver, "id"}
    source, head, head_params = "songs", "", []
    if conn.shapes_plans and "q" in filters:
        term, head_params = conn.search_term(filters["q"])
        head = f"WITH found AS MATERIALIZED (SELECT {SELECT_COLUMNS} FROM songs WHERE {term}) "
        source, filters = "found", {n: v for n, v in filters.items() if n != "q"}
    pinned = conn.shapes_plans and pinned_filter(filters, driver, sort)
    terms, params = filter_terms(conn, filters, indexed, pinned)
    keys = ((driver, sort[0][1]), *sort) if pinned else sort
    order = ", ".join(
        f"{conn.sort_expression(field)} {'DESC' if desc else 'ASC'}" for field, desc in keys
    )
    index = conn.index_hint(driver)
    for seek_terms, seek_params in resumes(conn, sort, after, indexed):
        where = " AND ".join([*terms, *seek_terms])
        yield (
            f"{head}SELECT {columns} FROM {source}{index}"
            f"{' WHERE ' if where else ''}{where} ORDER BY {order}",
            (*head_params, *params, *seek_params),
        )


def pinned_filter(filters, driver, sort):
    """The filter that allows one value of `driver` only, when the sort does not name it."""
    if driver in (field for field, _ in sort):
        return None
    if driver == "rating" and len(filters.get("rating", ())) == 1:
        return "rating"
    return driver if driver in TEXT_FIELDS and driver in filters else None


def count_songs(conn, filters):
    """How many songs match `filters`: from the counts the triggers keep when only ratings
    are filtered (count=true on the whole list costs five rows, not a scan), else counted."""
    if only_ratings(filters):
        return sum(count_by_rating(conn, filters).values())
    terms, params = filter_terms(conn, filters, indexed=set(FILTER_COLUMNS.values()))
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    return conn.execute(f"SELECT count(*) FROM songs{where}", params).fetchone()[0]


def count_by_rating(conn, filters):
    """{rating: how many songs matching `filters` have it}, in one grouped query: of the
    counts the triggers keep (schema.sql) when no filter but rating applies, which cost the
    same at any size; else of the matching songs, which cost as many as match."""
    if only_ratings(filters):
        # By its key: on PostgreSQL the table keeps its dead versions until a vacuum, which a
        # scan of it would read through (after_bulk_write); its index leads to the 5 rows.
        rows = conn.execute(
            "SELECT rating, songs FROM song_counts WHERE rating BETWEEN ? AND ? AND songs > 0",
            (min(RATINGS), max(RATINGS)),
        ).fetchall()
        allowed = allowed_ratings(filters)
        return {rating: n for rating, n in rows if rating in allowed}
    terms, params = filter_terms(conn, filters, indexed=set(FILTER_COLUMNS.values()))
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    rows = conn.execute(f"SELECT rating, count(*) FROM songs{where} GROUP BY rating", params)
    return dict(rows.fetchall())


def driving_column(filters, sort):
    """The column whose index a page walks: a filter that picks few songs, else the sort's.

    q, artist and title pick few songs, so their matches are read and sorted; otherwise the
    walk follows the sort and checks the other filters song by song, and stops at the page's
    end. One rating with the id order has an index that serves both.
    """
    for name in ("q", "artist", "title"):
        if name in filters:
            return FILTER_COLUMNS[name]
    if sort[0][0] == "id" and len(filters.get("rating", ())) == 1:
        return "rating"
    return sort[0][0]


def filter_terms(conn, filters, indexed, pinned=None):
    """WHERE terms and their parameters; only columns in `indexed` may use an index. The
    `pinned` filter's one value is written as a range, between it and itself (song_queries)."""
    terms, params = [], []
    for name, value in filters.items():
        column = FILTER_COLUMNS[name]
        if name == pinned:
            one = value if name in FILTER_OPERATORS else value[0]  # one of "in"'s values
            terms.append(
                f"{conn.compare(column, '>=', indexed)} AND {conn.compare(column, '<=', indexed)}"
            )
            params += [one, one]
        elif name == "q":
            term, term_params = conn.search_term(value)
            terms.append(term)
            params += term_params
        elif name not in FILTER_OPERATORS:  # "in": one of the values given
            terms.append(f"{conn.operand(column, indexed)} IN ({', '.join('?' * len(value))})")
            params += value
        elif column in TEXT_FIELDS:
            terms.append(conn.compare(column, FILTER_OPERATORS[name], indexed))
            params.append(value)
        else:
            terms.append(f"{conn.operand(column, indexed)} {FILTER_OPERATORS[name]} ?")
            params.append(value)
    return terms, params


def resumes(conn, sort, after, indexed):
    """(terms, parameters) of each seek that continues a walk after the position `after`.

    Keyset pagination in two seeks, in the order the songs come: the songs tied with
    `after` on every key but id, past its id; then the songs past it on those keys. A
    single comparison of every key at once (a row value) makes SQLite seek on the first
    key only and read all its ties before the cursor: most of a rating, say.
    """
    if after is None:
        return [([], [])]
    *keys, (_, id_descending) = sort  # a sort always ends with id
    ties = [conn.compare(field, "=", indexed) for field, _ in keys]
    seeks = [([*ties, f"id {'<' if id_descending else '>'} ?"], list(after))]
    if keys:
        seeks.append(past(conn, keys, after[:-1], indexed))
    return seeks


def past(conn, keys, values, indexed):
    """The term for songs strictly past `values` on `keys`, led by a bound an index seeks to."""
    (field, descending), rest = keys[0], keys[1:]
    beyond = "<" if descending else ">"
    if not rest:
        return [conn.compare(field, beyond, indexed)], [values[0]]
    (inner,), params = past(conn, rest, values[1:], indexed)
    term = (
        f"{conn.compare(field, beyond + '=', indexed)} AND ({conn.compare(field, beyond, indexed)}"
        f" OR ({conn.compare(field, '=', indexed)} AND {inner}))"
    )
    return [f"({term})"], [values[0], values[0], values[0], *params]


def only_ratings(filters):
    """Whether `filters` filter by rating alone (rating, min_rating, max_rating), if at all."""
    return all(FILTER_COLUMNS[name] == "rating" for name in filters)


def allowed_ratings(filters):
    low, high = filters.get("min_rating", RATING.low), filters.get("max_rating", RATING.high)
    return [rating for rating in filters.get("rating", RATINGS) if low <= rating <= high]


def song_batches(conn, filters, sort):
    """Every song matching `filters` in `sort`'s order, as lists of rows: memory stays flat.

    PostgreSQL reads one server-side cursor; SQLite walks the list by keyset, a page at a
    time, as select_page does (a long read would keep its WAL from being checkpointed).
    """
    if conn.streams:
        ((sql, params),) = song_queries(conn, filters, sort, None)
        yield from conn.stream(sql, params, EXPORT_BATCH)
        return
    after = None
    while True:
        rows = select_page(conn, filters, sort, after, EXPORT_BATCH)
        if rows:
            yield rows
        if len(rows) < EXPORT_BATCH:
            return
        after = tuple(rows[-1][SONG_FIELDS.index(field)] for field, _ in sort)
