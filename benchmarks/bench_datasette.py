#!/usr/bin/env python3
"""How fast the archive's Datasette answers at 10k, 100k (and 1M) articles.

    /work/venv/bin/python benchmarks/bench_datasette.py [--sizes 10000 100000] \\
        [--workdir DIR] [--requests N] [--only NAME ...]

For each size, builds (once: the file is cached in ``--workdir``) a synthetic archive through
the store (``Archive.save_article``, the real schema and triggers, one transaction per batch):
sites, sections, authors, pictures with captions and credits, dates over ten years, and bodies
recombined from the paragraphs of the dev pages in ../shared/datasets (real text, so FTS sees
real word frequencies). It then opens the file once with ``Archive`` (applying any pending
migration), serves it with ``newsarchive serve`` as a subprocess on a free 127.0.0.1 port, and
reports p50/p95 (ms) over ``--requests`` requests for each page a journalist uses: the search
page, the articles table, its search, facets, an article page and every canned query.

Exit status: 0 done, 2 bad arguments, 1 a server that did not start or a page that failed.
"""
from __future__ import annotations

import argparse
import html
import json
import logging
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsarchive.items import Article, Image  # noqa: E402
from newsarchive.processors import normalize_article  # noqa: E402
from newsarchive.store.archive import Archive  # noqa: E402

logger = logging.getLogger(__name__)

DATASETS = ROOT.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")
TEXT_SETS = ("aeb-dev", "fundus-dev", "fundus-intl-dev")
METADATA = ROOT / "newsarchive" / "datasette" / "metadata.json"
#: Bump when the synthetic content changes, so cached files are rebuilt.
BUILD_VERSION = 1
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_REQUESTS = 20
BATCH = 2_000
SEED = 13
SITES = ("apnews", "reuters", "bbc", "guardian", "nytimes", "lemonde", "spiegel", "elpais",
         "aljazeera", "cnn", "wsj", "folha")
SECTIONS = ("World", "Politics", "Business", "Technology", "Science", "Sport", "Culture",
            "Opinion", "Health", "Climate")
AGENCIES = ("Reuters", "AP Photo", "AFP", "Getty Images", "EPA", "Bloomberg")
LANGUAGES = ("en", "en", "en", "de", "fr", "es", "pt-BR")
FIRST_DAY = datetime(2016, 1, 1, tzinfo=UTC)
DAYS = 3650
PARAGRAPHS_PER_BODY = (5, 12)
PICTURES_PER_ARTICLE = (0, 3)
#: A word put into about one article in RARE_EVERY: the rare-word search.
RARE_WORD = "quetzalcoatlus"
RARE_EVERY = 5_000
COMMON_WORD = "said"
#: One article in CHANGED_EVERY is saved a second time, changed (revisions rows).
CHANGED_EVERY = 200
#: Sizes above this are built from the archive of this size (built article by article through
#: ``Archive.save_article``) copied in SQL, each copy with new ids, URLs, pictures and dates
#: (the real schema and its FTS triggers; 10x faster than saving each article).
BASE_SIZE = 100_000
REPLICATE_CHUNK = 20_000
#: Bits of a copy's number in the ids of copied rows.
COPY_SHIFT = 40
SERVER_START_S = 60
REQUEST_TIMEOUT_S = 120
PERCENT_95 = 0.95


class BenchError(Exception):
    """A server that would not start, or a page that failed."""


# -- text ----------------------------------------------------------------------------------


def load_text() -> dict[str, list[str]]:
    """Paragraphs, titles and author names of the dev pages."""
    text: dict[str, list[str]] = {"paragraphs": [], "titles": [], "authors": [], "sentences": []}
    for name in TEXT_SETS:
        path = DATASETS / name / "pages.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            truth = json.loads(line).get("truth") or {}
            body = truth.get("body") or ""
            paras = [p.strip() for p in body.split("\n") if len(p.strip()) > 40]
            text["paragraphs"] += paras
            text["sentences"] += [s.strip() + "." for p in paras for s in p.split(". ") if 30 < len(s) < 200]
            if truth.get("title"):
                text["titles"].append(truth["title"])
            text["authors"] += [a for a in truth.get("authors") or [] if 3 < len(a) < 40]
    if not text["paragraphs"]:
        raise BenchError(f"no dev pages with text under {DATASETS}")
    text["titles"] = text["titles"] or text["sentences"][:100]
    text["authors"] = sorted(set(text["authors"])) or ["Jane Doe", "John Roe"]
    return text


