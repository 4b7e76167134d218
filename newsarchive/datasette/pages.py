"""Read-only page data for the Datasette plugin in ``plugins/newsarchive_pages.py``.

* :func:`article_page` gathers what an article's row page shows: byline, site, pictures (lead
  and in-body), videos, body paragraphs, revisions with readable diffs and the WARC capture;
* :func:`search_everything` runs one ranked full-text search over articles, picture captions
  and credits, and video titles (the ``/-/search`` page);
* :func:`thumbnail_response` serves an archived picture thumbnail (``images.thumbnail``).

Every query is a ``SELECT`` through Datasette's own read-only connections and time limit.
Columns added by later schema versions (``images.thumbnail``, ``*.capture_id``, ``captures``,
``revisions.diff``) are used when the archive has them and ignored otherwise. Nothing here
marks text safe except :func:`highlight`, which escapes first: templates autoescape the rest.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import markupsafe
from datasette.utils import tilde_encode

from newsarchive.history import paragraphs, readable_diff

#: FTS5 snippet markers: private-use characters that never occur in archived text.
MARK_START, MARK_END = "\ue000", "\ue001"
#: Tables searched by "search everything", in display order.
SEARCHED = (
    "articles",
    "article_images",
    "videos",
)  # pictures: captions and credits as each article prints them
NOUNS = {
    "articles": ("article", "articles"),
    "article_images": ("picture", "pictures"),
    "videos": ("video", "videos"),
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


def highlight(snippet: str | None) -> markupsafe.Markup:
    """An FTS5 snippet with :data:`MARK_START`/:data:`MARK_END` turned into ``<mark>``, escaped."""
    escaped = str(markupsafe.escape(snippet or ""))
    escaped = escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    # A snippet cut inside a match leaves an unclosed <mark>; close it.
    if escaped.count("<mark>") > escaped.count("</mark>"):
        escaped += "</mark>"
    return markupsafe.Markup(escaped)


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


async def _columns(db, table: str) -> set[str]:
    if not await db.table_exists(table):
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


# -- article page ---------------------------------------------------------------------------


async def article_page(datasette, request, database: str, article_id: str) -> dict[str, Any] | None:
    """Everything the article page shows besides the ``articles`` row itself; None if no row."""
    db = datasette.get_database(database)
    article_cols = await _columns(db, "articles")
    results = await db.execute("select * from articles where id = ?", [article_id])
    if not results.rows:
        return None
    article = dict(results.rows[0])
    row_url = lambda table, pk: datasette.urls.row(database, table, tilde_encode(str(pk)))  # noqa: E731

    site = None
    if article.get("site") and await db.table_exists("sites"):
        found = await db.execute("select * from sites where site = ?", [article["site"]])
        site = dict(found.rows[0]) if found.rows else {"site": article["site"]}
        site["link"] = row_url("sites", article["site"])
        site["home"] = safe_url(site.get("base_url"))

    authors = _rows(
        await db.execute(
            "select authors.id, authors.name from article_authors join authors on authors.id = "
            "article_authors.author_id where article_authors.article_id = ? order by article_authors.position",
            [article_id],
        )
    )
    for author in authors:
        author["link"] = (
            datasette.urls.table(database, "article_authors") + f"?author_id={author['id']}"
        )
    tags = _rows(
        await db.execute(
            "select tags.id, tags.name from article_tags join tags on tags.id = article_tags.tag_id "
            "where article_tags.article_id = ? order by article_tags.position",
            [article_id],
        )
    )

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
        image["link"] = row_url("images", image["id"])
        image["original"] = safe_url(image["url"])
        image["thumbnail"] = (
            thumbnail_url(datasette, database, image["id"]) if image.get("has_thumbnail") else None
        )
        image["capture_link"] = (
            row_url("captures", image["image_capture_id"])
            if image.get("image_capture_id") is not None
            else None
        )
    lead = next((i for i in images if i["is_lead"]), None)
    body_images = [i for i in images if i is not lead]

    videos = _rows(
        await db.execute(
            "select videos.* from article_videos join videos on videos.id = article_videos.video_id "
            "where article_videos.article_id = ? order by article_videos.position",
            [article_id],
        )
    )
    for video in videos:
        video["link"] = row_url("videos", video["id"])
        video["watch"] = safe_url(video.get("url"))
        video["thumbnail"] = safe_url(video.get("thumbnail_url"))

    capture = None
    if article.get("capture_id") is not None and await db.table_exists("captures"):
        found = await db.execute("select * from captures where id = ?", [article["capture_id"]])
        capture = dict(found.rows[0]) if found.rows else {"id": article["capture_id"]}
        capture.pop("payload", None)
        capture["link"] = row_url("captures", article["capture_id"])
        capture["fields"] = [
            (k, v)
            for k, v in capture.items()
            if k not in ("link", "fields") and not isinstance(v, bytes) and v is not None
        ]

    revisions = await _revisions(db, article, article_id)
    return {
        "article": article,
        "columns": article_cols,
        "site": site,
        "authors": authors,
        "tags": tags,
        "lead": lead,
        "images": body_images,
        "videos": videos,
        "paragraphs": paragraphs(article.get("body_text")),
        "original": safe_url(article.get("canonical_url")) or safe_url(article.get("url")),
        "fetched": safe_url(article.get("url")),
        "capture": capture,
        "revisions": revisions,
        "links": {
            "revisions": datasette.urls.table(database, "revisions")
            + "?article_id="
            + urllib.parse.quote(article_id, safe=""),
            "json": datasette.urls.row(
                database, "articles", tilde_encode(article_id), format="json"
            ),
            "images": datasette.urls.table(database, "article_images")
            + "?article_id="
            + urllib.parse.quote(article_id, safe=""),
        },
    }


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
_WEIGHTS = {"articles": "10.0, 4.0, 1.0", "article_images": "4.0, 4.0, 1.0", "videos": "10.0, 1.0"}
#: A table's hits are ranked among its newest CANDIDATES matches (by rowid): bm25 of every
#: match of a word found in most articles costs seconds at a million rows, and for such a
#: word the newest are what a journalist wants. Fewer matches than this are all ranked.
CANDIDATES = 2_000
#: Matches are counted up to this many; more show as "10,000+".
COUNT_CAP = 10_000

#: Per searched table: the hits' display columns, the FTS table joined to its content for the
#: snippets, restricted to the rowids already ranked (``:r0``, ``:r1``...; see :func:`_hits`).
_SELECTS = {
    "articles": (
        "select 'article' as kind, articles.id as id, articles.title as title, "
        "snippet(articles_fts, -1, :s, :e, '…', 24) as snippet, articles.url as url, "
        "coalesce(articles.published, articles.first_seen) as date, articles.site as site, "
        "articles.section as section, articles.authors_text as extra, articles_fts.rowid as fts_rowid "
        "from articles_fts join articles on articles.rowid = articles_fts.rowid "
        "where articles_fts match :q and articles_fts.rowid in ({rowids})"
    ),
    "article_images": (
        "select 'image' as kind, images.id as id, coalesce(article_images.caption, article_images.alt) as title, "
        "snippet(article_images_fts, -1, :s, :e, '…', 24) as snippet, images.url as url, "
        "coalesce(articles.published, articles.first_seen) as date, articles.site as site, null as section, "
        "article_images.credit as extra, article_images_fts.rowid as fts_rowid "
        "from article_images_fts join article_images on article_images.rowid = article_images_fts.rowid "
        "join images on images.id = article_images.image_id "
        "join articles on articles.id = article_images.article_id "
        "where article_images_fts match :q and article_images_fts.rowid in ({rowids})"
    ),
    "videos": (
        "select 'video' as kind, videos.id as id, videos.title as title, "
        "snippet(videos_fts, -1, :s, :e, '…', 24) as snippet, videos.url as url, "
        "videos.published as date, null as site, null as section, videos.channel as extra, "
        "videos_fts.rowid as fts_rowid "
        "from videos_fts join videos on videos.rowid = videos_fts.rowid "
        "where videos_fts match :q and videos_fts.rowid in ({rowids})"
    ),
}


def _ranking_sql(table: str, limit: int) -> str:
    """The best ``limit`` rowids of ``table``'s FTS index for ``:q`` with their bm25 rank, among
    its newest :data:`CANDIDATES` matches; no snippet, no join: the index alone."""
    fts = f"{table}_fts"
    return (
        f"select rowid, bm25({fts}, {_WEIGHTS[table]}) as rank from {fts} "
        f"where {fts} match :q and rowid >= coalesce((select min(rowid) from (select rowid from {fts} "
        f"where {fts} match :q order by rowid desc limit {CANDIDATES})), 0) "
        f"order by rank limit {int(limit)}"
    )


async def _hits(db, table: str, fts_q: str, limit: int) -> list[dict[str, Any]]:
    """``table``'s best ``limit`` hits for ``fts_q``: ranked first, snippets for those only."""
    ranked = {
        row[0]: row[1] for row in (await db.execute(_ranking_sql(table, limit), {"q": fts_q})).rows
    }
    if not ranked:
        return []
    params: dict[str, Any] = {"q": fts_q, "s": MARK_START, "e": MARK_END}
    params.update({f"r{n}": rowid for n, rowid in enumerate(ranked)})
    sql = _SELECTS[table].format(rowids=", ".join(f":r{n}" for n in range(len(ranked))))
    hits = _rows(await db.execute(sql, params))
    for hit in hits:
        hit["rank"] = ranked[hit.pop("fts_rowid")]
    return hits


