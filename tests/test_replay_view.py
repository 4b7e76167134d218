""""View as archived": the article page links to pywb, which replays the captured page itself
from the WARC files of a real crawl, with its pictures, and nothing from the live web.

The archive is a real crawl of the bundled demo site (``newsarchive demo``, whose site server
stops when the crawl ends: the test checks that nothing answers on its port any more), served
by ``newsarchive serve`` with pywb beside Datasette. Chromium (Playwright) opens the article page,
clicks "View as archived" and finds the article's headline and its archived picture in the
replay, with every request on 127.0.0.1 and only to Datasette or pywb. The screenshot goes to
a temporary folder; to refresh the README's (``docs/screenshots/``), run

    NEWSARCHIVE_SCREENSHOTS=docs/screenshots python -m pytest tests/test_replay_view.py -k view_as_archived

Without chromium, Playwright or pywb (``pip install -e '.[replay]'``) the browser test skips,
except in CI (``CI=true``) where it fails.
"""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import FAST, REPO, free_port, port_is_free, run_newsarchive
from tests.test_browser import browser  # noqa: F401 (the chromium fixture)

from newsarchive.demo.server import SiteServer

SCREENSHOTS_ENV = "NEWSARCHIVE_SCREENSHOTS"
SAMPLE_PATH = "/news/black-sea-grain-corridor-explained.html"
SAMPLE_TITLE = "What the Black Sea grain corridor means for world food prices"
SAMPLE_PICTURE = "/media/harbour-cranes.jpg"
#: A picture the sample page shows that the demo site does not have, so no crawl captured it.
UNCAPTURED = "/media/logo.png"
#: Seconds serve gets to answer on both ports.
STARTUP_TIMEOUT = 90

pytestmark = pytest.mark.timeout(600)
NEEDS_PYWB = pytest.mark.skipif(importlib.util.find_spec("pywb") is None and os.environ.get("CI") != "true",
                                reason="pywb is not installed (pip install -e '.[replay]')")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """NEWSARCHIVE_SCREENSHOTS (relative to the checkout) when set, else a temporary folder."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = (REPO / chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # a server answered, if only with an error
    except OSError:
        return False


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> tuple[Path, str]:
    """A real crawl of the demo site; the site's server has stopped when this returns."""
    db = tmp_path_factory.mktemp("replay") / "archive.db"
    site_port = free_port()
    result = run_newsarchive("demo", "--db", str(db), "--site-port", str(site_port))
    assert result.returncode == 0, result.stderr[-3000:]
    site = f"http://127.0.0.1:{site_port}"
    assert not answers(site + SAMPLE_PATH), "the demo site still answers: the replay could come from it"
    assert any((db.parent / "captures").glob("*.warc.gz"))
    return db, site


