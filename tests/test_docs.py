"""The docs say what the service does: every route and every setting is in them, and every
example of docs/ marked for replay gives, against a new server, the output shown.

An example is a ```console block after a `<!-- replay: KIND [NAME=VALUE ...] -->` line: KIND
is the database it starts from, `empty` or `seed` (make seed's 1000 songs), and the NAME=VALUE
pairs are settings of its server. Its commands run in one bash, against real gunicorn on a
free port standing in for 127.0.0.1:8000; ids, times, ETags, request ids, cursors and dates
are compared as placeholders (a file's line, as make quotes `Makefile:66`, is not: a quote
that goes stale fails). To see what a block prints now, run this file:
`.venv/bin/python tests/test_docs.py docs/api.md`.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # when run as a script
sys.path.insert(0, str(ROOT / "tests"))

import service  # noqa: E402
from helpers.contract import served_operations  # noqa: E402
from helpers.gunicorn_server import Gunicorn, procfile_command  # noqa: E402

README = ROOT / "README.md"
API = ROOT / "docs" / "api.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- replay: (\w+)((?: [A-Z_]+=\S*)*) -->\n+```console\n(.*?)```", re.S)
SEED_SONGS = "1000"  # make seed's default
READ_FROM_ENVIRONMENT = re.compile(r'(?:os\.environ\.get|\benv|_setting)\(\s*"([A-Z][A-Z0-9_]+)"')
LINKED = ("service.py", "Makefile", "Procfile", "gunicorn.conf.py", "songs", ".venv")
LINKED += ("schema.sql", "schema-postgres.sql", "openapi.json", "requirements.txt")
LINKED += ("requirements-dev.txt",)
PLACEHOLDERS = (
    (re.compile(r"\r\n"), "\n"),
    (re.compile(r"^Date: .*$", re.M), "Date: <date>"),
    (re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"), "<time>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),  # ETags and request ids
    (re.compile(r"cursor=[A-Za-z0-9_-]+"), "cursor=<cursor>"),
    (
        re.compile(r"^Server-Timing: db;dur=[0-9.]+, total;dur=[0-9.]+$", re.M),
        "Server-Timing: <ms>",
    ),
    (re.compile(r"^(traceparent: 00-<hex>)-[0-9a-f]{16}-0[01]$", re.M), r"\1-<span>"),
    (re.compile(r"[ \t]+$", re.M), ""),
)


def examples(path):
    """(id, kind, settings, [(command, shown output)]) for each example of the file to replay."""
    text = path.read_text()
    for match in MARKER.finditer(text):
        kind, settings, block = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        settings = dict(pair.split("=", 1) for pair in settings.split())
        yield f"{path.name}:{line}", kind, settings, commands(block)


def commands(block):
    """The block's commands (`$ ` lines, with their continuations and here-documents), each
    with the output shown after it."""
    steps, lines = [], block.splitlines()
    while lines:
        line = lines.pop(0)
        if not line.startswith("$ "):
            steps[-1][1].append(line)
            continue
        command = [line[2:]]
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        while lines and (command[-1].endswith("\\") or heredoc):
            command.append(lines.pop(0))
            if heredoc and command[-1] == heredoc.group(1):
                heredoc = None
        steps.append(("\n".join(command), []))
    return [(command, "\n".join(shown)) for command, shown in steps]


def normalized(text):
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text.strip("\n")


def replay(kind, settings, steps, folder):
    """What each command prints now, run in order in one bash against a new server."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name)
    database_url = f"sqlite:///{folder / 'songs.db'}"
    env = {"DATABASE_URL": database_url, **settings}
    if kind == "seed":
        subprocess.run(
            [sys.executable, str(ROOT / "service.py"), "seed", SEED_SONGS],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    # One worker: an example's answers are the same from any number, and each start costs less.
    server = Gunicorn(
        procfile_command(), folder / "gunicorn.log", env=env, gunicorn_args="--workers 1"
    )
    try:
        server.wait_ready()
        here = f"127.0.0.1:{server.port}"
        script = "".join(
            f"printf '\\n@@@%s@@@\\n' {n}\n{command.replace('127.0.0.1:8000', here)}\n"
            for n, (command, _) in enumerate(steps)
        )
        outer_make = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")  # make test's own, else make[2]:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=folder,
            env={**{k: v for k, v in os.environ.items() if k not in outer_make}, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    finally:
        server.stop()
    printed = re.split(r"\n@@@[0-9]+@@@\n", result.stdout.decode(errors="replace"))[1:]
    assert len(printed) == len(steps), result.stdout
    return printed


EXAMPLES = [example for path in DOCS for example in examples(path)]


def test_every_console_example_of_the_api_reference_is_replayed():
    blocks = API.read_text().count("```console")

    assert blocks == len([e for e in EXAMPLES if e[0].startswith("api.md:")]) > 10


@pytest.mark.parametrize(
    ("kind", "settings", "steps"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_an_example_prints_what_the_docs_show(kind, settings, steps, tmp_path):
    printed = replay(kind, settings, steps, tmp_path / "work")

    for (command, shown), output in zip(steps, printed, strict=True):
        assert normalized(output) == normalized(shown), command


def route_rows():
    """Each row of docs/api.md's table of paths: path -> the methods it lists."""
    rows = re.findall(r"^\| `(/[^`]*)` \| ([^|]*) \|", API.read_text(), re.M)
    return {path: set(re.findall(r"`([A-Z]+)`", methods)) for path, methods in rows}


def test_every_route_and_method_the_app_serves_is_in_the_api_reference(tmp_path):
    app = service.create_app(f"sqlite:///{tmp_path / 'songs.db'}")
    served = {}
    for path, method in served_operations(app):
        served.setdefault(path.replace("{song_id}", "<id>"), set()).add(method.upper())

    assert route_rows() == served


def test_every_setting_the_service_reads_is_in_the_readmes_configuration_table():
    sources = [ROOT / "service.py", ROOT / "gunicorn.conf.py", *(ROOT / "songs").rglob("*.py")]
    read = {name for path in sources for name in READ_FROM_ENVIRONMENT.findall(path.read_text())}
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), re.M))
    read_by_gunicorn = {"PORT", "GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS"}

    assert len(read) >= 8
    assert table == read | read_by_gunicorn


def anchors(path):
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.*)$", path.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_link_between_the_docs_leads_to_a_file_and_heading_that_exist(doc):
    for target, anchor in re.findall(r"\]\(([^):#]*)(?:#([^)]*))?\)", doc.read_text()):
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), target
        if anchor:
            assert anchor in anchors(path), f"{target}#{anchor}"


if __name__ == "__main__":
    import tempfile

    for path in sys.argv[1:]:
        for name, kind, settings, steps in examples(Path(path).resolve()):
            with tempfile.TemporaryDirectory() as folder:
                printed = replay(kind, settings, steps, Path(folder) / "work")
            print(f"== {name}")
            for (command, _), output in zip(steps, printed, strict=True):
                print(f"$ {command}\n{output.replace(chr(13), '').rstrip()}")