def make_article(i: int, rng: random.Random, text: dict[str, list[str]]) -> Article:
    """The i-th synthetic article, normalised as extraction returns articles (the store does not
    normalise)."""
    site = SITES[i % len(SITES)]
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(86_400))
    paras = rng.sample(text["paragraphs"], rng.randint(*PARAGRAPHS_PER_BODY))
    if i % RARE_EVERY == 0:
        paras.append(f"Fossils of {RARE_WORD} were found nearby.")
    title = f"{rng.choice(text['titles'])} ({i})"
    images = []
    for position in range(rng.randint(*PICTURES_PER_ARTICLE)):
        agency = rng.choice(AGENCIES)
        photographer = rng.choice(text["authors"])
        images.append(Image(
            url=f"https://img.{site}.example/{i}/{position}.jpg", caption=rng.choice(text["sentences"]),
            credit=f"{agency}/{photographer}", photographer=photographer, agency=agency,
            caption_source="page", width=1200, height=800, position=position, is_lead=position == 0))
    return normalize_article(Article(
        url=f"https://{site}.example/{day:%Y/%m/%d}/story-{i}", site=site, title=title,
        description=rng.choice(text["sentences"]), authors=rng.sample(text["authors"], rng.randint(1, 2)),
        published=day.isoformat(timespec="seconds"), section=rng.choice(SECTIONS),
        tags=rng.sample(SECTIONS, 2), language=rng.choice(LANGUAGES), body_text="\n\n".join(paras),
        images=images))


# -- building ------------------------------------------------------------------------------


def archive_path(workdir: Path, size: int) -> Path:
    return workdir / f"bench-{size}-v{BUILD_VERSION}.db"


