"""The house's layout: service.py a route map and handlers, each other concern a module of
songs/ small enough to read, and imports running one way, from service.py down to storage."""

import ast
import sys

import pytest

from helpers.gunicorn_server import ROOT

MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for path in sorted((ROOT / "songs").rglob("*.py"))
}
MAX_LINES, MAX_SERVICE_LINES = 400, 500


def imported(path):
    """The modules of songs (and service) that the file at `path` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in MODULES or name == "service"}


def test_service_py_is_a_route_map_and_handlers_under_500_lines():
    lines = (ROOT / "service.py").read_text().count("\n")

    assert lines <= MAX_SERVICE_LINES


@pytest.mark.parametrize("module", MODULES)
def test_no_module_of_songs_passes_400_lines(module):
    assert MODULES[module].read_text().count("\n") <= MAX_LINES


@pytest.mark.parametrize("module", MODULES)
def test_no_module_of_songs_imports_service_py(module):
    assert "service" not in imported(MODULES[module])


def test_imports_within_songs_form_no_circle():
    graph = {module: imported(path) - {module} for module, path in MODULES.items()}
    # A package's __init__ may gather its own modules; they must not import it back.
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError(" -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        path.append(module)
        for name in sorted(graph[module]):
            visit(name)
        path.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_storage_imports_nothing_of_songs_above_it_but_the_song_declared():
    for module, path in MODULES.items():
        if module.startswith("songs.storage"):
            assert {
                name
                for name in imported(path)
                if not name.startswith(("songs.storage", "songs.song.")) and name != "songs.song"
            } == set()


def test_the_song_declared_imports_nothing_of_the_service():
    assert imported(MODULES["songs.song"]) == set()


def test_the_write_layer_reads_no_request_and_sets_no_response():
    """records.py takes its inputs as arguments: nothing of Bottle's reaches it directly."""
    tree = ast.parse(MODULES["songs.records"].read_text())
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert not {name for name in modules if name.split(".")[0] == "bottle"}


def test_no_test_module_imports_another_nor_the_conftest():
    """What tests share is in tests/helpers/ (pytest's importlib import mode forbids the rest)."""
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.split(".")[0].startswith(("test_", "conftest")), (path.name, name)


def test_no_helper_module_shadows_the_standard_library():
    """tests/helpers/nu_checker.py and pgbouncer.py also run as scripts, with tests/helpers/
    first on sys.path: a helpers/http.py there took the place of the standard library's."""
    names = {path.stem for path in (ROOT / "tests" / "helpers").glob("*.py")}

    assert not names & sys.stdlib_module_names
