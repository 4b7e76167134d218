#!/usr/bin/env python3
"""How the placements tables behave at a million rows.

    /work/venv/bin/python benchmarks/bench_placements.py [--workdir DIR] [--captures 500]

Builds (in ``--workdir``, a temporary folder by default) an archive with 100,000 articles and
10 pages (one home page) captured ``--captures`` times an hour apart, 200 links each, every
placement a run of its own (the worst case: every rank moves at every capture), i.e. 1,000,000
``placements`` rows with --captures 500; one article in ten is not archived. Then it times the
three canned queries (straight on SQLite, as Datasette runs them), a new capture of the home page
(200 new runs, then 200 runs extended) and ``save_article`` with its placement resolution.

Exit status: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsarchive.items import Article, FrontPage, Placement  # noqa: E402
from newsarchive.processors import normalize_article  # noqa: E402
from newsarchive.store import Archive  # noqa: E402

PAGES, LINKS, ARTICLES = 10, 200, 100_000
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
METADATA = ROOT / "newsarchive" / "datasette" / "metadata.json"


def story(n: int) -> str:
    return f"https://s.test/n/story-{n}"


def build(archive: Archive, captures: int) -> None:
    """The synthetic articles, page captures and placements (one transaction)."""
    conn = archive.db.conn
    with archive.db.atomic():
        conn.execute("INSERT INTO sites (site) VALUES ('s')")
        conn.executemany(
            "INSERT INTO articles (id, url, canonical_url, site, title, published, content_hash, "
            "first_seen, last_seen) VALUES (?, ?, ?, 's', ?, ?, 'h', 't', 't')",
            [
                (
                    f"id{i}",
                    story(i),
                    story(i),
                    f"Story {i}",
                    (START + dt.timedelta(minutes=3 * i)).isoformat(),
                )
                for i in range(ARTICLES)
            ],
        )
        rows, page_id = [], 0
        for capture in range(captures):
            when = (START + dt.timedelta(hours=capture)).isoformat(timespec="seconds")
            for p in range(PAGES):
                page_id += 1
                page = "https://s.test/" if p == 0 else f"https://s.test/sec{p}/"
                conn.execute(
                    "INSERT INTO placement_pages (id, page, is_home, seen_at, links) VALUES (?, ?, ?, ?, ?)",
                    [page_id, page, int(p == 0), when, LINKS],
                )
                for rank in range(LINKS):
                    n = (capture * 20 + p * 1000 + rank) % ARTICLES
                    rows.append((page, story(n), f"id{n}" if n % 10 else None, rank + 1,
                                 "lead" if rank == 0 else None, "h", when, when, page_id, page_id))  # fmt: skip
        conn.executemany(
            "INSERT INTO placements (page, article_url, article_id, rank, slot, headline, first_seen, "
            "last_seen, first_page_id, last_page_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute("ANALYZE")


def timed(label: str, work) -> None:
    start = time.perf_counter()
    result = work()
    print(f"{label}: {1000 * (time.perf_counter() - start):.1f} ms ({result})")


def run(archive: Archive, captures: int) -> None:
    queries = json.loads(METADATA.read_text(encoding="utf-8"))["databases"]["archive"]["queries"]
    conn = archive.db.conn

    def query(name: str, **params: str):
        return lambda: f"{len(conn.execute(queries[name]['sql'], params).fetchall())} rows"

    middle = (START + dt.timedelta(hours=captures // 2, minutes=30)).isoformat()
    timed(
        "front_page_at, home page mid-way",
        query("front_page_at", at=middle, page="https://s.test/"),
    )
    timed("front_page_at, now, every home page", query("front_page_at", at="", page=""))
    timed("story_on_front_page by id", query("story_on_front_page", article="id5021", url=""))
    timed("story_on_front_page by url", query("story_on_front_page", article="", url=story(5020)))
    timed("left_front_page_soon", query("left_front_page_soon", hours=""))
    home = FrontPage(page="https://s.test/", is_home=True, placements=[
        Placement(article_url=story(i), url=story(i), rank=i + 1) for i in range(LINKS)])  # fmt: skip
    for offset, label in ((captures, "new runs"), (captures + 1, "runs extended")):
        seen = (START + dt.timedelta(hours=offset)).isoformat(timespec="seconds")
        timed(
            f"save_front_page, {LINKS} {label}",
            lambda seen=seen: archive.save_front_page(home, seen_at=seen),
        )
    article = normalize_article(
        Article(url=story(30), title="Story 30", body_text="Text.", site="s")
    )
    timed("save_article resolving its placements", lambda: archive.save_article(article))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--captures", type=int, default=500)
    args = parser.parse_args(argv)
    if args.captures < 2:
        parser.error("--captures must be 2 or more")
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.workdir or Path(tmp)) / "placements-bench.db"
        path.unlink(missing_ok=True)
        with Archive(path) as archive:
            print(
                f"building {args.captures * PAGES * LINKS:,} placements in {path} ...",
                file=sys.stderr,
            )
            build(archive, args.captures)
            print(
                f"placements: {archive.count('placements'):,}, page captures: {archive.count('placement_pages'):,}"
            )
            run(archive, args.captures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
