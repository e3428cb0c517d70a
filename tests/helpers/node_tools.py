"""Lighthouse (Google's audit of a page: performance, accessibility, best practices, SEO),
pinned in tests/lighthouse/, for test_lighthouse.py; it drives Debian's Chromium.

`python tests/helpers/lighthouse.py` (make test does it) installs it with npm into .venv,
from the committed lock file: `npm ci` refuses that lock, because a package Lighthouse
needs asks for another's "latest", so `npm install` takes it, the versions locked. Version
12 runs on Node.js 18 and later (13 wants 22). Without npm it says so and does nothing,
and the test is left out (an error under CI).
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / "tests" / "lighthouse"
HOME = ROOT / ".venv" / "lighthouse"
CLI = HOME / "node_modules" / "lighthouse" / "cli" / "index.js"
HOW_TO_ENABLE = "install Node.js 18 or later with npm, and Chromium, then run make test"


def missing():
    """Why Lighthouse cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not CLI.exists():
        return "Lighthouse is not installed (make test installs it where npm is)"
    return None


def install():
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed: the Lighthouse test will be left out", file=sys.stderr)
        return
    HOME.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PINNED / name, HOME / name)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HOME, check=True
    )


if __name__ == "__main__":
    install()
