"""The API's reference page's content, made from the served OpenAPI document: each
operation with its parameters, bodies, answers and a curl example."""

import functools
import json


@functools.lru_cache(maxsize=8)  # the document is fixed for an app; base is its host
def reference(document_bytes, base):
    """The document, and each operation as the reference page lists it, $refs resolved."""
    document = json.loads(document_bytes)
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "head", "post", "put", "patch", "delete", "options"):
                continue
            parameters = [resolved(document, p) for p in operation.get("parameters", [])]
            body = resolved(document, operation.get("requestBody", {}))
            content = body.get("content", {})
            example = next((c["example"] for c in content.values() if "example" in c), None)
            operations.append(
                {
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
                }
            )
    return document, operations


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
