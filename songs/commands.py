"""The command line, `python service.py COMMAND`: serve, which runs gunicorn; and init-db,
seed, import, export, backup and migrate-to-postgres, each on DATABASE_URL's database."""

import argparse
import io
import itertools
import os
import random
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from songs import storage
from songs.batches import BadHeader, UnreadableCSV, csv_songs
from songs.exports import csv_chunks
from songs.progress import Progress
from songs.settings import database_url, int_setting, read_settings
from songs.song import FIELDS
from songs.storage import WRITTEN, WRITTEN_TYPES, count_songs, song_batches, written_values
from songs.storage.history import last_song_id, log_created_songs
from songs.wire import timestamp, utc_now

DESCRIPTION = "songs: a JSON API over one table of songs (artist, title, rating)."
EX_TEMPFAIL = 75  # sysexits.h: the database is busy or out of reach; try again later


def main(argv=None):
    parser = argparse.ArgumentParser(prog="service.py", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run gunicorn on the app, as the Procfile does; gunicorn's options may follow"
    )
    serve.add_argument("options", nargs=argparse.REMAINDER, help="such as --bind 127.0.0.1:8000")
    commands.add_parser(
        "init-db", help="check every setting, then create or upgrade the schema, keeping every song"
    )
    seed = commands.add_parser("seed", help="add N sample songs, 10,000 a transaction")
    seed.add_argument("count", metavar="N", type=positive_count)
    load = commands.add_parser(
        "import", help="add the songs of a CSV file (the export's format), all or none"
    )
    load.add_argument("file", help="a CSV file with a header row; - reads standard input")
    dump = commands.add_parser("export", help="write every song as CSV, oldest first")
    dump.add_argument("file", nargs="?", default="-", help="a new file; - (the default) is stdout")
    copy = commands.add_parser("backup", help="write a consistent copy, while the service runs")
    copy.add_argument("file", help="a new file")
    move = commands.add_parser(
        "migrate-to-postgres",
        help="copy every song of a SQLite file into DATABASE_URL's PostgreSQL, ids kept",
    )
    move.add_argument("file", help="the SQLite database file, as sqlite:///FILE named it")
    args, others = parser.parse_known_args(argv)
    if args.command == "serve":  # gunicorn's options are its own to check
        serve_app(parser, [*others, *args.options])
    elif others:
        parser.error(f"unrecognized arguments: {' '.join(others)}")
    # SIGTERM ends a command as Ctrl-C would: its transaction rolls back, its files go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        database = storage.open_database(database_url())
        if args.command == "init-db":  # as gunicorn's master runs it: before any worker
            read_settings()
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"service.py: {error}\n")
    try:
        database.init_schema()
        storage.key_songs(database)  # any song added by hand, or before schema version 5
        message = COMMANDS[args.command](database, args)
        if args.command in BULK_COMMANDS:
            database.after_bulk_write()
    except (RuntimeError, storage.Refused) as error:  # this database cannot serve as it is
        parser.exit(2, f"service.py: {error}\n")
    except storage.Unavailable as error:  # EX_TEMPFAIL: the same command may work later
        parser.exit(EX_TEMPFAIL, f"service.py: {error}\n")
    finally:
        database.close()
    if message:
        print(message, file=sys.stderr if args.command == "export" else sys.stdout)


def serve_app(parser, options):
    """gunicorn on the app, in this very process (so the platform's signals reach it).

    gunicorn reads WEB_CONCURRENCY as it is imported, before any configuration file, and a
    value that is no number (`two`) is then its traceback: here it is one line first.
    gunicorn.conf.py checks every other setting, in the master, before any worker starts.
    """
    try:
        int_setting("WEB_CONCURRENCY", 1)
    except ValueError as error:
        parser.exit(2, f"service.py: {error}\n")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    os.execv(gunicorn, [gunicorn, *options, "service:create_app()"])


def init_db(database, args):
    return f"{database.name}: schema ready, {count_songs(database.connection(), {})} songs"


