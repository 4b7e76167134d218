"""The archive's Datasette plugin, registered by the package's ``datasette`` entry point.

Datasette loads every plugin of the ``datasette`` entry-point group (``pyproject.toml``:
``[project.entry-points.datasette] newsarchive = "newsarchive.datasette"``) and, since this
plugin is a package, its ``templates/`` folder too: ``row.html`` (the article page),
``database.html`` (a search box), ``newsarchive_search.html`` (the search page),
``table.html`` (the bounded search's notes; the columns' descriptions folded above the rows),
``_table.html`` (Datasette's own table of rows, read faster: the same HTML), ``query.html``
(a query's page, its rows read faster: the same HTML) and ``_facet_results.html`` (a value
whose row has no label shows the value). The queries
are in :mod:`newsarchive.datasette.pages`; this module wires them to Datasette's hooks:

* ``prepare_connection``: every connection reads through memory-mapped I/O with a larger page
  cache. A search that counts or facets its matches visits the ``articles`` row of each (small
  rows since schema 7 moved the text to ``article_texts``); with SQLite's default 2 MB cache
  each page read is a system call. Measured in docs/performance.md;
* ``startup``: a mutable archive's table counts (the database and home pages) are kept until
  its file changes (:func:`newsarchive.datasette.pages.keep_table_counts`), and each
  database's metadata is shared by the deep copies Datasette's permission checks make
  (:class:`SharedMetadata`);
* ``prepare_jinja2_environment``: the filters ``na_rows`` (:func:`rows_html`) and
  ``na_query_rows`` (:func:`query_rows_html`), the rows of ``_table.html`` and of
  ``query.html`` as one string;
* ``render_cell``: a ``thumbnail`` JPEG BLOB is shown as a picture; the ``snippet`` of the
  ``search_everything`` canned query has its matches marked; an ``article_id`` in a query result
  links to the article page (tables link it as a foreign key already; URLs need nothing:
  Datasette links a cell holding just an http(s) URL); a foreign key whose row has no label (a
  site crawled without a title) shows the key, where Datasette would show the word "None";
* ``canned_queries``: ``search_everything``, the search page's ranking as one statement;
* ``extra_template_vars``: ``row.html`` gets ``na_article`` for a row of ``articles`` (in any
  database: its name is the file's stem), ``database.html`` gets ``na_searchable``;
* ``extra_template_vars`` also gives the article page its placement history (an inline SVG
  timeline of where front and section pages showed it: :mod:`newsarchive.datasette.placements`);
* ``extra_template_vars`` also gives the article page its "View as archived" links (pywb, when
  ``newsarchive serve`` runs it: :mod:`newsarchive.datasette.replay`);
* ``register_routes``: the ranked, highlighted search page (``/-/search``, taking that route
  before datasette-search-all, which still adds the menu link) and the archived thumbnails;
* ``asgi_wrapper``: a plain search of the ``articles`` table (HTML, no filter, sort or export)
  for a word in more than :data:`~newsarchive.datasette.pages.TABLE_SEARCH_CAP` articles goes to
  the search page, which says why and links back to the table: Datasette would sort, count and
  facet every match (1.5-2.5 s for a common word at a million articles). A filtered or sorted
  search of a word in more than :data:`~newsarchive.datasette.pages.NEWEST_MATCHES` articles
  stays in the table but looks at that many matches, the ones archived last. The wrapper also
  asks a repeated default facet once (``pages.drop_default_facets``) and shows an HTML table
  page after the first without facets (``pages.later_page_without_facets``);
* ``register_facet_classes``: the articles table's default facets (metadata type
  ``counted``) read from the counts schema 13 keeps, when those equal Datasette's GROUP BY
  (:mod:`newsarchive.datasette.facets`);
* ``filters_from_request``: that bounded search
  (:func:`~newsarchive.datasette.pages.bounded_search`): exact rows, count and facets among the
  newest matches, said in the page's description, with a link to every match (``table.html``).
"""

