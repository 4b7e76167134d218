"""Datasette plugin: show full-text search snippets with the matches highlighted.

The "search everything" canned query marks matches with ``[`` and ``]`` in a
column named ``snippet``; this renders them as ``<mark>``. URLs need nothing:
Datasette already renders a cell holding just a URL as a link.
"""
import re

import markupsafe
from datasette import hookimpl

_MARK = re.compile(r"\[([^\[\]]*)\]")


@hookimpl
def render_cell(value, column):
    if column != "snippet" or not isinstance(value, str) or "[" not in value:
        return None
    escaped = str(markupsafe.escape(value))
    return markupsafe.Markup(_MARK.sub(r"<mark>\1</mark>", escaped))
