"""Datasette plugin: cells of query results that the archive renders itself.

* ``snippet``: the "search everything" canned query marks full-text matches with ``[`` and ``]``;
  they are rendered as ``<mark>`` (the text is escaped first);
* ``article_id`` in a query result (not a table: tables link it as a foreign key already) links
  to the article page, so that canned queries lead to the article.

URLs need nothing: Datasette already renders a cell holding just an http(s) URL as a link.
"""

import re

import markupsafe
from datasette import hookimpl
from datasette.utils import tilde_encode

_MARK = re.compile(r"\[([^\[\]]*)\]")


@hookimpl
def render_cell(value, column, table, database, datasette):
    if column == "snippet" and isinstance(value, str) and "[" in value:
        escaped = str(markupsafe.escape(value))
        return markupsafe.Markup(_MARK.sub(r"<mark>\1</mark>", escaped))
    if column == "article_id" and table is None and database and isinstance(value, str) and value:
        href = datasette.urls.row(database, "articles", tilde_encode(value))
        return markupsafe.Markup('<a href="{}">{}</a>').format(href, value)
    return None
