"""The archive in a real browser: Playwright drives Debian's chromium against a live
``newsarchive serve`` on 127.0.0.1.

The archive is a real crawl of the bundled demo site plus one hostile article whose title,
caption, credit, byline and text hold script. A journalist searches, opens the article page
(lead picture with its caption and credit, and its thumbnail when the archive keeps one), and
no archived string ever runs. Screenshots of the search and article pages go to a temporary
folder; to refresh the README's (``docs/screenshots/``), run

    NEWSARCHIVE_SCREENSHOTS=docs/screenshots python -m pytest tests/test_browser.py -k "search_finds or article_page"

Without /usr/bin/chromium (or Playwright) the tests skip, except in CI (``CI=true``) where
they fail: ``.ci/run`` installs chromium.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, run_newsarchive
from newsarchive.items import Article, Image, Video
from newsarchive.store import Archive
from newsarchive.store.archive import stable_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Set to a folder (docs/screenshots) to keep the screenshots there; by default they go to a temporary folder.
SCREENSHOTS_ENV = "NEWSARCHIVE_SCREENSHOTS"
SAMPLE_TITLE = "What the Black Sea grain corridor means for world food prices"
SAMPLE_CAPTION = "Cargo cranes stand over the grain terminal at dawn."
SAMPLE_CREDIT = "REUTERS/Jane Example"
PWN = "window.__pwned=1"
SCRIPT = f"<script>{PWN}</script>"
IMG = f"<img src=x onerror={PWN}>"
HOSTILE_URL = "https://hostile.example/news/pwn"

pytestmark = pytest.mark.timeout(600)


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def save_hostile_article(db: Path) -> str:
    with Archive(db) as archive:
        archive.save_article(Article(
            url=HOSTILE_URL, site="hostile", title=f"Hostile headline {SCRIPT}{IMG}",
            description=f"Standfirst {IMG}", authors=[f"Mallory {SCRIPT}"], section=f"Section {IMG}",
            published="2025-01-02T03:04:05+00:00", tags=[f"tag {SCRIPT}"],
            body_text=f"Hostile body {SCRIPT}\n\nSecond paragraph {IMG}",
            images=[Image(url="https://hostile.example/pic.jpg", caption=f"Hostile caption {SCRIPT}{IMG}",
                          credit=f"Credit {IMG}", photographer=f"Eve {SCRIPT}", agency=f"Agency {IMG}",
                          alt=f"alt {IMG}", is_lead=True)],
            videos=[Video(provider="youtube", video_id="pwnpwnpwn01",
                          url="https://www.youtube.com/watch?v=pwnpwnpwn01", title=f"Hostile video {SCRIPT}",
                          thumbnail_url="javascript:window.__pwned=1")],
        ))
    # The normaliser strips tags from titles and drops javascript: URLs; a file written by other
    # code (or edited by hand) may still hold them, and the pages must stay inert.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET title = ? WHERE url = ?", [f"Hostile headline {SCRIPT}{IMG}", HOSTILE_URL])
        conn.execute("UPDATE videos SET thumbnail_url = 'javascript:window.__pwned=1', "
                     "url = 'javascript:window.__pwned=1' WHERE video_id = 'pwnpwnpwn01'")
    conn.close()
    return stable_id(HOSTILE_URL)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """Where the screenshots go: NEWSARCHIVE_SCREENSHOTS (relative to the checkout) when set, else
    a temporary folder, so that the test command leaves the checkout as it found it."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = (REPO / chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    """A real crawl of the demo site, plus the hostile article."""
    db = tmp_path_factory.mktemp("browser") / "archive.db"
    result = run_newsarchive("demo", "--db", str(db), "--site-port", str(free_port()))
    assert result.returncode == 0, result.stderr[-3000:]
    save_hostile_article(db)
    return db


@pytest.fixture(scope="module")
def server(archive_db):
    """``newsarchive serve DB --port P`` in its own process group, until the module ends."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = archive_db.parent / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "serve", str(archive_db),
                                 "--port", str(port)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"newsarchive serve did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # serve runs datasette as a child: end the group
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


