"""The command line as the tests run it: make targets, and service.py init-db."""

import os
import subprocess
import sys

from helpers.gunicorn_server import ROOT


def make(*args, env=None):
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def init_db(database_url, cwd=ROOT):
    """Run `python service.py init-db`, as `make init-db` does."""
    return subprocess.run(
        [sys.executable, str(ROOT / "service.py"), "init-db"],
        cwd=cwd,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
