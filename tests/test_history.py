"""History: a site that changes between crawls. Changed articles keep their previous version in
revisions with a readable diff; corrections are flagged; pages that disappear or redirect
elsewhere are recorded as removed, never dropped; an unchanged recrawl adds nothing."""
from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json

import sqlite_utils

from newsarchive.datasette.serve import make_datasette
from newsarchive.demo.server import SiteServer
from tests.conftest import FAST, run_newsarchive

PARAGRAPHS = [
    "The county council approved a budget on Wednesday that raises spending on rural bus routes "
    "by a fifth and closes two of the four recycling centres.",
    "Opposition members said the closures would lead to more fly-tipping, and proposed an amendment "
    "to keep one centre open at weekends, which was defeated by three votes.",
]


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1><p class='byline'>By Lee Marsh</p>{body}</article></body></html>")


def write(root, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def crawl(db_path, base_url: str):
    result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, "-a", "site=county",
                             "-a", f"sections={base_url}/")
    assert result.returncode == 0, result.stderr[-3000:]


def last_crawl(db):
    return next(db.query("select * from crawls order by id desc limit 1"))


def test_changes_corrections_removals_and_quiet_recrawls(tmp_path):
    # A site written by this test: a section page linking three stories.
    root = tmp_path / "site"
    root.mkdir()
    links = ["council-approves-rural-bus-budget", "library-roof-repairs-finished-early", "bridge-closure-extended-until-june"]
    write(root, "index.html", "<html><body>" + "".join(f"<a href='/news/{s}.html'>{s}</a>" for s in links) + "</body></html>")
    (root / "news").mkdir()
    write(root, f"news/{links[0]}.html", page("Council approves rural bus budget", PARAGRAPHS))
    write(root, f"news/{links[1]}.html", page("Library roof repairs finished early", PARAGRAPHS[::-1]))
    write(root, f"news/{links[2]}.html", page("Bridge closure extended until June", PARAGRAPHS[:1] * 2))
    db_path = tmp_path / "history.db"
    db = sqlite_utils.Database(db_path)

    with SiteServer(root) as site:
        crawl(db_path, site.base_url)
        assert db["articles"].count == 3 and db["revisions"].count == 0

        # Nothing changed: conditional requests answer 304, nothing is added.
        crawl(db_path, site.base_url)
        assert db["revisions"].count == 0
        assert (last_crawl(db)["pages_unchanged"], last_crawl(db)["pages_new"]) == (3, 0)
        conditional = [h for path, h in site.requests if path.startswith("/news/") and "If-None-Match" in h]
        assert len(conditional) == 3

        # The story is edited and corrected; one page is deleted; one now redirects elsewhere.
        correction = "Correction: An earlier version of this story said the budget was approved on Tuesday."
        edited = [PARAGRAPHS[0].replace("a fifth", "a quarter"), PARAGRAPHS[1], correction]
        write(root, f"news/{links[0]}.html", page("Council approves rural bus budget after late vote", edited))
        (root / f"news/{links[1]}.html").unlink()
        write(root, "routes.json", json.dumps({f"/news/{links[2]}.html": {
            "status": 301, "headers": {"Location": "/news/bridge-reopens.html"}, "body": ""}}))
        write(root, "news/bridge-reopens.html", page("Bridge reopens to traffic", PARAGRAPHS[1:] * 2))
        crawl(db_path, site.base_url)
        port = site.httpd.server_address[1]

    story = next(db.query("select * from articles where url like ?", [f"%{links[0]}%"]))
    assert story["title"] == "Council approves rural bus budget after late vote"
    assert story["has_correction"] == 1
    revision = next(db.query("select * from revisions where article_id = ? and diff not like 'removed%'", [story["id"]]))
    assert set(json.loads(revision["changed_fields"])) >= {"title", "body_text"}
    assert json.loads(revision["old_values"])["title"] == "Council approves rural bus budget"
    assert "-" + PARAGRAPHS[0] in revision["diff"] and "+" + edited[0] in revision["diff"]
    assert json.loads(revision["corrections"]) == [correction]

    gone = next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where url like ?", [f"%{links[1]}%"]))
    assert gone["removed_at"] and gone["removed_reason"] == "HTTP 404"
    assert gone["body_text"]  # the archived text is kept
    moved = next(db.query("select * from articles where url like ?", [f"%{links[2]}%"]))
    assert moved["removed_at"] and moved["removed_reason"].startswith("redirected to http")
    assert moved["removed_reason"].endswith("/news/bridge-reopens.html")
    assert db["articles"].count == 4  # the redirect's target is archived as a new page

    third = last_crawl(db)
    assert (third["pages_new"], third["pages_changed"], third["pages_removed"]) == (1, 1, 2)
    revisions_after_changes = db["revisions"].count
    assert revisions_after_changes == 3  # one edit, two removals

    # Crawled again with nothing new: no revision, no second removal.
    with SiteServer(root, port=port) as site:
        crawl(db_path, site.base_url)
    assert db["revisions"].count == revisions_after_changes
    assert db["articles"].count == 4

    # Datasette's "Changed articles" canned query shows the readable diff of title and body.
    async def changed():
        response = await make_datasette(db_path).client.get(
            "/history/changed_articles.json?_shape=array&q=rural+bus")
        assert response.status_code == 200, response.text
        return response.json()

    rows = asyncio.run(changed())
    assert len(rows) == 1 and rows[0]["title"] == "Council approves rural bus budget after late vote"
    assert "-Council approves rural bus budget" in rows[0]["diff"]
    assert "+Council approves rural bus budget after late vote" in rows[0]["diff"]


