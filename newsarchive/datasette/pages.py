"""Read-only page data for the Datasette plugin (:mod:`newsarchive.datasette`).

* :func:`article_page` gathers what an article's row page shows: byline, site, pictures (lead
  and in-body), videos, body paragraphs, revisions with readable diffs and the WARC capture;
* :func:`search_everything` runs one ranked full-text search over articles, picture captions
  and credits, video titles and video transcripts (the ``/-/search`` page); :func:`canned_search_sql` is the same
  search as one statement, the ``search_everything`` canned query;
* :func:`thumbnail_response` serves an archived picture thumbnail (``images.thumbnail``).

Every query is a ``SELECT`` through Datasette's own read-only connections and time limit.
Columns added by later schema versions (``images.thumbnail``, ``*.capture_id``, ``captures``,
``revisions.diff``) are used when the archive has them and ignored otherwise. Nothing here
marks text safe except :func:`highlight`, which escapes first: templates autoescape the rest.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import urllib.parse
import weakref
from typing import Any

import markupsafe
from datasette.utils import tilde_encode

from newsarchive.datasette.facets import facet_columns
from newsarchive.history import paragraphs, readable_diff
from newsarchive.store.schema import SEARCH_FILTER_COLUMNS, filter_token

#: FTS5 snippet markers: private-use characters that never occur in archived text.
MARK_START, MARK_END = "\ue000", "\ue001"
#: Tables searched by "search everything", in display order.
SEARCHED = (
    "articles",
    "article_images",
    "videos",
    "transcripts",  # what is said in videos (issue 14, part 3)
)  # pictures: captions and credits as each article prints them
NOUNS = {
    "articles": ("article", "articles"),
    "article_images": ("picture", "pictures"),
    "videos": ("video", "videos"),
    "transcripts": ("transcript", "transcripts"),
}
#: Image signatures accepted by the thumbnail route (never SVG: it can carry script).
IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
THUMBNAIL_ROUTE = r"/-/newsarchive/thumbnail/(?P<database>[^/]+)/(?P<image_id>[^/]+)$"


# -- small helpers --------------------------------------------------------------------------


def safe_url(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None: never a ``javascript:`` link."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    return None


def highlight(
    snippet: str | None, *, start: str = MARK_START, end: str = MARK_END
) -> markupsafe.Markup:
    """An FTS5 snippet with its ``start``/``end`` markers turned into ``<mark>``, escaped first.

    A snippet cut inside a match leaves an unclosed marker: its ``<mark>`` ends with the text.
    """
    escaped = str(markupsafe.escape(snippet or ""))
    opened, closed = str(markupsafe.escape(start)), str(markupsafe.escape(end))
    marked = re.compile(f"{re.escape(opened)}(.*?)(?:{re.escape(closed)}|$)", re.DOTALL)
    return markupsafe.Markup(marked.sub(r"<mark>\1</mark>", escaped))


def image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG, GIF or WebP picture, from its first bytes; else None."""
    for signature, mime in IMAGE_TYPES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def diff_lines(diff: str | None) -> list[dict[str, str]]:
    """A unified diff as ``{"kind": "add"|"del"|"hunk"|"file"|"same", "text": line}`` rows."""
    rows = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        rows.append({"kind": kind, "text": line})
    return rows


def _json(value: Any, default: Any) -> Any:
    if not isinstance(value, str):
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


#: By database, the tables it is known to have. A table of the archive, once there, stays (a
#: migration that rebuilds one does it in one transaction), so each is asked about once; a
#: table not there yet is asked about again. Each statement a page runs waits for the event
#: loop behind every other request (docs/performance.md, "Twenty readers").
_TABLES_SEEN: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


async def has_table(db, table: str) -> bool:
    """Whether the database ``db`` (Datasette's) has ``table``."""
    seen = _TABLES_SEEN.setdefault(db, set())
    if table not in seen and await db.table_exists(table):
        seen.add(table)
    return table in seen


async def _columns(db, table: str) -> set[str]:
    if not await has_table(db, table):
        return set()
    return set(await db.table_columns(table))


async def _visible(datasette, request, database: str, table: str) -> bool:
    visible, _ = await datasette.check_visibility(
        request.actor if request else None,
        permissions=[
            ("view-table", (database, table)),
            ("view-database", database),
            "view-instance",
        ],
    )
    return visible


def _rows(results) -> list[dict[str, Any]]:
    return [dict(row) for row in results.rows]


def thumbnail_url(datasette, database: str, image_id: str) -> str:
    return datasette.urls.path(
        f"/-/newsarchive/thumbnail/{urllib.parse.quote(database, safe='')}/"
        f"{urllib.parse.quote(str(image_id), safe='')}"
    )


# -- table counts ---------------------------------------------------------------------------


def _file_state(path: str) -> tuple:
    """What changes when anything is committed to the file: size and time of it and of its WAL
    (an empty WAL, as a reader creates it, is no change)."""
    state: list[tuple[int, int] | None] = []
    for name in (path, f"{path}-wal"):
        try:
            stat = os.stat(name)
        except OSError:
            state.append(None)
        else:
            state.append((stat.st_size, stat.st_mtime_ns) if stat.st_size else None)
    return tuple(state)


async def _count_visible_tables(db, limit: int) -> dict[str, int | None]:
    """Datasette's ``Database.table_counts`` without the hidden tables (the FTS indexes and their
    shadow tables, which the pages list apart): those get None, as a count that timed out."""
    from datasette.database import QueryInterrupted

    hidden = set(await db.hidden_table_names())
    counts: dict[str, int | None] = {}
    for table in await db.table_names():
        counts[table] = None
        if table in hidden:
            continue
        try:
            sql = f"select count(*) from [{table}]"
            counts[table] = (await db.execute(sql, custom_time_limit=limit)).rows[0][0]
        except (QueryInterrupted, sqlite3.OperationalError, sqlite3.DatabaseError):
            pass
    return counts


def keep_table_counts(db) -> None:
    """Count a mutable database's tables once per change of its file, not on every visit.

    Datasette counts every table (the FTS index's own tables too) each time the database page or
    the home page is shown; a ``count(*)`` is one SQLite instruction that its time limit cannot
    stop, so at a million articles the counts took 0.8-1.5 s, most of it ``articles_fts_data``.
    An immutable file is counted once by Datasette itself. Here hidden tables are not counted,
    and the counts are kept until a commit changes the file or its WAL (a crawl commits a page
    at a time: during a crawl they are counted again).
    """
    if db.is_memory or not db.is_mutable or not db.path:
        return
    kept: dict[str, Any] = {}

    async def table_counts(limit: int = 10) -> dict[str, int | None]:
        state = _file_state(db.path)
        if kept.get("state") != state:
            kept["counts"] = await _count_visible_tables(db, limit)
            kept["state"] = state
        return dict(kept["counts"])

    db.table_counts = table_counts


# -- article page ---------------------------------------------------------------------------


