"""Datasette plugin: show picture thumbnails (``images.thumbnail``, a JPEG BLOB) as pictures.

Datasette renders a BLOB as a download link; for a column named ``thumbnail`` holding JPEG
bytes this plugin renders ``<img src="data:image/jpeg;base64,...">`` instead, in tables, rows
and canned queries alike, so the archive shows its pictures from the single SQLite file.
"""

import base64

import markupsafe
from datasette import hookimpl

_JPEG = b"\xff\xd8\xff"


@hookimpl
def render_cell(value, column):
    if column != "thumbnail" or not isinstance(value, bytes) or not value.startswith(_JPEG):
        return None
    data = base64.b64encode(value).decode("ascii")
    return markupsafe.Markup(
        f'<img src="data:image/jpeg;base64,{data}" alt="thumbnail" loading="lazy" '
        f'style="max-width:160px;max-height:160px">'
    )
