"""Tests of the Datasette configuration: metadata, search, canned queries, facets,
the serve command line, and docs/schema.md being up to date."""
from __future__ import annotations

import asyncio
import copy
import html
import json
import re
import sys
import urllib.parse
from pathlib import Path

import pytest

from newsarchive.datasette import serve as serve_mod
from newsarchive.datasette.facets import facet_columns
from newsarchive.datasette.serve import datasette_argv, load_metadata, make_datasette, metadata_file
from newsarchive.items import Article, CrawlFailure, Image, Video
from newsarchive.store import Archive
from newsarchive.store.schema_doc import (
    DOC_PATH,
    is_fts_table,
    render_fresh_schema_markdown,
    render_schema_markdown,
)

QUERY_PARAMS = {
    "latest_articles": {},
    "search_everything": {"q": "flood"},
    "photos_by_credit": {"name": "Millis"},
    "mentions_by_month": {"q": "flood"},
    "failures_last_crawl": {},
    "articles_by_author": {"name": "Doe"},
    "photographers": {},
    "changed_this_week": {},
}


def build_archive(path: Path) -> Path:
    with Archive(path) as archive:
        archive.ensure_site("example", name="Example News", base_url="https://example.com/")
        crawl = archive.start_crawl(spider="example", site="example")
        archive.save_article(Article(
            url="https://example.com/2024/02/floods", site="example", title="Floods reach the capital",
            authors=["Jane Doe"], published="2024-02-24T11:42:23+00:00", section="World", language="en",
            tags=["Floods"], body_text="The river rose overnight. Residents were evacuated.",
            images=[Image(url="https://cdn.example.com/flood.jpg", caption="A flooded street",
                          credit="REUTERS/Leah Millis", photographer="Leah Millis", agency="Reuters",
                          is_lead=True)],
            videos=[Video(provider="youtube", video_id="dQw4w9WgXcQ",
                          url="https://www.youtube.com/watch?v=dQw4w9WgXcQ", title="Drone footage of the flood")],
        ), crawl_id=crawl)
        archive.save_article(Article(
            url="https://example.com/2024/03/election", site="example", title="Election day",
            published="2024-03-02", section="Politics", language="en",
            body_text="Voters queued from dawn; some polling stations had flood damage.",
            images=[Image(url="https://cdn.example.com/queue.jpg", caption="Voters queue",
                          credit="AP Photo/Sam Smith", photographer="Sam Smith", agency="AP")],
        ), crawl_id=crawl)
        # Seen again with a correction: one revision (for "what changed this week").
        archive.save_article(Article(
            url="https://example.com/2024/03/election", site="example", title="Election day",
            published="2024-03-02", section="Politics", language="en",
            body_text="Voters queued from dawn; some polling stations had flood damage.\n\n"
                      "Correction: an earlier version misstated the opening time.",
            images=[Image(url="https://cdn.example.com/queue.jpg", caption="Voters queue",
                          credit="AP Photo/Sam Smith", photographer="Sam Smith", agency="AP")],
        ), crawl_id=crawl)
        archive.record_failure(CrawlFailure(url="https://example.com/broken", stage="http",
                                            reason="HTTP 404", http_status=404), crawl_id=crawl)
        archive.finish_crawl(crawl, stats={"item_scraped_count": 2}, outcome="finished")
    return path


@pytest.fixture
def archive_path(tmp_path) -> Path:
    return build_archive(tmp_path / "archive.db")


def run(coro):
    return asyncio.run(coro)


async def fetch_all(db_path: Path, paths: list[str]) -> list:
    ds = make_datasette(db_path)
    await ds.invoke_startup()
    return [await ds.client.get(p) for p in paths]


def get_json(db_path: Path, path: str):
    (response,) = run(fetch_all(db_path, [path]))
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


# -- metadata --------------------------------------------------------------------------


def test_metadata_loads(archive_path):
    metadata = load_metadata(archive_path)
    assert metadata["title"]
    assert "archive" in metadata["databases"]
    data = get_json(archive_path, "/-/metadata.json")
    assert data["databases"]["archive"]["tables"]["articles"]["description"]


def test_every_table_and_column_described(archive_path):
    tables = load_metadata()["databases"]["archive"]["tables"]
    with Archive(archive_path, readonly=True) as archive:
        for table in archive.db.table_names():
            assert table in tables, f"table {table} has no metadata"
            meta = tables[table]
            assert meta.get("description"), f"table {table} has no description"
            if is_fts_table(table):
                assert meta.get("hidden") is True, f"FTS table {table} should be hidden"
                continue
            columns = meta.get("columns") or {}
            for column in archive.db[table].columns_dict:
                assert columns.get(column), f"column {table}.{column} has no description"
            assert set(columns) <= set(archive.db[table].columns_dict), f"stale columns in {table}"
        for view in archive.db.view_names():
            assert (tables.get(view) or {}).get("description"), f"view {view} has no description"
        existing = set(archive.db.table_names()) | set(archive.db.view_names())
        assert set(tables) <= existing, "metadata describes tables that do not exist"


def test_permission_checks_share_each_databases_metadata(archive_path):
    """Datasette 0.65.5 deep-copies the metadata in each table permission check; after the
    plugin's startup the copies share each database's entry, and a table's ``allow`` block
    still decides who sees the table."""
    from datasette.app import Datasette

    from newsarchive.datasette import SharedMetadata
    from newsarchive.datasette.serve import SETTINGS

    metadata = load_metadata(archive_path)
    metadata["databases"]["archive"]["tables"]["failures"]["allow"] = {"id": "editor"}
    ds = Datasette(files=[str(archive_path)], metadata=metadata, settings=copy.deepcopy(SETTINGS))

    async def visit() -> list:
        await ds.invoke_startup()
        entry = ds.metadata("databases")["archive"]
        assert isinstance(entry, SharedMetadata)
        assert copy.deepcopy(ds.metadata())["databases"]["archive"] is entry
        editor = {"ds_actor": ds.sign({"a": {"id": "editor"}}, "actor")}
        paths = ("/archive", "/archive/failures", "/archive/articles")
        return [await ds.client.get(p) for p in paths] + [
            await ds.client.get("/archive/failures", cookies=editor)
        ]

    database, failures, articles, as_editor = run(visit())
    assert (failures.status_code, articles.status_code, as_editor.status_code) == (403, 200, 200)
    assert 'href="/archive/articles"' in database.text
    assert 'href="/archive/failures"' not in database.text


def test_other_file_name_gets_its_own_metadata(tmp_path):
    path = build_archive(tmp_path / "gzero-2024.db")
    metadata = load_metadata(path)
    assert list(metadata["databases"]) == ["gzero-2024"]
    written = json.loads(metadata_file(path).read_text())
    assert "gzero-2024" in written["databases"]
    data = get_json(path, "/gzero-2024/search_everything.json?q=flood&_shape=array")
    assert {r["found_in"] for r in data} == {"article", "image", "video"}


def test_column_description_shown(archive_path):
    """Every column's description is on the table page, folded away above the rows (the
    articles table's 28 would fill two screens: test_browser opens them)."""
    (page,) = run(fetch_all(archive_path, ["/archive/articles"]))
    assert page.status_code == 200
    folded = re.search(r'<details class="na-columns"><summary>About the 28 columns</summary>(.*?)</details>',
                       page.text, re.S)
    assert folded and "YYYY-MM of published" in folded.group(1)
    assert page.text.count('class="column-descriptions"') == 1
    assert page.text.index("</details>") < page.text.index('id="_search"')


# -- search, facets, queries ----------------------------------------------------------


def test_table_search(archive_path):
    rows = get_json(archive_path, "/archive/articles.json?_search=evacuated&_shape=array")
    assert [r["title"] for r in rows] == ["Floods reach the capital"]
    rows = get_json(archive_path, "/archive/article_images.json?_search=Millis&_shape=array")
    assert [r["caption"] for r in rows] == ["A flooded street"]


def test_facets_appear(archive_path):
    data = get_json(archive_path, "/archive/articles.json")
    facets = data["facet_results"]
    for column in ("site", "section", "published_month"):  # the default ones: each reads an index
        assert column in facets, column
    extra = get_json(archive_path, "/archive/articles.json?_facet=kind&_facet=language&_facet=has_correction")
    assert {"kind", "language", "has_correction"} <= set(extra["facet_results"])
    months = {v["value"]: v["count"] for v in facets["published_month"]["results"]}
    assert months == {"2024-02": 1, "2024-03": 1}
    data = get_json(archive_path, "/archive/article_images.json")
    assert {"credit", "agency", "photographer"} <= set(data["facet_results"])


def test_a_default_facet_asked_again_is_grouped_and_shown_once(archive_path):
    """``?_facet=site`` on the articles table, whose default facets have site: Datasette 0.65
    would group and show it twice (``site_2``); the plugin drops the repeated argument."""
    from datasette.tracer import capture_traces

    async def facet_page(path: str) -> tuple:
        ds = make_datasette(archive_path)
        await ds.invoke_startup()
        traces: list[dict] = []
        with capture_traces(traces):
            response = await ds.client.get(path)
        return response, [t["sql"] for t in traces if " group by " in t["sql"]]

    defaults = facet_columns(
        load_metadata(archive_path)["databases"]["archive"]["tables"]["articles"]["facets"]
    )
    for suffix in (".json", ""):
        response, grouped = run(
            facet_page(
                f"/archive/articles{suffix}?_facet=site&_facet=published_month&_facet=kind&site=example"
            )
        )
        assert response.status_code == 200
        assert sorted(grouped) == sorted(set(grouped)) and len(grouped) == len(defaults) + 1
        if suffix:
            assert list(response.json()["facet_results"]) == [*defaults, "kind"]
            assert response.json()["filtered_table_rows_count"] == len(response.json()["rows"]) > 0
        else:
            assert 'data-column="site_2"' not in response.text
            assert response.text.count('data-column="site"') == response.text.count(
                'data-column="kind"'
            )


COUNTED_PAGES = ["", "?kind=article", "?kind=video", "?language=en", "?language=fr",
                 "?kind__exact=article", "?language=xx", "?_facet_size=1", "?kind=article&_facet_size=1"]
#: Pages whose facets are not the kept counts (another filter, a search, a second page).
GROUPED_PAGES = ["?site=example", "?kind=article&language=en", "?kind=video&_where=1"]
#: Searches: their three facets grouped by one statement that reads the matches once.
SEARCH_PAGES = ["?_search=flood", "?_search=flood&site=other", "?_search=flood&_facet_size=1",
                "?_search=flood&kind=article&_facet=kind", "?_search=nomatchanywhere"]


def facets_of(db_path: Path, *, counted: bool) -> tuple[dict, dict]:
    """Each page's ``facet_results`` (JSON) and facet blocks (HTML), and how many facet queries
    grouped rows for it: from the served metadata (``counted`` facets) or with plain column
    facets (Datasette's own GROUP BY, the reference)."""
    from datasette.app import Datasette
    from datasette.tracer import capture_traces

    metadata = load_metadata(db_path)
    table = metadata["databases"]["archive"]["tables"]["articles"]
    if not counted:
        table["facets"] = facet_columns(table["facets"])
    ds = Datasette(files=[str(db_path)], metadata=metadata, settings=copy.deepcopy(serve_mod.SETTINGS))

    async def pages() -> tuple[dict, dict]:
        await ds.invoke_startup()
        shown, groupings = {}, {}
        for page in COUNTED_PAGES + GROUPED_PAGES + SEARCH_PAGES:
            traces: list[dict] = []
            with capture_traces(traces):
                response = await ds.client.get(f"/archive/articles.json{page}")
                assert response.status_code == 200, (page, response.text[:300])
                html = (await ds.client.get(f"/archive/articles{page}")).text
            blocks = re.findall(r'<div class="facet-info[^"]*".*?</div>', html, flags=re.S)
            shown[page] = (response.json()["facet_results"], blocks)
            groupings[page] = len([t for t in traces if "count(*) as count" in t["sql"]])
        return shown, groupings

    return run(pages())


def facet_archive(tmp_path: Path) -> Path:
    """The small archive plus articles of another site, a video, French and unlabelled ones."""
    path = build_archive(tmp_path / "archive.db")
    with Archive(path) as archive:
        archive.ensure_site("other", name="Other Daily", base_url="https://other.example/")
        for n, (kind, language, section) in enumerate(
            [("video", "en", "World"), ("article", "fr", None), ("article", None, "Sport"),
             ("video", "fr", "Sport"), ("article", "en", "World")]
        ):
            archive.save_article(Article(
                url=f"https://other.example/{n}", site="other", kind=kind, title=f"Other {n}",
                published=f"2024-0{n + 1}-0{n + 1}", section=section, language=language,
                body_text=f"Story {n} about a flood."))
    return path


def test_counted_facets_equal_datasettes_group_by(tmp_path):
    """The articles table's default facets read from ``facet_counts`` (schema 13) show what
    Datasette's own GROUP BY shows (values, counts, order, labels, toggle links, the truncated
    flag, the HTML), after saves, a changed article and a deleted one; and they group nothing
    where they can read the counts, while any other page still groups its rows: a search, all
    three in one statement."""
    path = facet_archive(tmp_path)
    for step in ("saved", "changed", "deleted"):
        if step == "changed":
            with Archive(path) as archive:
                archive.save_article(Article(
                    url="https://other.example/1", site="other", kind="video", title="Other 1",
                    published="2024-02-02", section="World", language="en",
                    body_text="Story 1 about a flood, updated."))
        if step == "deleted":
            with Archive(path) as archive:
                archive.db.execute("PRAGMA foreign_keys = OFF")
                archive.db.execute("DELETE FROM articles WHERE url = 'https://other.example/3'")
        counted, counted_groupings = facets_of(path, counted=True)
        grouped, groupings = facets_of(path, counted=False)
        assert counted == grouped, step
        assert counted["?kind=article"][0]["site"]["results"], step
        assert all(counted[page][1] for page in COUNTED_PAGES), step  # the HTML shows facets
        for page in COUNTED_PAGES:  # three facets, on the JSON and the HTML page
            assert (counted_groupings[page], groupings[page]) == (0, 6), (step, page)
        for page in GROUPED_PAGES:
            assert counted_groupings[page] == groupings[page] >= 6, (step, page)
        for page in SEARCH_PAGES:  # one statement a page for the three, JSON and HTML
            extra = 2 if "_facet=kind" in page else 0  # Datasette's own facet of kind
            assert (counted_groupings[page], groupings[page]) == (2 + extra, 6 + extra), (step, page)
        assert counted["?_search=flood&_facet_size=1"][0]["site"]["truncated"], step
        assert counted["?_search=flood"][0]["section"]["results"], step


def test_search_facets_grouped_one_at_a_time_when_together_runs_out_of_time(tmp_path, monkeypatch):
    """When the one statement for a search's facets runs out of ``facet_time_limit_ms`` (forced
    here: Datasette's own interruption, raised for that statement only), each facet is grouped
    on its own, with its own time, as Datasette would: the page shows the same facets."""
    from datasette.app import Datasette
    from datasette.database import QueryInterrupted

    path = facet_archive(tmp_path)
    grouped, _ = facets_of(path, counted=False)
    execute = Datasette.execute
    interrupted: list[str] = []

    async def interrupt_together(self, database, sql, *args, **kwargs):
        if sql.startswith("with matched as materialized"):
            interrupted.append(sql)
            raise QueryInterrupted(Exception("interrupted"), sql, kwargs.get("params"))
        return await execute(self, database, sql, *args, **kwargs)

    monkeypatch.setattr(Datasette, "execute", interrupt_together)
    counted, groupings = facets_of(path, counted=True)
    assert len(interrupted) == 2 * len(SEARCH_PAGES)  # the JSON and the HTML of each search
    for page in SEARCH_PAGES:
        assert counted[page] == grouped[page], page
        assert groupings[page] >= 6, page  # one GROUP BY per facet after the one that stopped
    assert counted["?_search=flood"][0]["site"]["results"]


def canned_queries(db_path: Path) -> dict:
    """The canned queries Datasette offers on the archive: metadata.json's and the plugin's."""
    return run(make_datasette(db_path).get_canned_queries("archive", None))


@pytest.mark.parametrize("name", sorted(QUERY_PARAMS))
def test_canned_query_runs(archive_path, name):
    assert name in canned_queries(archive_path)
    params = "&".join(f"{k}={v}" for k, v in QUERY_PARAMS[name].items())
    data = get_json(archive_path, f"/archive/{name}.json?_shape=objects&{params}")
    assert data.get("ok", True) is not False, data
    assert data["rows"], f"{name} returned nothing"


def test_canned_queries_open_on_their_results(archive_path):
    """A canned query's page shows its title, description, parameters and rows; its SQL (up to
    23 lines) is one "show" away, as Datasette's ``hide_sql`` does."""
    names = sorted(canned_queries(archive_path))
    assert len(names) == 16
    pages = run(fetch_all(archive_path, [f"/archive/{name}" for name in names]
                          + [f"/archive/{name}?_show_sql=1" for name in names]))
    hidden, shown = pages[:len(names)], pages[len(names):]
    for name, page_, open_ in zip(names, hidden, shown):
        assert page_.status_code == open_.status_code == 200, name
        assert f'href="/archive/{name}?_show_sql=1">show</a>' in page_.text, name
        assert 'id="sql-query"' not in page_.text and 'id="sql-query"' in open_.text, name


def test_search_everything_results(archive_path):
    rows = get_json(archive_path, "/archive/search_everything.json?q=flood&_shape=array")
    found = {(r["found_in"], r["title"]) for r in rows}
    assert ("article", "Floods reach the capital") in found
    assert ("article", "Election day") in found
    assert ("image", "A flooded street") in found  # Porter stemming
    assert ("video", "Drone footage of the flood") in found
    assert all("[" in r["snippet"] for r in rows)
    rows = get_json(archive_path, "/archive/search_everything.json?q=Millis&_shape=array")
    assert [(r["found_in"], r["title"]) for r in rows] == [("image", "A flooded street")]
    # Punctuation in the search box does not break the query.
    rows = get_json(archive_path, '/archive/search_everything.json?q=%22flood&_shape=array')
    assert rows


@pytest.mark.parametrize("q", ["", "%22", "%20", "AND", "flood*", "%28"])
def test_search_queries_tolerate_odd_input(archive_path, q):
    for name in ("search_everything", "mentions_by_month"):
        get_json(archive_path, f"/archive/{name}.json?q={q}&_shape=array")
    (page,) = run(fetch_all(archive_path, ["/archive/search_everything"]))
    assert page.status_code == 200


def test_search_everything_highlights(archive_path):
    (page,) = run(fetch_all(archive_path, ["/archive/search_everything?q=Millis"]))
    assert page.status_code == 200
    assert "<mark>Millis</mark>" in page.text


def test_other_canned_query_results(archive_path):
    rows = get_json(archive_path, "/archive/photos_by_credit.json?name=Sam%20Smith&_shape=array")
    assert [r["caption"] for r in rows] == ["Voters queue"]
    rows = get_json(archive_path, "/archive/mentions_by_month.json?q=flood&_shape=array")
    assert [(r["month"], r["articles"]) for r in rows] == [("all months", 2), ("2024-02", 1), ("2024-03", 1)]
    rows = get_json(archive_path, "/archive/failures_last_crawl.json?_shape=array")
    assert [r["url"] for r in rows] == ["https://example.com/broken"]
    rows = get_json(archive_path, "/archive/latest_articles.json?_shape=array")
    assert [r["title"] for r in rows] == ["Election day", "Floods reach the capital"]


def test_urls_render_as_links(archive_path):
    (page,) = run(fetch_all(archive_path, ["/archive/images"]))
    assert '<a href="https://cdn.example.com/flood.jpg">' in page.text


def test_a_foreign_key_without_a_label_shows_its_key(archive_path):
    """A site crawled without a title (``scrapy crawl news -a site=wire``) has no name: Datasette
    0.65 would show its label as the word "None" in every row and in the site facet."""
    with Archive(archive_path) as archive:
        crawl = archive.start_crawl(spider="news", site="wire")
        archive.save_article(Article(
            url="https://wire.example/2024/04/storm", site="wire", title="Storm warning",
            published="2024-04-01", section="World", language="en", body_text="A storm is coming.",
        ), crawl_id=crawl)
        archive.finish_crawl(crawl, stats={}, outcome="finished")
    table, crawls, chosen = (r.text for r in run(fetch_all(
        archive_path, ["/archive/articles", "/archive/crawls?_facet=site", "/archive/articles?site=wire"])))
    for text in (table, crawls, chosen):
        assert ">None<" not in text
        assert '<a href="/archive/sites/wire">wire</a>' in text
    # A named site keeps its name beside its key.
    assert '<a href="/archive/sites/example">Example News</a>&nbsp;<em>example</em>' in table
    for text in (table, crawls):  # the kept counts' facet and Datasette's own
        facet = re.search(r'id="facet-site".*?</ul>', text, re.S).group(0)
        assert re.findall(r'<a href="[^"]*site=(\w+)">([^<]*)</a>', facet) == [
            ("example", "Example News"), ("wire", "wire")]
    assert "<li>wire &middot; 1" in chosen
    # The JSON keeps the truth: no label.
    data = get_json(archive_path, "/archive/articles.json?_labels=on&site=wire")
    assert data["rows"][0]["site"] == {"value": "wire", "label": None}


def test_pages_render(archive_path):
    responses = run(fetch_all(archive_path, ["/", "/archive", "/archive/articles", "/archive/latest_articles"]))
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert "Archive built by newsarchive" in responses[0].text


def test_datasette_does_not_write(archive_path):
    before = archive_path.read_bytes()
    run(fetch_all(archive_path, ["/archive/articles", "/archive/search_everything?q=flood"]))
    assert archive_path.read_bytes() == before


def test_download_only_when_immutable(archive_path):
    async def go(immutable):
        ds = make_datasette(archive_path, immutable=immutable)
        await ds.invoke_startup()
        return await ds.client.get("/archive.db")

    assert run(go(False)).status_code == 403
    response = run(go(True))
    assert response.status_code == 200
    assert response.content == archive_path.read_bytes()


# -- serve --------------------------------------------------------------------------------


def test_datasette_argv(tmp_path):
    argv = datasette_argv("archive.db")
    assert argv[:4] == [sys.executable, "-m", "datasette", "serve"]
    assert argv[4] == "archive.db"
    assert argv[argv.index("--metadata") + 1] == str(serve_mod.METADATA_PATH)
    # Pages, hooks and templates come from the plugin's entry point, not from folders.
    assert not {"--template-dir", "--plugins-dir", "--static"} & set(argv)
    joined = " ".join(argv)
    assert "--setting sql_time_limit_ms 3000" in joined
    assert "--setting allow_download on" in joined
    assert "--host 127.0.0.1 --port 8001" in joined
    immutable = datasette_argv(tmp_path / "news.db", host="0.0.0.0", port=9000, immutable=True)
    assert immutable[4:6] == ["-i", str(tmp_path / "news.db")]
    assert "--port 9000" in " ".join(immutable)
    patched = Path(immutable[immutable.index("--metadata") + 1])
    assert "news" in json.loads(patched.read_text())["databases"]


def test_datasette_cli_accepts_argv(archive_path):
    """The command line is valid for the installed Datasette (``--get``: no server)."""
    import subprocess

    argv = datasette_argv(archive_path)
    result = subprocess.run(argv + ["--get", "/archive/latest_articles.json?_shape=array"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [r["title"] for r in json.loads(result.stdout)] == ["Election day", "Floods reach the capital"]
    # The plugin (entry point "newsarchive") is loaded, with its templates.
    result = subprocess.run(argv + ["--get", "/-/plugins.json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    plugin = next(p for p in json.loads(result.stdout) if p["name"] == "newsarchive")
    assert plugin["templates"] is True
    assert {"render_cell", "register_routes", "prepare_connection", "canned_queries"} <= set(plugin["hooks"])


def test_search_page_and_canned_query_rank_alike(archive_path):
    """The canned query and the search page are one search: the same hits in the same order."""
    from newsarchive.datasette import pages

    async def search_page_hits():
        ds = make_datasette(archive_path)
        await ds.invoke_startup()
        return (await pages.search_everything(ds, None, "flood"))["hits"]

    rows = get_json(archive_path, "/archive/search_everything.json?q=flood&_shape=array")
    hits = run(search_page_hits())
    assert len(rows) >= 4
    assert [(r["found_in"], r["id"], r["rank"]) for r in rows] == [(h["kind"], h["id"], h["rank"]) for h in hits]


# -- docs -----------------------------------------------------------------------------------


def test_schema_doc_up_to_date():
    assert DOC_PATH.read_text(encoding="utf-8") == render_fresh_schema_markdown(), (
        "docs/schema.md is out of date: run python -m newsarchive.store.schema_doc")


def test_schema_doc_covers_live_schema(archive_path):
    with Archive(archive_path, readonly=True) as archive:
        text = render_schema_markdown(archive.db)
        for table in archive.db.table_names():
            if not is_fts_table(table):
                assert f"## {table}\n" in text
                for column in archive.db[table].columns_dict:
                    assert f"| `{column}` |" in text


# -- journalists' pages: article page, search everything, thumbnails ----------------------------

FLOODS_ID = "310957953d151aa9"  # stable_id("https://example.com/2024/02/floods")
ELECTION_ID = "dde04cd9533da1ba"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc00000030101009a8a2f6b0000000049454e44ae426082")
HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>"


def page(db_path: Path, path: str):
    (response,) = run(fetch_all(db_path, [path]))
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return response.text


def test_ids_are_stable():
    from newsarchive.store.archive import stable_id

    assert stable_id("https://example.com/2024/02/floods") == FLOODS_ID
    assert stable_id("https://example.com/2024/03/election") == ELECTION_ID


def test_article_page(archive_path):
    text = page(archive_path, f"/archive/articles/{FLOODS_ID}")
    assert '<h1 class="na-headline">Floods reach the capital</h1>' in text
    assert ">Jane Doe</a>" in text and "Example News" in text and "World" in text
    for label in ("Published", "First seen", "Last seen"):
        assert f"<dt>{label}</dt>" in text
    assert "2024-02-24T11:42:23+00:00" in text
    assert '<span class="na-caption">A flooded street</span>' in text
    assert "Credit: REUTERS/Leah Millis" in text and "photographer Leah Millis" in text
    assert "<p>The river rose overnight. Residents were evacuated.</p>" in text
    assert 'href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"' in text and "Drone footage of the flood" in text
    assert '<a class="na-original" href="https://example.com/2024/02/floods"' in text
    assert "No change seen since" in text
    assert 'class="na-thumbnail"' not in text  # this archive keeps no thumbnails
    assert "Every column of this row" in text  # Datasette's own table is still there


def test_article_page_revisions(archive_path):
    text = page(archive_path, f"/archive/articles/{ELECTION_ID}")
    assert '<section class="na-revision">' in text
    assert '<span class="add">+Correction: an earlier version misstated the opening time.</span>' in text
    assert "Correction added:" in text


def test_article_page_computes_diff_when_column_empty(archive_path):
    import sqlite3

    with sqlite3.connect(archive_path) as conn:
        conn.execute("UPDATE revisions SET diff = NULL")
    conn.close()
    text = page(archive_path, f"/archive/articles/{ELECTION_ID}")
    assert '<span class="add">+Correction: an earlier version misstated the opening time.</span>' in text


def test_article_page_any_database_name(tmp_path):
    path = build_archive(tmp_path / "gzero-2024.db")
    text = page(path, f"/gzero-2024/articles/{FLOODS_ID}")
    assert '<h1 class="na-headline">Floods reach the capital</h1>' in text
    assert "A flooded street" in text


def test_other_rows_keep_datasette_page(archive_path):
    text = page(archive_path, "/archive/images/" + __import__("newsarchive.store.archive", fromlist=["x"])
                .stable_id("https://cdn.example.com/flood.jpg"))
    assert "na-headline" not in text and "https://cdn.example.com/flood.jpg" in text


def test_search_page(archive_path):
    text = page(archive_path, "/-/search?q=flood")
    assert "<mark>Floods</mark> reach the capital" in text
    for kind in ("article", "image", "video"):
        assert f"na-hit-{kind}" in text
    assert f'href="/archive/articles/{FLOODS_ID}"' in text
    assert 'href="/archive/articles?_search=flood">2 articles</a>' in text
    assert 'href="/archive/article_images?_search=flood">1 picture</a>' in text
    # The best match (the headline) comes first.
    assert text.index(f'href="/archive/articles/{FLOODS_ID}"') < text.index(f'href="/archive/articles/{ELECTION_ID}"')
    # A picture found by its credit links to the article that shows it.
    text = page(archive_path, "/-/search?q=Millis")
    assert "<mark>Millis</mark>" in text and "Floods reach the capital</a>" in text
    text = page(archive_path, "/-/search?q=zebra")
    assert "Nothing in the archive matches" in text


def test_search_page_asks_about_every_picture_hit_at_once(tmp_path):
    """Each picture hit lists the newest three articles it is in, and its thumbnail when the
    archive keeps one, asked for all the hits together: five picture hits cost the page as many
    statements as one (each statement waits its turn behind every other request served)."""
    from datasette.tracer import capture_traces

    from newsarchive.datasette import pages
    from newsarchive.store.archive import stable_id

    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        for k in range(5):  # picture k, a heron, is in k + 1 articles a day apart; 0 is an egret too
            for day in range(k + 1):
                archive.save_article(Article(
                    url=f"https://example.com/{k}/{day}", site="example", title=f"Story {k}-{day}",
                    published=f"2024-03-{day + 1:02d}T10:00:00", body_text="Text.",
                    images=[Image(url=f"https://cdn.example.com/{k}.jpg",
                                  caption="A heron" + (" and an egret" if k == 0 else ""))]))
        archive.db.execute("update images set thumbnail = ? where url in (?, ?)",
                           [PNG, "https://cdn.example.com/1.jpg", "https://cdn.example.com/3.jpg"])

    async def search(q: str) -> tuple[list[dict], int]:
        ds = make_datasette(path)
        await ds.invoke_startup()
        traces: list[dict] = []
        with capture_traces(traces):
            hits = (await pages.search_everything(ds, None, q))["hits"]
        return [h for h in hits if h["kind"] == "image"], len(traces)

    (herons, statements), (egrets, one_hit_statements) = run(search("heron")), run(search("egret"))
    # a hit per use of a picture: 1 + 2 + 3 + 4 + 5 herons, one egret
    assert len(herons) == 15 and len(egrets) == 1 and statements == one_hit_statements
    for k in range(5):
        hits = [h for h in herons if h["id"] == stable_id(f"https://cdn.example.com/{k}.jpg")]
        assert len(hits) == k + 1
        for hit in hits:
            assert [a["title"] for a in hit["articles"]] == [f"Story {k}-{d}" for d in range(k, -1, -1)][:3]
            assert all(a["link"].startswith("/archive/articles/") for a in hit["articles"])
            assert (hit["thumbnail"] is not None) == (k in (1, 3)), k


def test_a_table_found_is_not_asked_for_again_and_one_missing_is(archive_path):
    """``pages.has_table`` asks SQLite once about a table that is there (a page waits for the
    event loop at each statement) and again about one that was not, until it is."""
    import sqlite3

    from datasette.tracer import capture_traces

    from newsarchive.datasette.pages import has_table

    async def ask() -> list[tuple[bool, int]]:
        ds = make_datasette(archive_path)
        await ds.invoke_startup()
        db, out = ds.get_database("archive"), []
        for table in ("articles", "articles", "later", "later", "later"):
            if len(out) == 3:  # created while Datasette serves the file
                with sqlite3.connect(archive_path) as conn:
                    conn.execute("create table later (id integer primary key)")
            traces: list[dict] = []
            with capture_traces(traces):
                out.append((await has_table(db, table), len(traces)))
        return out

    # (there, statements run): once for articles; for later before and once after it is made
    assert run(ask()) == [(True, 1), (True, 0), (False, 1), (True, 1), (True, 0)]


def test_search_page_names_each_hits_site(archive_path):
    """A hit shows its site's name, as the article page does, or its key when the site has no
    name (crawled without a title)."""
    with Archive(archive_path) as archive:
        archive.save_article(Article(url="https://wire.example/2024/04/flood", site="wire",
                                     title="Flood warning upstream", body_text="The flood is coming."))
    facts = re.findall(r'<a class="na-title"[^>]*>([^<]*)</a>.*?<p class="na-sub na-facts">(.*?)</p>',
                       page(archive_path, "/-/search?q=flood"), re.S)
    sites = {title: re.findall(r"<span>([^<]*)</span>", line)[1] for title, line in facts
             if title in ("Floods reach the capital", "Flood warning upstream")}
    assert sites == {"Floods reach the capital": "Example News", "Flood warning upstream": "wire"}


@pytest.mark.parametrize("q", ["", "%22", "%20", "AND", "flood*", "%28", "NEAR(", "a%22b%22c"])
def test_search_page_odd_input(archive_path, q):
    # page() fails on anything but a 200; the search form is still there.
    assert "Search the archive" in page(archive_path, f"/-/search?q={q}")


def test_search_boxes(archive_path):
    assert 'action="/-/search"' in page(archive_path, "/")
    assert 'id="na-database-q"' in page(archive_path, "/archive")


def test_canned_query_links_articles(archive_path):
    text = page(archive_path, "/archive/articles_by_author?name=Doe")
    assert f'<a href="/archive/articles/{FLOODS_ID}">{FLOODS_ID}</a>' in text


def test_changed_this_week(archive_path):
    rows = get_json(archive_path, "/archive/changed_this_week.json?_shape=array")
    assert [r["title"] for r in rows] == ["Election day"]
    assert "+Correction" in rows[0]["diff"]


def hostile_archive(path: Path) -> Path:
    with Archive(path) as archive:
        archive.save_article(Article(
            url="https://evil.example/story", site="evil", title=f"Hostile {HOSTILE}",
            description=HOSTILE, authors=[f"Mallory {HOSTILE}"], section=HOSTILE,
            body_text=f"First paragraph {HOSTILE}\n\nSecond",
            images=[Image(url="https://evil.example/p.jpg", caption=f"Caption {HOSTILE}",
                          credit=f"Credit {HOSTILE}", is_lead=True)],
            videos=[Video(provider="youtube", video_id="abcdefghijk",
                          url="https://www.youtube.com/watch?v=abcdefghijk", title=f"Video {HOSTILE}",
                          thumbnail_url="javascript:window.__pwned=1")],
        ))
    return path


def test_hostile_strings_escaped(tmp_path):
    path = hostile_archive(tmp_path / "archive.db")
    from newsarchive.store.archive import stable_id

    aid = stable_id("https://evil.example/story")
    for url in (f"/archive/articles/{aid}", "/-/search?q=hostile", "/-/search?q=caption",
                "/archive/articles", "/archive/images", "/archive/search_everything?q=hostile"):
        text = page(path, url)
        assert "<script>window.__pwned" not in text, url
        assert "<img src=x" not in text, url
        assert "javascript:" not in text, url
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page(path, f"/archive/articles/{aid}")


def test_safe_url():
    from newsarchive.datasette.pages import safe_url

    assert safe_url("https://example.com/a") == "https://example.com/a"
    for bad in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,x", "//evil", "/x", None, 3):
        assert safe_url(bad) is None


def with_thumbnails_and_captures(path: Path) -> Path:
    """The archive as issue 5's schema will have it: images.thumbnail, captures, capture_id."""
    import sqlite3

    conn = sqlite3.connect(path)
    with conn:
        if "thumbnail" not in {r[1] for r in conn.execute("PRAGMA table_info(images)")}:
            conn.execute("ALTER TABLE images ADD COLUMN thumbnail BLOB")
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'captures'").fetchone():
            conn.execute("CREATE TABLE captures (id TEXT PRIMARY KEY, url TEXT, warc_file TEXT, "
                         "warc_offset INTEGER, warc_length INTEGER, warc_date TEXT)")
        if "capture_id" not in {r[1] for r in conn.execute("PRAGMA table_info(articles)")}:
            conn.execute("ALTER TABLE articles ADD COLUMN capture_id TEXT REFERENCES captures(id)")
        capture = {"id": "7", "url": "https://example.com/2024/02/floods", "warc_file": "crawl-1.warc.gz",
                   "warc_offset": 0, "warc_length": 1234, "warc_date": "2024-02-25T00:00:00Z"}
        conn.execute(f"INSERT INTO captures ({', '.join(capture)}) VALUES ({', '.join('?' * len(capture))})",
                     list(capture.values()))
        conn.execute("UPDATE articles SET capture_id = '7' WHERE id = ?", [FLOODS_ID])
        conn.execute("UPDATE images SET thumbnail = ? WHERE url = 'https://cdn.example.com/flood.jpg'", [PNG])
        conn.execute("UPDATE images SET thumbnail = ? WHERE url = 'https://cdn.example.com/queue.jpg'",
                     [b"<svg onload=alert(1)>"])
    conn.close()
    return path


def test_thumbnails_and_capture_shown(archive_path):
    from newsarchive.store.archive import stable_id

    with_thumbnails_and_captures(archive_path)
    flood, queue = stable_id("https://cdn.example.com/flood.jpg"), stable_id("https://cdn.example.com/queue.jpg")
    text = page(archive_path, f"/archive/articles/{FLOODS_ID}")
    assert f'<img class="na-thumbnail" src="/-/newsarchive/thumbnail/archive/{flood}"' in text
    assert '<a class="na-capture" href="/archive/captures/7">WARC capture</a>' in text
    assert "crawl-1.warc.gz" in text
    assert f'src="/-/newsarchive/thumbnail/archive/{flood}"' in page(archive_path, "/-/search?q=flooded")
    responses = run(fetch_all(archive_path, [
        f"/-/newsarchive/thumbnail/archive/{flood}", f"/-/newsarchive/thumbnail/archive/{queue}",
        "/-/newsarchive/thumbnail/archive/nope", f"/-/newsarchive/thumbnail/other/{flood}"]))
    assert responses[0].status_code == 200
    assert responses[0].headers["content-type"] == "image/png"
    assert responses[0].content == PNG
    assert [r.status_code for r in responses[1:]] == [404, 404, 404]  # not a picture; no row; no db


def test_thumbnail_route_without_column(archive_path):
    (response,) = run(fetch_all(archive_path, ["/-/newsarchive/thumbnail/archive/abc"]))
    assert response.status_code == 404


def test_every_table_and_canned_query_answers_200(archive_path):
    """Every table page (HTML and JSON, the default sort of each included) and every canned query
    (with its parameters, and with none) opened through a real Datasette."""
    with Archive(archive_path, readonly=True) as archive:
        tables = archive.db.table_names()
    queries = canned_queries(archive_path)
    paths = [f"/archive/{t}{suffix}" for t in tables for suffix in ("", ".json")]
    for name in queries:
        params = "&".join(f"{k}={v}" for k, v in QUERY_PARAMS.get(name, {}).items())
        paths += [f"/archive/{name}", f"/archive/{name}?{params}", f"/archive/{name}.json?{params}"]
    responses = run(fetch_all(archive_path, paths))
    failed = [(p, r.status_code, r.text[:200]) for p, r in zip(paths, responses) if r.status_code != 200]
    assert not failed
    assert len(paths) > 2 * len(tables) >= 2 * 16


def kept_contexts(template, monkeypatch) -> list[dict]:
    """The contexts ``template`` is rendered with from now on (its ``render_async`` wrapped)."""
    contexts: list[dict] = []
    render = template.render_async

    async def keep_context(*args, **kwargs):
        contexts.append(dict(*args, **kwargs))
        return await render(*args, **kwargs)

    monkeypatch.setattr(template, "render_async", keep_context)
    return contexts


def rendered_alike(ds, monkeypatch, page: str, part: str, paths: list[str]) -> int:
    """Serve each of ``paths`` (pages of template ``page``) and check that the plugin's ``part``
    (``page`` itself or a template it includes) renders each page's context exactly as
    Datasette's own template of that name does, and that this HTML is in the page. The number
    of rows those pages show."""
    contexts = kept_contexts(ds.jinja_env.get_template(page), monkeypatch)

    async def compare() -> int:
        await ds.invoke_startup()
        ours, theirs = (ds.jinja_env.get_template(name) for name in (part, f"default:{part}"))
        assert ours.filename != theirs.filename
        rows = 0
        for path in paths:
            contexts.clear()
            response = await ds.client.get(path)
            assert response.status_code == 200, path
            (context,) = contexts
            html = await ours.render_async(context)
            assert html == await theirs.render_async(context), path
            assert html in response.text, path
            rows += len(context["display_rows"])
        return rows

    return run(compare())


def test_table_template_renders_datasettes_html(archive_path, monkeypatch):
    """The plugin's ``_table.html`` (cells read by subscript, rows output as one string: for
    speed) renders exactly what Datasette's own renders, on every table page of the archive
    (links, BLOBs, foreign keys, empty cells, a rowid link column) and on a search."""
    with_thumbnails_and_captures(archive_path)
    with Archive(archive_path, readonly=True) as archive:
        tables = archive.db.table_names()
    paths = [f"/archive/{t}" for t in tables] + ["/archive/articles?_search=flood"]
    shown = rendered_alike(make_datasette(archive_path), monkeypatch, "table.html", "_table.html", paths)
    assert shown > len(tables)


def test_query_template_renders_datasettes_html(archive_path, monkeypatch):
    """The plugin's ``query.html`` (a query's rows output as one string: for speed) renders
    exactly what Datasette's own renders, on every canned query's page (thumbnails, links to
    articles, URLs, empty cells, the SQL shown or not) and on custom SQL of every table."""
    with_thumbnails_and_captures(archive_path)
    with Archive(archive_path, readonly=True) as archive:
        tables = archive.db.table_names()
    paths = [f"/archive?sql=select+*+from+{t}" for t in tables] + ["/archive?sql=select+1+where+0"]
    for name in canned_queries(archive_path):
        params = "&".join(f"{k}={v}" for k, v in QUERY_PARAMS.get(name, {}).items())
        paths += [f"/archive/{name}?{params}", f"/archive/{name}?_show_sql=1&{params}"]
    shown = rendered_alike(make_datasette(archive_path), monkeypatch, "query.html", "query.html", paths)
    assert shown > len(paths)


# -- staying fast at a million articles (docs/performance.md) -----------------------------


def test_serving_collects_garbage_less_often(archive_path):
    """Datasette's startup raises the collector's thresholds to GC_THRESHOLDS (a page's objects
    then die young, docs/performance.md), never lowers one, and leaves collection off if it is."""
    import gc

    from newsarchive.datasette import GC_THRESHOLDS, raise_gc_thresholds

    was = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert page(archive_path, "/archive")  # the startup hook runs before the first request
        assert gc.get_threshold() == GC_THRESHOLDS
        gc.set_threshold(GC_THRESHOLDS[0] * 2, 5, GC_THRESHOLDS[2] * 3)
        raise_gc_thresholds()
        assert gc.get_threshold() == (GC_THRESHOLDS[0] * 2, GC_THRESHOLDS[1], GC_THRESHOLDS[2] * 3)
        gc.set_threshold(0)
        raise_gc_thresholds()
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*was)


def _many_floods(path: Path, n: int) -> Path:
    """An archive of ``n`` articles that all mention "flood", saved in order (rowid = age)."""
    with Archive(path) as archive:
        for i in range(n):
            archive.save_article(Article(
                url=f"https://example.com/flood-{i}", site="example", title=f"Report {i}",
                published=f"2024-01-{i + 1:02d}", body_text=f"Flood report number {i}." + " flood" * (i % 3)))
    return path


def _bounded_floods(tmp_path: Path, monkeypatch, **bounds: int) -> Path:
    """Six articles that all mention "flood" (:func:`_many_floods`), with the search bounds of
    :mod:`newsarchive.datasette.pages` made that small (``TABLE_SEARCH_CAP=2``, ...)."""
    from newsarchive.datasette import pages

    for name, value in bounds.items():
        monkeypatch.setattr(pages, name, value)
    return _many_floods(tmp_path / "archive.db", 6)


def test_search_page_ranks_newest_candidates_and_caps_counts(tmp_path, monkeypatch):
    db_path = _bounded_floods(tmp_path, monkeypatch, CANDIDATES=3, COUNT_CAP=4)
    text = page(db_path, "/-/search?q=flood")
    assert 'href="/archive/articles?_na_search=flood">4+ articles</a>' in text
    shown = {n for n in range(6) if f">Report {n}<" in text or f"Report {n}</" in text}
    assert shown == {3, 4, 5}  # only the 3 newest matches are ranked


def test_default_facets_and_sorts_read_indexes(archive_path):
    """Every default facet of articles, its default sort and the canned queries' date order
    read an index, never the table's rows (which carry the bodies)."""
    metadata = load_metadata(archive_path)["databases"]["archive"]
    table = metadata["tables"]["articles"]
    with Archive(archive_path) as archive:
        def plan(sql: str) -> str:
            return " ".join(row[3] for row in archive.db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())

        for column in facet_columns(table["facets"]):
            facet = (f"select {column} as value, count(*) as count from (select * from articles) "
                     f"where {column} is not null group by {column} order by count desc, value limit 31")
            assert "COVERING INDEX" in plan(facet), column
        assert "INDEX" in plan(f"select * from articles order by {table['sort_desc']} desc limit 101")
        for name, sort in (("articles", table["sort_desc"]), ("captures", metadata["tables"]["captures"]["sort_desc"])):
            # Datasette's next page of a table sorted newest first: walked from the cursor in one
            # index, not three index searches whose rows are all sorted (3.9 s at 1M articles)
            next_page = plan(f"select * from {name} where ({sort} < 'x' or {sort} is null or "
                             f"({sort} = 'x' and id > 'y')) order by {sort} desc, id limit 101")
            assert "MULTI-INDEX OR" not in next_page and "TEMP B-TREE" not in next_page, (name, next_page)
        for column in table["sortable_columns"]:  # a click on a column header, either way
            for op, order in ((">", ""), ("<", " desc")):
                for sql in (f"select * from articles order by {column}{order}, id limit 101",
                            f"select * from articles where ({column} {op} 'x' or ({column} = 'x' "
                            f"and id > 'y')) order by {column}{order}, id limit 101"):
                    sorted_page = plan(sql)
                    assert "INDEX" in sorted_page and "MULTI-INDEX OR" not in sorted_page, (column, sorted_page)
                    assert "TEMP B-TREE FOR ORDER BY" not in sorted_page, (column, sorted_page)
        assert "INDEX" in plan(metadata["queries"]["latest_articles"]["sql"])


def test_later_pages_show_no_facets(archive_path):
    """A table page after the first (``_next``) lists its rows without facets (Datasette's would
    count only the rows after the cursor, and group nearly the whole table at a million
    articles); the first page and the JSON keep them."""
    first = page(archive_path, "/archive/articles?_size=1")
    assert "facet-info" in first
    link = re.search(r'href="([^"]*_next=[^"]*)"', first)
    assert link, "no next page link"
    later = page(archive_path, html.unescape(link.group(1)).replace("http://localhost", ""))
    assert "_nofacet" not in first and "facet-info" not in later and "<tbody>" in later
    cursor = urllib.parse.parse_qs(urllib.parse.urlsplit(html.unescape(link.group(1))).query)["_next"][0]
    data = get_json(archive_path, f"/archive/articles.json?_size=1&_next={urllib.parse.quote(cursor)}")
    assert data["rows"] and data["facet_results"]


def test_serve_settings_for_large_archives():
    joined = " ".join(datasette_argv("archive.db"))
    assert "--setting suggest_facets off" in joined
    assert f"--setting num_sql_threads {serve_mod.SETTINGS['num_sql_threads']}" in joined
    assert serve_mod.SETTINGS["num_sql_threads"] > 3  # Datasette's default


def test_connections_read_through_mmap(archive_path):
    from newsarchive import datasette as plugin

    async def pragmas():
        ds = make_datasette(archive_path)
        await ds.invoke_startup()
        db = ds.get_database("archive")
        return ((await db.execute("pragma mmap_size")).first()[0],
                (await db.execute("pragma cache_size")).first()[0])

    mmap_size, cache_size = run(pragmas())
    assert mmap_size > 0  # 0 when the plugin is not loaded; SQLite may cap the value
    assert cache_size == -plugin.CACHE_KIB


def test_table_counts_kept_until_the_file_changes(archive_path):
    """The database page's counts of a mutable archive are made once per change of the file."""
    from datasette.tracer import capture_traces

    async def counts_and_queries(ds) -> tuple[dict, list[str]]:
        traces: list[dict] = []
        with capture_traces(traces):
            counts = await ds.get_database("archive").table_counts(5)
        return counts, [t["sql"] for t in traces if "count(*)" in t["sql"]]

    async def scenario():
        ds = make_datasette(archive_path)
        await ds.invoke_startup()
        first, queries = await counts_and_queries(ds)
        assert first["articles"] == 2 and any("[articles]" in q for q in queries)
        # The FTS indexes (hidden tables) are not counted.
        assert first["articles_fts_data"] is None and not any("_fts" in q for q in queries)
        again, queries = await counts_and_queries(ds)
        assert again == first and queries == []
        with Archive(archive_path) as archive:
            archive.save_article(Article(url="https://example.com/2024/04/new", site="example",
                                         title="New", body_text="New text."))
        later, queries = await counts_and_queries(ds)
        assert later["articles"] == 3 and queries
        page = await ds.client.get("/archive.json")
        assert {t["name"]: t["count"] for t in page.json()["tables"]}["articles"] == 3

    run(scenario())


def test_table_search_of_a_common_word_goes_to_the_search_page(tmp_path, monkeypatch):
    """A plain table search matching more than TABLE_SEARCH_CAP articles is answered by the
    search page, which says why and links to the table (its newest matches); a rarer word, a
    filtered or sorted search, an export and every match asked for stay in the table."""
    db_path = _bounded_floods(tmp_path, monkeypatch, TABLE_SEARCH_CAP=4)
    common, rare, filtered, sorted_, exported, every = run(fetch_all(db_path, [
        "/archive/articles?_search=flood",
        "/archive/articles?_search=%22number+5%22",
        "/archive/articles?_search=flood&site=example",
        "/archive/articles?_search=flood&_sort=title",
        "/archive/articles.json?_search=flood&_shape=array",
        "/archive/articles?_search=flood&_na_all=1",
    ]))
    assert common.status_code == 302
    assert common.headers["location"] == "/-/search?q=flood&from_table=archive"
    assert [r.status_code for r in (rare, filtered, sorted_, exported, every)] == [200] * 5
    assert len(exported.json()) == 6
    assert "6 rows" in every.text and "Report 0" in every.text
    assert "6 rows" in filtered.text  # fewer than NEWEST_MATCHES: every match, not bounded
    assert "na-bounded" not in filtered.text
    text = page(db_path, "/-/search?q=flood&from_table=archive")
    assert "is in more than 4 articles" in text
    assert 'href="/archive/articles?_na_search=flood">see them in the articles table' in text
    assert "Report 5" in text  # the hits are there too
    assert "is in more than" not in page(db_path, "/-/search?q=flood")


def test_filtered_table_search_of_a_common_word_looks_at_its_newest_matches(tmp_path, monkeypatch):
    """A filtered or sorted table search of a word in more than NEWEST_MATCHES articles shows,
    counts and facets the newest matches only, says so, and links to every match; exports
    (even the bounded page's own JSON link) and every match asked for stay complete."""
    db_path = _bounded_floods(tmp_path, monkeypatch, TABLE_SEARCH_CAP=2, NEWEST_MATCHES=3)
    filtered, sorted_, exported, every, from_search, new_word, json_newest = run(fetch_all(db_path, [
        "/archive/articles?_search=flood&site=example&_facet=kind",
        "/archive/articles?_search=flood&_sort=title",
        "/archive/articles.json?_search=flood&site=example&_shape=array",
        "/archive/articles?_search=flood&site=example&_na_all=1",
        "/archive/articles?_na_search=flood",
        # the search box of a bounded page submits the page's hidden _na_search too
        "/archive/articles?_search=%22number+5%22&_na_search=flood",
        "/archive/articles.json?_na_search=flood&_shape=array",
    ]))
    for response in (filtered, sorted_, from_search):
        assert response.status_code == 200, response.text[:300]
        shown = {n for n in range(6) if f">Report {n}<" in response.text}
        assert shown == {3, 4, 5}  # the three archived last
        assert "(the 3 matches archived last; more articles match)" in response.text
        assert 'class="message-info na-bounded"' in response.text
        assert 'id="_search" type="search" name="_search" value="flood"' in response.text
    assert ('<title>archive: articles: 3 rows where search matches &#34;flood&#34; (the 3 matches '
            'archived last; more articles match) and site = &#34;example&#34;') in filtered.text
    every_link = "/archive/articles?_search=flood&amp;site=example&amp;_facet=kind&amp;_na_all=1"
    assert f'<a href="{every_link}">Search every match</a>' in filtered.text
    assert re.search(r"&middot; 3 <a [^>]*class=\"cross\"", filtered.text)  # the site facet: the same 3
    assert len(exported.json()) == 6 and "6 rows" in every.text and "na-bounded" not in every.text
    assert new_word.status_code == 200 and "1 row where" in new_word.text and ">Report 5<" in new_word.text
    assert len(json_newest.json()) == 6  # the page's JSON/CSV export: every match
    assert "6 rows where" in page(db_path, "/archive/articles?_na_search=flood&_na_all=1")


def test_bounded_search_counted_in_the_index(tmp_path, monkeypatch):
    """A bounded table search whose filters are all in the FTS index (none, or site and section)
    is counted there, not by Datasette's count of its rows: exactly NEWEST_MATCHES when bounded,
    every match otherwise; its links carry ``_nocount``, dropped when a filter leaves the index
    or a new word is searched from the page's box (its hidden arguments come too)."""
    from datasette.tracer import capture_traces

    from newsarchive.datasette import pages

    db_path = _bounded_floods(tmp_path, monkeypatch, TABLE_SEARCH_CAP=2, NEWEST_MATCHES=3)
    paths = {
        "sorted": "/archive/articles?_search=flood&_sort=title",
        "from the search page": "/archive/articles?_na_search=flood",
        "site": "/archive/articles?_search=flood&site=example",
        "outside the index": "/archive/articles?_na_search=flood&_nocount=1&word_count__gt=0",
        "a new word": "/archive/articles?_search=%22number+5%22&_na_search=flood&_nocount=1",
    }

    async def counted() -> dict[str, tuple[str, bool, bool]]:
        ds = make_datasette(db_path)
        await ds.invoke_startup()
        out = {}
        for name, path in paths.items():
            traces: list[dict] = []
            with capture_traces(traces):
                response = await ds.client.get(path)
            assert response.status_code == 200, (name, response.text[:300])
            rows = re.search(r"([\d,]+ rows?) where", response.text)
            datasettes_count = any(t["sql"].startswith("select count(*) from articles") for t in traces)
            out[name] = (rows.group(1) if rows else "", datasettes_count, "_nocount=1" in response.text)
        return out

    assert run(counted()) == {
        "sorted": ("3 rows", False, True),
        "from the search page": ("3 rows", False, True),
        "site": ("3 rows", False, True),
        "outside the index": ("3 rows", True, False),
        "a new word": ("1 row", True, False),  # Datasette's own search: fewer matches than the bound
    }
    monkeypatch.setattr(pages, "NEWEST_MATCHES", 10)  # every match, counted in the index
    assert "6 rows where" in page(db_path, "/archive/articles?_na_search=flood")


def test_every_match_of_a_very_common_word_comes_without_facets(tmp_path, monkeypatch):
    """Every match (``_na_all``) of a word in more than EVERY_MATCH_FACETED articles: all the
    rows, counted in the FTS index when nothing filters them, no facets (they would time out
    over that many matches), and a note saying why; a rarer word searched from that page's box
    (which submits _nofacet and _nocount again) gets its facets and count back."""
    from newsarchive.datasette import pages

    db_path = _bounded_floods(
        tmp_path, monkeypatch, TABLE_SEARCH_CAP=2, NEWEST_MATCHES=3, EVERY_MATCH_FACETED=4
    )
    every, filtered, rarer, exported, by_title, first_two, next_two = run(fetch_all(db_path, [
        "/archive/articles?_search=flood&_na_all=1",
        "/archive/articles?_search=flood&site=example&_na_all=1",
        "/archive/articles?_search=%22number+5%22&_na_all=1&_nofacet=1&_nocount=1",
        "/archive/articles.json?_search=flood&_na_all=1&_shape=array",
        "/archive/articles?_search=flood&_na_all=1&_sort=title",
        "/archive/articles?_search=flood&_na_all=1&_size=2",
        "/archive/articles?_search=flood&_na_all=1&_size=2&_next=2024-01-05%2C5",
    ]))

    def reports(response) -> list[int]:  # the order the page lists the matches in
        return [int(n) for n in re.findall(r">Report (\d)<", response.text)]

    # read in the page's order (the published or the sorted column's index), newest first
    assert reports(every) == [5, 4, 3, 2, 1, 0] and reports(by_title) == [0, 1, 2, 3, 4, 5]
    assert reports(first_two) == [5, 4] and reports(next_two) == [3, 2]
    for response in (every, filtered):
        assert response.status_code == 200, response.text[:300]
        assert "6 rows where search matches" in response.text
        assert {n for n in range(6) if f">Report {n}<" in response.text} == set(range(6))
        assert "is in more than 4 articles: this table lists every match, without facets" in response.text
        assert 'id="facet-site"' not in response.text and "na-bounded" not in response.text
    assert rarer.status_code == 200 and "1 row where" in rarer.text and ">Report 5<" in rarer.text
    assert 'id="facet-site"' in rarer.text and "na-every" not in rarer.text
    assert len(exported.json()) == 6  # exports are left as asked
    # below the threshold, every match keeps its facets
    monkeypatch.setattr(pages, "EVERY_MATCH_FACETED", 6)
    assert 'id="facet-site"' in page(db_path, "/archive/articles?_search=flood&_na_all=1")


def _floods_and_old_droughts(path: Path, n: int) -> Path:
    """``n`` articles an hour apart that all mention "flood" (a few times, so that their word
    counts differ), of which the five oldest also mention "drought"."""
    with Archive(path) as archive:
        for i in range(n):
            archive.save_article(Article(
                url=f"https://example.com/flood-{i}", site="example", title=f"Report {i}",
                published=f"2024-{1 + i // 24 // 28:02d}-{1 + i // 24 % 28:02d}T{i % 24:02d}:00:00",
                body_text=f"Flood report number {i}." + " flood" * (i % 7) + " drought" * (i < 5)))
    return path


def test_every_match_asked_article_by_article_after_a_trial(tmp_path, monkeypatch):
    """A page of every match of a very common word, the first or a later one, is found by
    asking the FTS index about each article in the page's order, when a trial of that page's
    query ends within PROBE_TIME_LIMIT_MS; otherwise (a word whose matches are all old, a column
    filter) by the set of every match. Both list the same rows in the same order."""
    from datasette.tracer import capture_traces

    from newsarchive.datasette import pages

    monkeypatch.setattr(pages, "EVERY_MATCH_FACETED", 4)
    db_path = _floods_and_old_droughts(tmp_path / "archive.db", 400)
    every = "/archive/articles?_search=flood&_na_all=1"
    paths = [every, every + "&_sort=title", every + "&_sort_desc=word_count", every + "&_size=7",
             every + "&site=example", "/archive/articles?_search=drought&_na_all=1"]

    async def listed(paths: list[str], *, walk: bool = False) -> list[tuple[list[int], bool]]:
        """Each page's reports in order, and whether its query asked article by article; with
        ``walk``, each path's pages after it too, by their "Next page" links."""
        ds = make_datasette(db_path)
        await ds.invoke_startup()
        out = []
        for path in paths:
            while path:
                traces: list[dict] = []
                with capture_traces(traces):
                    response = await ds.client.get(path)
                assert response.status_code == 200, (path, response.text[:300])
                (sql,) = [t["sql"] for t in traces if t["sql"].startswith("select id, url, canonical_url")]
                shown = [int(n) for n in re.findall(r">Report (\d+)<", response.text)]
                out.append((shown, "exists (select 1 from articles_fts" in sql))
                following = re.search(r'<a href="http://localhost([^"]+)">Next page', response.text)
                path = html.unescape(following.group(1)) if walk and following else None
        return out

    monkeypatch.setattr(pages, "PROBED_MATCHES", 10**9)  # never asked: the set of every match
    by_set = run(listed(paths))
    assert not any(probed for _, probed in by_set)
    monkeypatch.setattr(pages, "PROBED_MATCHES", 5)
    probed = run(listed(paths))
    assert [rows for rows, _ in probed] == [rows for rows, _ in by_set]
    assert [p for _, p in probed] == [True, True, True, True, False, True]
    # a page of 50 (the articles table's size in the metadata), then one of 7
    assert probed[0][0] == list(range(399, 349, -1)) and probed[3][0] == list(range(399, 392, -1))
    assert by_set[5][0] == [4, 3, 2, 1, 0]
    # every page after the first: 58 of 7 by date, 8 of 50 by title and by word count (whose
    # values tie: the cursor's id breaks them)
    walks = [every + "&_size=7", every + "&_sort=title&_size=50", every + "&_sort_desc=word_count&_size=50"]
    monkeypatch.setattr(pages, "PROBED_MATCHES", 10**9)
    by_set = run(listed(walks, walk=True))
    monkeypatch.setattr(pages, "PROBED_MATCHES", 5)
    probed = run(listed(walks, walk=True))
    assert [rows for rows, _ in probed] == [rows for rows, _ in by_set] and len(probed) == 58 + 8 + 8
    assert all(asked for _, asked in probed)
    assert sorted(n for rows, _ in probed[:58] for n in rows) == list(range(400))
    # a trial that does not end in time: the old droughts are reached after 395 floods (the
    # first page) or 394 (a page after Report 399, the newest)
    monkeypatch.setattr(pages, "PROBE_TIME_LIMIT_MS", 1)
    drought = "/archive/articles?_search=drought&_na_all=1"
    first, later = run(listed([drought, f"{drought}&_size=2&_next={_cursor_after(db_path, 399)}"]))
    assert first == ([4, 3, 2, 1, 0], False) and later == ([4, 3], False)


def test_articles_table_pages_hold_the_metadatas_size_as_the_readme_says(tmp_path):
    """The articles table shows ``size`` articles a page (its 2,800 cells at 100 took most of the
    page's Python and of a browser's time: docs/performance.md), ``_size=`` asks for more, and
    the README gives the same number."""
    size = load_metadata()["databases"]["archive"]["tables"]["articles"]["size"]
    db_path = _floods_and_old_droughts(tmp_path / "archive.db", 2 * size + 3)
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert f"The articles table shows {size} articles to a page, newest first" in readme
    for path, shown in [("/archive/articles", size), ("/archive/articles?_size=100", 100),
                        ("/archive/articles?_search=flood", size)]:
        body = page(db_path, path)
        reports = [int(n) for n in re.findall(r">Report (\d+)<", body)]
        assert reports == list(range(2 * size + 2, 2 * size + 2 - shown, -1)), path
        assert "Next page" in body, path


def _cursor_after(db_path: Path, n: int) -> str:
    """Datasette's ``_next`` for a page by date that ends with the article "Report ``n``"."""
    with Archive(db_path, readonly=True) as archive:
        row = archive.db.execute(
            "select published, id from articles where title = ?", [f"Report {n}"]).fetchone()
    return urllib.parse.quote(",".join(row))


def _two_sites_of_floods(path: Path) -> Path:
    """Twelve articles that all mention "flood", saved in order: even numbers from site "north",
    odd from "south"; sections "World", "Política", "política" in turn (a value, its case).
    The oldest's text quotes the index's token of south (a page may hold any character)."""
    from newsarchive.store.schema import filter_token

    sections = ("World", "Política", "política")
    with Archive(path) as archive:
        for i in range(12):
            archive.save_article(Article(
                url=f"https://example.com/flood-{i}", site=("north", "south")[i % 2],
                section=sections[i % 3], title=f"Report {i}", published=f"2024-01-{i + 1:02d}",
                body_text=f"Flood report number {i}." + (filter_token("site", "south") if i == 0 else "")))
    return path


def test_table_search_narrowed_by_a_filter_inside_the_index(tmp_path, monkeypatch):
    """A table search of a common word filtered by site or section is narrowed inside the FTS
    index (schema 16's filter tokens): the bound is the newest matches *of that site*, every
    match of it is counted there, and a filter that keeps few matches gets them all with facets;
    the rows are always those of Datasette's own search (its JSON export, which is left as
    asked), and a search for a site's name does not find the site's articles."""
    from newsarchive.datasette import pages

    for name, value in dict(TABLE_SEARCH_CAP=2, NEWEST_MATCHES=3, EVERY_MATCH_FACETED=4).items():
        monkeypatch.setattr(pages, name, value)
    db_path = _two_sites_of_floods(tmp_path / "archive.db")
    south = "/archive/articles?_search=flood&site=south"
    politica = "&section=Pol%C3%ADtica"
    bounded, every, few, few_every, exact, named, hex_prefix = run(fetch_all(db_path, [
        south, south + "&_na_all=1", south + politica, south + politica + "&_na_all=1",
        south + "&section__exact=Pol%C3%ADtica&_na_all=1",
        "/archive/articles?_search=south", "/archive/articles?_search=736f*&_searchmode=raw",
    ]))

    def reports(response) -> list[int]:
        assert response.status_code == 200, response.text[:300]
        return sorted(int(n) for n in re.findall(r">Report (\d+)<", response.text))

    def datasettes_own(path: str) -> list[int]:  # the export: Datasette's search of every match
        rows = get_json(db_path, path.replace("/articles?", "/articles.json?") + "&_shape=array")
        return sorted(int(row["title"].split()[1]) for row in rows)

    assert reports(bounded) == [7, 9, 11]  # the 3 newest matches of south, not of the archive
    assert "3 rows where search matches &#34;flood&#34; (the 3 matches archived last" in bounded.text
    assert reports(every) == datasettes_own(south) == [1, 3, 5, 7, 9, 11]
    assert "6 rows where" in every.text and 'id="facet-site"' not in every.text  # counted in the index
    for response in (few, few_every, exact):
        assert reports(response) == datasettes_own(south + politica) == [1, 7]  # not "política"
        assert "2 rows where" in response.text and 'id="facet-section"' in response.text
        assert "na-bounded" not in response.text and "na-every" not in response.text
    assert reports(named) == [] and reports(hex_prefix) == []


def test_mentions_by_month_counts_all_then_the_newest_matches(tmp_path):
    """The first row counts every match; the months count the newest matches up to the bound
    (here 3 instead of NEWEST_MATCHES), so they add up to less than the first row."""
    from datasette.app import Datasette

    from newsarchive.datasette import pages

    db_path = _many_floods(tmp_path / "archive.db", 6)
    metadata = load_metadata(db_path)
    query = metadata["databases"]["archive"]["queries"]["mentions_by_month"]
    # the same window as a filtered table search of a common word
    assert f"limit {pages.NEWEST_MATCHES}" in query["sql"]
    assert f"{pages.NEWEST_MATCHES:,}" in query["description"]
    query["sql"] = query["sql"].replace(f"limit {pages.NEWEST_MATCHES}", "limit 3")

    async def rows() -> list:
        ds = Datasette(files=[str(db_path)], metadata=metadata)
        response = await ds.client.get("/archive/mentions_by_month.json?q=flood&_shape=array")
        return response.json()

    assert [(r["month"], r["articles"]) for r in run(rows())] == [("all months", 6), ("2024-01", 3)]