async def article_page(datasette, request, database: str, article_id: str) -> dict[str, Any] | None:
    """Everything the article page shows besides the ``articles`` row itself; None if no row."""
    db = datasette.get_database(database)
    results = await db.execute("select * from articles where id = ?", [article_id])
    if not results.rows:
        return None
    article = {**dict(results.rows[0]), "body_text": await _body_text(db, article_id)}
    links = _RowLinks(datasette, database)
    images = await _images(db, links, article_id)
    lead = next((i for i in images if i["is_lead"]), None)
    return {
        "article": article,
        "columns": await _columns(db, "articles"),
        "site": await _site(db, links, article.get("site")),
        "authors": await _authors(db, links, article_id),
        "tags": await _tags(db, article_id),
        "lead": lead,
        "images": [i for i in images if i is not lead],
        "videos": await _videos(db, links, article_id),
        "paragraphs": paragraphs(article.get("body_text")),
        "original": safe_url(article.get("canonical_url")) or safe_url(article.get("url")),
        "fetched": safe_url(article.get("url")),
        "capture": await _capture(db, links, article.get("capture_id")),
        "revisions": await _revisions(db, article, article_id),
        "links": links.of_article(article_id),
    }


async def _body_text(db, article_id: str) -> str | None:
    """The article's text: ``article_texts`` since schema version 7, ``articles`` before."""
    if await has_table(db, "article_texts"):
        sql = "select body_text from article_texts where article_id = ?"
    else:
        sql = "select body_text from articles where id = ?"
    rows = (await db.execute(sql, [article_id])).rows
    return rows[0][0] if rows else None


class _RowLinks:
    """Links to the rows and tables of one database of the archive."""

    def __init__(self, datasette, database: str) -> None:
        self.datasette = datasette
        self.database = database

    def row(self, table: str, pk: Any) -> str:
        return self.datasette.urls.row(self.database, table, tilde_encode(str(pk)))

    def filtered(self, table: str, column: str, value: Any) -> str:
        """``table``'s rows whose ``column`` is ``value``."""
        quoted = urllib.parse.quote(str(value), safe="")
        return self.datasette.urls.table(self.database, table) + f"?{column}={quoted}"

    def thumbnail(self, image_id: str) -> str:
        return thumbnail_url(self.datasette, self.database, image_id)

    def of_article(self, article_id: str) -> dict[str, str]:
        """The article's revisions, its JSON and its pictures."""
        return {
            "revisions": self.filtered("revisions", "article_id", article_id),
            "json": self.datasette.urls.row(
                self.database, "articles", tilde_encode(article_id), format="json"
            ),
            "images": self.filtered("article_images", "article_id", article_id),
        }


async def _site(db, links: _RowLinks, site_name: str | None) -> dict[str, Any] | None:
    """The article's ``sites`` row (or just its name), with its link and home page."""
    if not site_name or not await has_table(db, "sites"):
        return None
    found = await db.execute("select * from sites where site = ?", [site_name])
    site = dict(found.rows[0]) if found.rows else {"site": site_name}
    site["link"] = links.row("sites", site_name)
    site["home"] = safe_url(site.get("base_url"))
    return site


async def _linked(db, article_id: str, table: str, columns: str) -> list[dict[str, Any]]:
    """``columns`` of the ``table`` rows an article links to through ``article_<table>``
    (``authors``, ``tags``, ``videos``), in the article's order."""
    link = f"article_{table}"
    return _rows(
        await db.execute(
            f"select {columns} from {link} join {table} on {table}.id = {link}.{table[:-1]}_id "
            f"where {link}.article_id = ? order by {link}.position",
            [article_id],
        )
    )


async def _authors(db, links: _RowLinks, article_id: str) -> list[dict[str, Any]]:
    """The byline's authors in order, each linked to the articles they wrote."""
    authors = await _linked(db, article_id, "authors", "authors.id, authors.name")
    for author in authors:
        author["link"] = links.filtered("article_authors", "author_id", author["id"])
    return authors


async def _tags(db, article_id: str) -> list[dict[str, Any]]:
    return await _linked(db, article_id, "tags", "tags.id, tags.name")


async def _images(db, links: _RowLinks, article_id: str) -> list[dict[str, Any]]:
    """The article's pictures in order (the lead among them), with links, thumbnail and capture."""
    image_cols = await _columns(db, "images")
    thumb_sql = (
        ", (images.thumbnail is not null) as has_thumbnail" if "thumbnail" in image_cols else ""
    )
    capture_sql = ", images.capture_id as image_capture_id" if "capture_id" in image_cols else ""
    images = _rows(
        await db.execute(
            "select images.id, images.url, article_images.caption, article_images.credit, article_images.photographer, "
            "article_images.agency, article_images.alt, images.width, images.height, article_images.position, "
            "article_images.is_lead"
            f"{thumb_sql}{capture_sql} from article_images join images on images.id = article_images.image_id "
            "where article_images.article_id = ? order by article_images.position",
            [article_id],
        )
    )
    for image in images:
        image["link"] = links.row("images", image["id"])
        image["original"] = safe_url(image["url"])
        image["thumbnail"] = links.thumbnail(image["id"]) if image.get("has_thumbnail") else None
        capture_id = image.get("image_capture_id")
        image["capture_link"] = (
            links.row("captures", capture_id) if capture_id is not None else None
        )
    return images


async def _videos(db, links: _RowLinks, article_id: str) -> list[dict[str, Any]]:
    videos = await _linked(db, article_id, "videos", "videos.*")
    for video in videos:
        video["link"] = links.row("videos", video["id"])
        video["watch"] = safe_url(video.get("url"))
        video["thumbnail"] = safe_url(video.get("thumbnail_url"))
        video["transcripts"] = await _video_transcripts(db, links, video["id"])
    return videos


async def _capture(db, links: _RowLinks, capture_id: Any) -> dict[str, Any] | None:
    """The WARC capture the article was extracted from (without its payload), as fields."""
    if capture_id is None or not await has_table(db, "captures"):
        return None
    found = await db.execute("select * from captures where id = ?", [capture_id])
    capture = dict(found.rows[0]) if found.rows else {"id": capture_id}
    capture.pop("payload", None)
    capture["fields"] = [
        (k, v) for k, v in capture.items() if not isinstance(v, bytes) and v is not None
    ]
    capture["link"] = links.row("captures", capture_id)
    return capture


async def _revisions(db, article: dict[str, Any], article_id: str) -> list[dict[str, Any]]:
    """The article's revisions, newest first, each with a readable diff of title and text.

    ``revisions.diff`` is used when the schema has it and it is filled; otherwise the diff is
    computed: a revision keeps the values *before* a change, and the values after it are the
    next revision's old values of that field, or the current article's.
    """
    rows = _rows(
        await db.execute(
            "select * from revisions where article_id = ? order by seen_at, id", [article_id]
        )
    )
    later: dict[str, Any] = {}
    for row in reversed(rows):  # newest first: "after" values come from newer rows
        old = _json(row.get("old_values"), {})
        if not isinstance(old, dict):
            old = {}
        changed = _json(row.get("changed_fields"), [])
        new = {f: later.get(f, article.get(f)) for f in ("title", "body_text")}
        before = {f: old.get(f, new[f]) for f in ("title", "body_text")}
        diff = row.get("diff") or readable_diff(before, new)
        row["changed"] = changed if isinstance(changed, list) else []
        row["diff_lines"] = diff_lines(diff)
        corrections = _json(row.get("corrections"), None)
        if isinstance(row.get("corrections"), str) and corrections is None:
            corrections = [row["corrections"]]
        row["correction_list"] = [c for c in corrections or [] if isinstance(c, str)]
        row["scalar_changes"] = [
            (f, old.get(f), later.get(f, article.get(f)))
            for f in row["changed"]
            if f in old
            and f not in ("title", "body_text")
            and not isinstance(old.get(f), (list, dict))
        ]
        for f, value in old.items():
            later[f] = value
    return list(reversed(rows))