def start_serve(db: Path) -> tuple[subprocess.Popen, str, str, Path]:
    """``newsarchive serve DB --port P --replay-port Q`` in its own process group, answering on
    both ports: the process, Datasette's and pywb's URLs, and its log."""
    port, replay_port = free_port(), free_port()
    log = db.parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "serve", str(db), "--port", str(port),
                                 "--replay-port", str(replay_port)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base, replay = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{replay_port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not (answers(base + "/-/versions.json") and answers(replay + "/")):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_serve(proc)
            pytest.fail(f"newsarchive serve did not start: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)
    return proc, base, replay, log


def stop_serve(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signum)  # serve stops pywb with Datasette
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def served(crawled):
    proc, base, replay, log = start_serve(crawled[0])
    try:
        yield base, replay, log
    finally:
        stop_serve(proc)


def article_id(db: Path, path: str) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("select id from articles where url like ?", [f"%{path}"]).fetchone()
    assert row, f"no article for {path}"
    return row[0]


def video_thumbnails(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("select thumbnail_url from videos where thumbnail_url is not null")}


def local_only(route) -> None:
    """Nothing reaches past 127.0.0.1 even if asked (the assertions say whether it was asked)."""
    if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@NEEDS_PYWB
def test_view_as_archived_replays_the_captured_page(browser, crawled, served, screenshots):
    db, _site = crawled
    base, replay, _log = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", local_only)
    requested: dict[str, list[str]] = {"article page": [], "replay": []}
    phase = "article page"
    context.on("request", lambda request: requested[phase].append(request.url))
    statuses: dict[str, int] = {}
    context.on("response", lambda response: statuses.setdefault(response.url, response.status))
    page = context.new_page()
    try:
        page.goto(f"{base}/archive/articles/{article_id(db, SAMPLE_PATH)}")
        page.wait_for_load_state("networkidle")
        link = page.locator("a.na-replay")
        assert link.inner_text() == "View as archived"
        assert link.get_attribute("href").startswith(f"{replay}/archive/")
        phase = "replay"
        link.click()
        page.wait_for_url(f"{replay}/archive/**")
        archived = page.frame_locator("#replay_iframe")
        headline = archived.locator("h1.widget__headline")
        headline.wait_for()
        assert headline.inner_text() == SAMPLE_TITLE
        picture = archived.locator(f"img[src$='{SAMPLE_PICTURE}']")
        picture.wait_for()
        picture.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle(), timeout=15_000
        )
        assert picture.evaluate("img => img.naturalWidth") > 0
        page.wait_for_load_state("networkidle")
        archived.locator("body").evaluate("() => window.scrollTo(0, 0)")  # the headline, then the picture
        page.screenshot(path=str(screenshots / "replay.png"))
    finally:
        context.close()
    assert (screenshots / "replay.png").stat().st_size > 0

    def web(urls: list[str]) -> list[str]:
        return [u for u in urls if not u.startswith(("data:", "about:", "blob:"))]

    # The replay: every request to pywb itself (the page, its picture, pywb's banner), none to
    # the stopped site or anywhere else; the picture came from the WARC through pywb.
    replay_netloc = urllib.parse.urlsplit(replay).netloc
    replayed = web(requested["replay"])
    assert replayed and all(urllib.parse.urlsplit(u).netloc == replay_netloc for u in replayed), replayed
    assert any(u.endswith(SAMPLE_PICTURE) for u in replayed), replayed
    # The site's logo was never captured (the demo site has none): pywb's local 404, no fetch.
    logo = [u for u in replayed if u.endswith(UNCAPTURED)]
    assert logo and all(statuses.get(u) == 404 for u in logo), {u: statuses.get(u) for u in logo}
    # The article page before it: Datasette on 127.0.0.1; the one exception is the article
    # page's own video thumbnail, which it shows from the video's host (not the replay's doing).
    shown = [u for u in web(requested["article page"]) if u not in video_thumbnails(db)]
    assert shown and all(urllib.parse.urlsplit(u).hostname == "127.0.0.1" for u in shown), shown


# -- a revision links to the versions before and after it ---------------------------------------

STORY = "council-approves-rural-bus-budget"
FIRST_TEXT = ("The county council approved a budget on Wednesday that raises spending on rural bus routes "
              "by a fifth and closes two of the four recycling centres.")
CORRECTION = "Correction: An earlier version of this story said the budget was approved on Tuesday."


def story_page(title: str, paragraphs: list[str]) -> str:
    """A story page written by this test."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1><p class='byline'>By Lee Marsh</p>{body}</article></body></html>")


def crawl_site(db: Path, base_url: str) -> None:
    result = run_newsarchive("crawl", "news", "--db", str(db), *FAST, "-a", "site=county",
                             "-a", f"sections={base_url}/")
    assert result.returncode == 0, result.stderr[-3000:]


def links_of(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<a class="{css_class}" href="([^"]+)"', html)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode("utf-8", errors="replace")


def original(link: str) -> str:
    """The captured bytes behind a replay link (pywb's ``id_`` mode: no banner, no rewriting)."""
    return re.sub(r"/(\d{14})/", r"/\1id_/", link, count=1)


#: Seconds within which a capture written while serve runs must be replayable (its index is
#: updated every INDEX_INTERVAL_S = 10 seconds).
INDEX_WAIT_S = 40


def fetch_when_indexed(url: str, expected: str) -> str:
    """``url`` once pywb's answer holds ``expected``: until the WARC file holding that capture is
    indexed, pywb answers with the nearest capture it knows (or 404)."""
    deadline = time.monotonic() + INDEX_WAIT_S
    while True:
        try:
            text = fetch(url)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            text = ""
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(1)


@NEEDS_PYWB
def test_a_revision_links_to_the_captures_before_and_after_it(tmp_path):
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    (root / "index.html").write_text(f"<html><body><a href='/news/{STORY}.html'>story</a></body></html>")
    story = root / "news" / f"{STORY}.html"
    story.write_text(story_page("Council approves rural bus budget", [FIRST_TEXT, FIRST_TEXT[::-1]]))
    db = tmp_path / "archive.db"
    with SiteServer(root) as site:
        crawl_site(db, site.base_url)
        # serve runs while the story is corrected and crawled again: the new WARC file becomes
        # replayable without a restart.
        proc, base, replay, _log = start_serve(db)
        try:
            time.sleep(1.1)  # the next capture is another second: WARC-Date has seconds
            story.write_text(story_page("Council approves rural bus budget after late vote",
                                        [FIRST_TEXT.replace("a fifth", "a quarter"), FIRST_TEXT[::-1], CORRECTION]))
            crawl_site(db, site.base_url)
        except BaseException:
            stop_serve(proc)
            raise
    try:
        with sqlite3.connect(db) as conn:
            (aid,) = conn.execute("select id from articles where url like ?", [f"%{STORY}%"]).fetchone()
            assert conn.execute("select count(*) from revisions where article_id = ?", [aid]).fetchone() == (1,)
        html = fetch(f"{base}/archive/articles/{aid}")
        (current,) = links_of(html, "na-replay")
        (before,) = links_of(html, "na-replay-before")
        (after,) = links_of(html, "na-replay-after")
        assert all(link.startswith(f"{replay}/archive/") for link in (current, before, after))
        assert after == current and before != after
        # Each link is that version, from the WARC files (the site has stopped).
        new = fetch_when_indexed(original(after), "after late vote")
        assert "after late vote" in new and CORRECTION in new
        old = fetch(original(before))
        assert "<h1>Council approves rural bus budget</h1>" in old and CORRECTION not in old
        # The link itself opens pywb's frame (its banner) around the rewritten page.
        assert "replay_iframe" in fetch(before)
    finally:
        stop_serve(proc, signal.SIGINT)  # Ctrl-C: Datasette and pywb both stop
    for url in (base, replay):
        assert port_is_free(urllib.parse.urlsplit(url).port), f"{url} still holds its port"
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of serve's process group is left


@NEEDS_PYWB
def test_the_index_follows_the_warc_files(tmp_path):
    """One CDXJ per WARC file: a new file is indexed, a growing one again, a deleted one's index
    goes; an unchanged file is not read twice; 304 answers are left out."""
    from newsarchive.capture.writer import RotatingWarcWriter
    from newsarchive.datasette.replay import WarcIndex

    captures, indexes = tmp_path / "captures", tmp_path / "indexes"
    index = WarcIndex(captures, indexes)
    assert index.update() == 0 and index.files == 0  # no captures folder yet: nothing, no error
    writer = RotatingWarcWriter(captures)

    def capture(path: str, status: int = 200) -> None:
        body = f"<p>{path}</p>".encode() if status == 200 else b""
        writer.write_exchange(url=f"https://example.org{path}", status=status,
                              response_headers=[("Content-Type", "text/html")], body=body)

    def indexed() -> str:
        return "".join(p.read_text() for p in sorted(indexes.glob("*.cdxj")))

    capture("/first")
    assert index.update() == 1 and "org,example)/first" in indexed()
    assert index.update() == 0  # unchanged
    capture("/second")  # the same file, grown
    assert index.update() == 1
    assert "org,example)/first" in indexed() and "org,example)/second" in indexed()
    assert len(list(indexes.glob("*.cdxj"))) == 1
    # A 304 answer to a conditional request holds no page: pywb is not told of it.
    capture("/first", status=304)
    assert index.update() == 1 and indexed().count("org,example)/first") == 1
    writer.close()
    for warc in captures.glob("*.warc.gz"):
        warc.unlink()
    assert index.update() == 0 and indexed() == ""


def test_without_pywb_serve_becomes_datasette_and_says_what_to_install(tmp_path):
    """pywb not importable (as without the replay extra): serve says so in one line and becomes
    Datasette itself, as it always did; the article page has no "View as archived"."""
    from newsarchive.items import Article
    from newsarchive.store import Archive

    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        archive.save_article(Article(url="https://example.org/news/a", title="A story", body_text="Text."))
    port = free_port()
    code = ("import sys; sys.modules['pywb'] = None; from newsarchive.cli import cli; "
            f"cli(['serve', {str(db)!r}, '--port', '{port}'])")
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_REPLAY_URL"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not answers(base + "/-/versions.json"):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.3)
        assert "datasette" in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
        assert "View as archived" not in fetch(f"{base}/archive/articles")
        with sqlite3.connect(db) as conn:
            (aid,) = conn.execute("select id from articles").fetchone()
        page = fetch(f"{base}/archive/articles/{aid}")
        assert "A story" in page and "na-replay" not in page
    finally:
        stop_serve(proc)
    hint = [line for line in proc.stderr.read().splitlines() if "View as archived" in line]
    assert hint == ['"View as archived" needs pywb: pip install \'newsarchive[replay]\''], hint
