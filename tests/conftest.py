"""The suite's hooks: every test that asks for `database_url` (or app, client, dump,
start_gunicorn) runs twice, on a fresh SQLite file and on a fresh schema of a real
PostgreSQL server (the fixtures: helpers/databases.py and helpers/servers.py).

Without a PostgreSQL server the PostgreSQL runs are left out (deselected), and one line at
the end says how many and how to enable them; under CI (CI=true) that is an error instead,
so they cannot silently stop running. SQLITE_ONLY marks the tests about SQLite itself, and
those about gunicorn's sockets and processes, whatever the database.
"""

import os

import pytest

pytest.register_assert_rewrite("helpers")  # their asserts explain themselves, as the tests' do

from helpers import CHROMIUM, node_tools, nu_checker, pgbouncer  # noqa: E402
from helpers.databases import HOW_TO_ENABLE, postgres_missing, share_the_extensions  # noqa: E402

pytest_plugins = ("helpers.databases", "helpers.servers")

HOW_TO_ENABLE_BROWSER = "install Debian's Chromium (apt-get install chromium)"


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-examples",
        type=int,
        help="schemathesis examples per operation (make fuzz); without it, a fixed budget",
    )
    parser.addoption(
        "--screenshot",
        help="where the browser test keeps its picture of the songs page (make screenshot)",
    )
    parser.addoption(
        "--quick",
        action="store_true",
        help="only what runs in-process on SQLite, in seconds (make check)",
    )
    parser.addoption(
        "--fuzz-seed",
        type=int,
        help="schemathesis's seed with --fuzz-examples (make fuzz picks and prints one)",
    )


def browser_missing():
    """Why the browser tests cannot run here, or None when they can."""
    return None if os.access(CHROMIUM, os.X_OK) else f"{CHROMIUM} is not installed"


def pytest_sessionstart(session):
    if not postgres_missing():
        share_the_extensions()
    if os.environ.get("CI") != "true":
        return
    for part in OPTIONAL_PARTS:
        if part.missing():
            raise pytest.UsageError(
                f"CI=true, and the {part.name} cannot be skipped under CI: {part.missing()}; "
                f"{part.how_to_enable}"
            )


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs in Chromium (tests/test_browser.py)")
    config.addinivalue_line("markers", "nu_checker: runs the Nu Html Checker (Java)")
    config.addinivalue_line("markers", "node: runs a Node.js tool (tests/node/)")
    config.addinivalue_line("markers", "pooled: runs through PgBouncer too (POOLED)")
    config.addinivalue_line("markers", "http_layer: runs on SQLite only (HTTP_LAYER)")


def pytest_generate_tests(metafunc):
    """Each test that needs `backend` runs on SQLite and PostgreSQL, and through PgBouncer
    too when POOLED, unless SQLITE_ONLY, POSTGRES_ONLY or POSTGRES_POOLED names its own."""
    definition = metafunc.definition
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in mark.args[0] for mark in definition.iter_markers("parametrize")):
        return
    if definition.get_closest_marker("http_layer"):
        metafunc.parametrize("backend", ["sqlite"])
        return
    pooled = ["pgbouncer"] if definition.get_closest_marker("pooled") else []
    metafunc.parametrize("backend", ["sqlite", "postgresql", *pooled])


@pytest.hookimpl(trylast=True)  # after pytest-xdist has marked each item's group
def pytest_collection_modifyitems(config, items):
    groups_kept(config, items)
    # The slowest first, so that the processes (make test's -n) end together: a long test
    # started last would run on alone.
    items.sort(key=lambda item: SLOWEST_FIRST.get(module_of(item), len(SLOWEST_FIRST)))
    if config.getoption("quick"):
        slow = [item for item in items if starts_processes(item)]
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not starts_processes(item)]
    for part in OPTIONAL_PARTS:
        left_out = [item for item in items if part.needed_by(item)] if part.missing() else []
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not part.needed_by(item)]
            config.stash[part.left_out] = len(left_out)