# -- search everything -------------------------------------------------------------------


#: Per searched table: its bm25 column weights (title-like columns count most).
_WEIGHTS = {
    "articles": "10.0, 4.0, 1.0",
    "article_images": "4.0, 4.0, 1.0",
    "videos": "10.0, 1.0",
    "transcripts": "1.0",
}
#: A table's hits are ranked among its newest CANDIDATES matches (by rowid): bm25 of every
#: match of a word found in most articles costs seconds at a million rows, and for such a
#: word the newest are what a journalist wants. Fewer matches than this are all ranked.
CANDIDATES = 2_000
#: Matches are counted up to this many; more show as "10,000+".
COUNT_CAP = 10_000

#: Per searched table: its hits' display columns; ``{start}``/``{end}`` are the SQL of the
#: snippet's match markers (parameters for the search page, literals for the canned query).
_COLUMNS = {
    "articles": (
        "'article' as kind, articles.id as id, articles.title as title, "
        "snippet(articles_fts, -1, {start}, {end}, '…', 24) as snippet, articles.url as url, "
        "coalesce(articles.published, articles.first_seen) as date, articles.site as site, "
        "articles.section as section, articles.authors_text as extra"
    ),
    "article_images": (
        "'image' as kind, images.id as id, coalesce(article_images.caption, article_images.alt) as title, "
        "snippet(article_images_fts, -1, {start}, {end}, '…', 24) as snippet, images.url as url, "
        "coalesce(articles.published, articles.first_seen) as date, articles.site as site, null as section, "
        "article_images.credit as extra"
    ),
    "videos": (
        "'video' as kind, videos.id as id, videos.title as title, "
        "snippet(videos_fts, -1, {start}, {end}, '…', 24) as snippet, videos.url as url, "
        "videos.published as date, null as site, null as section, videos.channel as extra"
    ),
    "transcripts": (
        "'transcript' as kind, transcripts.id as id, coalesce(videos.title, videos.url) as title, "
        "snippet(transcripts_fts, -1, {start}, {end}, '…', 24) as snippet, videos.url as url, "
        "videos.published as date, null as site, null as section, "
        "transcripts.language || ' ' || transcripts.kind as extra"
    ),
}
#: Per searched table: the content rows joined to its FTS table's rows.
_JOINS = {
    "articles": "join articles on articles.rowid = articles_fts.rowid",
    "article_images": (
        "join article_images on article_images.rowid = article_images_fts.rowid "
        "join images on images.id = article_images.image_id "
        "join articles on articles.id = article_images.article_id"
    ),
    "videos": "join videos on videos.rowid = videos_fts.rowid",
    "transcripts": (
        "join transcripts on transcripts.rowid = transcripts_fts.rowid "
        "join videos on videos.id = transcripts.video_id"
    ),
}
#: The canned query ``search_everything``: its best hits per kind, and in all.
CANNED_PER_TABLE = 50
CANNED_TOTAL = 100
#: The canned query's search: its ``:q`` escaped as Datasette's table search does; an empty
#: search matches nothing (a lone space in quotes) instead of failing.
_CANNED_MATCH = "coalesce(nullif(escape_fts(:q), ''), '\" \"')"
#: The canned query's match markers: readable in its JSON and CSV, rendered as ``<mark>``.
CANNED_MARKS = ("[", "]")


def _ranking_sql(table: str, limit: int, *, match: str = ":q") -> str:
    """The best ``limit`` rowids of ``table``'s FTS index for ``match`` with their bm25 rank,
    among its newest :data:`CANDIDATES` matches; no snippet, no join: the index alone."""
    fts = f"{table}_fts"
    return (
        f"select rowid, bm25({fts}, {_WEIGHTS[table]}) as rank from {fts} "
        f"where {fts} match {match} and rowid >= coalesce((select min(rowid) from (select rowid from {fts} "
        f"where {fts} match {match} order by rowid desc limit {CANDIDATES})), 0) "
        f"order by rank limit {int(limit)}"
    )


def _hits_sql(table: str, count: int) -> str:
    """The display columns of ``count`` ranked rowids of ``table`` (``:r0``, ``:r1``...), with
    snippets marked by ``:s`` and ``:e``."""
    fts = f"{table}_fts"
    rowids = ", ".join(f":r{n}" for n in range(count))
    return (
        f"select {_COLUMNS[table].format(start=':s', end=':e')}, {fts}.rowid as fts_rowid "
        f"from {fts} {_JOINS[table]} where {fts} match :q and {fts}.rowid in ({rowids})"
    )


def canned_search_sql() -> str:
    """The ``search_everything`` canned query: the same ranking and snippets as the search page
    (:func:`search_everything`) in one statement, matches marked with :data:`CANNED_MARKS`."""
    start, end = (f"'{mark}'" for mark in CANNED_MARKS)
    parts = []
    for table in SEARCHED:
        fts = f"{table}_fts"
        parts.append(
            f"select {_COLUMNS[table].format(start=start, end=end)}, top.rank as rank\n"
            f"  from ({_ranking_sql(table, CANNED_PER_TABLE, match=_CANNED_MATCH)}) as top\n"
            f"  join {fts} on {fts}.rowid = top.rowid {_JOINS[table]}\n"
            f"  where {fts} match {_CANNED_MATCH}"
        )
    return (
        "select kind as found_in, id, title, snippet, url, date, site, section, extra, rank\n"
        "from (\n" + "\nunion all\n".join(parts) + f"\n)\norder by rank\nlimit {CANNED_TOTAL}"
    )


def canned_search_query() -> dict[str, str | bool]:
    """The ``search_everything`` canned query as Datasette's ``canned_queries`` hook gives it."""
    return {
        "title": "Search everything",
        "hide_sql": True,
        "description": (
            "Full-text search of article text, picture captions and credits, video titles and what is said in videos: "
            f"the {CANNED_PER_TABLE} best of each kind, {CANNED_TOTAL} in all, ranked as on the "
            "search page (/-/search). Words are matched as given; matches are marked with [ ]. "
            f"Each kind is ranked among its {CANDIDATES:,} newest matches (all of them for rarer "
            "words). An empty search finds nothing."
        ),
        "sql": canned_search_sql(),
    }


async def _hits(db, table: str, fts_q: str, limit: int) -> list[dict[str, Any]]:
    """``table``'s best ``limit`` hits for ``fts_q``: ranked first, snippets for those only."""
    ranked = {
        row[0]: row[1] for row in (await db.execute(_ranking_sql(table, limit), {"q": fts_q})).rows
    }
    if not ranked:
        return []
    params: dict[str, Any] = {"q": fts_q, "s": MARK_START, "e": MARK_END}
    params.update({f"r{n}": rowid for n, rowid in enumerate(ranked)})
    hits = _rows(await db.execute(_hits_sql(table, len(ranked)), params))
    for hit in hits:
        hit["rank"] = ranked[hit.pop("fts_rowid")]
        hit["fts_q"] = fts_q  # a transcript hit looks up its moment with it
    return hits


