-- A GET as a browser or an HTTP library sends it: gzip accepted (songs/compression.py).
wrk.headers["Accept-Encoding"] = "gzip"
