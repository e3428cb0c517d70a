"""A keep-alive load as wrk makes one: N connections opened at once, each sending a GET as
soon as its last answer is in, until killed (standard library only).

    python tests/helpers/keepalive_load.py PORT CONNECTIONS PATH

Once every connection has had an answer, it prints their local ports on one line, so that
whoever started it can tell which process holds each one; it exits with status 1 if that
takes over 10 s.
"""

import selectors
import socket
import sys
import time


def main(port, count, path):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    connections = [socket.socket() for _ in range(count)]
    for sock in connections:  # all connects at once, before any request
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE, b"")
    unanswered, deadline = set(connections), time.monotonic() + 10
    while True:
        if unanswered and time.monotonic() > deadline:
            sys.exit(f"{len(unanswered)} of {count} connections had no answer within 10 s")
        for key, events in selector.select(1):
            sock = key.fileobj
            if events & selectors.EVENT_WRITE:
                sock.sendall(request)
                selector.modify(sock, selectors.EVENT_READ, b"")
                continue
            data = sock.recv(65536)
            if not data:
                sys.exit("the server closed a kept-alive connection")
            received = key.data + data
            if answer_is_whole(received):
                if unanswered:
                    unanswered.discard(sock)
                    if not unanswered:
                        print(" ".join(str(s.getsockname()[1]) for s in connections), flush=True)
                sock.sendall(request)
                received = b""
            selector.modify(sock, selectors.EVENT_READ, received)


def answer_is_whole(received):
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
