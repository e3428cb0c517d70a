"""The service, the Falcon peer and the database floor called in-process: µs a request.

No server and no sockets: each WSGI app is called directly with a built environ, on a
database of 1,000 seeded songs (as make bench builds it), so the figures are the apps' own
cost (what gunicorn adds is the same for all three). Prints the median of five runs of each
request on each app.

    .venv/bin/python bench/in_process.py            # after make bench has installed Falcon
    DATABASE_URL=postgresql://... .venv/bin/python bench/in_process.py   # an empty database
"""

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
REQUESTS = {  # name: (method, path, the service's query string, the others', calls a run)
    "GET one song": ("GET", "/api/song/1", "", "", 4000),
    "GET the first page (100)": ("GET", "/api/songs", "", "", 1000),
    "GET ?min_rating=4": ("GET", "/api/songs", "min_rating=4", "shape=min_rating%3D4", 1000),
    "GET ?q=zyzzyva": ("GET", "/api/songs", "q=zyzzyva", "shape=q%3Dzyzzyva", 2000),
    "POST a song": ("POST", "/api/songs", "", "", 1000),
    "PUT a song": ("PUT", "/api/song/1", "", "", 1000),
}
RUNS = 5


def environ(method, path, query, body):
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def per_call(app, method, path, query, calls):
    """µs a call, after a warm-up; every answer must be a 2xx."""
    ratings = iter(range(10**9))

    def call():
        body = b""
        if method in ("POST", "PUT"):  # a change each time, so that each PUT writes
            song = {"artist": "Daft Punk", "title": "Aerodynamic", "rating": next(ratings) % 5 + 1}
            body = json.dumps(song).encode()
        statuses = []
        b"".join(app(environ(method, path, query, body), lambda s, h, e=None: statuses.append(s)))
        assert statuses[0].startswith("2"), statuses

    for _ in range(calls // 10):
        call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def main():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        database = Path(tempfile.mkdtemp(prefix="songs-in-process-")) / "songs.db"
        os.environ["DATABASE_URL"] = url = f"sqlite:///{database}"
    subprocess.run([sys.executable, str(ROOT / "service.py"), "init-db"], check=True)
    import service
    from bench import falcon_peer, floors, run

    run.build_database(url, 1000)

    apps = {
        "service": service.create_app(url),
        "Falcon": falcon_peer.app,
        "floor": floors.database_floor,
    }
    print(f"| request | {' | '.join(f'{name} µs' for name in apps)} | service / Falcon |")
    print(f"|---|{'---:|' * (len(apps) + 1)}")
    for name, (method, path, query, shape, calls) in REQUESTS.items():
        costs = {
            app_name: statistics.median(
                per_call(app, method, path, query if app_name == "service" else shape, calls)
                for _ in range(RUNS)
            )
            for app_name, app in apps.items()
        }
        cells = " | ".join(f"{cost:.1f}" for cost in costs.values())
        print(f"| {name} | {cells} | {costs['service'] / costs['Falcon']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
