"""Extraction in worker processes, so that crawls, replays and ``reextract`` use every core.

:class:`ExtractPool` sends (url, page bytes, declared encoding, site) to a
``concurrent.futures.ProcessPoolExecutor`` (the "spawn" context: no forked copy of the reactor)
and hands back the :class:`~newsarchive.items.Article`; the caller awaits it, so the reactor
keeps downloading while the workers extract.

- ``NEWSARCHIVE_EXTRACT_WORKERS``: how many worker processes (default: the number of cores);
  0 extracts in the calling process, as before the pool (no time limit then).
- ``NEWSARCHIVE_EXTRACT_TIMEOUT``: seconds a page may take from its hand-off to the pool. Past it
  the page is an :class:`ExtractTimeout` (a ``failures`` row, stage "extract") and the pool is
  recreated. Each worker has :data:`PAGES_PER_WORKER` pages handed to it, so that it finds the
  next page waiting when it finishes one; the time limit thus also counts a page's wait behind
  the one ahead of it (usually a few tens of milliseconds).
- A worker that dies (a crash in a C library, the kernel's OOM killer) breaks the pool: the pages
  that were in it are tried again one at a time in a pool of their own, so that only the page
  that kills a worker again becomes an :class:`ExtractCrashed`; the others are archived.
- ``NEWSARCHIVE_EXTRACT_FUNCTION``: the extraction function, by dotted name (default
  ``newsarchive.extract.extract_article``); it takes ``(url, body, *, site, encoding)``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import importlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from newsarchive.extract import ExtractionError
from newsarchive.items import Article

logger = logging.getLogger(__name__)

DEFAULT_FUNCTION = "newsarchive.extract.extract_article"
#: Seconds one page may take in a worker by default (the slowest dev page takes about 2 s).
DEFAULT_TIMEOUT = 60.0
#: "spawn": a worker starts clean, without a forked copy of the reactor, its threads and sockets.
START_METHOD = "spawn"
#: Pages handed to the pool per worker. With one, a worker that finishes a page waits for the
#: crawl's process (busy on the other core) to send the next: the workers were idle 28% of a
#: crawl. With two, the next page is already in the pool's queue (issue 13).
PAGES_PER_WORKER = 2


class PoolSettingError(ValueError):
    """A pool setting that makes no sense (negative workers, a function that cannot be imported)."""


class ExtractCrashed(ExtractionError):
    """The page kills the worker process extracting it (alone in its pool, too)."""

    stage = "extract"


class ExtractTimeout(ExtractionError):
    """The page took longer than the time limit in a worker."""

    stage = "extract"


def default_workers() -> int:
    return os.cpu_count() or 1


def load_function(name: str) -> Callable[..., Article]:
    """The function ``package.module.name`` names."""
    module_name, _, attribute = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PoolSettingError(
            f"NEWSARCHIVE_EXTRACT_FUNCTION={name!r}: cannot import it ({exc})"
        ) from exc


#: In a worker: the extraction functions imported, by dotted name.
_loaded: dict[str, Callable[..., Article]] = {}
#: Seconds the workers of a new pool may take to start (import extraction) before any page is timed.
STARTUP_TIMEOUT = 300.0
#: Seconds between two checks, in a worker, that the crawl that started it is still alive.
PARENT_CHECK_SECONDS = 1.0


def _start_worker(function: str, barrier) -> None:
    """Run in each new worker before any page: watch the parent, import the extraction function,
    then wait for the other workers, so that no page's time limit counts a worker's start."""
    _exit_with_parent(os.getppid())
    _fix_malloc_thresholds()
    _loaded[function] = load_function(function)
    barrier.wait(STARTUP_TIMEOUT)


def _exit_with_parent(parent: int) -> None:
    """A crawl killed outright (SIGKILL) cannot stop its workers: each stops itself once its
    parent is gone (it is then adopted by another process)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _started() -> int:
    """A worker's first task: it has started (the initializer has run)."""
    return os.getpid()


def _extract_in_worker(
    function: str, url: str, body: bytes, encoding: str | None, site: str | None
) -> Article:
    """Run in a worker process: the extraction function, imported once per worker."""
    if function not in _loaded:
        _loaded[function] = load_function(function)
    return _loaded[function](url, body, site=site, encoding=encoding)


#: glibc's mallopt parameters (malloc.h) and the fixed thresholds a worker sets: allocations of
#: 256 KiB or more (page bodies, their text, lxml's buffers) get their own mapping, returned to
#: the system when freed, and free memory at the top of the heap past 512 KiB is returned at
#: once. By default glibc raises both thresholds as large blocks are freed, so that a large
#: page's memory stays in the worker (about 9 MiB per worker on the dev pages, no CPU cost
#: measured; issue 13).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
WORKER_MMAP_THRESHOLD = 256 * 1024
WORKER_TRIM_THRESHOLD = 2 * WORKER_MMAP_THRESHOLD


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def _fix_malloc_thresholds() -> None:
    """In a worker, with glibc: fixed malloc thresholds (a no-op elsewhere)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD)


def give_back_free_memory() -> None:
    """With glibc: hand the free pages inside the heap back to the system (``malloc_trim``;
    glibc by itself gives back only the top of the heap). The crawl's process calls it once a
    second, after the pages in flight have been freed: its resident memory stays about 8 MiB
    lower, at 2 ms a call at most (issue 13). A no-op elsewhere."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


