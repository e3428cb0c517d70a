"""deploy/songs.service: systemd's own check (`systemd-analyze verify`) finds nothing in it,
with /srv/songs taken as this checkout (whose .venv make has built); and it runs what the
Procfile runs, on the address deploy/nginx.conf sends to."""

import re
import shlex
import subprocess

from helpers.containers import ROOT, need
from helpers.gunicorn_server import procfile_command

UNIT = ROOT / "deploy" / "songs.service"


def settings():
    return dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^\w+=", line)
    )


def test_systemd_analyze_verify_finds_nothing(tmp_path):
    need("systemd-analyze")
    unit = tmp_path / "songs.service"
    unit.write_text(UNIT.read_text().replace("/srv/songs", str(ROOT)))

    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )

    assert verified.returncode == 0, verified.stderr
    assert verified.stdout + verified.stderr == ""


def test_it_runs_the_procfiles_release_step_then_web_on_nginxs_upstream():
    unit = settings()
    release, serve = shlex.split(unit["ExecStartPre"]), shlex.split(unit["ExecStart"])
    upstream = re.search(r"server (\S+);", (ROOT / "deploy" / "nginx.conf").read_text())[1]

    assert release[0] == serve[0] == "/srv/songs/.venv/bin/python"
    assert ["python", *release[1:]] == procfile_command("release")
    assert ["python", *serve[1:]] == [*procfile_command("web"), "--bind", upstream]
    assert unit["WorkingDirectory"] == "/srv/songs"
    assert unit["Environment"] == "DATABASE_URL=sqlite:////var/lib/songs/songs.db"
    assert unit["StateDirectory"] == "songs"  # /var/lib/songs, the user's own
