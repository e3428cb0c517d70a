"""What the tests read in answers: problems, Link headers, CSV rows; and the text that
exports and imports must carry through unharmed."""

import csv
import io
import re

from songs import problems


def assert_problem(resp, status, detail=None):
    assert resp.status_int == status
    assert resp.content_type == "application/problem+json"
    problem = resp.json
    assert problem["type"] == "about:blank"
    assert problem["status"] == status
    assert problem["title"] == problems.status_title(status)
    assert isinstance(problem["detail"], str) and problem["detail"]
    if detail is not None:
        assert problem["detail"] == detail
    return problem


LINK = re.compile(r'<(?P<url>[^>]+)>; rel="(?P<rel>[a-z]+)"(, |$)')


def links(resp):
    """The Link header's URLs by relation."""
    link = resp.headers["Link"]
    found = {match["rel"]: match["url"] for match in LINK.finditer(link)}
    assert ", ".join(f'<{url}>; rel="{rel}"' for rel, url in found.items()) == link
    return found


def next_url(resp):
    return links(resp).get("next")


HOSTILE = [
    ("Commas, Inc.", 'He said "hi", then left', 1),
    ('"', '""', 2),
    ('=HYPERLINK("http://x")', "=1+2", 3),
    ("+SUM(A1:A9)", "-2+3", 4),
    ("@cmd", "\u202eevil\u202c txt", 5),
    ("Sigur Rós", "Hoppípolla 🎵", 4),
    ("x" * 500, "a\u00a0b\u3000c", 3),
    ("'quoted'", "tab\u2003inside; semi", 2),
    ("back\\slash", "NULL", 1),
]


def rows_of(text):
    return list(csv.reader(io.StringIO(text, newline="")))
