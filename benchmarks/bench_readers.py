#!/usr/bin/env python3
"""Many journalists reading while a crawl writes: Datasette's answers with ``--readers``
concurrent readers, first alone, then while a live crawl archives into the file it serves.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/bench_readers.py [--size 100000] \\
        [--readers 20] [--pages 2000] [--idle-seconds 30] [--workdir DIR]

The archive is a copy of ``bench_datasette.py``'s (built and cached in ``--workdir`` as it builds
it), served by ``newsarchive serve`` (not ``--immutable``: a crawl writes to it). The crawl is
``bench_crawl.py``'s: ``--pages`` URLs of the dev pages on a local site, crawled with its settings
(both cores: the crawl's extraction workers), into the served copy. Each reader loops over the
pages of :data:`PAGES` in turn (each reader from another page), one request at a time. Reported
per page: p50 / p95 ms and the number of requests, alone (for ``--idle-seconds``) and during the
crawl, and their ratio; and the crawl's pages/s with the readers against the same crawl without
them, run first into another copy of the archive (the baseline).

Exit status: 0 done, 2 bad arguments, 1 a server or a crawl that failed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import bench_crawl
import bench_datasette as bench

DEFAULT_READERS = 20
DEFAULT_IDLE_SECONDS = 30
#: The pages each reader asks for, in turn: name -> path ({db}: the database's name).
PAGES = {
    "search page, common word": f"/-/search?q={bench.COMMON_WORD}",
    "articles table": "/{db}/articles",
    "table _search common word + site filter": f"/{{db}}/articles?_search={bench.COMMON_WORD}&site=bbc",
    "articles table, section filter": "/{db}/articles?section=World",
    "article page": "/{db}/articles/{article}",
    "database page": "/{db}",
    "canned latest_articles": "/{db}/latest_articles",
    "versions (no SQL)": "/-/versions.json",
}


class Readers:
    """``count`` threads asking for ``paths`` in turn until :meth:`stop`; each request's time by
    page name, the statuses other than 200, and how long they read."""

    def __init__(self, base: str, paths: dict[str, str], count: int) -> None:
        self.base, self.paths, self.count = base, list(paths.items()), count
        self.times: dict[str, list[float]] = {name: [] for name in paths}
        self.errors: dict[str, set[int]] = {name: set() for name in paths}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.seconds = 0.0

    def _read(self, offset: int) -> None:
        n = offset
        while not self._stop.is_set():
            name, path = self.paths[n % len(self.paths)]
            ms, status, _ = bench.fetch(self.base + path)
            self.times[name].append(ms)
            if status != 200:
                self.errors[name].add(status)
            n += 1

    def start(self) -> Readers:
        self._threads = [
            threading.Thread(target=self._read, args=(i,), daemon=True) for i in range(self.count)
        ]
        self.seconds = -time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Readers:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.seconds += time.perf_counter()
        return self

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return sum(map(len, self.times.values())) / self.seconds


@dataclass
class Result:
    idle: Readers
    busy: Readers
    crawl_alone_s: float
    crawl_read_s: float
    pages: int


def crawl(db: Path, site_url: str) -> float:
    """``bench_crawl``'s crawl of the local site into ``db``; its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsarchive.cli",
            "crawl",
            "news",
            "--db",
            str(db),
            *bench_crawl.CRAWL_SETTINGS,
            *bench_crawl.spider_args(site_url),
        ],
        env=bench_crawl.crawl_env(),
        cwd=bench_crawl.REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode not in (0, 1):
        raise bench.BenchError(f"the crawl failed ({done.returncode}): {done.stderr[-1000:]}")
    return time.perf_counter() - start


def paths_of(db: Path) -> dict[str, str]:
    article, _ = bench.page_subjects(db)
    return {
        name: p.format(db=db.stem, article=urllib.parse.quote(article)) for name, p in PAGES.items()
    }


def run(args: argparse.Namespace) -> Result:
    """The readers alone and during the crawl, and the crawl without and with them."""
    from newsarchive.demo.server import SiteServer

    source = bench.prepare(args.workdir, args.size, None)  # its text read if it builds
    with tempfile.TemporaryDirectory(prefix="bench-readers-") as tmp:
        folder = Path(tmp)
        served = bench_crawl.build_site(
            folder / "site", bench_crawl.load_pages(list(bench_crawl.DEFAULT_DATASETS)), args.pages
        )
        alone_db, read_db = folder / "alone" / source.name, folder / "read" / source.name
        for copy in (alone_db, read_db):
            copy.parent.mkdir()
            shutil.copyfile(source, copy)
        with SiteServer(folder / "site", keep_alive=True) as site:
            print(f"crawling {len(served)} pages without readers ...", file=sys.stderr, flush=True)
            crawl_alone = crawl(alone_db, site.base_url)
            port = bench.free_port()
            server = bench.start_server(read_db, port, immutable=False)
            try:
                paths, base = paths_of(read_db), f"http://127.0.0.1:{port}"
                print(
                    f"{args.readers} readers alone for {args.idle_seconds} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                idle = Readers(base, paths, args.readers).start()
                time.sleep(args.idle_seconds)
                idle.stop()
                print(f"{args.readers} readers during the crawl ...", file=sys.stderr, flush=True)
                busy = Readers(base, paths, args.readers).start()
                crawl_read = crawl(read_db, site.base_url)
                busy.stop()
            finally:
                server.terminate()
                server.wait(timeout=30)
    return Result(idle, busy, crawl_alone, crawl_read, len(served))


def summary(times: list[float]) -> str:
    if not times:
        return "-"
    return f"{statistics.median(times):,.0f} / {bench.percentile(times, bench.PERCENT_95):,.0f} ({len(times)})"


def report(args: argparse.Namespace, result: Result) -> None:
    idle, busy = result.idle.times, result.busy.times
    print(f"\n{args.size:,} articles, {args.readers} readers: p50 / p95 ms (requests)\n")
    print("| page | readers alone | during the crawl | p50 ratio |")
    print("|---|---|---|---|")
    for name in idle:
        ratio = (
            statistics.median(busy[name]) / statistics.median(idle[name])
            if busy[name] and idle[name]
            else 0
        )
        errors = sorted(result.idle.errors[name] | result.busy.errors[name])
        note = f" (HTTP {', '.join(map(str, errors))})" if errors else ""
        print(f"| {name}{note} | {summary(idle[name])} | {summary(busy[name])} | {ratio:.2f} |")
    print(
        f"\nrequests answered: {result.idle.rate:.1f}/s alone, {result.busy.rate:.1f}/s during the crawl"
    )
    pages, alone, read = result.pages, result.crawl_alone_s, result.crawl_read_s
    print(
        f"\ncrawl of {pages} pages: {pages / alone:.1f} pages/s without readers, "
        f"{pages / read:.1f} with them ({alone / read:.2f}x)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="articles in the archive")
    parser.add_argument("--readers", type=int, default=DEFAULT_READERS)
    parser.add_argument(
        "--pages", type=int, default=bench_crawl.DEFAULT_PAGES, help="pages the crawl archives"
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=DEFAULT_IDLE_SECONDS,
        help="how long the readers read alone",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/newsarchive-bench-datasette"),
        help="where bench_datasette.py caches its archives (built if missing)",
    )
    args = parser.parse_args(argv)
    if min(args.size, args.readers, args.pages) < 1 or args.idle_seconds <= 0:
        parser.error("--size, --readers, --pages and --idle-seconds must be positive")
    if not bench_crawl.DATASETS.is_dir():
        parser.error(f"no dev pages at {bench_crawl.DATASETS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        report(args, run(args))
    except bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