async def _count(db, table: str, fts_q: str) -> tuple[int, bool]:
    """How many rows of ``table`` match, counted up to :data:`COUNT_CAP`; and whether there are more."""
    sql = (
        f"select count(*) from (select rowid from {table}_fts where {table}_fts match :q "
        f"limit {COUNT_CAP + 1})"
    )
    count = (await db.execute(sql, {"q": fts_q})).first()[0]
    return min(count, COUNT_CAP), count > COUNT_CAP


async def search_everything(datasette, request, q: str, *, limit: int = 50) -> dict[str, Any]:
    """Ranked hits (best first) for ``q`` over every archive database Datasette serves.

    Each FTS table is ranked on its own (bm25, a LIMIT) before any snippet is made or any
    content row read, so the cost follows ``limit``, not the number of matches.
    """
    from datasette.database import QueryInterrupted
    from datasette.utils import escape_fts

    q = (q or "").strip()
    out: dict[str, Any] = {"q": q, "hits": [], "counts": [], "error": None, "searched": False}
    fts_q = escape_fts(q) if q else ""
    if not fts_q:
        return out
    for database, db in datasette.databases.items():
        if database.startswith("_") or not await db.table_exists("articles_fts"):
            continue
        tables = [
            t
            for t in SEARCHED
            if await db.table_exists(f"{t}_fts") and await _visible(datasette, request, database, t)
        ]
        if not tables:
            continue
        out["searched"] = True
        hits: list[dict[str, Any]] = []
        try:
            for table in tables:
                hits += await _hits(db, table, fts_q, limit)
                count, more = await _count(db, table, fts_q)
                out["counts"].append(
                    {
                        "database": database,
                        "table": table,
                        "count": f"{count:,}+" if more else count,
                        "label": NOUNS[table][0 if count == 1 and not more else 1],
                        "link": datasette.urls.table(database, table)
                        + "?_search="
                        + urllib.parse.quote_plus(q),
                    }
                )
        except QueryInterrupted:
            out["error"] = "The search took too long; try more specific words."
            continue
        except Exception as exc:  # an FTS syntax error despite escaping: say so, do not crash
            out["error"] = f"The search failed: {exc}"
            continue
        hits = sorted(hits, key=lambda h: h["rank"])[:limit]
        thumbs = "thumbnail" in await _columns(db, "images")
        for hit in hits:
            await _decorate_hit(datasette, db, database, hit, thumbs)
        out["hits"].extend(hits)
    out["hits"].sort(key=lambda h: h["rank"])
    return out


