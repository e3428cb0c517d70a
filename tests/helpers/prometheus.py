"""A real Prometheus (Debian's package) scraping one target, and queries through its HTTP API.

Left out, in one line, where it is not installed; under CI=true that is an error
(.ci/run installs it).
"""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from helpers.gunicorn_server import free_port, stop_group

PROMETHEUS = shutil.which("prometheus")
SCRAPE_EVERY = "500ms"


def require_prometheus():
    if PROMETHEUS:
        return
    message = "Prometheus is not installed (apt-get install prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: under CI it must be")
    pytest.skip(message)


class Prometheus:
    """Prometheus scraping http://127.0.0.1:`target_port`/metrics every SCRAPE_EVERY, with
    `token` as its bearer token; its own API on a free loopback port."""

    def __init__(self, folder, target_port, token):
        require_prometheus()
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {SCRAPE_EVERY}, scrape_timeout: {SCRAPE_EVERY}}}\n"
            "scrape_configs:\n"
            "  - job_name: songs\n"
            f"    authorization: {{credentials: {token}}}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        self.port = free_port()
        self.log_path = folder / "prometheus.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for(lambda: self.get("/-/ready") is not None, "ready", timeout=30)

    def get(self, path):
        """The body of a GET on Prometheus's own port, or None before it answers 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.read()
        except OSError:
            return None

    def query(self, promql):
        """The value of an instant query whose answer is one number (None: no series)."""
        body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        result = json.loads(body)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def value_once(self, promql, expected, timeout=20):
        """Waits until `promql` is `expected` (a scrape or two later); the last value seen."""
        seen = []

        def reached():
            seen.append(self.query(promql))
            return seen[-1] == expected

        self.wait_for(reached, f"{promql} == {expected}", timeout)
        return seen[-1]

    def wait_for(self, condition, what, timeout):
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"Prometheus: not {what} within {timeout} s\n{log}")
            time.sleep(0.1)

    def stop(self):
        stop_group(self.process, timeout=10)
        if not self.log.closed:
            self.log.close()
