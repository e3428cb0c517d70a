-- The songs service's schema for SQLite (3.37 or later: STRICT tables; FTS5 with trigram).
--
-- Applied by `make init-db` and whenever the service starts. Every statement is
-- idempotent and nothing here drops or rewrites a row, so applying it to a database
-- that holds songs keeps every one of them.
--
-- The CHECK constraints repeat the API's validation, so that a bad row cannot enter
-- even by hand: artist and title are 1 to 500 characters, hold no control character
-- (Unicode category Cc: U+0000-U+001F and U+007F-U+009F), and carry no surrounding
-- white space (the characters Python's str.strip() removes once control characters
-- are excluded); rating is an integer from 1 to 5; the timestamps are RFC 3339 UTC
-- with milliseconds, as the API writes them.

CREATE TABLE IF NOT EXISTS songs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    artist     TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    rating     INTEGER NOT NULL,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- What q searches (version 5): artist and title case-folded in NFC, by the service
    -- (search_key in songs/storage/common.py), '' until then (see below).
    artist_key TEXT    NOT NULL DEFAULT '',
    title_key  TEXT    NOT NULL DEFAULT '',

    CONSTRAINT artist_is_clean_text CHECK (
        length(artist) BETWEEN 1 AND 500
        AND instr(CAST(artist AS BLOB), x'00') = 0
        AND artist NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*')
        AND artist = trim(artist, char(32, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198,
                                       8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288))
    ),
    CONSTRAINT title_is_clean_text CHECK (
        length(title) BETWEEN 1 AND 500
        AND instr(CAST(title AS BLOB), x'00') = 0
        AND title NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*')
        AND title = trim(title, char(32, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198,
                                     8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288))
    ),
    CONSTRAINT rating_is_1_to_5 CHECK (rating BETWEEN 1 AND 5),
    CONSTRAINT timestamps_are_rfc3339_utc CHECK (
        created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'
        AND updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'
        AND updated_at >= created_at
    )
) STRICT;

-- Indexes for the list's sorts and filters (GET /api/songs). Each leads with one field and
-- ends with id, the tie-breaker, so a walk along it yields songs in the order of that sort
-- in either direction, and a cursor seeks straight to its row. Text sorts and compares
-- case-insensitively (NOCASE: ASCII letters).
CREATE INDEX IF NOT EXISTS songs_by_artist ON songs (artist COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS songs_by_title ON songs (title COLLATE NOCASE, id);
CREATE INDEX IF NOT EXISTS songs_by_rating ON songs (rating, id);
CREATE INDEX IF NOT EXISTS songs_by_created_at ON songs (created_at, id);
CREATE INDEX IF NOT EXISTS songs_by_updated_at ON songs (updated_at, id);

-- The index behind q: every three-character substring of artist_key and title_key (FTS5's
-- trigram tokenizer, folding nothing more: the keys are folded already), so a substring
-- search reads the songs that match, not the table. It holds no copy of the text
-- (content='songs'); the triggers keep it in step. Version 5 moved it from artist and
-- title, which FTS5 folded its own way, to the keys: the old index goes, and the new one is
-- built once. A song whose keys are '' (added by hand, or by a bulk load or an upgrade
-- that is not over) is found once `init-db` has keyed it.
DROP TRIGGER IF EXISTS songs_search_insert;
DROP TRIGGER IF EXISTS songs_search_delete;
DROP TRIGGER IF EXISTS songs_search_update;
DROP TABLE IF EXISTS songs_search;
CREATE VIRTUAL TABLE IF NOT EXISTS songs_search_keys USING fts5(
    artist_key, title_key, content = 'songs', content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1'
);
CREATE TRIGGER IF NOT EXISTS songs_search_keys_insert AFTER INSERT ON songs BEGIN
    INSERT INTO songs_search_keys (rowid, artist_key, title_key)
        VALUES (new.id, new.artist_key, new.title_key);
END;
CREATE TRIGGER IF NOT EXISTS songs_search_keys_delete AFTER DELETE ON songs BEGIN
    INSERT INTO songs_search_keys (songs_search_keys, rowid, artist_key, title_key)
        VALUES ('delete', old.id, old.artist_key, old.title_key);
END;
CREATE TRIGGER IF NOT EXISTS songs_search_keys_update AFTER UPDATE OF artist_key, title_key
    ON songs BEGIN
    INSERT INTO songs_search_keys (songs_search_keys, rowid, artist_key, title_key)
        VALUES ('delete', old.id, old.artist_key, old.title_key);
    INSERT INTO songs_search_keys (rowid, artist_key, title_key)
        VALUES (new.id, new.artist_key, new.title_key);
END;
INSERT INTO songs_search_keys (songs_search_keys)
    SELECT 'rebuild' WHERE (SELECT user_version FROM pragma_user_version) < 5;

-- Idempotency-Key on POST /api/songs: each key's request (a digest of the song it asked
-- for) and the song it created, kept 24 hours, so a retry gets the same song back.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key        TEXT    PRIMARY KEY,
    request    TEXT    NOT NULL,
    song       TEXT    NOT NULL,  -- the song as created, JSON
    created_at TEXT    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);

-- How many songs have each rating, kept in step by triggers, so that the songs page's chart
-- of a whole table reads five rows rather than counting a million. It is derived from songs
-- alone, so it is counted afresh whenever this script runs (under BEGIN IMMEDIATE: no
-- writer can come between).
CREATE TABLE IF NOT EXISTS song_counts (
    rating INTEGER PRIMARY KEY,
    songs  INTEGER NOT NULL CHECK (songs >= 0)
) STRICT;
CREATE TRIGGER IF NOT EXISTS song_counts_insert AFTER INSERT ON songs BEGIN
    INSERT INTO song_counts (rating, songs) VALUES (new.rating, 1)
        ON CONFLICT (rating) DO UPDATE SET songs = songs + 1;
END;
CREATE TRIGGER IF NOT EXISTS song_counts_delete AFTER DELETE ON songs BEGIN
    UPDATE song_counts SET songs = songs - 1 WHERE rating = old.rating;
END;
CREATE TRIGGER IF NOT EXISTS song_counts_update AFTER UPDATE OF rating ON songs
    WHEN old.rating <> new.rating BEGIN
    UPDATE song_counts SET songs = songs - 1 WHERE rating = old.rating;
    INSERT INTO song_counts (rating, songs) VALUES (new.rating, 1)
        ON CONFLICT (rating) DO UPDATE SET songs = songs + 1;
END;
DELETE FROM song_counts;
INSERT INTO song_counts (rating, songs) SELECT rating, count(*) FROM songs GROUP BY rating;

-- The pages' sign-in sessions (version 5), so that signing out ends one on the server, for
-- every worker and instance: each row is a session's id (the SHA-256 of its cookie's random
-- secret, so the table alone opens none) and the token it signed in with (an HMAC keyed by
-- that token, so a token removed from API_TOKEN ends its sessions).
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at REAL NOT NULL  -- Unix time
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_token ON sessions (token);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);

-- Failed sign-ins by client address, and by all of them together ('*'), so that guesses
-- slow down for every worker and instance alike (version 5).
CREATE TABLE IF NOT EXISTS sign_in_failures (
    client     TEXT PRIMARY KEY,
    failures   INTEGER NOT NULL,
    last_at    REAL    NOT NULL,  -- Unix time of the last failure
    wait_until REAL    NOT NULL   -- no sign-in is tried before this Unix time
) STRICT;

-- The schema's version, for upgrading databases made by an earlier schema.sql in place.
PRAGMA user_version = 5;
