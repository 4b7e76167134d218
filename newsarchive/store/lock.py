"""One writer per archive: crawls hold ``DB.lock`` while they write.

The lock is an ``flock`` on ``DB.lock``: the kernel releases it when the holder dies, even on
SIGKILL. The file is removed when the lock is released, so a finished run leaves nothing behind;
a taker checks, once it holds the lock, that the file it locked is still the one at the path
(a releaser may have removed it meanwhile) and tries again otherwise.

Within one process the lock is re-entrant: ``newsarchive crawl`` takes it before Scrapy starts
(so that two crawls started together cannot both get past the start) and the store pipeline,
which takes it for ``scrapy crawl`` and Scrapyd, then finds it already held by its own process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: How many times a taker retries when the lock file it locked was removed under it.
_MAX_ATTEMPTS = 20
_held: dict[str, list] = {}  # lock path → [depth, open file], for the locks this process holds
_guard = threading.Lock()


class ArchiveLocked(RuntimeError):
    """Another crawl is writing the same archive."""


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(handle.fileno())
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


def _acquire(lock_path: Path, db_path: str | Path) -> IO[str]:
    """Open and flock ``lock_path`` (ArchiveLocked if another process holds it)."""
    for _ in range(_MAX_ATTEMPTS):
        handle = lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ArchiveLocked(
                f"{db_path} is being written by {holder}; not starting a second crawl"
            ) from exc
        if _same_file(handle, lock_path):
            return handle
        handle.close()  # removed by its previous holder while we waited: take the new file
    raise ArchiveLocked(f"{db_path}: could not take {lock_path}")


@contextmanager
def archive_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold ``DB.lock`` for the duration of a crawl; refuse (ArchiveLocked) if another process holds it.

    The folder of ``db_path`` must exist: nothing is created but the lock file, removed on release.
    """
    lock_path = Path(f"{db_path}.lock")
    key = str(lock_path.absolute())
    with _guard:
        if key in _held:
            _held[key][0] += 1
        else:
            handle = _acquire(lock_path, db_path)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            _held[key] = [1, handle]
    try:
        yield lock_path
    finally:
        _release(key, lock_path)


def _release(key: str, lock_path: Path) -> None:
    with _guard:
        entry = _held[key]
        entry[0] -= 1
        if entry[0] > 0:
            return
        del _held[key]
        handle = entry[1]
        lock_path.unlink(missing_ok=True)  # while still locked: no one else can hold this file
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