from __future__ import annotations

import base64
import gc
import weakref
from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.utils import tilde_encode, to_css_class, urlsafe_components
from datasette.utils.asgi import Response, asgi_send_redirect

from newsarchive.datasette import facets, pages, placements, replay

#: Bytes of the file SQLite may map (larger than any archive; only touched pages cost memory).
MMAP_BYTES = 64 * 2**30
#: Page cache per connection, in KiB (negative: SQLite reads it as KiB).
CACHE_KIB = 32 * 1024
#: The first bytes of a JPEG file: the thumbnails the archive stores.
JPEG_SIGNATURE = b"\xff\xd8\xff"
#: Python's garbage collector thresholds while Datasette serves (the default is 700, 10, 10).
#: A table page of 100 articles (measured before the articles table showed 50) allocates tens of
#: thousands of objects that live as long as the request: with the defaults they outlive two
#: young collections, and every six or seven requests a full collection walks every object of
#: the process (up to 68 ms). In-process, 400 bounded searches at 100k (docs/performance.md):
#: the collector's time 3.3 s → 0.8 s (61 full collections → 1; the middle generation's 2 took
#: up to 105 ms), p90 134 → 117 ms, p95 148 → 126, p50 96 both; the process's peak RSS 162 →
#: 212 MiB.
GC_THRESHOLDS = (50_000, 20, 10)
#: By Datasette, ``{(database, table): {column: the path of the table it refers to}}``
#: (:func:`_unlabelled_key`).
_FOREIGN_PATHS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)
#: The search page's template (not ``search_all.html``: datasette-search-all ships one).
SEARCH_TEMPLATE = "newsarchive_search.html"
SEARCH_ROUTE = r"/-/search$"


@hookimpl
def prepare_connection(conn) -> None:
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")


@hookimpl
def startup(datasette) -> None:
    for db in datasette.databases.values():
        pages.keep_table_counts(db)
    share_database_metadata(datasette)
    raise_gc_thresholds()


class SharedMetadata(dict):
    """A database's metadata, which nothing changes once Datasette has started: a deep copy
    shares it rather than copying it. Datasette 0.65.5 deep-copies all its metadata in every
    check of a table's ``view-table`` permission (``Datasette._table_permission_allows``), two
    per table on the database page: 103 copies of 48 kB there, 110-120 of its 220-240 ms at
    100,000 articles on the slower machine (docs/performance.md). The check only reads the copy
    (it rebuilds, never changes, what it merges), so sharing changes nothing it decides."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedMetadata:
        return self


def share_database_metadata(datasette) -> None:
    """Mark each database's entry of the metadata Datasette was started with as
    :class:`SharedMetadata` (in place: every later lookup reads the same entries). A Datasette
    that keeps its metadata elsewhere is left as it is (``test_datasette`` would say so)."""
    # Datasette 0.65 keeps the metadata it was started with here; every lookup merges from it.
    local = getattr(datasette, "_metadata_local", None)
    databases = local.get("databases") if isinstance(local, dict) else None
    if not isinstance(databases, dict):
        return
    for name, entry in databases.items():
        if isinstance(entry, dict) and not isinstance(entry, SharedMetadata):
            databases[name] = SharedMetadata(entry)


def raise_gc_thresholds() -> None:
    """Collect garbage less often (:data:`GC_THRESHOLDS`), never more often than set already
    (a threshold of 0 has turned automatic collection off: it stays off)."""
    now = gc.get_threshold()
    if now[0]:
        gc.set_threshold(*(max(ours, was) for ours, was in zip(GC_THRESHOLDS, now, strict=True)))


@hookimpl
def prepare_jinja2_environment(env) -> None:
    env.filters["na_rows"] = rows_html
    env.filters["na_query_rows"] = query_rows_html


#: A table row and the start of one of its cells, as Datasette 0.65's ``_table.html`` writes
#: them (its whitespace too: ``test_datasette`` compares the pages).
_ROW_START, _ROW_END = "\n            <tr>\n                ", "\n            </tr>\n        "
_CELL_START, _CELL_END = (
    '\n                    <td class="col-{} type-{}">',
    "</td>\n                ",
)


def rows_html(rows: list[list[dict[str, Any]]]) -> markupsafe.Markup:
    """The ``<tr>`` rows of a table page's cells (Datasette's ``display_rows``), escaped as
    ``_table.html``'s Jinja loop escapes them, in a sixth of its time: a page of 50 articles
    has 1,400 cells, 2,800 at ``_size=100`` (docs/performance.md). Pieces are joined, never
    added: ``str + Markup`` would escape the ``str``."""
    escape, markup = markupsafe.escape, markupsafe.Markup
    starts: dict[tuple[str, str], str] = {}  # a cell's opening tag by (column, value type)
    out = ["\n        "]
    for row in rows:
        out.append(_ROW_START)
        for cell in row:
            key = (cell["column"], cell["value_type"])
            if key not in starts:
                starts[key] = _CELL_START.format(escape(to_css_class(key[0])), escape(key[1]))
            value = cell["value"]
            out += (starts[key], value if type(value) is markup else escape(value), _CELL_END)
        out.append(_ROW_END)
    return markup("".join(out))


#: A row and a cell of a query's results, as Datasette 0.65's ``query.html`` writes them.
_QUERY_ROW_START, _QUERY_ROW_END = "\n        <tr>\n            ", "\n        </tr>\n    "
_QUERY_CELL_START, _QUERY_CELL_END = '\n                <td class="col-{}">', "</td>\n            "


def query_rows_html(rows: list[list[Any]], columns: list[str]) -> markupsafe.Markup:
    """The ``<tr>`` rows of a query's results (``query.html``'s ``display_rows``, each cell a
    string or markup), escaped as its Jinja loop escapes them: a canned query of pictures has
    up to 6,000 cells (docs/performance.md)."""
    escape, markup = markupsafe.escape, markupsafe.Markup
    starts = [_QUERY_CELL_START.format(escape(to_css_class(column))) for column in columns]
    out = []
    for row in rows:
        out.append(_QUERY_ROW_START)
        for start, value in zip(starts, row, strict=False):  # as the template's zip()
            out += (start, value if type(value) is markup else escape(value), _QUERY_CELL_END)
        out.append(_QUERY_ROW_END)
    return markup("".join(out))


@hookimpl
def render_cell(value, column, table, database, datasette):
    if column == "thumbnail" and isinstance(value, bytes) and value.startswith(JPEG_SIGNATURE):
        return _thumbnail_cell(value)
    if column == "snippet" and isinstance(value, str):
        start, end = pages.CANNED_MARKS
        return pages.highlight(value, start=start, end=end) if start in value else None
    if column == "article_id" and table is None and database and isinstance(value, str) and value:
        href = datasette.urls.row(database, "articles", tilde_encode(value))
        return markupsafe.Markup('<a href="{}">{}</a>').format(href, value)
    if type(value) is dict and value.get("label") is None and table and database:
        return _unlabelled_key(datasette, database, table, column, value["value"])
    return None


def _unlabelled_key(datasette, database: str, table: str, column: str, key: Any):
    """A foreign key whose row has no label (a site crawled without a title, so without a name),
    shown as Datasette shows a key that is its own label: the key, linked to its row. Datasette
    would link the word "None". The paths of the tables a table's columns refer to are read once
    (a coroutine then; the cells after, 50 to a page of articles, are strings)."""
    paths = _FOREIGN_PATHS.setdefault(datasette, {}).get((database, table))
    if paths is None:
        return _read_foreign_paths(datasette, database, table, column, key)
    if column not in paths:
        return None
    escape = markupsafe.escape
    return markupsafe.Markup(
        f'<a href="{paths[column]}/{escape(tilde_encode(str(key)))}">{escape(key)}</a>'
    )


async def _read_foreign_paths(datasette, database: str, table: str, column: str, key: Any):
    fks = await datasette.get_database(database).foreign_keys_for_table(table)
    _FOREIGN_PATHS[datasette][(database, table)] = {
        fk["column"]: datasette.urls.table(database, fk["other_table"]) for fk in fks
    }
    return _unlabelled_key(datasette, database, table, column, key)


def _thumbnail_cell(jpeg: bytes) -> markupsafe.Markup:
    """A thumbnail shown from the archive itself, in tables, rows and canned queries alike."""
    data = base64.b64encode(jpeg).decode("ascii")
    return markupsafe.Markup(
        f'<img src="data:image/jpeg;base64,{data}" alt="thumbnail" loading="lazy" '
        f'style="max-width:160px;max-height:160px">'
    )


@hookimpl
def canned_queries(datasette, database):
    async def search_query() -> dict[str, Any]:
        if not await pages.has_table(datasette.get_database(database), "articles_fts"):
            return {}
        return {"search_everything": pages.canned_search_query()}

    return search_query


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if request is None or not database:
        return {}
    if view_name == "row" and table == "articles" and request.url_vars.get("pks"):
        return _article_vars(datasette, request, database)
    if template == "database.html":

        async def database_vars() -> dict[str, Any]:
            db = datasette.get_database(database)
            return {"na_searchable": await pages.has_table(db, "articles_fts")}

        return database_vars
    return {}


def _article_vars(datasette, request, database: str):
    async def article_vars() -> dict[str, Any]:
        values = urlsafe_components(request.url_vars["pks"])
        if len(values) != 1:
            return {}
        article = await pages.article_page(datasette, request, database, values[0])
        if article is not None:  # where front and section pages placed it: a timeline
            article["placements"] = await placements.placement_history(
                datasette, request, database, values[0]
            )
        base = replay.replay_base(request.host)
        if article is not None and base:  # serve runs pywb: "View as archived" links
            db = datasette.get_database(database)
            article["replay"] = await replay.article_replay(db, article, base)
        return {"na_article": article}

    return article_vars


async def search_page(datasette, request) -> Response:
    """``/-/search``: one ranked list of articles, pictures and videos for ``?q=``."""
    q = request.args.get("q") or ""
    results = await pages.search_everything(datasette, request, q)
    context = {
        "q": q,
        "na_search": results,
        "na_from_table": pages.table_search_note(datasette, request, results["q"]),
    }
    return Response.html(await datasette.render_template(SEARCH_TEMPLATE, context, request=request))


@hookimpl(tryfirst=True)
def register_routes():
    return [(SEARCH_ROUTE, search_page), (pages.THUMBNAIL_ROUTE, pages.thumbnail_response)]


@hookimpl(tryfirst=True)
def register_facet_classes():
    """The articles table's default facets from the counts the store keeps (schema 13), shown
    before the facets a URL asks for, as metadata facets are."""
    return [facets.CountedFacet]


@hookimpl
def filters_from_request(request, database, table, datasette):
    async def newest_matches():
        return await pages.bounded_search(datasette, request, database, table)

    return newest_matches


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def common_word_table_search(scope, receive, send) -> None:
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                query = scope.get("query_string", b"").decode("latin-1")
                for rewritten in (
                    pages.drop_default_facets(datasette, scope["path"], query),
                    pages.later_page_without_facets(scope["path"], query),
                ):
                    if rewritten is not None:
                        query = rewritten
                        scope = {**scope, "query_string": query.encode("latin-1")}
                route = await pages.route_table_search(datasette, scope["path"], query)
                if route is not None and route[0] == "redirect":
                    await asgi_send_redirect(send, route[1])
                    return
                if route is not None:  # the newest matches: Datasette sees NEWEST_ARG
                    scope = {**scope, "query_string": route[1].encode("latin-1")}
            await app(scope, receive, send)

        return common_word_table_search

    return wrap
