"""gzip for the answers a client accepts it for (RFC 9110, 8.4 and 12.5.3): a WSGI wrapper
of the app, so that pages, JSON, problems and streamed exports are compressed alike.

An answer is compressed when its media type is text (JSON, CSV, HTML...), it is at least
MIN_BYTES long (or streamed), and the request's Accept-Encoding allows gzip. Each such
answer says `Vary: Accept-Encoding`, compressed or not, and a compressed one has an ETag of
its own, the identity ETag with GZIP_SUFFIX inside its quotes: a cache never takes one
for the other's bytes. A client may send either back in If-None-Match or If-Match
(conditional.py matches both), and a 304 names the one the client holds.
"""

import re
import zlib

MIN_BYTES = 1024  # below it, gzip's header and the time spent buy little (bench/run.py)
LEVEL = 5  # zlib's 1 to 9: past 5 the songs' JSON shrinks by a few % for much more time
# gzip's format (16 +) with a 4 KiB window (12) and a small hash table (memory level 4):
# zlib's defaults (32 KiB, 8) spend about 50 µs setting up a quarter of a MiB for each
# answer, a list's first page took 98 µs where it takes 55, its bytes within 0.5%; an
# export of 100,000 songs is 3% larger (docs/performance.md, "Compression").
WBITS, MEMORY_LEVEL = 16 + 12, 4
GZIP_SUFFIX = "-gzip"
COMPRESSIBLE = re.compile(
    r"(text/|application/(json|problem\+json|x-ndjson)|image/svg\+xml)", re.IGNORECASE
)
GZIP_ACCEPTED = re.compile(  # a coding, and RFC 9110's qvalue (12.4.2): 0 to 1, 3 decimals
    r"(?:^|,)\s*(gzip|\*)\s*(?:;\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?\s*(?=,|$)", re.I
)


def compressed(app):
    """The WSGI callable `app`, its answers gzipped where the client accepts it."""

    def compressing(environ, start_response):
        accepted = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        answer = {}

        def start(status, headers, exc_info=None):
            answer.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Bottle never writes through it

        chunks = app(environ, start)
        status, headers = answer["status"], answer["headers"]
        plan = gzip_plan(environ, status, headers, accepted)
        if plan is None:
            start_response(status, headers, answer["exc_info"])
            return chunks
        if environ["REQUEST_METHOD"] == "HEAD":  # as GET would be, less the length unknown
            start_response(status, plan, answer["exc_info"])
            return chunks
        if isinstance(chunks, list):  # Bottle's whole body: compressed at once, measured
            body = gzip_bytes(b"".join(chunks))
            start_response(status, [*plan, ("Content-Length", str(len(body)))], answer["exc_info"])
            return [body]
        start_response(status, plan, answer["exc_info"])
        return GzipStream(chunks)

    return compressing


def gzip_plan(environ, status, headers, accepted):
    """The headers of the gzipped answer (without Content-Length), or None to leave the
    answer as it is (with Vary added where another request might get it gzipped)."""
    if status.startswith("304"):
        name_held_etag(environ, headers)
    media_type = header(headers, "Content-Type")
    if media_type is None or not COMPRESSIBLE.match(media_type):
        return None
    add_vary(headers)
    if not accepted or status[:3] in ("204", "304", "206") or header(headers, "Content-Encoding"):
        return None
    length = header(headers, "Content-Length")
    if length is not None and int(length) < MIN_BYTES:
        return None
    plan = [(name, value) for name, value in headers if name.lower() != "content-length"]
    plan.append(("Content-Encoding", "gzip"))
    return [(name, gzip_etag(value) if name.lower() == "etag" else value) for name, value in plan]


def accepts_gzip(accept_encoding):
    """Whether Accept-Encoding allows gzip: named, or else *, with a q above 0 (RFC 9110,
    12.5.3: gzip;q=0 refuses it, whatever * says)."""
    star = False
    for coding, q in GZIP_ACCEPTED.findall(accept_encoding):
        allowed = q == "" or float(q) > 0  # the pattern holds only numbers
        if coding.lower() == "gzip":
            return allowed
        star = allowed
    return star


def gzip_etag(etag):
    """The ETag of a representation's gzipped bytes: its own, from the identity one."""
    return f'{etag[:-1]}{GZIP_SUFFIX}"' if etag.endswith('"') else etag


def name_held_etag(environ, headers):
    """On a 304, the ETag the client sent: the gzip one when it holds the gzipped bytes."""
    etag = header(headers, "ETag")
    if etag is not None and gzip_etag(etag) in environ.get("HTTP_IF_NONE_MATCH", ""):
        headers[:] = [(n, gzip_etag(v) if n.lower() == "etag" else v) for n, v in headers]


def add_vary(headers):
    for n, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            if "accept-encoding" not in value.lower():
                headers[n] = (name, f"{value}, Accept-Encoding")
            return
    headers.append(("Vary", "Accept-Encoding"))


def header(headers, wanted):
    wanted = wanted.lower()
    return next((value for name, value in headers if name.lower() == wanted), None)


def gzip_bytes(body):
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEMORY_LEVEL)
    return packer.compress(body) + packer.flush()


class GzipStream:
    """A streamed answer's chunks, gzipped as they come: each chunk's bytes are flushed with
    it, so that a client reads an export as it is made; close() closes the answer's own
    chunks (PEP 3333), read to the end or not."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.gzip = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEMORY_LEVEL)

    def __iter__(self):
        for chunk in self.chunks:
            out = self.gzip.compress(chunk) + self.gzip.flush(zlib.Z_SYNC_FLUSH)
            if out:
                yield out
        yield self.gzip.flush()

    def close(self):
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