class Watched:
    """A page that only reaches 127.0.0.1, with every dialog and page error recorded."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.route("**/*", self._local_only)

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @staticmethod
    def _local_only(route):
        if route.request.url.startswith(("http://127.0.0.1", "data:")):
            route.continue_()
        else:
            route.abort()

    def pwned(self) -> str:
        return self.page.evaluate("typeof window.__pwned")

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser):
    w = Watched(browser)
    yield w
    w.close()


def test_search_finds_sample_article(server, watched, screenshots):
    page = watched.page
    page.goto(server + "/")
    page.fill("#search-all-q", "grain corridor")
    page.press("#search-all-q", "Enter")
    page.wait_for_url("**/-/search?q=*")
    first = page.locator(".na-hit-article a.na-title").first
    assert first.inner_text() == SAMPLE_TITLE
    assert page.locator(".na-hit-article .na-snippet mark").count() >= 1
    # Captions and credits are searched too, and lead to the article.
    page.fill("#search-all-q", "cranes")
    page.press("#search-all-q", "Enter")
    page.wait_for_url("**/-/search?q=cranes")
    image_hit = page.locator(".na-hit-image").first
    assert "Cargo <mark>cranes</mark>" in image_hit.inner_html()
    assert SAMPLE_TITLE in image_hit.inner_text()
    page.fill("#search-all-q", "grain")
    page.press("#search-all-q", "Enter")
    page.wait_for_url("**/-/search?q=grain")
    page.screenshot(path=str(screenshots / "search.png"))
    assert (screenshots / "search.png").stat().st_size > 0
    assert watched.dialogs == [] and watched.pwned() == "undefined"


def test_article_page(server, watched, archive_db, screenshots):
    page = watched.page
    page.goto(server + "/-/search?q=grain+corridor")
    page.locator(".na-hit-article a.na-title", has_text=SAMPLE_TITLE).first.click()
    page.wait_for_selector("h1.na-headline")
    assert page.inner_text("h1.na-headline") == SAMPLE_TITLE
    assert "Ana Lima" in page.inner_text(".na-byline")
    lead = page.locator("figure.na-lead")
    assert lead.locator(".na-caption").inner_text() == SAMPLE_CAPTION
    assert SAMPLE_CREDIT in lead.locator(".na-credit").inner_text()
    meta = page.inner_text("dl.na-meta")
    for label in ("Published", "First seen", "Last seen", "Site"):
        assert label in meta
    assert page.locator(".na-body p").count() >= 2
    assert page.locator("a.na-original").get_attribute("href").endswith("/news/black-sea-grain-corridor-explained.html")
    with sqlite3.connect(f"file:{archive_db}?mode=ro", uri=True) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(images)")}
        has_thumb = "thumbnail" in columns and conn.execute(
            "SELECT i.thumbnail IS NOT NULL FROM images i JOIN article_images ai ON ai.image_id = i.id "
            "WHERE ai.caption = ?", [SAMPLE_CAPTION]).fetchone()[0]
    if has_thumb:  # the archive keeps thumbnails (schema 3): the picture itself is shown
        thumb = lead.locator("img.na-thumbnail")
        thumb.wait_for()
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", thumb.element_handle())
    else:
        assert lead.locator(".na-noimage").count() == 1
    page.screenshot(path=str(screenshots / "article.png"), full_page=True)
    assert (screenshots / "article.png").stat().st_size > 0
    assert watched.dialogs == [] and watched.pwned() == "undefined"


def test_articles_table_opens_on_its_search_and_rows(server, watched):
    """The search box, the facets and the first rows are on the first screen; the columns'
    descriptions open with one click."""
    page = watched.page
    page.goto(server + "/archive/articles")
    screen = page.viewport_size["height"]
    for selector in ("#_search", ".facet-results", "table.rows-and-columns tbody tr"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] < screen, selector
    about = page.locator("details.na-columns")
    assert not about.locator("dd").first.is_visible()
    about.locator("summary").click()
    assert about.locator("dd", has_text="YYYY-MM of published").is_visible()
    assert watched.dialogs == [] and watched.errors == []


def hostile_pages(server: str) -> list[str]:
    aid = stable_id(HOSTILE_URL)
    return [
        f"/archive/articles/{aid}",
        "/-/search?q=hostile",
        "/-/search?q=Credit",
        "/archive/articles?_search=hostile",
        "/archive/article_images?_search=hostile",  # captions and credits are per use (schema 4)
        "/archive/videos",
        "/archive/authors",
        f"/archive/article_images?image_id={stable_id('https://hostile.example/pic.jpg')}",
        "/archive/search_everything?q=hostile",
        "/archive/photos_by_credit?name=Eve",
        "/archive/articles_by_author?name=Mallory",
    ]


@pytest.mark.parametrize("index", range(len(hostile_pages(""))))
def test_hostile_archive_runs_nothing(server, watched, index):
    path = hostile_pages(server)[index]
    page = watched.page
    response = page.goto(server + path)
    assert response.status == 200, path
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert watched.pwned() == "undefined", path
    assert watched.dialogs == [], path
    text = page.inner_text("body")
    assert SCRIPT in text or IMG in text, f"{path}: the hostile text should show as text"
    if path.startswith("/archive/articles/"):
        assert page.inner_text("h1.na-headline") == f"Hostile headline {SCRIPT}{IMG}"
        assert page.locator("figure.na-lead .na-caption").inner_text() == f"Hostile caption {SCRIPT}{IMG}"
        # A javascript: thumbnail URL is neither loaded nor linked.
        assert page.locator("[src^='javascript'], [href^='javascript']").count() == 0


# -- a filtered table search of a common word (docs/performance.md, fourth round) -----------


@pytest.fixture
def bounded_server(tmp_path, monkeypatch):
    """Datasette (the plugin, real uvicorn on 127.0.0.1) over six articles that all say "flood",
    with the table-search bounds lowered (in this process) so that the six count as a common
    word: the search page takes more than 2, a filtered table search looks at the newest 3."""
    import threading

    import uvicorn

    from newsarchive.datasette import pages
    from newsarchive.datasette.serve import make_datasette

    monkeypatch.setattr(pages, "TABLE_SEARCH_CAP", 2)
    monkeypatch.setattr(pages, "NEWEST_MATCHES", 3)
    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        for i in range(6):  # saved in order: report 5 is archived last
            archive.save_article(Article(
                url=f"https://example.com/flood-{i}", site="example", title=f"Flood report {i}",
                published=f"2024-01-{i + 1:02d}", body_text=f"Flood report number {i}."))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_datasette(db).app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def test_filtered_table_search_of_a_common_word(bounded_server, watched):
    """A journalist filters the articles table by site and searches a common word: the table
    shows the newest matches, says so, keeps the word in the box, links to every match; a new
    search from the box is a new search."""
    page = watched.page
    page.goto(bounded_server + "/archive/articles?site=example")
    page.fill("#_search", "flood")
    page.press("#_search", "Enter")
    page.wait_for_selector("p.na-bounded")
    note = page.inner_text("p.na-bounded")
    assert "“flood” is in more than 3 articles" in note and "the 3 archived last" in note
    assert page.input_value("#_search") == "flood"
    titles = page.locator("table.rows-and-columns td.col-title").all_inner_texts()
    assert titles == ["Flood report 5", "Flood report 4", "Flood report 3"]
    assert "3 rows where" in page.inner_text("h3")
    page.click("p.na-bounded a")
    page.wait_for_url("**_na_all=1")
    assert page.locator("p.na-bounded").count() == 0
    assert len(page.locator("table.rows-and-columns td.col-title").all_inner_texts()) == 6
    assert "6 rows where" in page.inner_text("h3")
    page.go_back()
    page.wait_for_selector("p.na-bounded")
    page.fill("#_search", '"number 1"')
    page.press("#_search", "Enter")
    page.wait_for_url("**_search=*number*")
    assert page.locator("table.rows-and-columns td.col-title").all_inner_texts() == ["Flood report 1"]
    assert page.locator("p.na-bounded").count() == 0
    assert watched.dialogs == [] and watched.errors == []