async def _count(db, table: str, fts_q: str, *, cap: int | None = None) -> tuple[int, bool]:
    """How many rows of ``table`` match, counted up to ``cap`` (default :data:`COUNT_CAP`);
    and whether there are more."""
    cap = COUNT_CAP if cap is None else cap
    sql = (
        f"select count(*) from (select rowid from {table}_fts where {table}_fts match :q "
        f"limit {int(cap) + 1})"
    )
    count = (await db.execute(sql, {"q": fts_q})).first()[0]
    return min(count, cap), count > cap


async def search_everything(datasette, request, q: str, *, limit: int = 50) -> dict[str, Any]:
    """Ranked hits (best first) for ``q`` over every archive database Datasette serves.

    Each FTS table is ranked on its own (bm25, a LIMIT) before any snippet is made or any
    content row read, so the cost follows ``limit``, not the number of matches.
    """
    from datasette.utils import escape_fts

    q = (q or "").strip()
    out: dict[str, Any] = {"q": q, "hits": [], "counts": [], "error": None, "searched": False}
    fts_q = escape_fts(q) if q else ""
    if not fts_q:
        return out
    for database, db in datasette.databases.items():
        if database.startswith("_") or not await has_table(db, "articles_fts"):
            continue
        tables = [
            t
            for t in SEARCHED
            if await has_table(db, f"{t}_fts") and await _visible(datasette, request, database, t)
        ]
        if tables:
            out["searched"] = True
            await _search_database(datasette, database, tables, q, fts_q, out, limit=limit)
    out["hits"].sort(key=lambda h: h["rank"])
    return out


async def _search_database(
    datasette,
    database: str,
    tables: list[str],
    q: str,
    fts_q: str,
    out: dict[str, Any],
    *,
    limit: int,
) -> None:
    """Add the best ``limit`` hits of one database, and its counts per table, to ``out``; a
    search that fails or takes too long is ``out["error"]``."""
    from datasette.database import QueryInterrupted

    db = datasette.get_database(database)
    hits: list[dict[str, Any]] = []
    try:
        for table in tables:
            hits += await _hits(db, table, fts_q, limit)
            out["counts"].append(await _count_entry(datasette, db, database, table, q, fts_q))
    except QueryInterrupted:
        out["error"] = "The search took too long; try more specific words."
        return
    except Exception as exc:  # an FTS syntax error despite escaping: say so, do not crash
        out["error"] = f"The search failed: {exc}"
        return
    hits = sorted(hits, key=lambda h: h["rank"])[:limit]
    thumbs = "thumbnail" in await _columns(db, "images")
    names = await _site_names(db, {hit["site"] for hit in hits if hit.get("site")})
    await _decorate_hits(datasette, db, database, hits, thumbs)
    for hit in hits:
        hit["site_name"] = names.get(hit.get("site") or "")
    out["hits"].extend(hits)


async def _site_names(db, sites: set[str]) -> dict[str, str]:
    """The names of ``sites`` (``sites.name``), for those that have one."""
    if not sites or not await has_table(db, "sites"):
        return {}
    marks = ", ".join("?" * len(sites))
    found = await db.execute(f"select site, name from sites where site in ({marks})", sorted(sites))
    return {site: name for site, name in found.rows if name}


async def _count_entry(datasette, db, database: str, table: str, q: str, fts_q: str) -> dict:
    """How many rows of ``table`` match, labelled and linked to the table searched for ``q``
    (among its newest matches, :data:`NEWEST_ARG`, when the table search would come back here)."""
    count, more = await _count(db, table, fts_q)
    return {
        "database": database,
        "table": table,
        "count": f"{count:,}+" if more else count,
        "label": NOUNS[table][0 if count == 1 and not more else 1],
        "link": table_search_url(datasette, database, table, q, in_table=more),
    }


def table_search_url(datasette, database: str, table: str, q: str, *, in_table: bool) -> str:
    """``table`` searched for ``q``; ``in_table``: in the table whatever the number of matches
    (among the :data:`NEWEST_MATCHES` archived last: :func:`bounded_search`), never sent back
    to the search page."""
    arg = NEWEST_ARG if in_table and table == TABLE_SEARCHED else "_search"
    return datasette.urls.table(database, table) + f"?{arg}=" + urllib.parse.quote_plus(q)


# -- a table search of a common word --------------------------------------------------------

#: The table whose search of a common word is answered by the search page or bounded.
TABLE_SEARCHED = "articles"
#: A plain search of the articles table (``?_search=`` and nothing that filters or sorts)
#: matching more articles than this is sent to the search page (:func:`route_table_search`).
#: Datasette sorts, counts and facets every match of a table search: for a word in 650,000 of a
#: million articles that is 1.5 s (docs/performance.md); the search page ranks the newest
#: :data:`CANDIDATES` matches in about 80 ms. The same cap as the search page's counts.
TABLE_SEARCH_CAP = COUNT_CAP
#: A table search that filters, sorts or comes from the search page, for a word in more
#: articles than this, looks at the matches archived last, this many (:func:`bounded_search`;
#: of those its site, section, month, kind or language filters keep: :func:`_narrowed`):
#: its rows, count and facets are exact among them and the page says so. Building the set of
#: all 650,000 matches of a common word costs 0.75 s at a million articles per query (page,
#: count and each facet: five of them); the bounded search's cost follows this number, whatever
#: the archive's size (its page and facets: 90 ms for 20,000, 46 for 10,000, on a slower machine
#: than the rounds before: docs/performance.md). The same number as the search page's count cap,
#: whose "10,000+" links here. The canned query ``mentions_by_month`` counts the same newest
#: matches by month.
NEWEST_MATCHES = COUNT_CAP
#: In a table search's query string: stay in the table with every match, however many.
ALL_MATCHES_ARG = "_na_all"
#: Every match (:data:`ALL_MATCHES_ARG`) of a word in more articles than this is listed without
#: facets, as the bounded search's facets count no more than this many matches: each facet
#: builds the set of every match again (at a million articles it stopped at
#: ``facet_time_limit_ms`` with nothing to show, 653,910 matches; at 100,000 the three facets of
#: 65,391 matches took about 150 ms). Such a page without a column filter, or with only
#: filters the index narrows by (:func:`_narrowed`), gets its count from the FTS index (26-60
#: ms), not from Datasette's count of the set (0.6 s).
EVERY_MATCH_FACETED = NEWEST_MATCHES
#: What an every-match page of a common word is given by :func:`route_table_search`.
_EVERY_MATCH_ARGS = ("_nofacet", "_nocount")
#: In a table's query string: search among the :data:`NEWEST_MATCHES` matches archived last
#: (:func:`bounded_search`). Not ``_search...``: Datasette would add its own search of them all.
NEWEST_ARG = "_na_search"
#: In the search page's query string: the database whose table search was sent there.
FROM_TABLE_ARG = "from_table"
#: Query-string arguments that keep a common-word table search in the table rather than on the
#: search page: a sort, a raw filter, every match. (Column filters are any argument without "_".)
_KEEP_IN_TABLE = ("_sort", "_sort_desc", "_where", ALL_MATCHES_ARG)
#: ... and those that keep it complete: every match asked for, an export.
_KEEP_COMPLETE = (ALL_MATCHES_ARG, "_format")