def seed_songs(database, args):
    """N made-up songs, one a second up to now, from a generator seeded with N: repeatable.

    Added SEED_BATCH at a time, each batch its own transaction, so the service's writes
    wait for one batch at most, not for the whole seed.
    """
    rng = random.Random(args.count)
    start = datetime.now(timezone.utc) - timedelta(seconds=args.count)
    artists = [f"{first} {second}" for first in SEED_WORDS[0] for second in SEED_WORDS[1]]

    def songs():
        for n in range(args.count):
            stamp = timestamp(start + timedelta(seconds=n))
            title = " ".join(rng.choice(words) for words in SEED_WORDS[1:])
            song = {"title": title, "artist": rng.choice(artists)}
            song.update(
                (field.name, sample(field, rng))
                for field in FIELDS
                if field.writable and field.name not in song
            )
            yield (*written_values(song), stamp, stamp)

    rows, progress = songs(), Progress("seed: added", total=args.count)
    while batch := list(itertools.islice(rows, SEED_BATCH)):  # the service's writes go between
        with database.write_transaction() as conn:
            last = last_song_id(conn)
            conn.insert_rows("songs", (*WRITTEN, "created_at", "updated_at"), batch)
            log_created_songs(conn, last, "command:seed")
        progress.advance(len(batch))
    progress.finish()
    return f"{database.name}: {args.count} songs added"


def sample(field, rng):
    """A made-up value of a field the seed has no words of its own for."""
    if field.kind == "integer":
        return rng.randint(field.low, field.high)
    return " ".join(rng.choice(words) for words in SEED_WORDS)


SEED_BATCH = 10_000  # songs a transaction: about a second of holding the write lock
BULK_COMMANDS = {"seed", "import", "migrate-to-postgres"}  # each may add many songs at once


SEED_WORDS = (
    "Amber Arctic Blue Broken Crimson Electric Golden Hollow Iron Lunar Midnight Neon "
    "Paper Quiet Silver Velvet Wild Young".split(),
    "Anchors Atlas Birds Cities Echoes Foxes Harbour Horses Lanterns Machines Mirrors "
    "Owls Pilots Rivers Saints Strangers Tigers Wolves".split(),
    "After All Before Dancing Falling Lost Only Running Slow Still Summer Under".split(),
)


def import_songs(database, args):
    """Every row through the API's validation; then all are added, or none, each error named.

    The file is read and checked first, into a temporary table, holding no lock (however
    slowly it comes); the service's writes wait only while the checked songs are added, in
    one INSERT … SELECT. Past MAX_IMPORT_ERRORS errors, the rest are counted, not kept.
    """
    try:
        stream = (
            open(args.file, encoding="utf-8-sig", newline="")
            if args.file != "-"
            else io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        )
    except OSError as error:
        sys.exit(f"{args.file}: {error.strerror}")
    errors, progress = ImportErrors(), Progress("import: checked", fraction=read_share(stream))

    def fill(conn):
        with stream:
            rows = progress.counted(checked_rows(stream, args.file, errors))
            conn.insert_rows("import_rows", ("line", *WRITTEN), rows)
        if errors.count:  # out, and the transaction with it
            sys.exit("\n".join([*errors.shown, f"{args.file}: nothing imported, {errors}"]))

    def write(conn):
        now, last = utc_now(), last_song_id(conn)
        columns = ", ".join(WRITTEN)
        added = conn.execute(
            f"INSERT INTO songs ({columns}, created_at, updated_at)"
            f" SELECT {columns}, ?, ? FROM import_rows ORDER BY line",
            (now, now),
        ).rowcount
        log_created_songs(conn, last, "command:import")
        return added

    added = database.staged_write(
        "import_rows",
        f"line INTEGER, {WRITTEN_TYPES}",
        fill,
        write,
    )
    return f"{args.file}: {added} songs imported"


MAX_IMPORT_ERRORS = 100


