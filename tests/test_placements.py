"""Front-page placement over time (issue 14, part 2).

A site written by this test (``written_placements``: a home page, a section page and six stories)
is crawled three times with real Scrapy on 127.0.0.1; its home page changes between the crawls:
a story enters as the lead, moves down into "Top stories", then leaves; another becomes the lead
and stays; a story linked from "Most read" is not archived in the first crawl (its page is not
there yet) and gets its article id in the second. The ``placements`` table, the three canned
queries (through a real Datasette) and the article page's timeline give that history.

To refresh the README's screenshot of the timeline:

    NEWSARCHIVE_SCREENSHOTS=docs/screenshots python -m pytest tests/test_placements.py -k timeline_in_a_browser
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import sqlite_utils

from newsarchive.datasette.serve import make_datasette
from newsarchive.demo.server import SiteServer
from newsarchive.discovery.placements import extract_placements, is_home_page
from newsarchive.items import FrontPage, Placement
from newsarchive.store import Archive
from tests.conftest import FAST, run_newsarchive
from tests.test_browser import browser, screenshots, server, watched  # noqa: F401 (fixtures)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RECENT = (NOW - dt.timedelta(hours=1)).isoformat()
OLD = "2020-01-06T08:00:00+00:00"
#: slug -> (headline, publication time)
STORIES = {
    "harbour-cranes-return-to-the-port": ("Harbour cranes return to the port", RECENT),
    "council-approves-rural-bus-budget": ("Council approves rural bus budget", RECENT),
    "bridge-closure-extended-until-june": ("Bridge closure extended until June", OLD),
    "library-roof-repairs-finished-early": ("Library roof repairs finished early", OLD),
    "ferry-timetable-changes-for-winter": ("Ferry timetable changes for winter", RECENT),
    "school-meals-price-frozen-next-year": ("School meals price frozen next year", RECENT),
}
CRANES, BUDGET, BRIDGE, LIBRARY, FERRY, MEALS = STORIES
#: The home page of each crawl: (lead, top stories, most read).
FRONTS = [
    (CRANES, [BUDGET, LIBRARY], [BRIDGE]),
    (BUDGET, [LIBRARY, CRANES], [BRIDGE]),
    (BUDGET, [FERRY, MEALS], [BRIDGE]),
]
PARAGRAPHS = (
    "The harbour board said on Tuesday that work would go on through the winter, with the quay "
    "closed to visitors on weekdays until the end of the month.",
    "Local businesses said the changes were welcome but asked for clearer notice of closures, "
    "which they said had cost them trade last year.",
)


def link(slug: str) -> str:
    return f"<a href='/news/{slug}.html'>{STORIES[slug][0]}</a>"


def home_page(lead: str, top: list[str], most_read: list[str]) -> str:
    tops = "".join(f"<li><h3>{link(s)}</h3></li>" for s in top)
    reads = "".join(f"<li>{link(s)}</li>" for s in most_read)
    return (
        "<html lang='en'><head><meta charset='utf-8'><title>Harbour News</title></head><body>"
        "<header><nav><a href='/world/'>World</a></nav></header><main>"
        f"<div class='story story--lead'><h2>{link(lead)}</h2><p>Our main story.</p></div>"
        f"<section><h2>Top stories</h2><ul>{tops}</ul></section>"
        f"<aside aria-label='Most read'><ol>{reads}</ol></aside>"
        "</main></body></html>"
    )


def story_page(slug: str) -> str:
    title, published = STORIES[slug]
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='article:published_time' content='{published}'></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )


def write_site(root: Path, crawl: int) -> None:
    """The site as crawl ``crawl`` (0, 1, 2) finds it."""
    (root / "news").mkdir(parents=True, exist_ok=True)
    (root / "world").mkdir(exist_ok=True)
    (root / "index.html").write_text(home_page(*FRONTS[crawl]), encoding="utf-8")
    world = (
        "<html><body><main><section><h2>World</h2>"
        + link(CRANES)
        + link(LIBRARY)
        + "</section></main></body></html>"
    )
    (root / "world" / "index.html").write_text(world, encoding="utf-8")
    for slug in STORIES:
        if slug == BRIDGE and crawl == 0:
            continue  # not online yet: linked, but not archived by the first crawl
        (root / "news" / f"{slug}.html").write_text(story_page(slug), encoding="utf-8")


def crawl(db_path: Path, base_url: str) -> None:
    result = run_newsarchive(
        "crawl", "news", "--db", str(db_path), *FAST, "-a", "site=harbour",
        "-a", f"sections={base_url}/,{base_url}/world/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> dict:
    """Three crawls of the site, with what the archive held after the first."""
    folder = tmp_path_factory.mktemp("placements")
    root, db_path = folder / "site", folder / "placements.db"
    root.mkdir()
    after_first: list[dict] = []
    with SiteServer(root) as site:
        for number in range(3):
            write_site(root, number)
            crawl(db_path, site.base_url)
            if number == 0:
                after_first = list(sqlite_utils.Database(db_path).query("select * from placements"))
    return {"db": db_path, "base": site.base_url, "after_first": after_first}


def url_of(crawled: dict, slug: str) -> str:
    return f"{crawled['base']}/news/{slug}.html"


def article_id(db: sqlite_utils.Database, crawled: dict, slug: str) -> str:
    return next(db.query("select id from articles where url = ?", [url_of(crawled, slug)]))["id"]


def test_the_table_holds_each_run_of_unchanged_placement(crawled):
    db = sqlite_utils.Database(crawled["db"])
    home = crawled["base"] + "/"
    pages = list(db.query(
        "select page, is_home, links from placement_pages order by crawl_id, is_home desc"))  # fmt: skip
    assert [(p["page"] == home, p["is_home"], p["links"]) for p in pages] == [
        (True, 1, 4), (False, 0, 2)] * 3  # fmt: skip
    crawls = [c["id"] for c in db.query("select id from crawls order by id")]
    runs = {
        (row["article_url"].rsplit("/", 1)[-1].removesuffix(".html"), row["first_crawl_id"]): row
        for row in db.query("select * from placements where page = ?", [home])
    }
    expected = {  # (story, first crawl) -> (rank, slot, last crawl, sightings)
        (CRANES, crawls[0]): (1, "lead", crawls[0], 1),
        (CRANES, crawls[1]): (3, "Top stories", crawls[1], 1),
        (BUDGET, crawls[0]): (2, "Top stories", crawls[0], 1),
        (BUDGET, crawls[1]): (1, "lead", crawls[2], 2),
        (LIBRARY, crawls[0]): (3, "Top stories", crawls[0], 1),
        (LIBRARY, crawls[1]): (2, "Top stories", crawls[1], 1),
        (BRIDGE, crawls[0]): (4, "Most read", crawls[2], 3),
        (FERRY, crawls[2]): (2, "Top stories", crawls[2], 1),
        (MEALS, crawls[2]): (3, "Top stories", crawls[2], 1),
    }
    assert {
        key: (r["rank"], r["slot"], r["last_crawl_id"], r["sightings"]) for key, r in runs.items()
    } == expected
    assert runs[(CRANES, crawls[0])]["headline"] == STORIES[CRANES][0]
    # Every placed story is archived by now, and each run names its article.
    for (slug, _), row in runs.items():
        assert row["article_id"] == article_id(db, crawled, slug)
    # The world page showed the same two stories in all three crawls: one run each.
    world = list(db.query("select * from placements where page != ? order by rank", [home]))
    assert [(r["rank"], r["slot"], r["sightings"]) for r in world] == [(1, "World", 3), (2, "World", 3)]


def test_a_story_placed_before_it_was_archived_is_resolved_later(crawled):
    first = {r["article_url"].rsplit("/", 1)[-1]: r for r in crawled["after_first"]}
    assert first[f"{BRIDGE}.html"]["article_id"] is None  # linked, not archived in crawl 1
    assert first[f"{CRANES}.html"]["article_id"] is not None
    db = sqlite_utils.Database(crawled["db"])
    assert db["failures"].count_where("url = ?", [url_of(crawled, BRIDGE)]) == 1
    bridge = next(
        db.query("select * from placements where article_url = ?", [url_of(crawled, BRIDGE)])
    )
    assert bridge["article_id"] == article_id(db, crawled, BRIDGE)


def canned(crawled: dict, query: str, **params: str) -> list[dict]:
    async def run() -> list[dict]:
        name = Path(crawled["db"]).stem
        response = await make_datasette(crawled["db"]).client.get(
            f"/{name}/{query}.json", params={"_shape": "array", **params}
        )
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(run())


def test_front_page_at_a_time(crawled):
    db = sqlite_utils.Database(crawled["db"])
    home = crawled["base"] + "/"
    seen = [r["seen_at"] for r in db.query(
        "select seen_at from placement_pages where is_home = 1 order by id")]  # fmt: skip
    titles = [STORIES[s][0] for s in (CRANES, BUDGET, LIBRARY, BRIDGE)]
    first = canned(crawled, "front_page_at", at=seen[0], page=home)
    assert [(r["rank"], r["slot"], r["title"]) for r in first] == list(
        zip([1, 2, 3, 4], ["lead", "Top stories", "Top stories", "Most read"], titles, strict=True)
    )
    assert {r["captured"] for r in first} == {seen[0]}
    # Empty :at is now, empty :page every home page: the third crawl's home page.
    latest = canned(crawled, "front_page_at", at="", page="")
    assert [r["title"] for r in latest] == [STORIES[s][0] for s in (BUDGET, FERRY, MEALS, BRIDGE)]
    # Before the first capture there is nothing to show.
    assert canned(crawled, "front_page_at", at="2000-01-01", page=home) == []


def test_how_long_and_how_high(crawled):
    db = sqlite_utils.Database(crawled["db"])
    seen = [r["seen_at"] for r in db.query(
        "select seen_at from placement_pages where is_home = 1 order by id")]  # fmt: skip
    cranes = article_id(db, crawled, CRANES)
    by_id = canned(crawled, "story_on_front_page", article=cranes, url="")
    by_url = canned(crawled, "story_on_front_page", article="", url=url_of(crawled, CRANES))
    assert by_id == by_url
    home, world = by_id
    assert (home["is_home"], home["highest_rank"], home["runs"], home["captures"]) == (1, 1, 2, 2)
    assert set(home["slots"].split(",")) == {"lead", "Top stories"}
    assert (home["first_seen"], home["last_seen"], home["gone_by"]) == (seen[0], seen[1], seen[2])
    assert (world["is_home"], world["captures"], world["gone_by"]) == (0, 3, None)


def test_stories_that_left_the_front_page_soon(crawled):
    rows = canned(crawled, "left_front_page_soon", hours="")
    # The cranes story (published an hour before) left at the third crawl; the library story
    # left too, but years after it was published.
    assert [r["title"] for r in rows] == [STORIES[CRANES][0]]
    assert 0.9 < rows[0]["hours_after_publication"] < 2
    assert canned(crawled, "left_front_page_soon", hours="0.5") == []


def test_the_article_page_shows_the_timeline(crawled):
    db = sqlite_utils.Database(crawled["db"])
    cranes = article_id(db, crawled, CRANES)

    async def page() -> str:
        name = Path(crawled["db"]).stem
        response = await make_datasette(crawled["db"]).client.get(f"/{name}/articles/{cranes}")
        assert response.status_code == 200
        return response.text

    html = asyncio.run(page())
    assert '<svg class="na-timeline"' in html
    assert html.count('class="na-run"') == 3  # two runs on the home page, one on the world page
    assert 'data-rank="1"' in html and 'data-rank="3"' in html
    assert f"/story_on_front_page?article={cranes}&amp;url=" in html
    assert "<script" not in html.split('<svg class="na-timeline"')[1].split("</svg>")[0]


def test_a_replay_records_each_captured_page_once_at_its_capture_time(crawled, tmp_path):
    """The three crawls' WARC files replayed (the site is down) into a new archive, twice: the
    page captures the replay answers with are recorded at their WARC-Date, with the placements
    the live crawl recorded for those very captures; the second replay adds nothing."""
    warcs = Path(crawled["db"]).parent / "captures" / "*.warc.gz"
    replay_db = tmp_path / "replay.db"
    for _ in range(2):
        result = run_newsarchive(
            "crawl", "news", "--db", str(replay_db), *FAST, "--replay", str(warcs),
            "-a", "site=harbour", "-a", f"sections={crawled['base']}/,{crawled['base']}/world/",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    live, replay = sqlite_utils.Database(crawled["db"]), sqlite_utils.Database(replay_db)
    pages = list(replay.query(
        "select p.*, c.warc_date from placement_pages p join captures c on c.id = p.capture_id"))  # fmt: skip
    assert len(pages) == replay["placement_pages"].count == 2  # home and world, once each
    covering = (
        "select article_url, rank, slot from placements p join placement_pages pp on pp.page = p.page "
        "where pp.capture_id = ? and p.first_page_id <= pp.id and p.last_page_id >= pp.id order by rank"
    )
    for page in pages:
        assert dt.datetime.fromisoformat(page["seen_at"]) == dt.datetime.fromisoformat(page["warc_date"])
        expected = list(live.query(covering, [page["capture_id"]]))
        assert expected and list(replay.query(covering, [page["capture_id"]])) == expected


# -- the pure function ---------------------------------------------------------------------------


def test_slots_come_from_class_words_labels_and_block_headings():
    html = """<html><body><h1>Site</h1><main>
    <div class="c-heroStory"><a href="/n/a-big-story"><img alt="Pic A"></a>
      <h2><a href="/n/a-big-story?utm_source=x">A big story</a></h2></div>
    <section><h2>Top stories</h2><ul><li><h3><a href="/n/b-story">B</a></h3></li>
      <li><a href="/n/c-story">C</a></li></ul></section>
    <div id="mostPopular"><a href="/n/d-story">D</a></div>
    <div role="region" aria-labelledby="op"><span id="op">Opinion</span><a href="n/e-story">E</a></div>
    <div><a href="/n/f-story"><img alt="Only a picture"></a></div>
    <a href="/">home</a><a href="/n/">self</a><a href="mailto:x@y.z">mail</a>
    </main></body></html>"""
    found = extract_placements("http://x.test/n/", html, is_article=lambda u: "/n/" in u)
    assert [(p.rank, p.article_url.rsplit("/", 1)[-1], p.slot, p.headline) for p in found] == [
        (1, "a-big-story", "lead", "A big story"),
        (2, "b-story", "Top stories", "B"),
        (3, "c-story", "Top stories", "C"),
        (4, "d-story", "most read", "D"),
        (5, "e-story", "Opinion", "E"),
        (6, "f-story", None, "Only a picture"),
    ]
    assert found[0].url == "http://x.test/n/a-big-story"  # the first link, as given


def test_a_teasers_headline_is_not_a_block_and_base_href_is_followed():
    html = """<html><head><base href="http://cdn.x.test/site/"></head><body><main>
    <h3><a href="one-story">One</a></h3><p>Teaser</p><h3><a href="two-story">Two</a></h3>
    </main></body></html>"""
    found = extract_placements("http://x.test/", html, is_article=lambda u: "story" in u)
    assert [(p.url, p.slot) for p in found] == [
        ("http://cdn.x.test/site/one-story", None), ("http://cdn.x.test/site/two-story", None)]  # fmt: skip
    assert extract_placements("http://x.test/", "  ", is_article=bool) == []


def test_a_cards_own_title_does_not_name_a_block():
    html = """<html><body><main><section><h2>Latest</h2>
    <div class="card"><h3>First card</h3><a href="/n/x-story">Read more</a></div>
    <div class="card"><h3>Second card</h3><a href="/n/y-story">Read more</a></div>
    </section></main></body></html>"""
    found = extract_placements("http://x.test/", html, is_article=lambda u: "/n/" in u)
    assert [(p.rank, p.slot) for p in found] == [(1, "Latest"), (2, "Latest")]


def test_home_pages():
    assert is_home_page("https://example.com/") and is_home_page("https://example.com")
    assert is_home_page("https://example.com/index.html")
    assert not is_home_page("https://example.com/world/")


def test_replaying_a_recorded_capture_adds_nothing(tmp_path, crawled):
    copy = tmp_path / "copy.db"
    with Archive(crawled["db"], readonly=True) as archive:
        archive.snapshot(copy)
    with Archive(copy) as archive:
        before = archive.count("placements"), archive.count("placement_pages")
        row = next(archive.db.query("select * from placement_pages where capture_id is not null"))
        again = FrontPage(page=row["page"], is_home=True, capture_id=row["capture_id"],
                          placements=[Placement(article_url="http://x.test/a", url="http://x.test/a", rank=1)])  # fmt: skip
        assert archive.save_front_page(again) is None
        assert (archive.count("placements"), archive.count("placement_pages")) == before


# -- the README's screenshot ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive_db(crawled) -> Path:
    """What tests.test_browser's ``server`` fixture serves: the three crawls."""
    return crawled["db"]


def test_timeline_in_a_browser(server, watched, crawled, screenshots):  # noqa: F811
    db = sqlite_utils.Database(crawled["db"])
    cranes = article_id(db, crawled, CRANES)
    page = watched.page
    page.goto(f"{server}/{Path(crawled['db']).stem}/articles/{cranes}")
    timeline = page.locator("section.na-placements")
    timeline.wait_for()
    assert page.locator("svg.na-timeline rect.na-run").count() == 3
    assert "Top stories" in page.inner_text("table.na-placement-runs")
    timeline.screenshot(path=str(screenshots / "placements.png"))
    assert (screenshots / "placements.png").stat().st_size > 0
    assert watched.errors == []


def test_the_spider_records_no_front_page_without_article_links_and_knows_a_redirected_home():
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from newsarchive.spiders.news import NewsSpider

    spider = NewsSpider(domains="x.test", site="x")

    def response(url: str, body: str, *, asked_for: str | None = None) -> HtmlResponse:
        meta = {"redirect_urls": [asked_for]} if asked_for else {}
        return HtmlResponse(url, body=body.encode(), encoding="utf-8", request=Request(url, meta=meta))

    consent = response("http://x.test/", "<html><body><p>Accept cookies?</p></body></html>")
    assert list(spider._front_page(consent)) == []
    home = response("http://x.test/en/", "<a href='/en/some-long-story-title'>S</a>", asked_for="http://x.test/")
    (page,) = spider._front_page(home)
    assert isinstance(page, FrontPage) and page.is_home and page.page == "http://x.test/en/"
    assert [p.article_url for p in page.placements] == ["http://x.test/en/some-long-story-title"]
