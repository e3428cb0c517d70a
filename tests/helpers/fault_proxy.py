"""A TCP proxy on a free loopback port that forwards to a server until told to go silent
(standard library only): the network faults that send no reset.

silence() stops every byte in both directions without closing anything, as when a route
goes dark or a firewall starts dropping a flow's packets: nothing arrives, nothing fails.
silence(lose_flows=True) also forgets every connection, as a NAT or a proxy that drops its
state does: the server's side is closed, the client's is kept open and never hears again.
restore() forwards again, for connections made before the silence (unless they were lost)
and after it. New connections during the silence are accepted and never answered.
"""

import socket
import threading

from helpers.gunicorn_server import free_port


class FaultProxy:
    def __init__(self, server_port, server_host="127.0.0.1"):
        self.server = (server_host, server_port)
        self.port = free_port()
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.lock = threading.Lock()
        self.pairs = []  # [client socket, server socket or None, lost]
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            pair = [client, None, False]
            with self.lock:
                if self.closed:
                    client.close()
                    return
                self.pairs.append(pair)
            threading.Thread(target=self.connect, args=(pair,), daemon=True).start()

    def connect(self, pair):
        self.forwarding.wait()  # a connection made during the silence waits, unanswered
        if pair[2] or self.closed:
            return
        try:
            server = socket.create_connection(self.server, timeout=5)
        except OSError:
            pair[0].close()
            return
        server.settimeout(None)
        with self.lock:
            if self.closed:
                server.close()
                return
            pair[1] = server
        threading.Thread(target=self.pump, args=(pair, 0, 1), daemon=True).start()
        self.pump(pair, 1, 0)

    def pump(self, pair, source, target):
        while True:
            try:
                data = pair[source].recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self.forwarding.wait()
            if pair[2]:
                continue  # a lost flow: what the client sends goes nowhere, for good
            try:
                pair[target].sendall(data)
            except OSError:
                break
        if not pair[2]:
            for sock in pair[:2]:
                shut(sock)

    def silence(self, lose_flows=False):
        self.forwarding.clear()
        if lose_flows:
            with self.lock:
                for pair in self.pairs:
                    pair[2] = True
                    if pair[1] is not None:
                        pair[1].close()  # the server sees the flow end; the client does not

    def restore(self):
        self.forwarding.set()

    def close(self):
        with self.lock:
            self.closed = True
        self.forwarding.set()
        self.listener.close()
        with self.lock:
            for pair in self.pairs:
                pair[2] = True
                for sock in pair[:2]:
                    shut(sock)


def shut(sock):
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