def read_share(stream):
    """A function of the part of a file `stream` read so far (0 to 1); None for a pipe (of
    size 0) or a stream that is no file."""
    try:
        size = os.fstat(stream.fileno()).st_size
    except OSError:
        return None
    return (lambda: stream.buffer.tell() / size) if size else None


class ImportErrors:
    """An import's errors: the first MAX_IMPORT_ERRORS as lines to show, and how many in all."""

    def __init__(self):
        self.shown, self.count = [], 0

    def add(self, line):
        self.count += 1
        if len(self.shown) < MAX_IMPORT_ERRORS:
            self.shown.append(line)

    def __str__(self):
        hidden = self.count - len(self.shown)
        return f"{self.count} errors" + (f" ({hidden} more not shown)" if hidden else "")


def checked_rows(stream, name, errors):
    """(line, artist, title, rating) for each row of a CSV file that validate_song accepts;
    the problems of the others go to `errors`, with their line numbers."""
    try:
        for line, song, problems in csv_songs(stream):
            for field, message in problems:
                errors.add(
                    f"line {line}: {field} {message}" if field else f"line {line}: {message}"
                )
            if not errors.count:  # once one row is bad, none will be added
                yield (line, *written_values(song))
    except BadHeader as error:
        sys.exit(f"{name}: {error}")
    except UnreadableCSV as error:
        errors.add(f"{error}; reading stopped")


def export_to_csv(database, args):
    """Oldest first, so that importing the file adds the songs in their original order."""
    if args.file != "-" and os.path.exists(args.file):
        sys.exit(f"{args.file} exists; export writes a new file, and overwrites nothing")
    written = 0

    def counted(batches):
        nonlocal written
        for rows in batches:
            written += len(rows)
            yield rows

    batches = song_batches(database.connection(), {}, (("id", False),))
    with open(args.file, "xb") if args.file != "-" else sys.stdout.buffer as out:
        for chunk in csv_chunks(counted(batches)):
            out.write(chunk)
    return f"{args.file if args.file != '-' else 'standard output'}: {written} songs exported"


def backup(database, args):
    """A consistent copy of a SQLite database, taken while the service writes (storage.py)."""
    if not isinstance(database, storage.SQLiteDatabase):
        sys.exit(
            "backup copies a SQLite file; back PostgreSQL up with pg_dump "
            "(docs/operating.md, Backups)"
        )
    if os.path.exists(args.file):
        sys.exit(f"{args.file} exists; backup writes a new file, and overwrites nothing")
    try:
        count = database.backup(args.file)
    except ValueError as error:
        sys.exit(str(error))
    return f"{args.file}: {count} songs, integrity ok"


def migrate_to_postgres(database, args):
    """Every song of a SQLite file, ids and timestamps kept, into DATABASE_URL's PostgreSQL."""
    if not isinstance(database, storage.PostgresDatabase):
        sys.exit("DATABASE_URL must name the PostgreSQL database to move into (postgresql://…)")
    print(  # up front, as the service's writes wait meanwhile (reads go on)
        f"{database.name}: copying the songs of {args.file}, in one transaction that holds "
        "the service's writes until it ends (they get 503 after 5 s; reads go on)",
        file=sys.stderr,
    )
    try:
        total, added, next_id = storage.migrate_from_sqlite(
            args.file,
            database,
            lambda rows, total: Progress("migrate-to-postgres: read", total).counted(rows),
        )
    except ValueError as error:
        sys.exit(str(error))
    return (
        f"{database.name}: {added} songs copied from {args.file}, {total - added} there already;"
        f" all {total} checked equal; the next song's id is {next_id}"
    )


def positive_count(value):
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {value!r}")
    return int(value)


COMMANDS = {
    "init-db": init_db,
    "seed": seed_songs,
    "import": import_songs,
    "export": export_to_csv,
    "backup": backup,
    "migrate-to-postgres": migrate_to_postgres,
}
