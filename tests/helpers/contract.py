"""The OpenAPI document as the tests read it, and the operations the routes serve."""

import json
import re

from helpers.gunicorn_server import ROOT
from songs.problems import is_api_path

DOCUMENT = json.loads((ROOT / "openapi.json").read_text())


def served_operations(app):
    """(OpenAPI path, method) for every route of the API, HEAD included where GET is; the
    pages for people (songs/pages.py) are not the API's."""
    operations = set()
    for route in app.routes:
        if not is_api_path(route.rule):
            continue
        path = re.sub(r"<(\w+):\w+>", r"{\1}", route.rule)
        operations.add((path, route.method.lower()))
        if route.method == "GET":
            operations.add((path, "head"))
    return operations


def documented_operations(document=DOCUMENT):
    methods = {"get", "head", "post", "put", "patch", "delete", "options"}
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }
