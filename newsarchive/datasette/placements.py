"""The article page's placement history: where front and section pages showed the article, drawn
as a small inline SVG timeline (server-rendered, no script) with the runs listed under it.

One lane per page (home pages first); one bar per run of ``placements``, from its first capture
until the page's next capture without it there (or its last capture, while it is still there),
darker the higher the rank, with the rank written in it when it fits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

import markupsafe

from newsarchive.datasette.pages import has_table, safe_url

#: Drawing sizes, in SVG user units (pixels at 100 %).
WIDTH = 640
LABEL_WIDTH = 170
LANE_HEIGHT = 30
BAR_HEIGHT = 20
AXIS_HEIGHT = 22
RIGHT_MARGIN = 8
#: The narrowest bar (a run of one capture has no length).
MIN_BAR = 6
#: A bar this wide or wider has its rank written in it; and its slot, from ``SLOT_MIN_BAR``.
LABEL_MIN_BAR = 26
SLOT_MIN_BAR = 110
#: Characters of a slot's name written in a bar.
SLOT_CHARS = 18
#: The span drawn when every run is at one instant.
MIN_SPAN = dt.timedelta(seconds=1)
#: Bar colour, and how much lighter each lower rank gets (down to ``MIN_OPACITY``).
BAR_COLOUR = "#1a5fb4"
OPACITY_STEP = 0.08
MIN_OPACITY = 0.25

_RUNS_SQL = """select placements.page, placements.rank, placements.slot, placements.headline,
  placements.first_seen, placements.last_seen, placements.sightings,
  coalesce((select min(seen_at) from placement_pages where placement_pages.page = placements.page
    and placement_pages.seen_at > placements.last_seen), placements.last_seen) as until,
  coalesce((select max(is_home) from placement_pages where placement_pages.page = placements.page), 0)
    as is_home
from placements where placements.article_id = ?
order by is_home desc, placements.page, placements.first_seen"""


#: The canned query (metadata.json) the article page links to for the whole story.
HISTORY_QUERY = "story_on_front_page"


async def placement_history(
    datasette, request, database: str, article_id: str
) -> dict[str, Any] | None:
    """The article's placement runs, their timeline and a link to :data:`HISTORY_QUERY`; None
    when no page placed it (or the archive has no ``placements`` table)."""
    db = datasette.get_database(database)
    if not await has_table(db, "placements"):
        return None
    runs = [dict(row) for row in (await db.execute(_RUNS_SQL, [article_id])).rows]
    if not runs:
        return None
    for run in runs:
        run["label"] = page_label(run["page"], is_home=bool(run["is_home"]))
        run["link"] = safe_url(run["page"])
    query = await datasette.get_canned_query(database, HISTORY_QUERY, request.actor)
    link = None
    if query is not None:  # served with the archive's metadata
        link = (
            datasette.urls.query(database, HISTORY_QUERY)
            + "?"
            + urlencode({"article": article_id, "url": ""})
        )
    return {"runs": runs, "svg": timeline_svg(runs), "query": link}


def _instant(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def page_label(page: str, *, is_home: bool) -> str:
    """A lane's name: "home" or the page's path, after its host."""
    parts = urlsplit(page)
    where = "home" if is_home else (parts.path or "/")
    return f"{parts.hostname or ''} {where}".strip()


def timeline_svg(runs: list[dict[str, Any]]) -> markupsafe.Markup:
    """The runs (``placements`` rows with ``is_home``) as an inline SVG: one lane per page."""
    start = min(_instant(r["first_seen"]) for r in runs)
    end = max(_instant(r["until"]) for r in runs)
    span = max(end - start, MIN_SPAN)
    pages = list(dict.fromkeys(r["page"] for r in runs))
    plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
    height = len(pages) * LANE_HEIGHT + AXIS_HEIGHT

    def x_of(value: str) -> float:
        return LABEL_WIDTH + plot * ((_instant(value) - start) / span)

    parts = [
        markupsafe.Markup(
            '<svg class="na-timeline" xmlns="http://www.w3.org/2000/svg" role="img" '
            'width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>{t}</title>'
        ).format(w=WIDTH, h=height, t="Placement on front and section pages over time")
    ]
    for lane, page in enumerate(pages):
        page_runs = [r for r in runs if r["page"] == page]
        parts.append(_lane(lane, page, page_runs, x_of))
    parts.append(_axis(start, start + span, len(pages) * LANE_HEIGHT))
    parts.append(markupsafe.Markup("</svg>"))
    return markupsafe.Markup("").join(parts)


def _lane(lane: int, page: str, runs: list[dict[str, Any]], x_of) -> markupsafe.Markup:
    """One page's label and its runs' bars."""
    top = lane * LANE_HEIGHT
    label = page_label(page, is_home=bool(runs[0].get("is_home")))
    out = [
        markupsafe.Markup(
            '<text x="4" y="{y}" font-size="11" fill="#333"><title>{page}</title>{label}</text>'
        ).format(y=top + LANE_HEIGHT / 2 + 4, page=page, label=label[:28])
    ]
    for run in runs:
        out.append(_bar(run, top, x_of))
    return markupsafe.Markup("").join(out)


def _bar(run: dict[str, Any], top: int, x_of) -> markupsafe.Markup:
    """A run's bar, its tooltip, and its rank when the bar is wide enough."""
    x = x_of(run["first_seen"])
    width = max(MIN_BAR, x_of(run["until"]) - x)
    opacity = max(MIN_OPACITY, 1 - (int(run["rank"]) - 1) * OPACITY_STEP)
    y = top + (LANE_HEIGHT - BAR_HEIGHT) / 2
    tip = (
        f"rank {run['rank']}{' · ' + run['slot'] if run.get('slot') else ''} · "
        f"{run['first_seen']} → {run['last_seen']} · {run['sightings']} capture(s)"
    )
    bar = markupsafe.Markup(
        '<rect class="na-run" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" rx="2" '
        'fill="{c}" fill-opacity="{o:.2f}" data-rank="{r}"><title>{tip}</title></rect>'
    ).format(x=x, y=y, w=width, h=BAR_HEIGHT, c=BAR_COLOUR, o=opacity, r=run["rank"], tip=tip)
    if width >= LABEL_MIN_BAR:
        slot = run.get("slot") if width >= SLOT_MIN_BAR else None
        bar += markupsafe.Markup(
            '<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#fff">#{r}{s}</text>'
        ).format(
            x=x + 4,
            y=y + BAR_HEIGHT / 2 + 4,
            r=run["rank"],
            s=f" {slot[:SLOT_CHARS]}" if slot else "",
        )
    return bar


def _axis(start: dt.datetime, end: dt.datetime, top: int) -> markupsafe.Markup:
    """The time axis: a line with the first and last instants drawn."""
    y = top + 4
    shown = "%Y-%m-%d %H:%M:%S UTC" if end - start < dt.timedelta(hours=1) else "%Y-%m-%d %H:%M UTC"
    return markupsafe.Markup(
        '<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#999"/>'
        '<text x="{x1}" y="{ty}" font-size="10" fill="#555">{a}</text>'
        '<text x="{x2}" y="{ty}" font-size="10" fill="#555" text-anchor="end">{b}</text>'
    ).format(
        x1=LABEL_WIDTH,
        x2=WIDTH - RIGHT_MARGIN,
        y=y,
        ty=y + 14,
        a=start.strftime(shown),
        b=end.strftime(shown),
    )
