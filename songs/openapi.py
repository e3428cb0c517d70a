"""The OpenAPI document as this configuration serves it: openapi.json describes the service
with API_TOKEN set and CORS on; a token left unset, reads protected or CORS off change what
the served document says, so that a client or a fuzzer reading it is told the truth."""

import json
import re

from songs.access import OPEN_PATHS
from songs.problems import METRICS_PATH

READS = ("get", "head")
TOKEN_SENTENCE = "With API_TOKEN set, writes need `Authorization: Bearer <token>` (401 otherwise)."
READS_SENTENCE = (
    "Reads and writes of songs need `Authorization: Bearer <token>` (401 otherwise); "
    "the probes (/healthz, /livez, /readyz) and this document do not."
)
READ_ONLY_SENTENCE = " A read-only token's writes are 403."
CORS_SENTENCE = re.compile(r" With CORS_ORIGINS set,[^.]*\.")  # the one on CORS headers
READ_ONLY_TOKEN = {  # the 403 of a write with a read-only token: told only where there are some
    "description": (
        "The request's bearer token is one of API_TOKEN's read-only tokens (name:secret:read), "
        "and the request is a write: nothing was changed."
    ),
    "headers": {
        "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
        "Cache-Control": {"$ref": "#/components/headers/Cache-Control-No-Store"},
    },
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def served_document(
    template, api_tokens, api_token_reads, cors_origins, metrics=True, max_batch_songs=None
):
    """The document's bytes for this configuration, from openapi.json's."""
    document = json.loads(template)
    if max_batch_songs is not None:
        document["components"]["schemas"]["SongBatch"]["maxItems"] = max_batch_songs
    if not metrics:
        del document["paths"][METRICS_PATH]
    read_only = any(not token.writes for token in api_tokens)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            guarded = (
                bool(api_tokens)
                and path not in OPEN_PATHS
                and method != "options"
                and (method not in READS or api_token_reads or path == METRICS_PATH)
            )
            if guarded:
                operation["security"] = [{"bearer": []}]
                operation["responses"].setdefault(
                    "401", {"$ref": "#/components/responses/Unauthorized"}
                )
                if read_only and method not in READS:
                    operation["responses"]["403"] = {"$ref": "#/components/responses/ReadOnlyToken"}
            else:  # said outright, so that no reader takes a missing list for an oversight
                operation["security"] = []
                operation["responses"].pop("401", None)
    info = document["info"]
    if not api_tokens:
        info["description"] = info["description"].replace(f" {TOKEN_SENTENCE}", "")
        del document["components"]["securitySchemes"]
        del document["components"]["responses"]["Unauthorized"]
        del document["components"]["headers"]["WWW-Authenticate"]  # Unauthorized's
    elif api_token_reads:
        info["description"] = info["description"].replace(TOKEN_SENTENCE, READS_SENTENCE)
    if read_only:
        info["description"] += READ_ONLY_SENTENCE
        document["components"]["responses"]["ReadOnlyToken"] = READ_ONLY_TOKEN
    if not cors_origins:
        info["description"] = CORS_SENTENCE.sub("", info["description"])
    return (json.dumps(document, indent=2) + "\n").encode()
