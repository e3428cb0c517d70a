"""The suite's Node.js tools, pinned in tests/node/: Lighthouse (Google's audit of a page:
performance, accessibility, best practices, SEO) for test_lighthouse.py, and Redocly CLI,
Spectral, openapi-typescript and TypeScript for test_linters.py.

`python tests/helpers/node_tools.py` (make test does it) installs them with npm into .venv,
from the committed lock file: `npm ci` refuses that lock, because a package Lighthouse
needs asks for another's "latest", so `npm install` takes it, the versions locked. They run
on Node.js 20.19 or later (Redocly CLI's floor; Lighthouse 13 would want 22). Without npm it
says so and does nothing, and the tests that need them are left out (an error under CI).
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / "tests" / "node"
HOME = ROOT / ".venv" / "node"
MODULES = HOME / "node_modules"
LIGHTHOUSE = MODULES / "lighthouse" / "cli" / "index.js"
HOW_TO_ENABLE = "install Node.js 20.19 or later with npm, then run make test"


def tool(name):
    """The command of one installed package's program, for subprocess."""
    return str(MODULES / ".bin" / name)


NEEDED = (20, 19)  # Redocly CLI's floor; from it on, Node.js also loads openapi-fetch's ES module


def missing():
    """Why the Node.js tools cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    if tuple(int(part) for part in version.strip().lstrip("v").split(".")[:2]) < NEEDED:
        return f"node {version.strip()} is older than 20.19"
    if not LIGHTHOUSE.exists() or not (MODULES / ".bin" / "tsc").exists():
        return "the Node.js tools are not installed (make test installs them where npm is)"
    return None


def install():
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed: the tests that need Node.js will be left out", file=sys.stderr)
        return
    HOME.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PINNED / name, HOME / name)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HOME, check=True
    )


if __name__ == "__main__":
    install()
