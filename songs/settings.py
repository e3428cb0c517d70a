"""The settings, read from the environment: each is checked once, when the app is built."""

import os
import re
from typing import NamedTuple

DEFAULT_DATABASE_URL = "sqlite:///songs.db"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_BATCH_SONGS = 1000  # songs in one POST /api/songs (songs/batches.py)


ORIGIN_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def origins_setting(value):
    """CORS_ORIGINS: empty (CORS off), *, or a comma-separated list of origins."""
    origins = frozenset(origin.strip() for origin in value.split(",") if origin.strip())
    for origin in origins - {"*"}:
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not ORIGIN_HOST.fullmatch(host):
            raise ValueError(
                "CORS_ORIGINS must be * or origins such as https://example.com, separated "
                f"by commas; got {origin!r}"
            )
    return origins


class Token(NamedTuple):
    """One of API_TOKEN's tokens: its name is the actor of what is done with it."""

    name: str
    secret: bytes
    writes: bool  # False: a read-only token, refused on every write (403)


TOKEN_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]{16,}")
TOKEN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ANONYMOUS = "anonymous"  # the actor of a request that holds no token
ACCESS = {"write": True, "read": False}


def tokens_setting(value):
    """API_TOKEN: tokens separated by commas (several, to rotate them); empty for none.

    Each is `secret`, `name:secret`, or `name:secret:read` for a read-only one. A bare secret
    is named `token-<its place>`. A secret is at least 16 letters, digits or ._~+/=-; a name
    is letters, digits or _.- (at most 64, and not `anonymous`). An error names the token by
    its place, never by its value.
    """
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    tokens = []
    for place, entry in enumerate(entries, 1):
        parts = entry.split(":")
        if len(parts) == 1:
            parts.insert(0, f"token-{place}")
        if len(parts) == 2:
            parts.append("write")
        if len(parts) != 3 or parts[2] not in ACCESS:
            raise ValueError(
                f"API_TOKEN's token {place} must be secret, name:secret or name:secret:read "
                "(the value is not shown)"
            )
        name, secret, access = parts
        if not TOKEN_NAME.fullmatch(name) or name == ANONYMOUS:
            raise ValueError(
                f"API_TOKEN's token {place} must have a name of at most 64 letters, digits or "
                f"_.- other than {ANONYMOUS} (the value is not shown)"
            )
        if not TOKEN_SECRET.fullmatch(secret):
            raise ValueError(
                f"API_TOKEN's token {place} must have a secret of at least 16 "
                "letters, digits or ._~+/=- (the value is not shown)"
            )
        tokens.append(Token(name, secret.encode(), ACCESS[access]))
    for kind, values in (
        ("name", [t.name for t in tokens]),
        ("secret", [t.secret for t in tokens]),
    ):
        if len(set(values)) < len(values):
            raise ValueError(f"API_TOKEN's tokens must each have a {kind} of their own")
    return tuple(tokens)


def flag_setting(name, value):
    value = value.strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ValueError(f"{name} must be 1 or 0 (or true or false); got {value!r}")
    return value in ("1", "true", "yes", "on")


def int_setting(name, default):
    value = os.environ.get(name) or str(default)
    if not (value.isascii() and value.isdigit() and int(value) > 0):
        raise ValueError(f"{name} must be a positive whole number; got {value!r}")
    return int(value)


def days_setting(name, value):
    """A number of days: a whole number, 0 included."""
    value = value.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        raise ValueError(f"{name} must be a whole number of days (0: forever); got {value!r}")
    return int(value)


DEFAULT_HISTORY_DAYS = 30


def database_url(given=None):
    """DATABASE_URL, unless given: a SQLite file (songs.db by default) or PostgreSQL."""
    return given or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def read_settings(
    max_body_bytes=None,
    cors_origins=None,
    require_if_match=None,
    api_token=None,
    api_token_reads=None,
    history_days=None,
    metrics=None,
    max_batch_songs=None,
):
    """The app's settings as its config holds them; each given as None is read from the
    environment variable of the same name. A bad value is a ValueError that names it."""
    env = os.environ.get
    return {
        "songs.max_body_bytes": max_body_bytes
        or int_setting("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        "songs.max_batch_songs": max_batch_songs
        or int_setting("MAX_BATCH_SONGS", DEFAULT_MAX_BATCH_SONGS),
        "songs.cors_origins": origins_setting(
            env("CORS_ORIGINS", "") if cors_origins is None else cors_origins
        ),
        "songs.require_if_match": flag_setting(
            "REQUIRE_IF_MATCH",
            env("REQUIRE_IF_MATCH", "") if require_if_match is None else require_if_match,
        ),
        "songs.api_tokens": tokens_setting(
            env("API_TOKEN", "") if api_token is None else api_token
        ),
        "songs.api_token_reads": flag_setting(
            "API_TOKEN_READS",
            env("API_TOKEN_READS", "") if api_token_reads is None else api_token_reads,
        ),
        "songs.metrics": flag_setting(
            "METRICS", env("METRICS", "1") if metrics is None else metrics
        ),
        "songs.history_days": days_setting(
            "HISTORY_DAYS",
            env("HISTORY_DAYS", str(DEFAULT_HISTORY_DAYS))
            if history_days is None
            else history_days,
        ),
    }
