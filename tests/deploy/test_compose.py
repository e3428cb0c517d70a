"""compose.yaml: valid to Docker's Compose (`docker-compose config`, Debian's 1.29), its
parts in step with each other and with deploy/pgbouncer.ini, and its PgBouncer image built
and started on the compose configuration. The whole stack needs PostgreSQL's image from a
registry, so it is started only where one is reachable; here its parts are."""

import configparser
import os
import re
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import pytest
import yaml

from helpers.containers import ROOT, build, need, podman

PASSWORD = "compose-check-0123456789"


@pytest.fixture(scope="module")
def compose():
    """The file with its variables set as Compose sets them: SONGS_DB_PASSWORD given, the
    others their defaults."""
    text = (ROOT / "compose.yaml").read_text()
    given = {"SONGS_DB_PASSWORD": PASSWORD}
    return yaml.safe_load(VARIABLE.sub(lambda found: given.get(found[1], found[2] or ""), text))


VARIABLE = re.compile(r"\$\{(\w+)(?::[-?]([^}]*))?\}")


def config(**environment):
    return subprocess.run(
        ["docker-compose", "--file", str(ROOT / "compose.yaml"), "config", "--quiet"],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_takes_it_and_asks_for_the_password():
    need("docker-compose")
    assert config(SONGS_DB_PASSWORD=PASSWORD).returncode == 0

    without = config(SONGS_DB_PASSWORD="")

    assert without.returncode != 0
    assert "set SONGS_DB_PASSWORD" in without.stderr


def pgbouncer_settings(name):
    parser = configparser.ConfigParser(delimiters=("=",), comment_prefixes=(";", "%"))
    parser.read_string((ROOT / "deploy" / name).read_text())
    return parser


def test_songs_reach_postgresql_through_pgbouncer_and_the_release_step_directly(compose):
    services = compose["services"]
    sample, here = pgbouncer_settings("pgbouncer.ini"), pgbouncer_settings("compose-pgbouncer.ini")
    served = urlsplit(services["songs"]["environment"]["DATABASE_URL"])
    released = urlsplit(services["release"]["environment"]["DATABASE_URL"])
    pooled = dict(part.split("=") for part in here["databases"]["songs"].split())

    assert (served.hostname, served.port) == ("pgbouncer", int(sample["pgbouncer"]["listen_port"]))
    assert served.path == "/songs" and "songs" in here["databases"]
    assert (released.hostname, released.port, released.path) == ("db", 5432, "/songs")
    assert (pooled["host"], pooled["port"], pooled["dbname"]) == ("db", "5432", "songs")
    assert here["pgbouncer"]["listen_addr"] == "*"  # within the compose network only
    assert "ports" not in services["pgbouncer"] and "ports" not in services["db"]
    assert services["songs"]["ports"] == ["127.0.0.1:8080:8080"]


def test_every_file_it_names_is_in_the_repository(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build["context"])
            dockerfile = "Containerfile" if isinstance(build, str) else build["dockerfile"]
            assert (context / dockerfile).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        for other in service.get("depends_on", {}):
            assert other in compose["services"], (name, other)


def test_its_pgbouncer_image_starts_on_the_compose_configuration():
    need("podman", "mmdebstrap")
    tag = "localhost/songs-pgbouncer:deploy-check"
    build(ROOT / "deploy" / "pgbouncer.Containerfile", tag, context=ROOT / "deploy")
    name = f"songs-pgbouncer-{uuid.uuid4().hex[:8]}"
    deploy = ROOT / "deploy"
    podman("run", "--detach", "--name", name, f"--env=SONGS_DB_PASSWORD={PASSWORD}",
           f"--volume={deploy / 'pgbouncer.ini'}:/etc/pgbouncer/pgbouncer.ini:ro",
           f"--volume={deploy / 'compose-pgbouncer.ini'}:/etc/pgbouncer/compose.ini:ro",
           tag)  # fmt: skip
    try:
        log = wait_for_log(name, "process up")
        userlist = podman("exec", name, "cat", "/tmp/userlist.txt")
    finally:
        podman("rm", "--force", "--volumes", "--time=0", name, check=False)

    assert "listening on 0.0.0.0:6432" in log or "listening on *:6432" in log, log
    assert userlist == f'"songs" "{PASSWORD}"'


def wait_for_log(name, text, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        done = podman("logs", name, check=False)
        log = done.stdout + done.stderr
        if text in log:
            return log
        state = podman("inspect", name, "--format", "{{.State.Status}}")
        assert state == "running" and time.monotonic() < deadline, log
        time.sleep(0.1)
