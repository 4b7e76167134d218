"""Fault injection: one crawl of a hostile local site (tests/sites/hostile.py) into a real archive.

Every input is served by a real HTTP server on 127.0.0.1 (a second one on 127.0.0.2 plays
"another site"); the crawl is a real ``newsarchive crawl`` subprocess. Each test asserts, for
one input, the article archived or the ``failures`` row (stage and a readable reason). The few
inputs that need an archive's history (a page that later redirects to a 404, another site
claiming an archived article) crawl again into a copy of the archive.
"""
from __future__ import annotations

import gzip
import random
import re
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import sqlite_utils

from newsarchive.middlewares.checks import decoded, inflate_checked
from newsarchive.extract.document import TooDeep, UndecodablePage, decode, parse
from newsarchive.store.archive import stable_id
from tests.conftest import FAST, run_newsarchive
from tests.sites.hostile import (
    BILLION_LAUGHS,
    HostileSite,
    article_html,
    deflate_bomb,
    gzip_bytes,
    jpeg_bytes,
    paragraph,
    png_header_only,
)

#: Download limits short enough for the suite to take seconds, not minutes.
TIMEOUT_S = 6  # long enough for a busy machine, short enough for a fast suite
#: Inflated size of the gzip bomb: past DOWNLOAD_MAXSIZE (32 MB).
BOMB_BYTES = 200 << 20
LIMITS = ("-s", f"DOWNLOAD_TIMEOUT={TIMEOUT_S}", "-s", "RETRY_TIMES=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
          "-s", "CONCURRENT_REQUESTS=16", "-s", "NEWSARCHIVE_WARC_ENABLED=False")
GOOD_PAGES = [f"/good/{n}.html" for n in range(1, 4)]
HOME_CANONICAL_PAGES = [f"/home-canonical/{n}.html" for n in range(1, 6)]
#: No Python reprs, no Twisted exception names in a reason a journalist reads.
UNREADABLE = re.compile(r"<[\w.]+ object at 0x|\bat 0x[0-9a-f]+|Connection was closed cleanly|\w+Error\(|\[<")


def _serve_identity(site: HostileSite, other: HostileSite) -> list[str]:
    for n, path in enumerate(GOOD_PAGES, 1):
        site.page(path, article_html(f"Good article number {n}", canonical=site.url(path)))
    site.page("/forged-canonical.html", article_html(
        "A page that claims another site's article", canonical=other.url("/their/article.html")))
    for n, path in enumerate(HOME_CANONICAL_PAGES, 1):
        site.page(path, article_html(f"Template canonical story {n}", canonical=site.url("/")))
    site.redirect("/redirect-offsite.html", other.url("/landing.html"))
    # Another host name for this very server, and a port where nothing listens.
    site.redirect("/redirect-localhost.html", site.url("/good/1.html").replace("127.0.0.1", "localhost"))
    site.redirect("/redirect-dead-host.html", "http://127.0.0.3:9/article.html")
    other.page("/landing.html", article_html("Another site's landing page"))
    site.page("/moved.html", article_html("A story that will move away"))
    return ["/forged-canonical.html", *HOME_CANONICAL_PAGES, "/redirect-offsite.html", "/redirect-localhost.html",
            "/redirect-dead-host.html", "/moved.html"]


RUSSIAN = ("Новости дня: в городе прошло заседание совета, депутаты обсудили бюджет, транспорт и школы. "
           "Жители задали вопросы о ремонте моста и новой библиотеке. ")
JAPANESE = "東京都議会は本日、新しい予算案を可決しました。住民の生活に関わる重要な決定で、橋の修理と図書館の改修が含まれます。"