def news_page(title: str, paragraphs: list[str], *, published: str, modified: str) -> str:
    """A story page with its JSON-LD dates, as news sites write them (a page written by this test)."""
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
                     "datePublished": published, "dateModified": modified})
    return page(title, paragraphs).replace("</head>", f"<script type='application/ld+json'>{ld}</script></head>")


def test_a_correction_is_caught_without_any_date_in_the_feed_or_sitemap_moving(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    fresh = (now - dt.timedelta(hours=2)).isoformat()
    old = "2024-01-10T09:00:00+00:00"
    stories = {  # slug: (published, how discovery lists it)
        "council-approves-rural-bus-budget": (fresh, "news sitemap publication_date and RSS pubDate"),
        "harbour-dredging-starts-next-week": (fresh, "only the first crawl's start_urls"),
        "museum-wins-heritage-lottery-grant": (old, "news sitemap publication_date"),
        "school-meals-contract-renewed-early": (fresh, "sitemap lastmod"),
    }
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    for slug, (published, _) in stories.items():
        title = slug.replace("-", " ").capitalize()
        write(root, f"news/{slug}.html", news_page(title, PARAGRAPHS, published=published, modified=published))
    slugs = list(stories)
    write(root, "news-sitemap.xml", (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(
            f"<url><loc>{{{{BASE}}}}/news/{slug}.html</loc><news:news><news:publication_date>{stories[slug][0]}"
            f"</news:publication_date></news:news></url>" for slug in (slugs[0], slugs[2])) +
        f"<url><loc>{{{{BASE}}}}/news/{slugs[3]}.html</loc><lastmod>{fresh}</lastmod></url></urlset>"))
    write(root, "feed.rss", (
        f"<rss version='2.0'><channel><title>County</title><item><title>{slugs[0]}</title>"
        f"<link>{{{{BASE}}}}/news/{slugs[0]}.html</link><pubDate>{email.utils.format_datetime(now - dt.timedelta(hours=2))}"
        "</pubDate></item></channel></rss>"))
    db_path = tmp_path / "corrections.db"
    db = sqlite_utils.Database(db_path)
    with SiteServer(root) as site:
        base = site.base_url
        args = ["crawl", "news", "--db", str(db_path), *FAST, "-a", "site=county",
                "-a", f"sitemaps={base}/news-sitemap.xml", "-a", f"feeds={base}/feed.rss"]
        first = run_newsarchive(*args, "-a", f"start_urls={base}/news/{slugs[1]}.html")
        assert first.returncode == 0, first.stderr[-3000:]
        assert db["articles"].count == 4

        # Two stories are corrected (appended paragraph, new dateModified); feed and sitemap stay as they were.
        correction = "Correction: An earlier version of this story gave the wrong date for the vote."
        for slug in slugs[:2]:
            title = slug.replace("-", " ").capitalize()
            write(root, f"news/{slug}.html", news_page(title, [*PARAGRAPHS, correction], published=fresh,
                                                       modified=now.isoformat()))
        site.requests.clear()
        second = run_newsarchive(*args)
        assert second.returncode == 0, second.stderr[-3000:]
        fetched = {path.rsplit("/", 1)[-1].removesuffix(".html") for path, _ in site.requests if path.startswith("/news/")}

    # The listed story (publication dates only) and the one no longer listed are revisited;
    # the old story is not due yet; the lastmod story's modification date has not moved.
    assert fetched == set(slugs[:2])
    for slug in slugs[:2]:
        story = next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where url like ?", [f"%{slug}%"]))
        assert story["has_correction"] == 1 and story["body_text"].endswith(correction)
        revision = next(db.query("select * from revisions where article_id = ?", [story["id"]]))
        assert json.loads(revision["corrections"]) == [correction]
        assert "body_text" in json.loads(revision["changed_fields"])
    crawl = last_crawl(db)
    assert (crawl["pages_changed"], crawl["pages_revisited"], crawl["pages_skipped"], crawl["pages_new"]) == (2, 2, 2, 0)
    assert "2 changed" in second.stderr and "2 revisited" in second.stderr


def test_a_replay_revisits_by_the_capture_time_of_its_responses(tmp_path):
    """WARC files written by this test, captured in 2025: an old story, captured again an hour later
    (corrected), then eight days later. By the capture times, the hour-later capture is not due for
    a revisit (a weekly one, at two months old) and the eight-days-later one is; by the clock both
    would be."""
    from newsarchive.capture.writer import RotatingWarcWriter

    story_url, feed_url = "http://county.example/news/council-approves-rural-bus-budget", "http://county.example/feed.rss"
    feed = (f"<rss version='2.0'><channel><title>County</title><item><link>{story_url}</link>"
            "<pubDate>Wed, 01 Jan 2025 09:00:00 GMT</pubDate></item></channel></rss>")
    correction = "Correction: An earlier version of this story gave the wrong date for the vote."
    versions = {"first": PARAGRAPHS, "corrected": [*PARAGRAPHS, correction]}
    captures = [("2025-03-01T00:00:00Z", "first"), ("2025-03-01T01:00:00Z", "corrected"), ("2025-03-09T00:00:00Z", "corrected")]
    for number, (when, version) in enumerate(captures):
        html = news_page("Council approves rural bus budget", versions[version],
                         published="2025-01-01T09:00:00+00:00", modified="2025-01-01T09:00:00+00:00")
        with RotatingWarcWriter(tmp_path / f"warcs{number}") as writer:
            writer.write_exchange(url=feed_url, status=200, response_headers=[("Content-Type", "application/rss+xml")],
                                  body=feed.encode(), warc_date=when)
            writer.write_exchange(url=story_url, status=200, response_headers=[("Content-Type", "text/html; charset=utf-8")],
                                  body=html.encode(), warc_date=when)
    db_path = tmp_path / "replayed.db"
    db = sqlite_utils.Database(db_path)
    bodies = []
    for number in range(len(captures)):
        result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, "-s", "ROBOTSTXT_OBEY=False",
                                 "--replay", str(tmp_path / f"warcs{number}" / "*.warc.gz"),
                                 "-a", "site=county", "-a", f"feeds={feed_url}")
        assert result.returncode == 0, result.stderr[-3000:]
        story = next(db.query("select * from articles"))
        crawl = last_crawl(db)
        bodies.append((story["has_correction"], story["last_seen"], crawl["pages_skipped"], crawl["pages_revisited"]))
    assert bodies == [(0, "2025-03-01T00:00:00+00:00", 0, 0),
                      (0, "2025-03-01T00:00:00+00:00", 1, 0),
                      (1, "2025-03-09T00:00:00+00:00", 0, 1)]
    revision = next(db.query("select * from revisions"))
    assert revision["seen_at"] == "2025-03-09T00:00:00+00:00" and json.loads(revision["corrections"]) == [correction]