def _is_plain(args: dict[str, list[str]]) -> bool:
    """A table search that neither filters nor sorts: the search page answers it as well."""
    return _unfiltered(args) and not any(key in args for key in _KEEP_IN_TABLE)


def _replace_search(query_string: str, *, to: str | None) -> str:
    """``query_string`` with its ``_search`` renamed ``to`` (or kept, ``None``) and any earlier
    :data:`NEWEST_ARG` dropped, with the ``_nocount`` that came with it (a search box submits
    the page's hidden arguments too)."""
    pairs = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    dropped = (NEWEST_ARG, "_nocount") if any(key == NEWEST_ARG for key, _ in pairs) else ()
    return urllib.parse.urlencode(
        [
            (to if key == "_search" and to else key, value)
            for key, value in pairs
            if key not in dropped
        ]
    )


async def _counted_args(db, query_string: str) -> str:
    """A bounded search's ``query_string`` (:data:`NEWEST_ARG`) with ``_nocount=1`` when the FTS
    index counts its rows (:func:`_counted_in_index`; :func:`bounded_search` then gives the
    count), without ``_nocount`` otherwise. Datasette's count reads each matching row: up to
    :data:`NEWEST_MATCHES` of them, 10-17 ms a page at 100,000 articles on a slow machine."""
    pairs = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    args = urllib.parse.parse_qs(query_string, keep_blank_values=True)
    narrowed = any(key in _INDEXED_FILTERS for key in args) and await _holds_filter_tokens(db)
    kept = [(key, value) for key, value in pairs if key != "_nocount"]
    if _counted_in_index(args, narrowed=narrowed):
        kept.append(("_nocount", "1"))
    return urllib.parse.urlencode(kept)


async def route_table_search(datasette, path: str, query_string: str) -> tuple[str, str] | None:
    """What to do with an HTML search of an archive's ``articles`` table before Datasette runs
    it: ``("redirect", url)`` for a plain search of a word in more than
    :data:`TABLE_SEARCH_CAP` articles (the search page, which says why); ``("rewrite",
    query_string)`` for any other search of a word in more articles than the smaller of that
    and :data:`NEWEST_MATCHES` (``_search`` becomes :data:`NEWEST_ARG`: :func:`bounded_search`,
    which searches every match of a word in fewer than :data:`NEWEST_MATCHES` articles), or to
    drop a stale :data:`NEWEST_ARG`; a bounded search (or its own links) gets ``_nocount`` when
    the index counts it (:func:`_counted_args`); ``None``: let Datasette answer as asked.

    The matches are counted in the FTS index alone, stopping after the bound (a few ms at a
    million articles); a search Datasette cannot run (bad raw FTS syntax) is left to it."""
    if not path.endswith("/" + TABLE_SEARCHED) or not query_string:
        return None
    args = urllib.parse.parse_qs(query_string, keep_blank_values=True)
    database = _database_of_table(datasette, path)
    if database is None:
        return None
    db = datasette.get_database(database)
    if "_search" not in args:  # a bounded search's own links: counted in the index or not
        if NEWEST_ARG not in args or any(key in args for key in _KEEP_COMPLETE):
            return None
        counted = await _counted_args(db, query_string)
        return ("rewrite", counted) if counted != query_string else None
    stale = ("rewrite", _replace_search(query_string, to=None)) if NEWEST_ARG in args else None
    q = args["_search"][0].strip()
    if q and ALL_MATCHES_ARG in args and "_format" not in args:  # the HTML page (not .json)
        return await _every_match(db, query_string, q, args)
    if not q or any(key in args for key in _KEEP_COMPLETE):
        return stale
    count = await _table_matches(db, q, raw=_raw(args))
    if count is None or count <= min(TABLE_SEARCH_CAP, NEWEST_MATCHES):
        return stale
    if count > TABLE_SEARCH_CAP and _is_plain(args):
        target = urllib.parse.urlencode({"q": q, FROM_TABLE_ARG: database})
        return "redirect", datasette.urls.path("/-/search") + "?" + target
    return "rewrite", await _counted_args(db, _replace_search(query_string, to=NEWEST_ARG))


async def _every_match(
    db, query_string: str, q: str, args: dict[str, list[str]]
) -> tuple[str, str] | None:
    """The HTML table page of every match of ``q``: for a word in more than
    :data:`EVERY_MATCH_FACETED` articles (of those the page's filters keep, when the index
    narrows by them: :func:`_narrowed`), searched through :func:`bounded_search` (which then
    bounds nothing) without facets, and, when no column filter narrows it, without Datasette's
    count (:func:`bounded_search` counts in the FTS index). Fewer matches among the articles
    that the index narrows the search to are searched there too, with facets: Datasette's own
    search would build the set of every match of the word. ``_nofacet`` and ``_nocount`` are
    dropped otherwise: the page's search box submits them with the next word."""
    from datasette.database import QueryInterrupted
    from datasette.utils import escape_fts

    asked = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    pairs = [(key, value) for key, value in asked if key not in (*_EVERY_MATCH_ARGS, NEWEST_ARG)]
    added: tuple[str, ...] | None = None
    if await has_table(db, f"{TABLE_SEARCHED}_fts"):
        fts_q = q if _raw(args) else escape_fts(q)
        narrowed = await _narrowed(db, fts_q, asked)
        try:
            if (await _count(db, TABLE_SEARCHED, narrowed, cap=EVERY_MATCH_FACETED))[1]:
                counted = _counted_in_index(args, narrowed=narrowed != fts_q)
                added = _EVERY_MATCH_ARGS if counted else ("_nofacet",)
            elif narrowed != fts_q:
                added = ()
        except (sqlite3.Error, QueryInterrupted):
            pass  # Datasette's own search says what is wrong
    if added is not None:
        return "rewrite", _replace_search(
            urllib.parse.urlencode([*pairs, *((key, "1") for key in added)]), to=NEWEST_ARG
        )
    if len(pairs) < len(asked):
        return "rewrite", urllib.parse.urlencode(pairs)
    return None


def _unfiltered(args) -> bool:
    """Whether a table search's rows are every match (no column filter such as ``site=``, no
    ``_where``)."""
    return "_where" not in args and all(key.startswith("_") for key in args)


#: Query-string keys of the equality filters that :func:`_narrowed` finds in the index.
_INDEXED_FILTERS = {
    key: column for column in SEARCH_FILTER_COLUMNS for key in (column, f"{column}__exact")
}


def _counted_in_index(args, *, narrowed: bool) -> bool:
    """Whether the FTS index alone counts a table search's rows: it has no filter, or only
    equality filters that ``narrowed`` it (:func:`_narrowed`)."""
    return _unfiltered(args) or (
        narrowed
        and "_where" not in args
        and all(key.startswith("_") or key in _INDEXED_FILTERS for key in args)
    )