async def _decorate_hit(datasette, db, database: str, hit: dict[str, Any], thumbs: bool) -> None:
    hit["database"] = database
    hit["snippet_html"] = highlight(hit["snippet"])
    hit["original"] = safe_url(hit["url"])
    quoted = tilde_encode(str(hit["id"]))
    if hit["kind"] == "article":
        hit["link"] = datasette.urls.row(database, "articles", quoted)
        hit["articles"] = []
        return
    table, link_table, column = (
        ("images", "article_images", "image_id")
        if hit["kind"] == "image"
        else ("videos", "article_videos", "video_id")
    )
    hit["link"] = datasette.urls.row(database, table, quoted)
    used_in = _rows(
        await db.execute(
            f"select articles.id, articles.title from {link_table} join articles on articles.id = "
            f"{link_table}.article_id where {link_table}.{column} = ? "
            "order by coalesce(articles.published, articles.first_seen) desc limit 3",
            [hit["id"]],
        )
    )
    for article in used_in:
        article["link"] = datasette.urls.row(database, "articles", tilde_encode(article["id"]))
    hit["articles"] = used_in
    hit["thumbnail"] = None
    if hit["kind"] == "image" and thumbs:
        has = (
            await db.execute("select thumbnail is not null from images where id = ?", [hit["id"]])
        ).first()
        if has and has[0]:
            hit["thumbnail"] = thumbnail_url(datasette, database, hit["id"])


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
