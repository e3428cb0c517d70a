"""The API's reference page's content, made from the served OpenAPI document: each
operation with its parameters, bodies, answers and a curl example."""

import functools
import json


@functools.lru_cache(maxsize=8)  # the document is fixed for an app; base is its host
def reference(document_bytes, base):
    """The document, and each operation as the reference page shows it, $refs resolved:
    GET, POST, PUT, PATCH and DELETE each a section, grouped by path; HEAD, OPTIONS and an
    alias path's operations (an operationId ending in Alias) named in the section of the
    operation they repeat, not repeated."""
    document = json.loads(document_bytes)
    operations, by_key = [], {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if method in ("head", "options") or operation["operationId"].endswith("Alias"):
                continue
            parameters = [resolved(document, p) for p in operation.get("parameters", [])]
            body = resolved(document, operation.get("requestBody", {}))
            content = body.get("content", {})
            example = next((c["example"] for c in content.values() if "example" in c), None)
            entry = {
                "id": operation["operationId"],
                "method": method.upper(),
                "path": path,
                "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": parameters,
                "bodies": list(content),
                "responses": {
                    status: resolved(document, answer).get("description", "")
                    for status, answer in operation["responses"].items()
                },
                "secured": bool(operation.get("security", document.get("security"))),
                "curl": curl_example(base, method.upper(), path, content, example),
                "also": [],  # (operationId, what it is) of the operations repeating this one
            }
            operations.append(entry)
            by_key[method, path] = entry
    ids = {
        operation["operationId"]: (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    for operation_id, (method, path) in ids.items():
        if (method, path) in by_key:
            continue  # a section of its own
        base_method, base_path = ids.get(operation_id.removesuffix("Alias"), (method, path))
        target = by_key.get((base_method, base_path)) or next(
            (entry for entry in operations if entry["path"] == base_path), None
        )  # GET's section where the path has one: it comes first
        if operation_id.endswith("Alias"):
            what = f"{method.upper()} {path}, the same as at {base_path}"
        elif method == "head":
            what = f"HEAD {path}: GET's status and headers, without its body"
        else:
            what = f"OPTIONS {path}: 204, with the methods in Allow"
        if target is not None:
            target["also"].append((operation_id, what))
    return document, operations


METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def resolved(document, node):
    while "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            document = document[part]
        node = document
    return node


def curl_example(base, method, path, content, example):
    words = ["curl", "-i"]
    if method == "HEAD":
        words.append("--head")
    elif method != "GET":
        words += ["-X", method]
    if example is not None:
        media_type = next(iter(content))
        words += ["-H", f"'Content-Type: {media_type}'", "-d", f"'{json.dumps(example)}'"]
    words.append(f"'{base}{path.replace('{song_id}', '1')}'")
    return " ".join(words)
