"""Datasette plugin: the article page, ranked "search everything", archived thumbnails.

The work is in :mod:`newsarchive.datasette.pages` (read-only queries); this module wires it to
Datasette's hooks:

* ``extra_template_vars`` gives ``row.html`` an ``na_article`` for a row of ``articles`` in any
  database (the database name is the file's stem), and ``search_all.html`` (the
  ``/-/search`` page of datasette-search-all) its ranked, highlighted ``na_search`` results;
* ``register_routes`` serves ``images.thumbnail`` blobs as pictures.
"""

from datasette import hookimpl
from datasette.utils import urlsafe_components

from newsarchive.datasette import pages


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name == "row" and table == "articles" and database and request is not None:
        pks = request.url_vars.get("pks")
        if not pks:
            return {}

        async def article_vars():
            values = urlsafe_components(pks)
            if len(values) != 1:
                return {}
            return {"na_article": await pages.article_page(datasette, request, database, values[0])}

        return article_vars
    if template == "search_all.html" and request is not None:

        async def search_vars():
            return {
                "na_search": await pages.search_everything(
                    datasette, request, request.args.get("q") or ""
                )
            }

        return search_vars
    if template == "database.html" and database and request is not None:

        async def database_vars():
            db = datasette.get_database(database)
            return {"na_searchable": await db.table_exists("articles_fts")}

        return database_vars
    return {}


@hookimpl
def register_routes():
    return [(pages.THUMBNAIL_ROUTE, pages.thumbnail_response)]
