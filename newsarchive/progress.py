"""Progress of the long commands (crawl, demo, reextract, snapshot) on stderr.

On a terminal, a live line drawn by rich (redrawn in place, gone at the end); anywhere else (cron,
a log file) a plain line every ``interval`` seconds, so a log shows the run advancing without
flooding. :class:`CrawlProgress` is the Scrapy extension behind ``newsarchive crawl`` and
``demo`` (on when ``NEWSARCHIVE_PROGRESS`` is set, as the command line does).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

#: Seconds between two plain progress lines when stderr is not a terminal (the environment
#: variable NEWSARCHIVE_PROGRESS_INTERVAL, or the crawl setting of that name, changes it).
DEFAULT_INTERVAL = float(os.environ.get("NEWSARCHIVE_PROGRESS_INTERVAL") or 30)
#: Seconds between two redraws of the live display.
LIVE_REFRESH = 0.5


class Progress:
    """Show ``text`` as the run advances: live on a terminal, a plain line every ``interval`` s otherwise.

    ``live`` forces one way (None: a terminal decides). Use as a context manager; call
    :meth:`show` as often as convenient.
    """

    def __init__(
        self,
        what: str,
        *,
        interval: float | None = None,
        stream: IO[str] | None = None,
        live: bool | None = None,
    ) -> None:
        self.what = what
        self.interval = DEFAULT_INTERVAL if interval is None else interval
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._last_line = time.monotonic()
        self._started = time.monotonic()
        self._display: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(file=self.stream, stderr=self.stream is sys.stderr)
            self._display = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                refresh_per_second=1 / LIVE_REFRESH,
            )
            self._display.start()
            self._task = self._display.add_task(f"{self.what}: starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def show(self, text: str) -> None:
        if self._display is not None:
            self._display.update(self._task, description=f"{self.what}: {text}")
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self._last_line = now
            print(
                f"{self.what} progress ({self.elapsed:.0f} s): {text}", file=self.stream, flush=True
            )


def crawl_progress_text(stats: dict[str, Any], elapsed: float) -> str:
    """Pages done and queued, new and changed, failures, rate: from a crawl's stats."""
    done_kinds = ("new", "changed", "unchanged", "skipped", "removed", "failed")
    done = sum(stats.get(f"newsarchive/pages_{k}", 0) for k in done_kinds)
    queued = max(0, stats.get("scheduler/enqueued", 0) - stats.get("scheduler/dequeued", 0))
    failures = sum(v for k, v in stats.items() if k.startswith("newsarchive/failures/"))
    rate = done / elapsed * 60 if elapsed > 0 else 0.0
    return (
        f"{done} pages done, {queued} queued; {stats.get('newsarchive/pages_new', 0)} new, "
        f"{stats.get('newsarchive/pages_changed', 0)} changed; {failures} failures; {rate:.0f} pages/min"
    )


class CrawlProgress:
    """Scrapy extension: the crawl's progress (``NEWSARCHIVE_PROGRESS``: True, or "live" / "lines"
    to force one way; ``NEWSARCHIVE_PROGRESS_INTERVAL``: seconds between plain lines)."""

    def __init__(self, crawler: Crawler, *, live: bool | None, interval: float) -> None:
        self.crawler = crawler
        self.progress = Progress("crawl", interval=interval, live=live)
        self._loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        mode = crawler.settings.get("NEWSARCHIVE_PROGRESS")
        if not mode or str(mode).lower() in ("0", "false", "off"):
            raise NotConfigured("NEWSARCHIVE_PROGRESS is off")
        live = {"live": True, "lines": False}.get(str(mode).lower())
        extension = cls(
            crawler,
            live=live,
            interval=crawler.settings.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL", DEFAULT_INTERVAL),
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.progress.__enter__()
        step = LIVE_REFRESH if self.progress.live else min(self.progress.interval, LIVE_REFRESH * 2)
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(step, now=False)

    def tick(self) -> None:
        self.progress.show(
            crawl_progress_text(self.crawler.stats.get_stats(), self.progress.elapsed)
        )

    def spider_closed(self, spider: Any) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.progress.__exit__(None, None, None)
