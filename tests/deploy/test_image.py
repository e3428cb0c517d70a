"""The Containerfile, built and run with podman: it serves on PORT as a user of its own,
keeps its songs in its volume across containers, answers its HEALTHCHECK, and stops
gracefully on SIGTERM (helpers/containers.py: the base made from Debian's packages when
no registry has it)."""

import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers.containers import ROOT, build, need, podman, wait_ready
from helpers.gunicorn_server import free_port

TAG = "localhost/songs:deploy-check"
SONG = {"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}


@pytest.fixture(scope="module")
def image():
    need("podman", "mmdebstrap")
    build(ROOT / "Containerfile", TAG)
    return TAG


@pytest.fixture
def run(image):
    """Starts containers of the image, published on loopback; removes them and their
    volumes after the test."""
    names, volumes = [], []

    def start(volume=None, inside=8080, env=()):
        """A container, ready; `inside` the port it serves on (PORT's)."""
        name, port = f"songs-check-{uuid.uuid4().hex[:8]}", free_port()
        volume = volume or f"{name}-data"
        names.append(name)
        volumes.append(volume)
        settings = [f"--env={setting}" for setting in env]
        podman("run", "--detach", "--name", name, f"--publish=127.0.0.1:{port}:{inside}",
               *settings, f"--volume={volume}:/var/lib/songs", image)  # fmt: skip
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        return name, volume, f"http://127.0.0.1:{port}"

    yield start
    for name in names:
        podman("rm", "--force", "--volumes", "--time=0", name, check=False)
    for volume in set(volumes):
        podman("volume", "rm", "--force", volume, check=False)


def call(method, url, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def test_a_song_stays_across_a_restart_and_in_the_volume_when_the_container_is_replaced(run):
    first, volume, url = run()
    status, song = call("POST", f"{url}/api/songs", SONG)
    assert status == 201
    podman("restart", "--time=30", first)
    wait_ready(f"{url}/readyz")
    assert call("GET", f"{url}/api/song/{song['id']}") == (200, song)
    podman("stop", "--time=30", first)

    second, _, url = run(volume=volume)  # a new container, its release step run again

    assert second != first
    assert call("GET", f"{url}/api/song/{song['id']}") == (200, song)


def test_it_serves_on_the_port_that_port_names(run):
    _, _, url = run(inside=9090, env=["PORT=9090"])  # ready: answering on 9090

    assert call("GET", f"{url}/livez") == (200, {"status": "ok"})


def test_it_runs_as_a_user_of_its_own(run):
    name, _, _ = run()

    assert podman("exec", name, "id", "-u") != "0"
    assert podman("exec", name, "id", "-un") == "songs"


def test_its_healthcheck_asks_readyz(run):
    name, _, _ = run()

    assert podman("healthcheck", "run", name, check=False).returncode == 0
    assert podman("inspect", name, "--format", "{{.State.Health.Status}}") == "healthy"


def test_sigterm_stops_it_gracefully_answering_what_it_holds(run):
    name, _, url = run()
    cursor = call("GET", f"{url}/api/changes?since=now")[1]["next"]
    waiting = urllib.request.Request(
        f"{url}/api/changes?since={cursor}", headers={"Prefer": "wait=20"}
    )
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(urllib.request.urlopen, waiting, timeout=30)
        wait_for_waiter(name)

        podman("stop", "--time=30", name)  # SIGTERM (STOPSIGNAL), SIGKILL only after 30 s

        assert held.result().status == 200  # the long poll answered, not cut
    state = json.loads(podman("inspect", name, "--format", "{{json .State}}"))
    assert state["ExitCode"] == 0
    log = podman("logs", name, check=False)
    assert "Handling signal: term" in log.stdout + log.stderr
    assert "Shutting down: Master" in log.stdout + log.stderr


def wait_for_waiter(name, timeout=10):
    """Until the feed holds a request (its gauge, read inside the container)."""
    read = (
        "import urllib.request as u; "
        "print(u.urlopen('http://127.0.0.1:8080/metrics').read().decode())"
    )
    deadline = time.monotonic() + timeout
    while "songs_feed_waiters 1.0" not in podman("exec", name, "python", "-c", read):
        assert time.monotonic() < deadline, "no request waits on the feed"
        time.sleep(0.1)
