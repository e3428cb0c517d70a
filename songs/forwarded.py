"""The client's address behind a proxy that gunicorn trusts.

gunicorn takes X-Forwarded-Proto only from the peers in forwarded_allow_ips
(FORWARDED_ALLOW_IPS: addresses, networks or *), but leaves REMOTE_ADDR the peer's own:
behind nginx every client would be nginx, in the access log and in the sign-in throttle.
From such a peer the client is the last address in X-Forwarded-For, the one the proxy
itself wrote (deploy/nginx.conf sets the header to `$remote_addr`, replacing whatever the
client sent); addresses before it are the client's own claims, and are not believed. From
any other peer the header is ignored. The peer stays in environ["songs.peer"].
"""

import ipaddress


def trusting(allowed):
    """Whether a peer's address is one of forwarded_allow_ips' entries."""
    if "*" in allowed:
        return lambda peer: True
    networks = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # gunicorn's own check of the setting has said so

    def trusted(peer):
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return True  # no address: a Unix socket's peer, on this machine (as gunicorn has it)
        return any(address in network for network in networks)

    return trusted


def take_client_address(environ, trusted):
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    peer = environ.get("REMOTE_ADDR", "")
    if not forwarded or not trusted(peer):
        return
    client = forwarded.rpartition(",")[2].strip()
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return  # not an address: the peer stays the client
    environ["songs.peer"], environ["REMOTE_ADDR"] = peer, client
