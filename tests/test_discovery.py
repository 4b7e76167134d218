"""Discovery through a real crawl: robots.txt → sitemap index → news and video sitemaps, RSS with
?page=N paging, Atom, a section page; newest first; inside the site's domains; polite."""
from __future__ import annotations

import gzip
import json

import pytest
import sqlite_utils

from newsarchive.demo.server import SiteServer
from newsarchive.discovery import parse_feed, parse_sitemap
from tests.conftest import run_newsarchive

ARTICLES = {  # slug: publication date (a site written by this test)
    "sitemap-story-january-one": "2025-01-01T08:00:00+00:00",
    "sitemap-story-march-three": "2025-03-03T08:00:00+00:00",
    "sitemap-story-february-two": "2025-02-02T08:00:00+00:00",
    "feed-story-page-one": "2025-04-01T08:00:00+00:00",
    "feed-story-page-two": "2025-04-02T08:00:00+00:00",
    "atom-story-entry-one": "2025-04-03T08:00:00+00:00",
    "section-story-linked-only": None,
    "video-page-with-player": "2025-04-04T08:00:00+00:00",
}


def page(slug: str) -> str:
    words = slug.replace("-", " ")
    return (f"<html lang='en'><head><title>{words.title()}</title></head><body><article><h1>{words.title()}</h1>"
            f"<p>This page, {words}, was written for the discovery test. It has two paragraphs so that it is "
            f"archived as an article with a body of some length.</p><p>The second paragraph of {words} says "
            f"nothing more than that, in enough words to count as a body.</p></article></body></html>")


def urlset(slugs: list[str], *, video: bool = False) -> str:
    entries = []
    for slug in slugs:
        date = ARTICLES[slug]
        extra = (f"<video:video><video:title>{slug}</video:title><video:publication_date>{date}"
                 f"</video:publication_date></video:video>" if video else
                 f"<news:news><news:publication_date>{date}</news:publication_date><news:title>{slug}</news:title></news:news>")
        entries.append(f"<url><loc>{{{{BASE}}}}/articles/{slug}</loc>{extra}</url>")
    return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
            'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">' + "".join(entries) + "</urlset>")


def rss(slug: str) -> str:
    return (f"<rss version='2.0'><channel><title>t</title><item><title>{slug}</title>"
            f"<link>{{{{BASE}}}}/articles/{slug}</link><pubDate>Wed, 02 Apr 2025 08:00:00 GMT</pubDate></item>"
            f"</channel></rss>")


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "articles").mkdir(parents=True)
    for slug in ARTICLES:
        (root / "articles" / f"{slug}.html").write_text(page(slug))
    # The server answers /articles/SLUG from SLUG.html through routes (clean URLs, as news sites use).
    routes = {f"/articles/{slug}": {"body": page(slug)} for slug in ARTICLES}
    routes["/feed.rss?page=2"] = {"body": rss("feed-story-page-two"), "content_type": "application/rss+xml"}
    routes["/private/hidden-story-never-fetched"] = {"body": page("feed-story-page-one")}
    (root / "routes.json").write_text(json.dumps(routes))
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\nSitemap: {{BASE}}/sitemap-index.xml\n")
    (root / "sitemap-index.xml").write_text(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>{{BASE}}/news-sitemap.xml</loc></sitemap><sitemap><loc>{{BASE}}/video-sitemap.xml</loc></sitemap>"
        "<sitemap><loc>https://elsewhere.example/sitemap.xml</loc></sitemap></sitemapindex>")
    (root / "news-sitemap.xml").write_text(urlset(["sitemap-story-january-one", "sitemap-story-march-three",
                                                   "sitemap-story-february-two"]))
    (root / "video-sitemap.xml").write_text(urlset(["video-page-with-player"], video=True))
    (root / "feed.rss").write_text(rss("feed-story-page-one"))
    (root / "atom.xml").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title>'
        '<link rel="alternate" href="{{BASE}}/articles/atom-story-entry-one"/><updated>2025-04-03T08:00:00Z</updated>'
        "</entry></feed>")
    (root / "index.html").write_text(
        "<html><body><a href='/articles/section-story-linked-only'>story</a>"
        "<a href='/tag/some-topic-page-here'>tag</a><a href='https://elsewhere.example/a-b-c-d'>offsite</a>"
        "<a href='/private/hidden-story-never-fetched'>hidden</a></body></html>")
    with SiteServer(root) as server:
        yield server


def test_every_source_is_discovered_inside_the_site(tmp_path, site):
    db_path = tmp_path / "discovery.db"
    base = site.base_url
    result = run_newsarchive(
        "crawl", "news", "--db", str(db_path), "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        "-s", "CONCURRENT_REQUESTS=1", "-s", "NEWSARCHIVE_CONTACT_URL=https://newsroom.example/crawler",
        "-a", "site=disco", "-a", f"robots={base}/robots.txt", "-a", f"feeds={base}/feed.rss,{base}/atom.xml",
        "-a", "feed_pages=2", "-a", f"sections={base}/", "-a", "skip_patterns=^/tag/",
        "-a", "video_patterns=^/articles/video-")
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    archived = {r["url"].rsplit("/", 1)[-1]: r["kind"] for r in db.query("select url, kind from articles")}
    assert set(archived) == set(ARTICLES)
    assert archived["video-page-with-player"] == "video"
    paths = [path for path, _ in site.requests]
    assert "/tag/some-topic-page-here" not in paths
    assert "/private/hidden-story-never-fetched" not in paths  # robots.txt obeyed
    assert "/feed.rss?page=2" in paths
    # Newest first: the news sitemap lists January, March, February; they are fetched March first.
    order = [p.rsplit("/", 1)[-1] for p in paths if p.startswith("/articles/sitemap-story")]
    assert order == ["sitemap-story-march-three", "sitemap-story-february-two", "sitemap-story-january-one"]
    # Polite: the User-Agent carries the contact URL from the settings.
    agents = {headers.get("User-Agent") for _, headers in site.requests}
    assert agents == {f"newsarchive/0.1.0 (+https://newsroom.example/crawler)"}
    assert [(r["url"].rsplit("/", 1)[-1], r["stage"], r["reason"]) for r in db.query("select * from failures")] == [
        ("hidden-story-never-fetched", "ignored", "Forbidden by robots.txt")]