def drop_default_facets(datasette, path: str, query_string: str) -> str | None:
    """The query string of an HTML or JSON page of a table without the ``_facet=column`` args
    that repeat one of the table's default facets (metadata ``facets``); None if it has none.

    Datasette 0.65 runs and shows such a facet twice (``site`` and ``site_2``): at 1M
    articles ``?_facet=site&_facet=published_month`` grouped every article five times."""
    if "_facet=" not in query_string:
        return None
    table_path = path.removesuffix(".json")
    for database in datasette.databases:
        tables = datasette.metadata("tables", database=database) or {}
        for table, meta in tables.items():
            if meta.get("facets") and datasette.urls.table(database, table) == table_path:
                defaults = facet_columns(meta["facets"])
                args = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
                kept = [(k, v) for k, v in args if not (k == "_facet" and v in defaults)]
                return urllib.parse.urlencode(kept) if len(kept) < len(args) else None
    return None


def later_page_without_facets(path: str, query_string: str) -> str | None:
    """The query string of an HTML table page after the first (``_next=``) with ``_nofacet=1``;
    None for any other page. Datasette's facets of such a page count only the rows after the
    cursor (other numbers than the first page's, which has the facets), and at a million
    articles each groups nearly the whole table: the second page of the articles table took
    558 ms with a facet timed out, 100-130 ms without them."""
    if "_next=" not in query_string or path.endswith((".json", ".csv")):
        return None
    args = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    if not any(key == "_next" for key, _ in args) or any(key == "_nofacet" for key, _ in args):
        return None
    return urllib.parse.urlencode([*args, ("_nofacet", "1")])


def _pairs(args) -> list[tuple[str, str]]:
    """A request's query-string arguments (Datasette's ``MultiParams``) as (key, value) pairs."""
    return [(key, value) for key in args for value in args.getlist(key)]


async def _narrowed(db, fts_q: str, pairs: list[tuple[str, str]]) -> str:
    """``fts_q`` narrowed inside the index to the articles that a table page's equality filters
    on :data:`~newsarchive.store.schema.SEARCH_FILTER_COLUMNS` keep (``?site=bbc``,
    ``?section__exact=World``), by their filter tokens, when the archive's ``articles_fts``
    holds them (schema 16 on); ``fts_q`` itself otherwise. Datasette still applies the filters:
    the tokens only make the set of matches smaller, never different. They are looked for in
    their own column: a text that quotes a token does not take its article into the set."""
    tokens = [
        filter_token(_INDEXED_FILTERS[key], value)
        for key, value in pairs
        if key in _INDEXED_FILTERS
    ]
    if not tokens or not await _holds_filter_tokens(db):
        return fts_q
    return f"({fts_q})" + "".join(f' AND filter_tokens:"{token}"' for token in tokens)


async def _holds_filter_tokens(db) -> bool:
    """Whether the archive's ``articles_fts`` holds the filter tokens (schema 16 on)."""
    return "filter_tokens" in await db.table_columns(f"{TABLE_SEARCHED}_fts")


def _raw(args) -> bool:
    """Whether a table search's words are raw FTS syntax (``_searchmode=raw``)."""
    return (args.get("_searchmode") or [""])[0] == "raw"


async def _table_matches(db, q: str, *, raw: bool) -> int | None:
    """How many articles match ``q``, counted up to the smaller of :data:`TABLE_SEARCH_CAP` and
    :data:`NEWEST_MATCHES`, plus one; None when the archive has no article index or the search
    cannot run. (:func:`bounded_search` then finds whether more than :data:`NEWEST_MATCHES`
    match.)"""
    from datasette.database import QueryInterrupted
    from datasette.utils import escape_fts

    if not await has_table(db, f"{TABLE_SEARCHED}_fts"):
        return None
    cap = min(NEWEST_MATCHES, TABLE_SEARCH_CAP)
    try:
        count, more = await _count(db, TABLE_SEARCHED, q if raw else escape_fts(q), cap=cap)
    except (sqlite3.Error, QueryInterrupted):
        return None
    return count + 1 if more else count


def _database_of_table(datasette, path: str) -> str | None:
    """The database whose :data:`TABLE_SEARCHED` table page is ``path``, if any."""
    for database in datasette.databases:
        if not database.startswith("_") and datasette.urls.table(database, TABLE_SEARCHED) == path:
            return database
    return None


#: The search of the newest matches: the FTS index read from ``:na_floor`` on only, so SQLite
#: builds a set of :data:`NEWEST_MATCHES` rowids, not of every match.
_NEWEST_CLAUSE = (
    "rowid >= :na_floor and rowid in (select rowid from articles_fts "
    "where articles_fts match :na_q and rowid >= :na_floor)"
)
#: Every match of a word (:data:`ALL_MATCHES_ARG`, in more than :data:`EVERY_MATCH_FACETED`
#: articles): the same set, but ``+rowid`` keeps SQLite from looking up each matching article to
#: sort them all; it reads the table in the page's order instead (the index of ``published`` or
#: of the sorted column) and keeps the articles in the set. At a million articles, 653,910
#: matches: 89 ms rather than 393 for the newest 100; a filter still picks its own index. Not for
#: a rare word: it would read the whole index to find a few (86 ms rather than 0.1).
_EVERY_CLAUSE = "+rowid in (select rowid from articles_fts where articles_fts match :na_q)"
#: Every match of a word asked article by article, in the page's order: SQLite walks the index of
#: the sorted column and asks the FTS index about each article (about 60 µs each on the slower
#: machine) until it has a page, so a word in 65 % of a million articles takes 10 ms where
#: building the set of its 653,910 matches (:data:`_EVERY_CLAUSE`) takes 216. Only after a
#: trial (:func:`_every_clause`): a word whose matches are all old would be asked about every
#: newer article first, and a query over every row (a count, a facet) would ask about them all.
_PROBE_CLAUSE = (
    "exists (select 1 from articles_fts where articles_fts match :na_q "
    "and articles_fts.rowid = articles.rowid)"
)
#: Every match of a word in at least this many articles may be asked article by article
#: (:data:`_PROBE_CLAUSE`): below it, building the set costs less than a failed trial (the set
#: of 100,000 matches: about 33 ms on the slower machine).
PROBED_MATCHES = 100_000
#: How long the trial of :data:`_PROBE_CLAUSE` may take, in ms: a page of a word in most
#: articles takes about 10 ms on the slower machine.
PROBE_TIME_LIMIT_MS = 30
#: Every match of a word, counted in the FTS index alone.
_COUNT_ALL_SQL = "select count(*) from articles_fts where articles_fts match :q"
#: The matches archived last, up to one more than :data:`NEWEST_MATCHES`: how many, and the
#: oldest of them.
_NEWEST_SQL = (
    "select count(*), min(rowid) from (select rowid from articles_fts where articles_fts match :q "
    "order by rowid desc limit :limit)"
)


