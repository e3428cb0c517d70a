"""A real PgBouncer for the tests: Debian's (apt-get install pgbouncer), run with the sample
deploy/pgbouncer.ini (transaction pooling, and its timeouts) in front of a PostgreSQL
server, on a free loopback port.

`python tests/helpers/pgbouncer.py [SERVER_URL]` starts one the same way, prints its URL and
keeps it until Ctrl-C: `DATABASE_URL=<that URL> make bench` measures the service through it.

Every database of the server is reachable through it by name (`*`), each with a pool of
POOL_SIZE server connections, fewer than the service's threads open to it: a transaction
gets whichever server connection is free, as on a hosted pooler.
"""

import configparser
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):  # run as a script: python tests/helpers/pgbouncer.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.gunicorn_server import ROOT, free_port  # noqa: E402

HOW_TO_ENABLE = "install PgBouncer (apt-get install pgbouncer)"
POOL_SIZE = 2  # server connections per database; a test's gunicorn has 2 workers x 2 threads
SAMPLE = ROOT / "deploy" / "pgbouncer.ini"


def pgbouncer_path():
    """PgBouncer's program, on the PATH or where Debian puts it (sbin), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def pgbouncer_missing():
    """Why PgBouncer cannot run here, or None when it can."""
    return None if pgbouncer_path() else "pgbouncer is not installed"


class PgBouncer:
    """PgBouncer started at once in front of server_url's host and port; stop() ends it."""

    def __init__(self, folder, server_url, pool_size=POOL_SIZE):
        server = urlsplit(server_url)
        self.server_url, self.port, self.folder = server_url, free_port(), Path(folder)
        self.user = server.username or "postgres"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o777)  # as root, PgBouncer runs as nobody, which writes its log here
        # (so the folder's parents must let nobody in: tempfile.mkdtemp's do, pytest's do not)
        (self.folder / "users.txt").write_text(f'"{self.user}" ""\n')
        config = configparser.ConfigParser(interpolation=None)
        config.read(SAMPLE)
        config["databases"] = {
            "*": f"host={server.hostname or '127.0.0.1'} port={server.port or 5432}"
        }
        config["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(self.port),
            unix_socket_dir="",
            auth_type="trust",
            auth_file=str(self.folder / "users.txt"),
            default_pool_size=str(pool_size),
            logfile=str(self.folder / "pgbouncer.log"),
        )
        with open(self.folder / "pgbouncer.ini", "w") as ini:
            config.write(ini)
        command = [pgbouncer_path(), str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # it refuses to run as root
            command[1:1] = ["-u", "nobody"]
        with open(self.folder / "output.txt", "ab") as output:  # what it says before its log
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_listening()

    def wait_listening(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited early:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"pgbouncer did not listen within {timeout} s:\n{self.log()}")

    def url(self, database):
        """server_url's user, through this PgBouncer, to `database`."""
        netloc, path = f"{self.user}@127.0.0.1:{self.port}", f"/{database}"
        return urlunsplit(urlsplit(self.server_url)._replace(netloc=netloc, path=path))

    def log(self):
        return "".join(
            path.read_text(errors="replace")
            for path in (self.folder / "output.txt", self.folder / "pgbouncer.log")
            if path.exists()
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    import signal
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="songs-pgbouncer-") as folder:
        url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
        pooler = PgBouncer(folder, url, pool_size=int(os.environ.get("POOL_SIZE", POOL_SIZE)))
        print(pooler.url(urlsplit(url).path[1:] or "postgres"), flush=True)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            pooler.process.wait()
        except KeyboardInterrupt:
            pass
        finally:  # on Ctrl-C or SIGTERM: PgBouncer runs in a session of its own
            pooler.stop()