class _Workers:
    """One ProcessPoolExecutor, recreated when it breaks or a page hangs in it."""

    def __init__(self, size: int, function: str) -> None:
        self.size, self.function = size, function
        self._executor: ProcessPoolExecutor | None = None
        self._ready: asyncio.Future | None = None

    async def executor(self) -> ProcessPoolExecutor:
        """The executor, all its workers started."""
        if self._executor is None:
            context = multiprocessing.get_context(START_METHOD)
            self._executor = ProcessPoolExecutor(
                self.size,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.function, context.Barrier(self.size)),
            )
            loop = asyncio.get_running_loop()
            # One task per worker: each submit with no idle worker starts one more process.
            self._ready = asyncio.gather(
                *(loop.run_in_executor(self._executor, _started) for _ in range(self.size))
            )
        executor, ready = self._executor, self._ready
        if ready is not None:
            await asyncio.shield(ready)
        return executor

    def pids(self) -> list[int]:
        return list(getattr(self._executor, "_processes", None) or {})

    def restart(self, executor: ProcessPoolExecutor) -> None:
        """Kill ``executor``'s processes (a hung page cannot be stopped otherwise) and start over;
        pages still in it get BrokenProcessPool. A no-op if it was already replaced."""
        if executor is not self._executor:
            return
        self._executor, self._ready = None, None
        # ProcessPoolExecutor has no public way to stop a busy worker before Python 3.14's
        # terminate_workers(): terminate its processes, then let shutdown collect them.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor, self._ready = None, None


class ExtractPool:
    """Extraction in ``workers`` processes (0: in this process)."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        function: str = DEFAULT_FUNCTION,
    ) -> None:
        workers = default_workers() if workers is None else workers
        if workers < 0:
            raise PoolSettingError(
                f"NEWSARCHIVE_EXTRACT_WORKERS={workers}: must be 0 (no pool) or more"
            )
        if timeout <= 0:
            raise PoolSettingError(
                f"NEWSARCHIVE_EXTRACT_TIMEOUT={timeout}: must be more than 0 seconds"
            )
        self.workers, self.timeout, self.function = workers, timeout, function
        self._function = load_function(function)  # a wrong name fails here, not in every page
        self._main = _Workers(workers, function)
        self._alone = _Workers(1, function)
        self._slots: asyncio.Semaphore | None = None
        self._alone_lock: asyncio.Lock | None = None

    @classmethod
    def from_settings(cls, settings) -> ExtractPool:
        workers = settings.get("NEWSARCHIVE_EXTRACT_WORKERS")
        return cls(
            workers=None if workers in (None, "") else int(workers),
            timeout=settings.getfloat("NEWSARCHIVE_EXTRACT_TIMEOUT", DEFAULT_TIMEOUT),
            function=settings.get("NEWSARCHIVE_EXTRACT_FUNCTION") or DEFAULT_FUNCTION,
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (empty without a pool or before the first page)."""
        return self._main.pids() + self._alone.pids()

    async def extract(
        self, url: str, body: bytes, *, encoding: str | None = None, site: str | None = None
    ) -> Article:
        """The Article of one page; ExtractionError (ExtractCrashed, ExtractTimeout) when there is none."""
        if self.workers == 0:
            return self._function(url, body, site=site, encoding=encoding)
        if self._slots is None or self._alone_lock is None:  # created in the running loop
            slots = PAGES_PER_WORKER * self.workers
            self._slots, self._alone_lock = asyncio.Semaphore(slots), asyncio.Lock()
        async with self._slots:
            try:
                return await self._run(self._main, url, body, encoding, site)
            except BrokenProcessPool:
                logger.warning(
                    "%s: a worker died while extracting it or another page; trying it alone", url
                )
        async with self._alone_lock:
            try:
                return await self._run(self._alone, url, body, encoding, site)
            except BrokenProcessPool as exc:
                raise ExtractCrashed(
                    "the page crashed the extraction worker (the process died)"
                ) from exc

    async def _run(
        self, workers: _Workers, url: str, body: bytes, encoding: str | None, site: str | None
    ) -> Article:
        executor = await workers.executor()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, _extract_in_worker, self.function, url, body, encoding, site
            )
        except RuntimeError as exc:  # shut down meanwhile by another page's restart
            raise BrokenProcessPool(str(exc)) from exc
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            workers.restart(executor)
            raise ExtractTimeout(
                f"extraction took longer than {self.timeout:g} s "
                f"(NEWSARCHIVE_EXTRACT_TIMEOUT); the worker was stopped"
            ) from exc
        except BrokenProcessPool:
            workers.restart(executor)
            raise

    def close(self) -> None:
        self._main.close()
        self._alone.close()

    def __enter__(self) -> ExtractPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