async def bounded_search(datasette, request, database: str, table: str):
    """Datasette's ``filters_from_request`` for :data:`NEWEST_ARG`: the articles table searched
    among the :data:`NEWEST_MATCHES` matches archived last (all of them for a rarer word, and
    in an export: a CSV or JSON file does not carry the page's description), with the search
    in the search box, the bound in the page's description ("… rows where search matches
    "said" (the 10,000 matches archived last; more articles match)") and a link to every
    match (``na_bounded`` for ``table.html``)."""
    from datasette.filters import FilterArguments
    from datasette.utils import escape_fts

    q = (request.args.get(NEWEST_ARG) or "").strip()
    if table != TABLE_SEARCHED or not q or "_search" in request.args:
        return None
    db = datasette.get_database(database)
    raw = request.args.get("_searchmode") == "raw"
    fts_q = q if raw else escape_fts(q)
    na_q = await _narrowed(db, fts_q, _pairs(request.args))
    every = ALL_MATCHES_ARG in request.args
    floor = count = None
    if not _is_export(request) and not every:  # else every match
        floor, count = await _newest(db, na_q)
    params = {"na_q": na_q, "na_floor": floor or 0}
    description = f'search matches "{q}"'
    context: dict[str, Any] = {"search": q}
    # _every_match's page of a word in more articles than are faceted: read in the page's order
    very_common = every and "_nofacet" in request.args
    if very_common:
        context["na_every"] = {"q": q, "faceted": f"{EVERY_MATCH_FACETED:,}"}
    if "_nocount" in request.args and _counted_in_index(request.args, narrowed=na_q != fts_q):
        if count is None:
            count = await _count_all(db, na_q)
        context["filtered_table_rows_count"] = count
    if floor is not None:
        description += f" (the {NEWEST_MATCHES:,} matches archived last; more articles match)"
        context["na_bounded"] = {
            "q": q,
            "newest": f"{NEWEST_MATCHES:,}",
            "link": _every_match_url(request),
        }
    clause = _NEWEST_CLAUSE
    if very_common:
        clause = await _every_clause(datasette, request, database, na_q, count)
    return FilterArguments([clause], params, [description], context)


async def _every_clause(datasette, request, database: str, na_q: str, count: int | None) -> str:
    """The clause of an every-match page of a very common word: :data:`_PROBE_CLAUSE` when its
    trial finds the page's rows within :data:`PROBE_TIME_LIMIT_MS` (the page's own query, its
    rowids only), else :data:`_EVERY_CLAUSE`. Tried only for a word in :data:`PROBED_MATCHES`
    articles or more, counted in the index (``_nocount``: Datasette's count would ask about
    every article), without a column filter. Both clauses find the same rows: the trial only
    decides which costs less."""
    from datasette.database import QueryInterrupted

    args = request.args
    if count is None or count < PROBED_MATCHES or "_nocount" not in args:
        return _EVERY_CLAUSE
    page = await _page_query(datasette, request, database) if _unfiltered(args) else None
    if page is None:
        return _EVERY_CLAUSE
    after, order, rows, params = page
    trial = f"select rowid from articles where {_PROBE_CLAUSE}{after} order by {order} limit {rows}"
    db = datasette.get_database(database)
    try:
        await db.execute(trial, {**params, "na_q": na_q}, custom_time_limit=PROBE_TIME_LIMIT_MS)
    except (sqlite3.Error, QueryInterrupted):
        return _EVERY_CLAUSE
    return _PROBE_CLAUSE


async def _page_query(
    datasette, request, database: str
) -> tuple[str, str, int, dict[str, str]] | None:
    """A page of :data:`TABLE_SEARCHED` as Datasette's table view writes its query: the rest of
    its WHERE (on a later page, `` and `` the keyset condition after ``_next``), its ORDER BY
    (the ``_sort`` or ``_sort_desc`` asked for, else the table's own; on a later page, then the
    primary key), its LIMIT (``_size``, else the table's ``size``, else ``default_page_size``;
    one more row to know of a next page) and the parameters of that condition. None when the
    page has no such sort (one of the table's ``sortable_columns``), size or cursor."""
    from datasette.utils import escape_sqlite

    meta = datasette.table_metadata(database, TABLE_SEARCHED)
    sort, sort_desc = request.args.get("_sort"), request.args.get("_sort_desc")
    if not sort and not sort_desc:
        sort, sort_desc = meta.get("sort"), meta.get("sort_desc")
    size = str(request.args.get("_size") or meta.get("size") or datasette.page_size)
    column = sort or sort_desc
    if (sort and sort_desc) or column not in meta.get("sortable_columns", ()) or not size.isdigit():
        return None
    order, rows = escape_sqlite(column) + (" desc" if sort_desc else ""), int(size) + 1
    cursor = request.args.get("_next")
    if not cursor:
        return "", order, rows, {}
    pks = await datasette.get_database(database).primary_keys(TABLE_SEARCHED)
    after = _after_cursor(cursor, column, pks, desc=bool(sort_desc))
    if after is None:
        return None
    condition, params = after
    ordered = ", ".join(escape_sqlite(pk) for pk in pks)
    return f" and {condition}", f"{order}, {ordered}", rows, params


def _after_cursor(
    cursor: str, column: str, pks: list[str], *, desc: bool
) -> tuple[str, dict[str, str]] | None:
    """Datasette's keyset condition for the rows after ``_next`` (its sort value, then the
    primary key) in a table sorted by ``column``, and its parameters; None for a cursor of
    another form (a null sort value, a table without a primary key)."""
    from datasette.utils import compound_keys_after_sql, escape_sqlite, urlsafe_components

    values = urlsafe_components(cursor)
    if not pks or len(values) != 1 + len(pks) or cursor.split(",")[0] == "$null":
        return None
    params = {f"p{i}": value for i, value in enumerate(values[1:])}
    at = f"p{len(pks)}"
    params[at] = values[0]
    name = escape_sqlite(column)
    op, nulls = ("<", f" or {name} is null") if desc else (">", "")
    keys = compound_keys_after_sql(pks, 0)
    return f"({name} {op} :{at}{nulls} or ({name} = :{at} and {keys}))", params


async def _newest(db, fts_q: str) -> tuple[int | None, int | None]:
    """``(floor, count)`` of a search's matches archived last, read in the FTS index alone: when
    more articles than :data:`NEWEST_MATCHES` match, the rowid from which exactly that many
    match (one past the next older match) and that number; otherwise None (every match) and how
    many match. ``(None, None)`` when the search cannot run (bad raw FTS syntax: Datasette's own
    query then says so). A word in 650,000 of a million articles is not counted (26-60 ms): the
    table with every match counts them."""
    try:
        count, oldest = (
            await db.execute(_NEWEST_SQL, {"q": fts_q, "limit": NEWEST_MATCHES + 1})
        ).first()
    except sqlite3.Error:
        return None, None
    return (oldest + 1, NEWEST_MATCHES) if count > NEWEST_MATCHES else (None, count)


async def _count_all(db, na_q: str) -> int | None:
    """Every match of ``na_q``, counted in the FTS index; None when the search cannot run."""
    from datasette.database import QueryInterrupted

    try:
        return (await db.execute(_COUNT_ALL_SQL, {"q": na_q})).first()[0]
    except (sqlite3.Error, QueryInterrupted):
        return None


def _is_export(request) -> bool:
    """Whether a table request asks for JSON, CSV or another format than the HTML page."""
    fmt = request.url_vars.get("format") or request.args.get("_format")
    return fmt not in (None, "", "html")


def _every_match_url(request) -> str:
    """The page asked for, searching every match (:data:`ALL_MATCHES_ARG`) in the table."""
    pairs = [
        ("_search" if key == NEWEST_ARG else key, value)
        for key in request.args
        for value in request.args.getlist(key)
        if key not in ("_next", "_nocount", ALL_MATCHES_ARG)
    ]
    return request.path + "?" + urllib.parse.urlencode([*pairs, (ALL_MATCHES_ARG, "1")])


