"""Looking at an archive file from outside a crawl, read-only: is it an archive, what failed.

The command line uses these before (and after) a crawl holds the archive, so they open the file
with SQLite's read-only modes and never create it, a ``-wal`` or a ``-shm`` beside it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def not_an_archive(path: Path) -> str | None:
    """Why ``path`` is not a newsarchive archive, or None if it is one."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"{str(path)!r} cannot be read: {exc.strerror or exc}"
    if header != SQLITE_HEADER:
        return f"{str(path)!r} is not an SQLite database"
    # Without a write-ahead log there is nothing but the file to read: immutable=1 leaves no -shm behind.
    mode = "ro" if Path(f"{path}-wal").exists() else "ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{str(path)!r} cannot be read as an SQLite database ({exc})"
    return None if found else f"{str(path)!r} is not a newsarchive archive (no articles table)"


def first_failures(db: str | Path, crawl_id: int | None, *, per_stage: int) -> dict[str, list[str]]:
    """The first ``per_stage`` failures of crawl ``crawl_id`` by stage, as "URL: reason"
    (none if the file or the crawl is not there): read-only, while a crawl may still write."""
    if crawl_id is None or not Path(db).is_file():
        return {}
    reasons: dict[str, list[str]] = {}
    conn = sqlite3.connect(f"{Path(db).absolute().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT stage, url, reason FROM failures WHERE crawl_id = ? ORDER BY id", [crawl_id]
        )
        for stage, url, reason in rows:
            if len(reasons.setdefault(stage, [])) < per_stage:
                reasons[stage].append(f"{url}: {reason}")
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    return reasons
