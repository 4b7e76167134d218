"""One writer per archive: crawls hold ``DB.lock`` while they write."""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ArchiveLocked(RuntimeError):
    """Another crawl is writing the same archive."""


@contextmanager
def archive_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold ``DB.lock`` for the duration of a crawl; refuse (ArchiveLocked) if another process holds it.

    The lock is an flock: the kernel releases it when the holder dies, even on SIGKILL.
    """
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ArchiveLocked(f"{db_path} is being written by {holder}; not starting a second crawl") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield lock_path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