def table_search_note(datasette, request, q: str) -> dict[str, Any] | None:
    """For the search page reached from a table search (:func:`route_table_search`): the
    table it came from and a link back to it, among its newest matches."""
    database = request.args.get(FROM_TABLE_ARG) or ""
    if not q or database not in datasette.databases or database.startswith("_"):
        return None
    return {
        "database": database,
        "cap": f"{TABLE_SEARCH_CAP:,}",
        "candidates": f"{CANDIDATES:,}",
        "newest": f"{NEWEST_MATCHES:,}",
        "link": table_search_url(datasette, database, TABLE_SEARCHED, q, in_table=True),
    }


async def _decorate_hits(
    datasette, db, database: str, hits: list[dict[str, Any]], thumbs: bool
) -> None:
    """Links, snippets, the articles each picture or video is in and the pictures' thumbnails,
    asked for all the hits at once: a page waits for the event loop once per statement, behind
    every other request being served (docs/performance.md, "Twenty readers")."""
    links = _RowLinks(datasette, database)
    linked: dict[str, list[dict[str, Any]]] = {"image": [], "video": []}
    for hit in hits:
        hit["database"] = database
        hit["snippet_html"] = highlight(hit["snippet"])
        hit["original"] = safe_url(hit["url"])
        if hit["kind"] == "transcript":
            await _decorate_transcript(db, links, hit)
        elif hit["kind"] == "article":
            hit["link"] = links.row("articles", hit["id"])
            hit["articles"] = []
        else:
            hit["link"] = links.row("images" if hit["kind"] == "image" else "videos", hit["id"])
            hit["thumbnail"] = None
            linked[hit["kind"]].append(hit)
    # a picture's id once, though it is a hit for each of its uses
    ids = {
        kind: list(dict.fromkeys(hit["id"] for hit in of_kind)) for kind, of_kind in linked.items()
    }
    for kind, link_table, column in (
        ("image", "article_images", "image_id"),
        ("video", "article_videos", "video_id"),
    ):
        used_in = await _used_in(db, links, link_table, column, ids[kind])
        for hit in linked[kind]:
            hit["articles"] = used_in.get(hit["id"], [])
    if thumbs and ids["image"]:
        found = await db.execute(
            f"select id from images where id in ({', '.join('?' * len(ids['image']))}) "
            "and thumbnail is not null",
            ids["image"],
        )
        with_thumbnail = {row[0] for row in found.rows}
        for hit in linked["image"]:
            if hit["id"] in with_thumbnail:
                hit["thumbnail"] = links.thumbnail(hit["id"])


#: The newest three articles that each of some pictures or videos is in: ``{link}`` is
#: article_images or article_videos, ``{column}`` its image_id or video_id.
_USED_IN_SQL = (
    "select used, id, title from (select {link}.{column} as used, articles.id, articles.title, "
    "row_number() over (partition by {link}.{column} "
    "order by coalesce(articles.published, articles.first_seen) desc, articles.id) as n "
    "from {link} join articles on articles.id = {link}.article_id "
    "where {link}.{column} in ({marks})) where n <= 3 order by used, n"
)


async def _used_in(
    db, links: _RowLinks, link_table: str, column: str, ids: list[Any]
) -> dict[Any, list[dict[str, Any]]]:
    """For each of ``ids`` (pictures or videos), the newest three articles it is in, linked."""
    if not ids:
        return {}
    sql = _USED_IN_SQL.format(link=link_table, column=column, marks=", ".join("?" * len(ids)))
    out: dict[Any, list[dict[str, Any]]] = {}
    for used, article_id, title in (await db.execute(sql, ids)).rows:
        out.setdefault(used, []).append(
            {"id": article_id, "title": title, "link": links.row("articles", article_id)}
        )
    return out


# -- transcripts (issue 14, part 3) ----------------------------------------------------------

#: The first line of a transcript where the search matches: the moment a hit links to.
_FIRST_MOMENT_SQL = (
    "select transcript_segments.start_s from transcript_segments_fts join transcript_segments "
    "on transcript_segments.rowid = transcript_segments_fts.rowid "
    "where transcript_segments_fts match :q and transcript_segments.transcript_id = :t "
    "order by transcript_segments.position limit 1"
)


def moment_url(provider: Any, video_id: Any, start_s: Any) -> str | None:
    """The link that starts a video at ``start_s`` (``https://www.youtube.com/watch?v=ID&t=Ns``);
    None for another provider or an unknown moment."""
    if provider != "youtube" or not isinstance(video_id, str) or start_s is None:
        return None
    query = urllib.parse.urlencode({"v": video_id, "t": f"{int(float(start_s))}s"})
    return f"https://www.youtube.com/watch?{query}"


async def _video_transcripts(db, links: _RowLinks, video_id: Any) -> list[dict[str, Any]]:
    """A video's transcripts (language, kind), each linked to its lines in order."""
    if not await has_table(db, "transcripts"):
        return []
    found = _rows(
        await db.execute(
            "select id, language, kind from transcripts where video_id = ? order by kind, language",
            [video_id],
        )
    )
    for transcript in found:
        transcript["link"] = (
            links.filtered("transcript_segments", "transcript_id", transcript["id"])
            + "&_sort=position"
        )
    return found


async def _decorate_transcript(db, links: _RowLinks, hit: dict[str, Any]) -> None:
    """A transcript hit: linked to its row, to the moment its first matching line is said, and
    to the articles that embed the video."""
    hit["link"] = links.row("transcripts", hit["id"])
    video = (
        await db.execute(
            "select videos.id, videos.provider, videos.video_id from transcripts join videos "
            "on videos.id = transcripts.video_id where transcripts.id = ?",
            [hit["id"]],
        )
    ).first()
    moment = (await db.execute(_FIRST_MOMENT_SQL, {"q": hit["fts_q"], "t": hit["id"]})).first()
    start = moment[0] if moment else None
    hit["moment"] = moment_url(video["provider"], video["video_id"], start) if video else None
    hit["starts_at"] = f"{int(start) // 60}:{int(start) % 60:02d}" if start is not None else None
    hit["thumbnail"] = None
    hit["articles"] = []
    if video:
        used_in = await _used_in(db, links, "article_videos", "video_id", [video["id"]])
        hit["articles"] = used_in.get(video["id"], [])


# -- thumbnails ------------------------------------------------------------------------------


async def thumbnail_response(datasette, request):
    """The archived thumbnail of one picture, with its own MIME type; 404 if there is none."""
    from datasette.utils.asgi import NotFound, Response

    database = urllib.parse.unquote(request.url_vars["database"])
    image_id = urllib.parse.unquote(request.url_vars["image_id"])
    if database not in datasette.databases:
        raise NotFound("No such database")
    if not await _visible(datasette, request, database, "images"):
        from datasette.utils.asgi import Forbidden

        raise Forbidden("You may not view pictures of this database")
    db = datasette.get_database(database)
    if "thumbnail" not in await _columns(db, "images"):
        raise NotFound("This archive keeps no thumbnails")
    row = (await db.execute("select thumbnail from images where id = ?", [image_id])).first()
    data = row[0] if row else None
    mime = image_type(data) if isinstance(data, bytes) else None
    if not mime:
        raise NotFound("No thumbnail for this picture")
    return Response(
        data,
        content_type=mime,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "max-age=3600",
        },
    )
