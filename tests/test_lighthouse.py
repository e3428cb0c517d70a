"""Lighthouse's four scores of the songs page and a song's page: 100 in each.

Lighthouse (from npm, tests/helpers/node_tools.py) audits each page as it loads in Debian's
Chromium, served by real gunicorn with songs in it, in its default setting: a phone on a
slow network, simulated. Without Node.js or Chromium the test is left out (an error under
CI=true), as the browser tests are.
"""

import json
import os
import subprocess

import pytest

from helpers import CHROMIUM, node_tools
from helpers.gunicorn_server import serve_sqlite

pytestmark = [pytest.mark.browser, pytest.mark.node, pytest.mark.xdist_group("browser")]
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
FLAGS = (  # as the browser tests start it: no tries at hosts these machines cannot reach
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run --disable-quic"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = serve_sqlite(tmp_path_factory.mktemp("lighthouse"))
    songs = [
        {"artist": f"The Strangers {n % 7}", "title": f"Running Under {n}", "rating": n % 5 + 1}
        for n in range(150)
    ]
    status, _, _ = server.request(
        "POST", "/api/songs", json.dumps(songs).encode(), {"Content-Type": "application/json"}
    )
    assert status == 201
    for path in PATHS * 4:  # warm, as a server in use is: each worker's templates compiled
        assert server.request("GET", path)[0] == 200
    yield server
    server.stop()


PATHS = ["/", "/songs/1"]


def audit(url, report):
    """One Lighthouse run of the page: its report."""
    run = subprocess.run(
        [
            "node",
            str(node_tools.LIGHTHOUSE),
            url,
            "--output=json",
            f"--output-path={report}",
            "--quiet",
            f"--chrome-flags={FLAGS}",
            f"--only-categories={','.join(CATEGORIES)}",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(report.read_text())


def short_of_full_marks(result):
    """Each weighted audit that scored below 1, with what it measured."""
    return [
        f"{name}: {ref['id']} {audit['score']} {audit.get('displayValue', '')}"
        for name in CATEGORIES
        for ref in result["categories"][name]["auditRefs"]
        if ref["weight"]
        and (audit := result["audits"][ref["id"]])["score"] is not None
        and audit["score"] < 1
    ]


@pytest.mark.parametrize("path", PATHS)
def test_lighthouse_scores_the_page_100_in_every_category(server, path, tmp_path):
    """Accessibility, best practices and SEO do not depend on timing: 100 in every run.
    Performance does, on a shared machine whose other work lengthens the page's tasks
    (Lighthouse's variability guide): a run under 100 is run twice more, and both must be
    100, which a page that truly scores less never is."""
    performance, shortfalls = [], []
    while performance in ([], [0], [0, 1]):  # 0: a run under 100
        result = audit(server.url(path), tmp_path / f"lighthouse-{len(performance)}.json")
        scores = {name: result["categories"][name]["score"] for name in CATEGORIES}
        shortfalls.append(short_of_full_marks(result))
        assert {**scores, "performance": 1} == dict.fromkeys(CATEGORIES, 1), shortfalls[-1]
        performance.append(1 if scores["performance"] == 1 else 0)
        print(f"{path}: performance {scores['performance']}", *shortfalls[-1], sep="\n  ")

    assert performance in ([1], [0, 1, 1]), shortfalls