def build(path: Path, size: int, text: dict[str, list[str]]) -> None:
    """Write ``size`` articles (and some revisions, a crawl, failures) to a new archive."""
    part = path.with_suffix(".part")
    for stale in part.parent.glob(part.name + "*"):
        stale.unlink()
    rng = random.Random(SEED)
    start = time.perf_counter()
    with Archive(part) as archive:
        archive.db.execute("PRAGMA synchronous = OFF")  # a benchmark file: speed over durability
        crawl_id = archive.start_crawl(spider="bench", args={"size": size})
        now = datetime.now(UTC)
        for first in range(0, size, BATCH):
            with archive.db.atomic():
                for i in range(first, min(first + BATCH, size)):
                    seen = (now - timedelta(days=(size - i) * 30 / size)).isoformat(timespec="seconds")
                    article = make_article(i, rng, text)
                    archive.save_article(article, crawl_id=crawl_id, seen_at=seen)
                    if i % CHANGED_EVERY == 0:
                        article.body_text += "\n\nCorrection: an earlier version misstated the date."
                        archive.save_article(article, crawl_id=crawl_id, seen_at=seen)
            done = min(first + BATCH, size)
            rate = done / (time.perf_counter() - start)
            print(f"  built {done:,}/{size:,} articles ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        _add_failures(archive, crawl_id)
        archive.finish_crawl(crawl_id, stats={}, outcome="finished")
        archive.checkpoint()
    for suffix in ("-wal", "-shm"):
        Path(f"{part}{suffix}").unlink(missing_ok=True)
    part.rename(path)


def replicate(base: Path, path: Path, size: int) -> None:
    """``path``: ``base`` and copies of its articles (with their authors, tags and pictures)
    until it holds ``size`` articles; each copy moved back in time by a different offset."""
    import shutil

    part = path.with_suffix(".part")
    shutil.copyfile(base, part)
    start = time.perf_counter()
    with Archive(part) as archive:
        archive.db.execute("PRAGMA synchronous = OFF")
        conn = archive.db.conn
        n_base = conn.execute("select max(rowid) from articles").fetchone()[0]
        total = conn.execute("select count(*) from articles").fetchone()[0]
        copy = 0
        while total < size:
            copy += 1
            for lo in range(1, n_base + 1, REPLICATE_CHUNK):
                hi = min(lo + REPLICATE_CHUNK, n_base + 1, lo + size - total)
                with archive.db.atomic():
                    _copy_rows(conn, copy, lo, hi)
                total += hi - lo
                rate = (total - n_base) / (time.perf_counter() - start)
                print(f"  built {total:,}/{size:,} articles ({rate:,.0f}/s)", file=sys.stderr, flush=True)
                if total >= size:
                    break
        if "photo_credits" in tables(conn):  # schema 7 on: counts the store keeps per crawl
            archive.refresh_photo_credits()
        archive.checkpoint()
    for suffix in ("-wal", "-shm"):
        Path(f"{part}{suffix}").unlink(missing_ok=True)
    part.rename(path)


def _copy_rows(conn, copy: int, lo: int, hi: int) -> None:
    """Copy number ``copy`` of the articles with rowid in [lo, hi) and their links."""
    article_cols = [r[1] for r in conn.execute("pragma table_info(articles)")]
    image_cols = [r[1] for r in conn.execute("pragma table_info(images)")]
    new_id = f"printf('%016x', ({copy} << {COPY_SHIFT}) + a.rowid)"
    shift = f"'-{copy * 97 % DAYS} days'"
    new_published = f"strftime('%Y-%m-%dT%H:%M:%S+00:00', substr(a.published, 1, 19), {shift})"
    override = {"id": new_id, "url": f"a.url || '?copy={copy}'", "canonical_url": f"a.canonical_url || '?copy={copy}'",
                "published": new_published, "published_month": f"substr({new_published}, 1, 7)",
                "capture_id": "null"}
    select = ", ".join(override.get(c, f"a.{c}") for c in article_cols)
    rng = f"a.rowid >= {lo} and a.rowid < {hi}"
    conn.execute(f"insert into articles ({', '.join(article_cols)}) select {select} from articles a where {rng}")
    if "article_texts" in tables(conn):  # schema 7 on: the text has its own table
        conn.execute(f"insert into article_texts (article_id, body_text) select {new_id}, t.body_text "
                     f"from article_texts t join articles a on a.id = t.article_id where {rng}")
    for table, col in (("article_authors", "author_id"), ("article_tags", "tag_id")):
        conn.execute(f"insert into {table} (article_id, {col}, position) select {new_id}, l.{col}, l.position "
                     f"from {table} l join articles a on a.id = l.article_id where {rng}")
    image_id = f"printf('%016x', ({copy} << {COPY_SHIFT}) + (1 << {COPY_SHIFT - 1}) + i.rowid)"
    image_override = {"id": image_id, "url": f"i.url || '?copy={copy}'", "capture_id": "null"}
    image_select = ", ".join(image_override.get(c, f"i.{c}") for c in image_cols)
    used = f"(select l.image_id from article_images l join articles a on a.id = l.article_id where {rng})"
    conn.execute(f"insert into images ({', '.join(image_cols)}) select {image_select} from images i "
                 f"where i.id in {used}")
    conn.execute(f"insert into image_urls (url, image_id, first_seen) select i.url || '?copy={copy}', {image_id}, "
                 f"i.first_seen from images i where i.id in {used}")
    conn.execute(
        f"insert into article_images (article_id, image_id, position, is_lead, caption, credit, photographer, "
        f"agency, alt, caption_source) select {new_id}, {image_id}, l.position, l.is_lead, l.caption, l.credit, "
        f"l.photographer, l.agency, l.alt, l.caption_source from article_images l "
        f"join articles a on a.id = l.article_id join images i on i.id = l.image_id where {rng}")


def tables(conn) -> set[str]:
    return {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}


def _add_failures(archive: Archive, crawl_id: int) -> None:
    from newsarchive.items import CrawlFailure

    for n in range(50):
        archive.record_failure(CrawlFailure(url=f"https://bbc.example/missing-{n}", stage="http",
                                            reason="HTTP 404", http_status=404), crawl_id=crawl_id)


def prepare(workdir: Path, size: int, text: dict[str, list[str]] | None) -> Path:
    """The archive of ``size`` articles, built if not cached, migrated to this code's schema."""
    path = archive_path(workdir, size)
    if not path.is_file() and size > BASE_SIZE:
        base = prepare(workdir, BASE_SIZE, text)
        print(f"building {path} from {base.name} ...", file=sys.stderr, flush=True)
        replicate(base, path, size)
    elif not path.is_file():
        print(f"building {path} ...", file=sys.stderr, flush=True)
        build(path, size, text or load_text())
    with Archive(path) as archive:  # applies pending migrations (e.g. new indexes)
        archive.checkpoint()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


# -- serving and timing --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(path: Path, port: int, *, immutable: bool) -> subprocess.Popen:
    # No pywb: no measured page uses it, and its port (--port + 1) is not checked free here.
    argv = [sys.executable, "-m", "newsarchive.cli", "serve", str(path), "--port", str(port),
            "--no-replay"]
    if immutable:
        argv.append("--immutable")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"newsarchive serve exited: {proc.stderr.read().decode()[-500:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=5).read()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise BenchError("newsarchive serve did not answer within a minute")


def fetch(url: str) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_S) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return (time.perf_counter() - start) * 1000, status, body