def _serve_bodies(site: HostileSite) -> list[str]:
    """Bodies that lie: cut short, broken gzip, binary data sent as HTML, wrong charsets, deep markup."""
    long_page = article_html("A long report cut short", paragraphs=40).encode()
    site.routes["/truncated-length.html"] = lambda h: h.answer(
        200, long_page[: len(long_page) // 2], "text/html; charset=utf-8", content_length=len(long_page))
    packed = gzip_bytes(long_page)
    site.page("/truncated-gzip.html", packed[: len(packed) // 2], headers={"Content-Encoding": "gzip"})
    site.page("/pdf-as-html.html", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 40)
    site.page("/binary-as-html.html", random.Random(12).randbytes(20_000))
    deep_text = "".join(f"<p>{paragraph(n)}</p>" for n in range(8))
    site.page("/deep-nesting.html", "<html><head><title>Nested a hundred thousand deep</title></head><body>"
              + "<div>" * 100_000 + f"<h1>Nested a hundred thousand deep</h1>{deep_text}" + "</div>" * 100_000
              + "</body></html>")
    site.page("/cp1251-no-charset.html", article_html("Новости дня", charset=None, body_text=f"<p>{RUSSIAN * 4}</p>")
              .encode("cp1251"), content_type="text/html")
    site.page("/sjis-labelled-utf8.html", article_html("東京都議会のニュース", body_text=f"<p>{JAPANESE * 4}</p>")
              .encode("shift_jis"))
    site.page("/utf8-labelled-latin1.html", article_html(
        "Élection à Zürich: les électeurs ont décidé", charset="iso-8859-1",
        body_text="<p>" + "Le conseil municipal a voté le budget de l'année après un débat animé. " * 12 + "</p>"),
        content_type="text/html; charset=iso-8859-1")
    site.page("/undecodable.html", b"<html><head><title>x</title></head><body><p>" + b"ab\xff\xfe\xfa\x80" * 400
              + b"</p></body></html>")
    site.page("/utf16-no-bom.html", article_html("Sixteen bits a character", charset=None).encode("utf-16-le"),
              content_type="text/html")
    return ["/truncated-length.html", "/truncated-gzip.html", "/pdf-as-html.html", "/binary-as-html.html",
            "/deep-nesting.html", "/cp1251-no-charset.html", "/sjis-labelled-utf8.html",
            "/utf8-labelled-latin1.html", "/undecodable.html", "/utf16-no-bom.html"]


def _serve_network(site: HostileSite) -> list[str]:
    """Answers that fail on the wire: nothing, too much, never, forever, a reset, a loop."""
    site.page("/empty.html", b"")
    site.page("/server-error.html", "<h1>Internal Server Error</h1>", status=500)
    site.redirect("/redirect-loop.html", "/redirect-loop-2.html")
    site.redirect("/redirect-loop-2.html", "/redirect-loop.html")
    site.routes["/reset.html"] = lambda h: h.reset()
    site.routes["/header-1mb.html"] = lambda h: h.answer(200, b"<p>x</p>", "text/html", {"X-Padding": "x" * (1 << 20)})
    huge = b"<html><body>" + b"<p>" + b"word " * (10 << 20) + b"</p></body></html>"  # 50 MB
    site.page("/huge-50mb.html", huge)
    site.page("/gzip-bomb.html", deflate_bomb(BOMB_BYTES), headers={"Content-Encoding": "gzip"})
    trickled = article_html("A slow but complete page").encode()
    site.routes["/slow-trickle.html"] = lambda h: h.trickle(trickled, chunk=len(trickled) // 10 + 1, pause=0.15)
    site.routes["/timeout.html"] = lambda h: time.sleep(TIMEOUT_S + 3)
    site.redirect("/redirect-to-timeout.html", "/timeout.html")
    site.page("/huge-10mb.html", _huge_article(10_000_000))
    return ["/huge-10mb.html", "/empty.html", "/server-error.html", "/redirect-loop.html", "/reset.html", "/header-1mb.html",
            "/huge-50mb.html", "/gzip-bomb.html", "/slow-trickle.html", "/timeout.html", "/redirect-to-timeout.html"]


def _huge_article(size: int) -> str:
    """An article of ``size`` bytes of paragraphs (text, not scripts: the worst case for memory)."""
    paragraphs, total, n = [], 0, 0
    while total < size:
        paragraphs.append(f"<p>{paragraph(n)}</p>")
        total, n = total + len(paragraphs[-1]), n + 1
    return article_html("Ten megabytes of text", body_text="\n".join(paragraphs))


PICTURES = {  # path -> (bytes, Content-Type)
    "/img/good.jpg": (jpeg_bytes(1), "image/jpeg"),
    "/img/truncated.jpg": (jpeg_bytes(2)[:400], "image/jpeg"),
    "/img/bomb.png": (png_header_only(40_000, 40_000), "image/png"),
    "/img/vector.svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
                        "image/svg+xml"),
    "/img/page.jpg": (b"<html><body><h1>Not found</h1></body></html>", "image/jpeg"),
}


def _figure(path: str, caption: str) -> str:
    return f'<figure><img src="{path}" alt="{caption}"><figcaption>{caption} Photo: Ola Nordmann/Harbour Press</figcaption></figure>'


SHARED_PICTURE_PAGES = [f"/shared-picture/{n}.html" for n in range(1, 5)]


def _shared_caption(n: int) -> str:
    return f"Caption {('one', 'two', 'three', 'four')[n - 1]}: the ferry seen from pier {n}."


def _serve_pictures(site: HostileSite) -> list[str]:
    for path, (data, ctype) in PICTURES.items():
        site.page(path, data, content_type=ctype)
    site.page("/img/shared.jpg", jpeg_bytes(7), content_type="image/jpeg")
    for n, path in enumerate(SHARED_PICTURE_PAGES, 1):
        figure = (f'<figure><img src="/img/shared.jpg" alt="Ferry {n}"><figcaption>{_shared_caption(n)} '
                  f'Photo: Photographer {n}/Agency {n}</figcaption></figure>')
        site.page(path, article_html(f"Four stories, one picture ({n})", figure=figure))
    figures = "".join(_figure(p, f"Picture {n} of the harbour at night.") for n, p in enumerate(PICTURES, 1))
    site.page("/pictures.html", article_html("Five pictures, four of them broken", figure=figures))
    return ["/pictures.html", *SHARED_PICTURE_PAGES]


def _sitemap(site: HostileSite, paths: list[str]) -> str:
    entries = "".join(f"<url><loc>{site.url(p)}</loc></url>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def crawl(db_path: Path, site: HostileSite, *, name: str = "hostile", start_urls: list[str] | None = None):
    host = site.base_url.split("//", 1)[1].split(":", 1)[0]
    where = (["-a", "start_urls=" + ",".join(start_urls)] if start_urls
             else ["-a", f"sitemaps={site.url('/sitemap.xml')},{site.url('/laughs.xml')}"])
    result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, *LIMITS, "-a", f"site={name}",
                             "-a", f"domains={host}", *where, timeout=120)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    outcome = next(db.query("select outcome from crawls order by id desc limit 1"))["outcome"]
    assert outcome == "finished", result.stderr[-3000:]
    return db


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The two sites, and the archive of one crawl of the hostile one."""
    with HostileSite("127.0.0.1") as site, HostileSite("127.0.0.2") as other:
        paths = [*GOOD_PAGES, *_serve_identity(site, other), *_serve_bodies(site), *_serve_network(site),
                 *_serve_pictures(site)]
        site.page("/sitemap.xml", _sitemap(site, paths), content_type="application/xml")
        site.page("/laughs.xml", BILLION_LAUGHS.format(base=site.base_url), content_type="application/xml")
        db_path = tmp_path_factory.mktemp("hostile") / "hostile.db"
        db = crawl(db_path, site)
        yield site, other, db


def article(db: sqlite_utils.Database, url: str) -> dict | None:
    return next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where url = ?", [url]), None)


def failure(db: sqlite_utils.Database, url: str) -> dict | None:
    row = next(db.query("select * from failures where url = ?", [url]), None)
    if row is not None:
        assert not UNREADABLE.search(row["reason"] or ""), row["reason"]
    return row


def test_every_good_page_is_archived(hostile):
    site, _, db = hostile
    for n, path in enumerate(GOOD_PAGES, 1):
        row = article(db, site.url(path))
        assert row is not None and row["title"] == f"Good article number {n}"
        assert row["word_count"] > 200 and failure(db, site.url(path)) is None


# -- identity ---------------------------------------------------------------------------
def test_a_canonical_on_another_host_is_not_the_pages_identity(hostile):
    site, other, db = hostile
    url = site.url("/forged-canonical.html")
    row = article(db, url)
    assert row is not None and row["canonical_url"] == url and row["id"] == stable_id(url)
    assert not list(db.query("select id from articles where url like ? or canonical_url like ?",
                             [other.base_url + "%"] * 2))


def test_five_pages_declaring_the_home_page_canonical_stay_five_rows(hostile):
    site, _, db = hostile
    rows = [article(db, site.url(p)) for p in HOME_CANONICAL_PAGES]
    assert [r["title"] for r in rows] == [f"Template canonical story {n}" for n in range(1, 6)]
    assert len({r["id"] for r in rows}) == 5
    assert db.execute("select count(*) from revisions").fetchone()[0] == 0


def test_a_redirect_off_the_site_is_an_offsite_failure(hostile):
    site, other, db = hostile
    row = failure(db, site.url("/redirect-offsite.html"))
    assert row["stage"] == "offsite" and row["http_status"] == 302
    assert row["reason"] == f"redirected off the site's domains to {other.url('/landing.html')}"
    assert article(db, other.url("/landing.html")) is None
    assert article(db, site.url("/redirect-offsite.html")) is None
    assert "/landing.html" not in other.hits  # the redirect was not followed


@pytest.mark.parametrize("path, target", [
    ("/redirect-localhost.html", "http://localhost:{port}/good/1.html"),
    ("/redirect-dead-host.html", "http://127.0.0.3:9/article.html"),
])
def test_a_redirect_to_another_host_name_or_a_dead_host_is_offsite(hostile, path, target):
    site, _, db = hostile
    target = target.format(port=site.base_url.rsplit(":", 1)[1])
    row = failure(db, site.url(path))
    assert (row["stage"], row["reason"]) == ("offsite", f"redirected off the site's domains to {target}")
    assert not list(db.query("select url from articles where url like 'http://localhost%' or url like ?",
                             [site.url(path)]))
    assert not list(db.query("select url from failures where url = ?", [target]))


def test_every_input_is_an_article_or_a_failure(hostile):
    site, _, db = hostile
    paths = [p for p in site.routes if p.endswith(".html") and not p.startswith("/redirect-loop-2")]
    archived = {r["url"] for r in db.query("select url from articles")}
    failed = {r["url"] for r in db.query("select url from failures")}
    missing = [p for p in paths if site.url(p) not in archived | failed]
    assert not missing and len(paths) >= 35


def test_another_site_cannot_overwrite_an_archived_article(hostile, tmp_path):
    site, other, db = hostile
    copy = tmp_path / "copy.db"
    shutil.copy(db.conn.execute("pragma database_list").fetchone()[2], copy)
    victim = site.url(GOOD_PAGES[0])
    before = article(db, victim)
    other.page("/poison.html", article_html("Poisoned copy", canonical=victim))
    after = crawl(copy, other, name="othersite", start_urls=[other.url("/poison.html")])
    assert article(after, victim) == {**before, "last_seen": article(after, victim)["last_seen"]}
    poison = article(after, other.url("/poison.html"))
    assert poison["site"] == "othersite" and poison["canonical_url"] == other.url("/poison.html")
    assert after.execute("select count(*) from revisions").fetchone()[0] == 0


def test_a_page_that_later_redirects_off_the_site_is_marked_removed(hostile, tmp_path):
    site, other, db = hostile
    copy = tmp_path / "copy.db"
    shutil.copy(db.conn.execute("pragma database_list").fetchone()[2], copy)
    page = site.url(GOOD_PAGES[1])
    site.redirect(GOOD_PAGES[1], other.url("/elsewhere.html"))
    try:
        after = crawl(copy, site, start_urls=[page])
    finally:
        site.page(GOOD_PAGES[1], article_html("Good article number 2", canonical=page))
    row = article(after, page)
    assert row["title"] == "Good article number 2" and row["removed_at"]
    assert row["removed_reason"] == f"redirected to {other.url('/elsewhere.html')}"
    assert failure(after, page)["stage"] == "offsite" and "/elsewhere.html" not in other.hits


def test_a_page_that_later_redirects_to_a_404_is_marked_removed(hostile, tmp_path):
    site, _, db = hostile
    copy = tmp_path / "copy.db"
    shutil.copy(db.conn.execute("pragma database_list").fetchone()[2], copy)
    moved = site.url("/moved.html")
    assert article(db, moved)["removed_at"] is None
    site.redirect("/moved.html", site.url("/moved-and-gone.html"), status=301)
    after = crawl(copy, site, start_urls=[moved])
    row = article(after, moved)
    assert row["removed_at"] and "404" in row["removed_reason"]
    gone = failure(after, moved)
    assert gone["stage"] == "http" and gone["http_status"] == 404
    assert gone["reason"] == f"HTTP 404 (redirected to {site.url('/moved-and-gone.html')})"
    assert failure(after, site.url("/moved-and-gone.html")) is None


# -- truthful bodies --------------------------------------------------------------------
@pytest.mark.parametrize("path, stage, reason", [
    ("/truncated-length.html", "truncated",
     "body cut short: the connection closed before the Content-Length the server declared"),
    ("/truncated-gzip.html", "truncated", "body cut short: the gzip stream ends early"),
    ("/pdf-as-html.html", "content-type", "not text: a PDF document"),
    ("/binary-as-html.html", "content-type", "not text: binary data"),
    ("/undecodable.html", "decode", "undecodable: the bytes are not valid utf-8"),
])
def test_a_body_that_lies_is_a_failure_not_an_article(hostile, path, stage, reason):
    site, _, db = hostile
    row = failure(db, site.url(path))
    assert row is not None and (row["stage"], row["reason"][:len(reason)]) == (stage, reason)
    assert article(db, site.url(path)) is None


@pytest.mark.parametrize("path, title, body_start", [
    ("/cp1251-no-charset.html", "Новости дня", RUSSIAN[:40]),
    ("/sjis-labelled-utf8.html", "東京都議会のニュース", JAPANESE[:20]),
    ("/utf8-labelled-latin1.html", "Élection à Zürich: les électeurs ont décidé", "Le conseil municipal a voté"),
    ("/utf16-no-bom.html", "Sixteen bits a character", paragraph(len("Sixteen bits a character"))[:30]),
])
def test_a_page_in_a_misdeclared_charset_is_read_in_its_real_one(hostile, path, title, body_start):
    site, _, db = hostile
    row = article(db, site.url(path))
    assert row["title"] == title and row["body_text"].startswith(body_start)
    assert "\ufffd" not in row["body_text"] and failure(db, site.url(path)) is None


def test_markup_nested_deeper_than_the_parser_goes_keeps_its_body(hostile):
    site, _, db = hostile
    row = article(db, site.url("/deep-nesting.html"))
    assert row["title"] == "Nested a hundred thousand deep"
    assert row["body_text"].startswith(paragraph(0)[:40]) and row["word_count"] >= 8 * 60


def test_utf8_with_a_stray_byte_stays_utf8_and_undecodable_bytes_are_named():
    page = ("<html><head><meta charset='iso-8859-1'><title>Zürich</title></head><body><p>"
            + "Größere Brücken für Zürich und Genève. " * 10 + "</p></body></html>").encode()
    broken = page.replace("Genève".encode(), b"Gen\xe8ve", 1)  # one latin-1 byte in a UTF-8 page
    assert decode(broken).count("Größere Brücken") == 10 and decode(broken).count("\ufffd") == 1
    with pytest.raises(UndecodablePage):
        decode(b"<p>" + b"\x81\xfe\xfa\x80" * 300 + b"</p>", "utf-8")


@pytest.mark.parametrize("bom, encoding", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                                           (b"\xfe\xff", "utf-16-be")])
def test_a_byte_order_mark_names_the_encoding_whatever_the_label(bom, encoding):
    page = article_html("Zürich, Genève", charset="iso-8859-1")
    assert decode(bom + page.encode(encoding), "windows-1251") == page


def test_markup_too_deep_even_without_containers_is_a_named_error():
    with pytest.raises(TooDeep):
        parse("<html><body>" + "<q>" * 100_000 + "text" + "</q>" * 100_000 + "</body></html>")



# -- the wire: every failure has a stage and a readable reason ---------------------------
@pytest.mark.parametrize("path, stage, reason", [
    ("/empty.html", "extract", "empty document"),
    ("/server-error.html", "http", "HTTP 500"),
    ("/redirect-loop.html", "redirect", "redirect loop: gave up after 20 redirects (REDIRECT_MAX_TIMES), last to "),
    ("/reset.html", "download", "the server closed the connection without a complete answer"),
    ("/header-1mb.html", "download", "the server closed the connection without a complete answer"),
    ("/huge-50mb.html", "download", "too large: 52428833 bytes, more than DOWNLOAD_MAXSIZE (33554432 bytes)"),
    ("/gzip-bomb.html", "truncated", "compression bomb: the gzip body inflates past 33554432 bytes"),
    ("/timeout.html", "download", f"timed out: no complete answer in time (DOWNLOAD_TIMEOUT {TIMEOUT_S} s)"),
])
def test_a_fault_on_the_wire_is_a_readable_failure(hostile, path, stage, reason):
    site, _, db = hostile
    row = failure(db, site.url(path))
    assert row is not None and (row["stage"], row["reason"][:len(reason)]) == (stage, reason)
    assert article(db, site.url(path)) is None


def test_a_fault_after_a_redirect_is_filed_under_the_page_asked_for(hostile):
    site, _, db = hostile
    row = failure(db, site.url("/redirect-to-timeout.html"))
    assert (row["stage"], row["reason"]) == (
        "download", f"timed out: no complete answer in time (DOWNLOAD_TIMEOUT {TIMEOUT_S} s) "
                    f"(redirected to {site.url('/timeout.html')})")


def test_a_slow_but_complete_page_is_archived(hostile):
    site, _, db = hostile
    assert article(db, site.url("/slow-trickle.html"))["title"] == "A slow but complete page"


def test_a_billion_laughs_sitemap_expands_nothing(hostile):
    site, _, db = hostile
    urls = [r["url"] for r in db.query("select url from failures union select url from articles")]
    assert not any("lol" in u for u in urls)
    assert site.hits.get("/laughs.xml") == 1


@pytest.mark.parametrize("path, reason", [
    ("/img/truncated.jpg", "not a readable picture: a broken JPEG file (400 bytes)"),
    ("/img/bomb.png", "more pixels than NEWSARCHIVE_IMAGE_MAX_PIXELS (50000000)"),
    ("/img/vector.svg", "not a readable picture: an SVG drawing"),
    ("/img/page.jpg", "not a readable picture: an HTML page"),
])
def test_a_broken_picture_is_a_failure_and_its_article_is_kept(hostile, path, reason):
    site, _, db = hostile
    row = failure(db, site.url(path))
    assert row["stage"] == "image" and row["reason"].startswith(reason), row["reason"]
    assert next(db.query("select file_format from images where url = ?", [site.url(path)]))["file_format"] is None
    good = next(db.query("select * from images where url = ?", [site.url("/img/good.jpg")]))
    assert good["file_format"] == "JPEG" and good["sha256"]
    assert article(db, site.url("/pictures.html"))["title"] == "Five pictures, four of them broken"


def test_no_failure_reason_is_a_python_repr(hostile):
    _, _, db = hostile
    reasons = [r["reason"] for r in db.query("select reason from failures")]
    assert len(reasons) >= 18 and not [r for r in reasons if UNREADABLE.search(r or "")]



# -- bounded memory ---------------------------------------------------------------------
def test_a_ten_megabyte_page_is_archived_from_its_first_part_and_the_cut_is_said(hostile):
    site, _, db = hostile
    url = site.url("/huge-10mb.html")
    row = article(db, url)
    assert row["title"] == "Ten megabytes of text" and 200_000 < row["word_count"] < 400_000
    cut = failure(db, url)
    assert cut["stage"] == "page-cut" and cut["http_status"] == 200
    assert re.fullmatch(r"page of \d{8} bytes \(\d+ without scripts and styles\): only the first 20\d{5} bytes "
                        r"were extracted \(NEWSARCHIVE_MAX_PAGE_BYTES\); the text after them is not archived",
                        cut["reason"]), cut["reason"]


MEMORY_PROBE = """
import resource, sys
from newsarchive.extract import extract_article
from newsarchive.extract.document import fit_page
from tests.sites.hostile import article_html
from tests.test_hostile import _huge_article
extract_article("http://127.0.0.1/small.html", article_html("Warm-up").encode())
page = _huge_article(10_000_000).encode()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
body, cut = fit_page(page, max_bytes=2 * 1024 * 1024)
article = extract_article("http://127.0.0.1/huge.html", body)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, len(article.body_text))
"""
#: Extra peak memory one 10 MB page may cost under the default cap (uncapped: about 250 MB).
MAX_PAGE_MEMORY_MB = 80


def test_a_ten_megabyte_page_costs_tens_of_megabytes_not_hundreds():
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE], cwd=Path(__file__).parents[1], capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    extra_mb, body_chars = int(out[0]), int(out[1])
    assert extra_mb < MAX_PAGE_MEMORY_MB and body_chars > 1_000_000



# -- captions belong to the use ---------------------------------------------------------
def test_one_picture_in_four_articles_keeps_each_articles_caption_and_credit(hostile):
    site, _, db = hostile
    picture = site.url("/img/shared.jpg")
    assert [r["sha256"] is not None for r in db.query("select sha256 from images where url = ?", [picture])] == [True]
    uses = {r["url"]: r for r in db.query(
        "select a.url, ai.caption, ai.credit, ai.alt from article_images ai join articles a on a.id = ai.article_id "
        "join images i on i.id = ai.image_id where i.url = ?", [picture])}
    assert len(uses) == 4
    for n, path in enumerate(SHARED_PICTURE_PAGES, 1):
        use = uses[site.url(path)]
        assert (use["caption"], use["credit"], use["alt"]) == (_shared_caption(n), f"Photographer {n}/Agency {n}", f"Ferry {n}")
        found = db.execute("select count(*) from article_images_fts where article_images_fts match ?",
                           [f'"pier {n}"']).fetchone()[0]
        assert found == 1


def compressed_body_problem(body: bytes, encoding: bytes, *, max_size: int = 0) -> str | None:
    return inflate_checked(body, encoding, max_size=max_size)[0]


def test_a_compressed_body_is_judged_by_its_stream():
    page = gzip.compress(article_html("Whole").encode())
    assert compressed_body_problem(page, b"gzip") is None
    # A wrong CRC in the trailer of a whole stream is tolerated, as Scrapy's gunzip does.
    assert compressed_body_problem(page[:-8] + b"\0\0\0\0" + page[-4:], b"gzip") is None
    assert compressed_body_problem(page[: len(page) // 2], b"gzip").startswith("body cut short")
    assert compressed_body_problem(b"<html>plain</html>", b"gzip").startswith("corrupt gzip body")
    assert compressed_body_problem(zlib.compress(b"<p>deflate</p>"), b"deflate") is None
    assert compressed_body_problem(deflate_bomb(4 << 20), b"gzip", max_size=1 << 20).startswith("compression bomb")


def test_a_clean_compressed_body_is_inflated_once_and_handed_on_decoded():
    """The body check keeps what it inflated, so that Scrapy's HttpCompressionMiddleware does not
    inflate the page again; what it cannot vouch for is left to that middleware as before."""
    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
    from scrapy.http import HtmlResponse, Request, Response
    from scrapy.utils.test import get_crawler

    html = article_html("Once").encode()
    page = gzip.compress(html)
    assert inflate_checked(page, b"gzip") == (None, html)
    assert inflate_checked(zlib.compress(html), b"deflate") == (None, html)
    # a tolerated bad trailer, and a second gzip member: Scrapy's own decoding decides
    assert inflate_checked(page[:-8] + b"\0\0\0\0" + page[-4:], b"gzip") == (None, None)
    assert inflate_checked(page + gzip.compress(b"more"), b"gzip") == (None, None)
    problem, body = inflate_checked(page[:-20], b"gzip")
    assert problem.startswith("body cut short") and body is None

    request = Request("https://ex.com/a")
    raw = Response(request.url, body=page, request=request,
                   headers={"Content-Encoding": "gzip", "Content-Type": "text/html; charset=utf-8"})
    out = decoded(raw, html)
    assert isinstance(out, HtmlResponse) and out.body == html and "Once" in out.text
    assert b"Content-Encoding" not in out.headers
    assert raw.headers[b"Content-Encoding"] == b"gzip"  # the captured response keeps its own
    # Scrapy's middleware has nothing left to decode: the same response comes back
    scrapys = HttpCompressionMiddleware.from_crawler(get_crawler())
    assert scrapys.process_response(request, out) is out


def test_the_hostile_archive_serves_every_table_and_query(hostile):
    """The archive this crawl wrote, through a real Datasette: every table, every canned query and
    every article page answers 200."""
    import asyncio

    from newsarchive.datasette.serve import load_metadata, make_datasette

    _, _, db = hostile
    path = Path(db.conn.execute("pragma database_list").fetchone()[2])
    name = path.stem
    paths = [f"/{name}/{t}" for t in db.table_names()]
    paths += [f"/{name}/{q}?q=harbour&name=Ola" for q in load_metadata(path)["databases"][name]["queries"]]
    paths += [f"/{name}/articles/{r['id']}" for r in db.query("select id from articles")]
    paths += ["/-/search?q=harbour", "/-/search?q=Новости"]

    async def fetch_all():
        ds = make_datasette(path)
        await ds.invoke_startup()
        return [(p, (await ds.client.get(p)).status_code) for p in paths]

    assert [(p, status) for p, status in asyncio.run(fetch_all()) if status != 200] == []
