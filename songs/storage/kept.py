"""What the service keeps beside the songs, the same SQL for both backends: the
Idempotency-Keys of POST, the pages' sign-in sessions, and failed sign-ins."""


# Idempotency keys


def find_key(conn, key, expired):
    """(request digest, song JSON) remembered for `key`, after forgetting keys from before
    `expired`; None when there is none. Inside the write transaction, retries take turns."""
    conn.lock_key(key)
    conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (expired,))
    rows = conn.execute(
        "SELECT request, song FROM idempotency_keys WHERE key = ?", (key,)
    ).fetchall()
    return tuple(rows[0]) if rows else None


def remember_key(conn, key, digest, song_json, created_at):
    conn.execute(
        "INSERT INTO idempotency_keys (key, request, song, created_at) VALUES (?, ?, ?, ?)",
        (key, digest, song_json, created_at),
    )


# The pages' sessions, and failed sign-ins


def add_session(conn, session_id, token, expires_at, now):
    """A new session; those that have expired are forgotten."""
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO sessions (id, token, expires_at) VALUES (?, ?, ?)",
        (session_id, token, expires_at),
    )


def session_token(conn, session_id, now):
    """The token a session that has not expired signed in with, or None."""
    rows = conn.execute(
        "SELECT token FROM sessions WHERE id = ? AND expires_at > ?", (session_id, now)
    ).fetchall()
    return rows[0][0] if rows else None


def remove_session(conn, session_id, everywhere=False):
    """Ends the session; `everywhere`: every session of the token it signed in with."""
    if everywhere:
        conn.execute(
            "DELETE FROM sessions WHERE token = (SELECT token FROM sessions WHERE id = ?)",
            (session_id,),
        )
    else:
        conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def sign_in_waits(conn, clients, now):
    """The latest time until which any of `clients` must wait, or 0."""
    marks = ", ".join("?" * len(clients))
    rows = conn.execute(
        f"SELECT max(wait_until) FROM sign_in_failures WHERE client IN ({marks})", tuple(clients)
    ).fetchall()
    return max(rows[0][0] or 0, 0) if rows else 0


def count_failure(conn, client, now, forget_after, wait):
    """One more failed sign-in of `client`: its count (counting afresh after `forget_after`
    seconds without one), and the time until which it now waits, wait(count) from now."""
    rows = conn.execute(
        f"SELECT failures, last_at FROM sign_in_failures WHERE client = ?{conn.lock_row}",
        (client,),
    ).fetchall()
    failures = rows[0][0] + 1 if rows and rows[0][1] > now - forget_after else 1
    wait_until = now + wait(failures)
    conn.execute(
        "INSERT INTO sign_in_failures (client, failures, last_at, wait_until) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (client) DO UPDATE SET failures = excluded.failures,"
        " last_at = excluded.last_at, wait_until = excluded.wait_until",
        (client, failures, now, wait_until),
    )
    return failures, wait_until


def forget_failures(conn, client):
    conn.execute("DELETE FROM sign_in_failures WHERE client = ?", (client,))
