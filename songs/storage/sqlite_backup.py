"""SQLite's online backup, for `make backup` (SQLiteDatabase.backup)."""

import os
import sqlite3
from pathlib import Path


def backup(conn, target, progress=None):
    """Copy the database to a new file through SQLite's online backup API; its song count.

    In WAL mode the copy reads one snapshot and blocks no writer. It is written beside
    `target` under a name holding this process's id, and linked into place only once it
    passes its integrity check, never over a file that appeared meanwhile. Copies left
    by a backup that was killed (SIGKILL leaves no chance to clean up) are removed by
    the next one. `progress` is sqlite3's backup callback.
    """
    folder, name = os.path.split(os.path.abspath(target))
    remove_abandoned_copies(folder)
    partial = os.path.join(folder, f".{name}.{os.getpid()}.partial")
    copy = sqlite3.connect(partial)
    try:
        conn.backup(copy, progress=progress)
        check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        count = copy.execute("SELECT count(*) FROM songs").fetchone()[0]
        copy.close()
        if check != "ok":
            raise ValueError(f"the copy failed its integrity check ({check}); nothing was kept")
        try:
            os.link(partial, target)
        except FileExistsError:
            raise ValueError(
                f"{target} appeared during the copy; it is kept as it was, and the copy dropped"
            ) from None
    finally:
        copy.close()
        Path(partial).unlink(missing_ok=True)
    return count


def remove_abandoned_copies(folder):
    """The .partial files of backups into `folder` whose process no longer runs."""
    for partial in Path(folder).glob(".*.partial"):
        pid = partial.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not process_runs(int(pid)):
            partial.unlink(missing_ok=True)


def process_runs(pid):
    try:
        os.kill(pid, 0)  # no signal: only whether there is such a process
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