def pages(db: str, article_id: str, person: str) -> dict[str, str]:
    """name -> path of each page measured; ``person``: a name in bylines and credits."""
    q = urllib.parse.quote
    out = {
        "search page, common word": f"/-/search?q={COMMON_WORD}",
        "search page, rare word": f"/-/search?q={RARE_WORD}",
        "articles table": f"/{db}/articles",
        # a common word goes to the search page (more than pages.TABLE_SEARCH_CAP matches) ...
        "table _search common word": f"/{db}/articles?_search={COMMON_WORD}",
        # ... unless asked to stay in the table with every match
        "table _search common word, every match": f"/{db}/articles?_search={COMMON_WORD}&_na_all=1",
        # narrowed by a column filter or sorted: the newest pages.NEWEST_MATCHES matches
        "table _search common word + site filter": f"/{db}/articles?_search={COMMON_WORD}&site=bbc",
        "table _search common word + site, section": (
            f"/{db}/articles?_search={COMMON_WORD}&site=bbc&section=World"),
        "table _search common word, sorted by title": f"/{db}/articles?_search={COMMON_WORD}&_sort=title",
        # the search page's "see them in the articles table" link
        "table _search common word from the search page": f"/{db}/articles?_na_search={COMMON_WORD}",
        "table _search common word + site filter, every match": (
            f"/{db}/articles?_search={COMMON_WORD}&site=bbc&_na_all=1"),
        "table _search rare word": f"/{db}/articles?_search={RARE_WORD}",
        "facet site + month": f"/{db}/articles?_facet=site&_facet=published_month",
        # a facet clicked: the page lists one value's articles newest first and its default
        # facets group them (schema 11's (column, published, ...) covering indexes)
        "articles table, site filter": f"/{db}/articles?site=bbc",
        "articles table, section filter": f"/{db}/articles?section=World",
        "articles table, month filter": f"/{db}/articles?published_month=2019-03",
        "articles table, site + section filter": f"/{db}/articles?site=bbc&section=World",
        "articles table, language filter": f"/{db}/articles?language=en",
        "articles table, kind filter": f"/{db}/articles?kind=article",
        # a click on a column header: an indexed column, and columns no index starts with
        "articles table sorted by site": f"/{db}/articles?_sort=site",
        "articles table sorted by title": f"/{db}/articles?_sort=title",
        "articles table sorted by first_seen": f"/{db}/articles?_sort_desc=first_seen",
        "article page": f"/{db}/articles/{q(article_id)}",
        "database page": f"/{db}",
    }
    metadata = json.loads(METADATA.read_text(encoding="utf-8"))
    for name, query in metadata["databases"]["archive"]["queries"].items():
        params = {"q": COMMON_WORD, "name": "Reuters" if "agency" in name or "credit" in name else person}
        args = {k: v for k, v in params.items() if f":{k}" in query["sql"]}
        out[f"canned {name}"] = f"/{db}/{name}" + ("?" + urllib.parse.urlencode(args) if args else "")
    return out


