"""The Nu Html Checker (vnu.jar, the W3C's HTML validator), pinned, for test_pages.py.

`python tests/helpers/nu_checker.py` (make test does it) fetches the jar from the npm registry
(package vnu-jar, MIT licence) into .venv, once, and refuses a download whose sha512 is not
the registry's integrity hash below. It runs on Java 11 or later: Debian's
default-jre-headless.
"""

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "26.9.27"
TARBALL = f"https://registry.npmjs.org/vnu-jar/-/vnu-jar-{VERSION}.tgz"
INTEGRITY = (  # npm view vnu-jar@26.9.27 dist.integrity
    "sha512-TkQd5DFfOaWC9ebtvozTsrH2Vaod3jYg+vrOeREzIXxBexLz9+rS2DNtjn7+RPUiZhgli0SghgBX6RJRNea0KA=="
)
JAR = Path(__file__).resolve().parents[2] / ".venv" / f"vnu-{VERSION}.jar"
HOW_TO_ENABLE = "install Java 11 or later (apt-get install default-jre-headless)"


def missing():
    """Why the checker cannot run here, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed"
    if not JAR.exists():
        return f"{JAR.name} is not fetched (make test fetches it)"
    return None


def fetch():
    if JAR.exists():
        return
    with urllib.request.urlopen(TARBALL, timeout=120) as resp:
        tarball = resp.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{TARBALL}: its sha512 is {digest}, not the pinned {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        jar = archive.extractfile("package/build/dist/vnu.jar").read()
    partial = JAR.with_suffix(".part")
    partial.write_bytes(jar)
    partial.replace(JAR)  # whole, or not there


if __name__ == "__main__":
    fetch()