def test_the_revisit_schedule_goes_by_age_and_never_by_a_publication_date():
    from newsarchive.middlewares.incremental import DEFAULT_SCHEDULE, RevisitPolicy
    from newsarchive.store.archive import KnownPage

    now = dt.datetime(2025, 6, 30, 12, tzinfo=dt.timezone.utc)

    def known(*, age_days: float, seen_hours_ago: float, removed: bool = False, modified: str | None = None) -> KnownPage:
        return KnownPage("id", None, None, None, (now - dt.timedelta(hours=seen_hours_ago)).isoformat(),
                         "2025-06-01T00:00:00+00:00" if removed else None, url="http://x/a",
                         published=(now - dt.timedelta(days=age_days)).isoformat(), modified=modified)

    policy = RevisitPolicy(DEFAULT_SCHEDULE)
    assert policy.is_due(known(age_days=0.5, seen_hours_ago=0.1), now)          # under a day: every run
    assert not policy.is_due(known(age_days=3, seen_hours_ago=5), now)          # 1-7 days: every 6 hours
    assert policy.is_due(known(age_days=3, seen_hours_ago=6), now)
    assert not policy.is_due(known(age_days=20, seen_hours_ago=23), now)        # 7-30 days: daily
    assert policy.is_due(known(age_days=20, seen_hours_ago=24), now)
    assert not policy.is_due(known(age_days=400, seen_hours_ago=6 * 24), now)   # older: weekly
    assert policy.is_due(known(age_days=400, seen_hours_ago=7 * 24), now)
    assert not policy.is_due(known(age_days=0.5, seen_hours_ago=500, removed=True), now)  # removed: never
    # A modification date decides alone: not newer than the page's own dateModified skips it, newer fetches it.
    page = known(age_days=0.5, seen_hours_ago=1, modified="2025-06-30T08:00:00+00:00")
    assert policy.skip_reason(page, "2025-06-30T08:00:00+00:00", now).startswith("unchanged since")
    assert policy.skip_reason(page, "2025-06-30T09:00:00+00:00", now) is None
    old = known(age_days=400, seen_hours_ago=1)
    assert policy.skip_reason(old, "2025-06-30T11:00:00+00:00", now) is None  # modified: fetched, whatever its age
    assert policy.skip_reason(old, None, now).startswith("not due")