#: Pages whose second page ("Next": Datasette's ``_next`` cursor) is measured too.
NEXT_OF = (
    "articles table",
    "articles table, kind filter",
    "articles table sorted by first_seen",
    "table _search common word, every match",
)


def next_pages(port: int, paths: dict[str, str]) -> dict[str, str]:
    """name -> path of the second page of each page in :data:`NEXT_OF`, from its "Next" link."""
    out = {}
    for name in NEXT_OF:
        _, _, body = fetch(f"http://127.0.0.1:{port}{paths[name]}")
        link = re.search(rb'href="([^"]*_next=[^"]*)"', body)
        if link:
            url = urllib.parse.urlsplit(html.unescape(link.group(1).decode()))
            out[f"{name}, next page"] = f"{url.path}?{url.query}"
    return out


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def page_subjects(path: Path) -> tuple[str, str]:
    """The article whose page is measured, and a name both in bylines and in photo credits (the
    text pools are shared), of the archive at ``path``."""
    with Archive(path, readonly=True) as archive:
        article_id = archive.db.execute("select id from articles order by rowid limit 1 offset 7").fetchone()[0]
        person = archive.db.execute("select name from authors order by id limit 1").fetchone()[0]
    return article_id, person


def measure(path: Path, requests: int, *, only: list[str], immutable: bool) -> dict[str, tuple]:
    """name -> (p50 ms, p95 ms, note) for each page, served from ``path``."""
    article_id, person = page_subjects(path)
    port = free_port()
    proc = start_server(path, port, immutable=immutable)
    results = {}
    try:
        paths = pages(path.stem, article_id, person)
        paths.update(next_pages(port, paths))
        for name, page in paths.items():
            if only and not any(o in name for o in only):
                continue
            times, notes = [], set()
            for _ in range(requests):
                ms, status, body = fetch(f"http://127.0.0.1:{port}{page}")
                times.append(ms)
                if status != 200:
                    notes.add(f"HTTP {status}")
                if b"took too long" in body or b"Facet timed out" in body or b"facet-timed-out" in body:
                    notes.add("timed out")
                if b"na-from-table" in body:  # redirected (urllib follows) to the search page
                    notes.add("search page")
                if b"na-bounded" in body:  # the table among the newest matches
                    notes.add("newest matches")
            results[name] = (statistics.median(times), percentile(times, PERCENT_95), ", ".join(sorted(notes)))
            print(f"  {name}: p50 {results[name][0]:,.0f} ms", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def print_table(sizes: list[int], all_results: dict[int, dict[str, tuple]]) -> None:
    names = list(next(iter(all_results.values())))
    head = "| page | " + " | ".join(f"{s:,} p50 / p95 ms" for s in sizes) + " |"
    print(head)
    print("|---|" + "---|" * len(sizes))
    for name in names:
        cells = []
        for size in sizes:
            p50, p95, note = all_results[size].get(name, (float("nan"), float("nan"), ""))
            cells.append(f"{p50:,.0f} / {p95:,.0f}" + (f" ({note})" if note else ""))
        print(f"| {name} | " + " | ".join(cells) + " |")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/newsarchive-bench-datasette"),
                        help="where built archives are cached (reused by later runs)")
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests per page")
    parser.add_argument("--only", nargs="*", default=[], help="measure only pages whose name contains one of these")
    parser.add_argument("--immutable", action="store_true", help="serve with --immutable")
    parser.add_argument("--build-only", action="store_true", help="build the archives and stop")
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.sizes) or args.requests < 1:
        parser.error("sizes and --requests must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    text = None if all(archive_path(args.workdir, s).is_file() for s in args.sizes) else load_text()
    all_results = {}
    try:
        for size in args.sizes:
            path = prepare(args.workdir, size, text)
            if args.build_only:
                continue
            print(f"measuring {size:,} articles ({args.requests} requests a page) ...", file=sys.stderr)
            all_results[size] = measure(path, args.requests, only=args.only, immutable=args.immutable)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if all_results:
        print_table(args.sizes, all_results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
