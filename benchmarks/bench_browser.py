#!/usr/bin/env python3
"""How long a journalist waits for the articles table in a real browser, at its page size and
at Datasette's default of 100 rows (the baseline, measured in the same run).

    /work/venv/bin/python benchmarks/bench_browser.py [--sizes 100000] [--workdir DIR] \\
        [--loads N] [--only NAME ...]

Serves the archives of ``bench_datasette.py`` (built and cached in ``--workdir`` as it builds
them) with ``newsarchive serve`` and loads each articles-table page of its list in headless
Chromium (Debian's ``/usr/bin/chromium``, or ``$CHROMIUM``), with the browser's cache off. Each
page is loaded as it is and with ``_size=100``, in turn, ``--loads`` times after one load of
each to warm up; the table reports the medians of the navigation timing (ms from the request):
the first byte (the server), DOMContentLoaded (the page parsed, its scripts run) and load, and
the ratio of DOMContentLoaded to the baseline's.

Exit status: 0 done, 2 bad arguments, 1 a server or a browser that did not start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import bench_datasette as bench

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BASELINE_ARG = "_size=100"
DEFAULT_SIZES = (100_000,)
DEFAULT_LOADS = 10
#: The navigation timing read after each load, in ms from the request's start.
TIMING_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
    return {first_byte: n.responseStart - n.requestStart,
            dom_ready: n.domContentLoadedEventEnd - n.requestStart,
            load: n.loadEventEnd - n.requestStart}; }"""


def table_pages(db: str, article_id: str, person: str, only: list[str]) -> dict[str, str]:
    """name -> path of bench_datasette's articles-table pages (a table search that goes to the
    search page is not one)."""
    out = {}
    for name, path in bench.pages(db, article_id, person).items():
        if not path.startswith(f"/{db}/articles?") and path != f"/{db}/articles":
            continue
        if name == "table _search common word" or (only and not any(o in name for o in only)):
            continue
        out[name] = path
    return out


def with_baseline(path: str) -> str:
    return path + ("&" if "?" in path else "?") + BASELINE_ARG


async def load_times(page, url: str) -> dict[str, float]:
    await page.goto(url, wait_until="load")
    return await page.evaluate(TIMING_JS)


async def measure(path: Path, loads: int, only: list[str]) -> dict[str, tuple]:
    """name -> (medians of the page, medians of its baseline) for each table page."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    article_id, person = bench.page_subjects(path)
    port = bench.free_port()
    proc = bench.start_server(path, port, immutable=False)
    results = {}
    try:
        async with async_playwright() as playwright:
            try:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
                )
            except PlaywrightError as exc:
                raise bench.BenchError(f"Chromium did not start: {exc}") from exc
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Network.enable")  # without it the cache stays on
            await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            for name, url_path in table_pages(path.stem, article_id, person, only).items():
                urls = [f"http://127.0.0.1:{port}{u}" for u in (url_path, with_baseline(url_path))]
                timings: list[list[dict[str, float]]] = [[], []]
                for n in range(loads + 1):
                    for side, url in enumerate(urls):
                        times = await load_times(page, url)
                        if n:  # the first load of each warms the server and the browser
                            timings[side].append(times)
                results[name] = tuple(
                    {key: statistics.median(t[key] for t in side) for key in side[0]}
                    for side in timings
                )
                print(
                    f"  {name}: DOMContentLoaded {results[name][0]['dom_ready']:,.0f} ms, "
                    f"at 100 rows {results[name][1]['dom_ready']:,.0f}",
                    file=sys.stderr,
                    flush=True,
                )
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def print_table(size: int, results: dict[str, tuple]) -> None:
    print(f"\n{size:,} articles: medians in ms (first byte / DOMContentLoaded / load)\n")
    print("| page | as served | at 100 rows | DOMContentLoaded ratio |")
    print("|---|---|---|---|")
    for name, sides in results.items():
        cells = [
            " / ".join(f"{side[k]:,.0f}" for k in ("first_byte", "dom_ready", "load"))
            for side in sides
        ]
        ratio = sides[0]["dom_ready"] / sides[1]["dom_ready"]
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.2f} |")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/newsarchive-bench-datasette"),
        help="where bench_datasette.py caches its archives (built if missing)",
    )
    parser.add_argument(
        "--loads", type=int, default=DEFAULT_LOADS, help="loads of each page and baseline"
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help="measure only pages whose name contains one of these"
    )
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.sizes) or args.loads < 1:
        parser.error("sizes and --loads must be positive")
    if not Path(CHROMIUM).is_file():
        parser.error(f"no Chromium at {CHROMIUM} (set $CHROMIUM)")
    return args


def main(argv: list[str] | None = None) -> int:
    import asyncio

    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        for size in args.sizes:
            path = bench.prepare(args.workdir, size, None)  # its text read if it builds
            print(
                f"loading {size:,} articles' table pages in Chromium ({args.loads} loads each) ...",
                file=sys.stderr,
            )
            print_table(size, asyncio.run(measure(path, args.loads, args.only)))
    except bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
