"""Deploy checks' tools (tests/deploy/, make deploy-check): what each needs, and podman.

A check whose tool is missing is left out with its reason (pytest's summary gives one line
per reason); under CI (CI=true) the image's and nginx's checks fail instead, so that they
cannot silently stop running.

podman runs here as root, with runc and cgroupfs where runc is installed: Debian 12's
default runtime (crun) cannot set its limits on some hosts ("setrlimit RLIMIT_NOFILE:
Operation not permitted"). No registry need be reachable: a Containerfile's base that is
not in podman's store is made from Debian's packages (mmdebstrap, as Debian's slim images
are: no documentation, manual pages or locales), imported under the base's name.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_UNDER_CI = {"podman", "mmdebstrap", "nginx", "openssl"}
HOW_TO_INSTALL = "apt-get install podman runc mmdebstrap nginx-light openssl podman-compose"
SLIM = [  # what Debian's slim images leave out, as dpkg options (kept in the image's dpkg)
    f"--dpkgopt=path-exclude={path}"
    for path in ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
] + ["--dpkgopt=path-include=/usr/share/doc/*/copyright"]
CONFIG = """\
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
"""


def which(tool):
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(tool, path=path)


def need(*tools):
    """Leaves the calling test out unless every tool is installed."""
    missing = [tool for tool in tools if which(tool) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed ({HOW_TO_INSTALL})"
    if os.environ.get("CI") == "true" and REQUIRED_UNDER_CI.intersection(missing):
        pytest.fail(f"CI=true, and this deploy check cannot be left out: {reason}")
    pytest.skip(reason)


def podman_environment():
    environment = dict(os.environ)
    if which("runc"):
        config = Path(tempfile.gettempdir()) / "songs-containers.conf"
        config.write_text(CONFIG)
        environment["CONTAINERS_CONF"] = str(config)
    return environment


def podman(*args, check=True, timeout=600):
    """One podman command; its output, or the CompletedProcess with check=False."""
    done = subprocess.run(
        ["podman", *args],
        env=podman_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if not check:
        return done
    assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout.strip()


def base_of(containerfile):
    return re.search(r"^FROM\s+(\S+)", containerfile.read_text(), re.MULTILINE).group(1)


def ensure_base(name, suite="bookworm"):
    """The base image `name`, made from Debian's packages unless podman has it already."""
    if podman("image", "exists", name, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as folder:
        rootfs = Path(folder) / "rootfs.tar"
        subprocess.run(
            ["mmdebstrap", "--variant=minbase", "--quiet", *SLIM, suite, str(rootfs)],
            check=True,
            timeout=900,
        )
        podman("import", str(rootfs), name)


def build(containerfile, tag, context=ROOT):
    """podman build, with this machine's CA given to pip when it has one of its own."""
    ensure_base(base_of(containerfile))
    trust = []
    ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        trust = ["--volume", f"{ca}:/etc/pip-ca.crt:ro", "--build-arg", "PIP_CERT=/etc/pip-ca.crt"]
    podman(
        "build",
        "--format",
        "docker",
        "--tag",
        tag,
        "--file",
        str(containerfile),
        *trust,
        str(context),
        timeout=1800,
    )


def wait_ready(url, timeout=60):
    """Until `url` answers 200, as a load balancer would wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"{url} not ready after {timeout} s"
        time.sleep(0.1)
