"""The peer the service is measured against: Falcon, as a person would write this API in it.

The same SQL as bench/floors.py's database floor (the service's own, search keys and change
log and all), through the same per-thread connections, answered with Falcon's own media
handling (its JSON handler is json.dumps), and served by gunicorn under the service's
gunicorn.conf.py. Its paths are the floor's: ?before=<id> stands in for a cursor, ?shape=<query>
runs one of the list's queries. It has no history or feed routes: those rows have no peer.
"""

import json

import falcon

from bench.floors import FIELDS, QUERIES, connection, deleted, utc_now, written
from songs import storage
from songs.storage.common import SELECT_COLUMNS
from songs.storage.queries import INSERT_SONG, UPDATE_SONG, written_values


class SongResource:
    def on_get(self, req, resp, song_id):
        row = connection().execute(f"SELECT {SELECT_COLUMNS} FROM songs WHERE id = ?", (song_id,))
        song = row.fetchone()
        if song is None:
            raise falcon.HTTPNotFound()
        resp.media = dict(zip(FIELDS, song, strict=True))

    def on_delete(self, req, resp, song_id):
        if not deleted(connection(), song_id):
            raise falcon.HTTPNotFound()
        resp.status = falcon.HTTP_204

    def on_put(self, req, resp, song_id):
        song = req.get_media()
        values = (*written_values(song), utc_now(), song_id)
        resp.media = written(connection(), UPDATE_SONG, values, "update", values[-2], song_id)


class SongsResource:
    def on_get(self, req, resp):
        conn = connection()
        if shape := req.get_param("shape"):
            filters, sort = QUERIES[shape]
            after = req.get_param("after")
            after = tuple(json.loads(after)) if after else None
            rows = storage.select_page(conn, filters, sort, after, 101)
        else:
            before = req.get_param_as_int("before", default=2**63 - 1)
            rows = conn.execute(
                f"SELECT {SELECT_COLUMNS} FROM songs WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before, 101),
            ).fetchall()
        resp.media = [dict(zip(FIELDS, row, strict=True)) for row in rows[:100]]

    def on_post(self, req, resp):
        song, now = req.get_media(), utc_now()
        values = (*written_values(song), now, now)
        resp.media = written(connection(), INSERT_SONG, values, "create", now)
        resp.status = falcon.HTTP_201


class HealthResource:
    def on_get(self, req, resp):
        connection().execute("SELECT 1 FROM songs LIMIT 1").fetchall()
        resp.media = {"status": "ok"}


app = falcon.App()
app.add_route("/api/song/{song_id:int}", SongResource())
app.add_route("/api/songs", SongsResource())
app.add_route("/healthz", HealthResource())