def test_sitemap_and_feed_parsers_keep_dates_titles_and_kinds():
    doc = parse_sitemap(urlset(["sitemap-story-march-three"]).replace("{{BASE}}", "http://x").encode(), "http://x/")
    assert not doc.is_index
    assert doc.links[0].url == "http://x/articles/sitemap-story-march-three"
    assert doc.links[0].date == "2025-03-03T08:00:00+00:00" and doc.links[0].title == "sitemap-story-march-three"
    video = parse_sitemap(urlset(["video-page-with-player"], video=True).encode(), "http://x/")
    assert video.links[0].kind == "video"
    links = parse_feed(rss("feed-story-page-two").replace("{{BASE}}", "http://x").encode(), "http://x/feed")
    assert [(l.url, l.date) for l in links] == [("http://x/articles/feed-story-page-two", "2025-04-02T08:00:00+00:00")]
    assert parse_feed(b"\x00\x01 not xml", "http://x/") == []
    assert parse_sitemap(b"", "http://x/").links == []


def test_only_a_modification_date_is_a_links_modified_date():
    """A publication date (news:publication_date, RSS pubDate) orders links but never says a page is
    unchanged; sitemap <lastmod> and Atom <updated> do."""
    news = parse_sitemap(urlset(["sitemap-story-march-three"]).replace("{{BASE}}", "http://x").encode(), "http://x/")
    assert (news.links[0].date, news.links[0].modified) == ("2025-03-03T08:00:00+00:00", None)
    lastmod = parse_sitemap(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://x/a</loc>'
                            b"<lastmod>2025-05-01T10:00:00+02:00</lastmod></url></urlset>", "http://x/")
    assert lastmod.links[0].modified == lastmod.links[0].date == "2025-05-01T08:00:00+00:00"
    rss_links = parse_feed(rss("feed-story-page-two").replace("{{BASE}}", "http://x").encode(), "http://x/feed")
    assert rss_links[0].date and rss_links[0].modified is None
    atom = parse_feed(b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="http://x/b"/>'
                      b"<published>2025-04-01T08:00:00Z</published><updated>2025-04-02T09:00:00Z</updated></entry></feed>",
                      "http://x/atom")
    assert (atom[0].date, atom[0].modified) == ("2025-04-01T08:00:00+00:00", "2025-04-02T09:00:00+00:00")


def test_gzipped_sitemaps_are_read_like_plain_ones(tmp_path):
    """A real crawl: robots.txt names a gzipped sitemap index (sitemap.xml.gz, served as a file), which
    names a news sitemap of gzip bytes without the extension and one that is too large once
    decompressed. Files written by this test."""
    root = tmp_path / "site"
    (root / "articles").mkdir(parents=True)
    slugs = ["sitemap-story-february-two", "sitemap-story-january-one"]  # dated in ARTICLES
    routes = {f"/articles/{slug}": {"body": page(slug)} for slug in slugs}
    (root / "routes.json").write_text(json.dumps(routes))
    (root / "robots.txt").write_text("User-agent: *\nSitemap: {{BASE}}/sitemap.xml.gz\n")
    db_path = tmp_path / "gz.db"
    with SiteServer(root) as site:
        base = site.base_url
        (root / "sitemap.xml.gz").write_bytes(gzip.compress(
            ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             f"<sitemap><loc>{base}/sitemap-news</loc></sitemap><sitemap><loc>{base}/sitemap-huge.xml.gz</loc>"
             "</sitemap></sitemapindex>").encode()))
        (root / "sitemap-news").write_bytes(gzip.compress(urlset(slugs).replace("{{BASE}}", base).encode()))
        huge = urlset([]).replace("</urlset>", "<!--" + " " * 400_000 + "--></urlset>")
        (root / "sitemap-huge.xml.gz").write_bytes(gzip.compress(huge.encode()))
        result = run_newsarchive(
            "crawl", "news", "--db", str(db_path), "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
            "-s", "DOWNLOAD_MAXSIZE=200000", "-a", "site=gz", "-a", f"robots={base}/robots.txt")
        served = {path: headers for path, headers in site.requests}
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    assert sorted(r["url"].rsplit("/", 1)[-1] for r in db.query("select url from articles")) == slugs
    assert "/sitemap-news" in served and "/sitemap-huge.xml.gz" in served
    assert [(r["url"].rsplit("/", 1)[-1], r["stage"]) for r in db.query("select * from failures")] == [
        ("sitemap-huge.xml.gz", "sitemap")]
