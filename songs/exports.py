"""Exports: every matching song, streamed as CSV (RFC 4180) or NDJSON a batch at a time."""

import csv
import io
import itertools
import json

from bottle import request, response

from songs.metrics import EXPORTS
from songs.problems import unavailable
from songs.storage import SONG_FIELDS, song_batches, song_from_row

EXPORTS_PER_WORKER = 1  # of gunicorn.conf.py's 2 threads: the other serves everything else
EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8; header=present",  # RFC 4180, 3
    "ndjson": "application/x-ndjson",
}


def export_songs(conn, query, export_format):
    """The whole list as CSV or NDJSON, streamed a batch at a time: memory stays flat.

    A worker streams EXPORTS_PER_WORKER exports at once, so that clients slow to read them
    cannot take every thread; one more is a 503 to retry.
    """
    slots = request.app.config["songs.export_slots"]
    if not slots.acquire(blocking=False):
        raise unavailable(
            "exports",
            "This worker is streaming as many exports as it serves at once; try again soon.",
            headers={"Retry-After": "5"},
        )
    EXPORTS.inc()
    try:
        response.content_type = EXPORT_CONTENT_TYPES[export_format]
        response.set_header("Content-Disposition", f'attachment; filename="songs.{export_format}"')
        encode = csv_chunks if export_format == "csv" else ndjson_chunks
        batches = song_batches(conn, query.filters, query.sort)
        first = next(batches, None)  # here: a database in trouble is a 503, not a cut stream
        if first is None:  # Bottle never closes an answer of no chunks: nothing to stream
            let_go(slots)
            return b"".join(encode([]))
        chunks = encode(itertools.chain([first], batches))
    except BaseException:
        let_go(slots)
        raise
    return Releasing(chunks, slots)


class Releasing:
    """An answer's chunks that release `slot` once the last is taken, before the server
    sends the answer's end (a client reading exports one after another would otherwise
    find the slot held in between), or when the server closes them (PEP 3333), read to the
    end or not: a generator never started would not run its finally."""

    def __init__(self, chunks, slot):
        self.chunks, self.slot = chunks, slot

    def __iter__(self):
        yield from self.chunks
        self.release()

    def close(self):
        self.chunks.close()
        self.release()

    def release(self):
        if self.slot is not None:
            self.slot, slot = None, self.slot
            let_go(slot)


def let_go(slot):
    """An export's slot, taken in export_songs, given back."""
    EXPORTS.dec()
    slot.release()


def csv_chunks(batches):
    """RFC 4180: a header row, CRLF line ends, fields with a comma, quote or line break quoted.

    Values are written as stored: a text such as =SUM(A1) stays text for the import, so a
    spreadsheet that runs formulas should open the file as text.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SONG_FIELDS)
    for rows in batches:
        writer.writerows(rows)
        yield drain(buffer)
    if buffer.tell():
        yield drain(buffer)  # nothing matched: the header alone


def ndjson_chunks(batches):
    for rows in batches:
        yield "".join(
            json.dumps(song_from_row(row), ensure_ascii=False) + "\n" for row in rows
        ).encode()


def drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
