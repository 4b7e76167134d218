#!/usr/bin/env python3
"""Crawl speed end to end: a live crawl, a replay and a reextract of the same local site,
beside trafilatura-with-metadata's single-core rate on the same pages, measured in the same run.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/bench_crawl.py [--pages 2000] [--datasets DIR ...]

The site: the dev pages of /work/shared/datasets (aeb-dev, fundus-dev, fundus-intl-dev), each
served gzip-encoded under several distinct URLs (``/p/COPY/ID.html``) until there are ``--pages``
of them, all listed in one ``sitemap.xml``, on 127.0.0.1 (newsarchive.demo.server.SiteServer,
keeping connections open between requests as news sites do; ``--close-connections`` for one
connection a page, as this benchmark had until issue 13's fourth round). Pictures are off
(``NEWSARCHIVE_IMAGE_DOMAINS`` names a host no page uses).

Each step runs ``newsarchive`` in a subprocess: wall time gives pages/s, the CPU time of the
subprocess and everything it waited for (its extraction workers included) gives pages per
CPU-second; the peaks of their summed resident memory (RSS) and proportional memory (PSS, which
counts a page shared by several of them once) are sampled from /proc, with the peak RSS of the
command's own process. trafilatura
runs ``bare_extraction(html, url=..., with_metadata=True)`` in this process on every distinct page once (the site holds each page equally often), one core,
before the steps and after them; the faster of the two runs is the baseline.
The target (issue 13): crawl, replay and reextract each >= 1.6x trafilatura's pages/s.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
DEFAULT_DATASETS = ("aeb-dev", "fundus-dev", "fundus-intl-dev")
DEFAULT_PAGES = 2000
#: Seconds between two samples of the crawl's memory.
RSS_SAMPLE_SECONDS = 0.5
#: The issue's target: each step at least this many times trafilatura's single-core pages/s.
TARGET_RATIO = 1.6
#: Crawling 127.0.0.1 needs no politeness (no delay, several requests at a time: with one, the
#: round trips through the busy reactor leave the workers idle); pictures off. ``-s`` overrides.
CRAWL_SETTINGS = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING",
                  "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
                  "-s", "NEWSARCHIVE_IMAGE_DOMAINS=pictures-off.invalid", "-s", "NEWSARCHIVE_PROGRESS=False")


@dataclass
class Page:
    id: str
    url: str
    gz_path: Path


@dataclass
class Step:
    name: str
    pages: int
    wall: float
    cpu: float
    #: Peak of the summed resident memory of the command and its children (MiB), sampled.
    peak_rss_mib: float = 0.0
    #: Peak of their summed proportional memory (PSS: a page shared by n processes counts 1/n in each).
    peak_pss_mib: float = 0.0
    #: Peak RSS of the command's own process (without its children).
    peak_main_rss_mib: float = 0.0

    @property
    def rate(self) -> float:
        return self.pages / self.wall

    @property
    def per_cpu(self) -> float:
        return self.pages / self.cpu if self.cpu else 0.0


def load_pages(names: list[str]) -> list[Page]:
    pages = []
    for name in names:
        folder = DATASETS / name
        for line in (folder / "pages.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                pages.append(Page(record["id"], record["url"], folder / record["file"]))
    return pages


def build_site(root: Path, pages: list[Page], count: int) -> list[Page]:
    """``count`` distinct URLs over ``pages`` (copies of the gzipped files) and a sitemap; the
    pages served, in order."""
    served = []
    for n in range(count):
        page = pages[n % len(pages)]
        target = root / "p" / str(n // len(pages)) / f"{page.id}.html.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.gz_path.read_bytes())
        served.append(Page(page.id, f"/p/{n // len(pages)}/{page.id}.html", page.gz_path))
    urls = "\n".join(f"<url><loc>{{{{BASE}}}}{p.url}</loc></url>" for p in served)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n', encoding="utf-8")
    return served


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def process_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in bytes, from /proc/PID/smaps_rollup ((0, 0) once it is gone).
    PSS counts a page shared by n processes as 1/n in each, so summed PSS counts it once."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in values:
            values[fields[0]] = int(fields[1]) * 1024
    return values["Rss:"], values["Pss:"]


@dataclass
class Memory:
    """Peaks (bytes) of the summed RSS and PSS of a command and its children, and of the command alone."""
    rss: int = 0
    pss: int = 0
    main_rss: int = 0

    def sample(self, pid: int) -> None:
        pids = tree_pids(pid)
        sizes = [process_memory(p) for p in pids]
        self.rss = max(self.rss, sum(r for r, _ in sizes))
        self.pss = max(self.pss, sum(p for _, p in sizes))
        self.main_rss = max(self.main_rss, sizes[0][0])


def timed(name: str, pages: int, args: list[str], *, env: dict[str, str]) -> Step:
    """Run ``python -m newsarchive.cli ARGS``; its wall time, the CPU time of it and its children,
    and the peak of their summed RSS (sampled every RSS_SAMPLE_SECONDS)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd: ``-m`` puts the working folder first on sys.path, so from another checkout this
    # would run that checkout's code, not this one's
    process = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    memory = Memory()
    stderr_lines: list[str] = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
    reader.start()
    while process.poll() is None:
        memory.sample(process.pid)
        time.sleep(RSS_SAMPLE_SECONDS)
    reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 1):
        sys.stderr.write("".join(stderr_lines)[-3000:])
        raise SystemExit(f"{name} failed with exit status {process.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = stderr_lines[-1].strip()[:160] if stderr_lines else ""
    print(f"  {name}: {wall:.1f} s, {last}", file=sys.stderr)
    return Step(name, pages, wall, cpu, memory.rss / 2 ** 20, memory.pss / 2 ** 20, memory.main_rss / 2 ** 20)


def trafilatura_rate(pages: list[Page], name: str) -> Step:
    import trafilatura

    distinct = {p.id: p for p in pages}.values()
    html = [(p.url, gzip.decompress(p.gz_path.read_bytes())) for p in distinct]
    for url, body in html[:3]:  # warm up
        trafilatura.bare_extraction(body, url=url, with_metadata=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    for url, body in html:
        try:
            trafilatura.bare_extraction(body, url=url, with_metadata=True)
        except Exception:  # noqa: BLE001 - a failure still costs its time
            pass
    return Step(name, len(html), time.perf_counter() - start, time.process_time() - cpu_start)


def crawl_env() -> dict[str, str]:
    """The environment of a ``newsarchive`` subprocess running this checkout's code."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def spider_args(site_url: str) -> list[str]:
    """The news spider's arguments for the local site at ``site_url``."""
    return ["-a", "site=bench", "-a", "domains=127.0.0.1", "-a", f"sitemaps={site_url}/sitemap.xml"]


def run(args: argparse.Namespace) -> list[Step]:
    from newsarchive.demo.server import SiteServer

    env = crawl_env()
    pages = load_pages(args.datasets)
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        folder = Path(tmp)
        served = build_site(folder / "site", pages, args.pages)
        print(f"site: {len(served)} URLs over {len({p.id for p in served})} distinct pages", file=sys.stderr)
        # trafilatura before and after the steps: the faster is the baseline (a busy minute on
        # this shared machine slows it, and a slow baseline would flatter the steps)
        steps = [trafilatura_rate(served, "trafilatura, 1 core, first")]
        extra = [arg for setting in args.setting for arg in ("-s", setting)]
        with SiteServer(folder / "site", keep_alive=not args.close_connections) as server:
            spider = spider_args(server.base_url)
            steps.append(timed("crawl", len(served), ["crawl", "news", "--db", str(folder / "live.db"),
                                                      *CRAWL_SETTINGS, *extra, *spider], env=env))
        steps.append(timed("replay", len(served), [
            "crawl", "news", "--db", str(folder / "replay.db"), *CRAWL_SETTINGS, *extra, *spider,
            "--replay", str(folder / "captures" / "*.warc.gz")], env=env))
        steps.append(timed("reextract", len(served), ["reextract", "--db", str(folder / "live.db")],
                           env={**env, **dict(s.split("=", 1) for s in args.setting)}))
        check_archive(folder / "live.db", len(served))
        steps.append(trafilatura_rate(served, "trafilatura, 1 core, last"))
    return steps


def check_archive(db_path: Path, expected: int) -> None:
    import sqlite3

    with sqlite3.connect(db_path) as db:
        articles = db.execute("select count(*) from articles").fetchone()[0]
        failures = db.execute("select count(*) from failures").fetchone()[0]
    print(f"archive: {articles} articles, {failures} failures rows for {expected} pages", file=sys.stderr)


def report(steps: list[Step]) -> None:
    traf = max((step for step in steps if step.name.startswith("trafilatura")), key=lambda s: s.rate)
    print(f"{'step':<28} {'pages':>6} {'wall s':>8} {'pages/s':>8} {'pages/CPU-s':>12} {'× trafilatura':>14} "
          f"{'peak RSS MiB':>13} {'peak PSS MiB':>13} {'main RSS MiB':>13}")
    for step in steps:
        rss = (f"{step.peak_rss_mib:>13.0f} {step.peak_pss_mib:>13.0f} {step.peak_main_rss_mib:>13.0f}"
               if step.peak_rss_mib else "")
        print(f"{step.name:<28} {step.pages:>6} {step.wall:>8.1f} {step.rate:>8.1f} {step.per_cpu:>12.1f} "
              f"{step.rate / traf.rate:>14.2f} {rss}")
    print(f"× trafilatura: against {traf.name!r}, the faster of its two runs")
    print(f"target: crawl, replay and reextract each >= {TARGET_RATIO}× trafilatura's pages/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=DEFAULT_PAGES, help=f"distinct URLs (default {DEFAULT_PAGES})")
    ap.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), help="dataset folders' names")
    ap.add_argument("--close-connections", action="store_true",
                    help="the site closes each connection after one answer (HTTP/1.0)")
    ap.add_argument("-s", "--setting", action="append", default=[],
                    help="NAME=VALUE, a Scrapy setting for the crawl and replay (and the environment of reextract)")
    args = ap.parse_args()
    if args.pages < 1:
        ap.error("--pages must be at least 1")
    report(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