def groups_kept(config, items):
    """Each test of an xdist_group fails at setup when pytest-xdist's loadgroup would scatter
    the group over the processes: it keeps a group by a suffix to each test's id, which
    pytest 9.2 ignores (pytest-xdist issue 1386), and nothing else would say so."""
    if not (os.environ.get("PYTEST_XDIST_WORKER") and config.getoption("loadgroup", False)):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            item.stash[GROUP_LOST] = True


GROUP_LOST = pytest.StashKey[bool]()


def pytest_runtest_setup(item):
    if item.stash.get(GROUP_LOST, False):
        pytest.fail(
            "pytest-xdist's --dist loadgroup does not keep this test's xdist_group with this "
            "pytest: install the pytest of requirements-dev.txt",
            pytrace=False,
        )


# Modules whose tests start processes (gunicorn, PgBouncer, Chromium, Java, commands), or
# seed tables big enough to measure plans: left out of --quick.
PROCESS_MODULES = {
    "test_browser",
    "test_lighthouse",
    "test_commands",
    "test_docs",
    "test_faults",
    "test_generated_client",
    "test_gunicorn",
    "test_resilience",
    "test_schemathesis",
    "test_settings",
    "test_silent_faults",
    "test_storage_plans",
    "test_worker",
}
PROCESS_FIXTURES = {"start_gunicorn", "pgbouncer_server", "own_database"}
SLOWEST_FIRST = {  # module: its place, by the time each took in a run of the whole suite
    name: place
    for place, name in enumerate(
        [
            "test_schemathesis",  # two runs, each keeping a core busy
            "test_browser",  # one process runs them all, one after another (xdist_group)
            "test_lighthouse",  # in the browser group too
            # Next the tests that mostly wait (on timeouts, outages, slow clients), in the
            # fourth process beside the three above, which keep both cores busy: after them,
            # they would leave a core idle.
            "test_silent_faults",
            "test_worker",
            "test_faults",
            "test_resilience",
            "test_storage_plans",
            "test_linters",
            "test_storage_postgres",
            "test_gunicorn",
            "test_docs",
            "test_properties",
        ]
    )
}


def module_of(item):
    return item.module.__name__.rpartition(".")[2]


def starts_processes(item):
    """Whether a test is left out of --quick: it starts processes, or needs PostgreSQL."""
    return (
        module_of(item) in PROCESS_MODULES
        or PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        or on_backend("postgresql", "pgbouncer")(item)
        or item.get_closest_marker("nu_checker") is not None
    )


def on_backend(*names):
    def on(item):
        callspec = getattr(item, "callspec", None)
        return callspec is not None and callspec.params.get("backend") in names

    return on


def marked(name):
    return lambda item: item.get_closest_marker(name) is not None


class OptionalPart:
    """What some tests need beyond make test's own installs: without it they are left out
    (deselected) with one line at the end saying how to enable them, and under CI that is an
    error."""

    def __init__(self, name, missing, how_to_enable, needed_by):
        self.name, self.missing, self.how_to_enable = name, missing, how_to_enable
        self.needed_by = needed_by
        self.left_out = pytest.StashKey[int]()


OPTIONAL_PARTS = (
    OptionalPart(
        "PostgreSQL runs", postgres_missing, HOW_TO_ENABLE, on_backend("postgresql", "pgbouncer")
    ),
    OptionalPart(
        "PgBouncer runs",
        pgbouncer.pgbouncer_missing,
        pgbouncer.HOW_TO_ENABLE,
        on_backend("pgbouncer"),
    ),
    OptionalPart("browser tests", browser_missing, HOW_TO_ENABLE_BROWSER, marked("browser")),
    OptionalPart(
        "HTML validation",
        nu_checker.missing,
        nu_checker.HOW_TO_ENABLE,
        marked("nu_checker"),
    ),
    OptionalPart("Node.js tools", node_tools.missing, node_tools.HOW_TO_ENABLE, marked("node")),
)


def pytest_terminal_summary(terminalreporter, config):
    for part in OPTIONAL_PARTS:
        if config.stash.get(part.left_out, 0):
            terminalreporter.write_line(
                f"{part.name[0].upper()}{part.name[1:]} skipped "
                f"({config.stash[part.left_out]} tests): {part.missing()}. "
                f"To run them, {part.how_to_enable}."
            )
