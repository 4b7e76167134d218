"""The articles table's default facets read from the counts the store keeps (issue 13).

Datasette 0.65 groups every row its table page shows for each facet: at a million articles the
default facets (site, section, month) of the unfiltered table or of ``?kind=article`` /
``?language=en`` grouped up to a million index entries each (100-200 ms, often stopped at
``facet_time_limit_ms``). Schema 13 keeps those counts in ``facet_counts`` by triggers on
``articles`` (:func:`newsarchive.store.schema._v13_facet_counts`).

The metadata names such a facet ``{"counted": "site"}``; :class:`CountedFacet` (registered by the
plugin's ``register_facet_classes``) reads the kept counts when they are exactly what Datasette's
GROUP BY would give: the table's SQL has no condition, or one equality on a counted filter
column (``where "kind" = :p0``: no search, no other filter, no ``_where``, no ``_next``), and the
archive has ``facet_counts``. Otherwise it groups the rows as Datasette's own column facet
does; on a search, all the facets at once, in one statement that reads the matches once (the
three default facets of a bounded search: 31-39 → 25-27 ms at 100k; of a search at 1M, 142 →
64 ms; but slower than three GROUP BYs for a filter that an index answers, so only on a
search). Either way the facet looks the same as a ``"column"`` facet: values, counts, order,
labels and toggle links.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from newsarchive.store.schema import COUNTED_FACETS, COUNTED_FILTERS, UNFILTERED

logger = logging.getLogger(__name__)

#: The facet type of the metadata's ``facets`` entries served from the kept counts.
COUNTED_TYPE = "counted"
#: The table whose facets are counted, and the table holding the counts.
COUNTED_TABLE = "articles"
COUNTS_TABLE = "facet_counts"
#: The condition Datasette writes for one equality filter (``?kind=article``).
_ONE_EQUALITY = re.compile(r'where "(?P<column>\w+)" = :p0 ')
#: A full-text search in the table's SQL (Datasette's ``_search`` and the bounded search alike).
_SEARCH = re.compile(r"\bmatch\b", re.IGNORECASE)
#: ``WITH ... AS MATERIALIZED``: SQLite 3.35 and later.
_MATERIALIZED = sqlite3.sqlite_version_info >= (3, 35)

_COUNTS_SQL = (
    f"SELECT value, count FROM {COUNTS_TABLE} WHERE filter_column = :fc AND filter_value = :fv "
    "AND facet_column = :column ORDER BY count DESC, value LIMIT :limit"
)


def facet_columns(facets: list[Any]) -> list[str]:
    """The column names of a table's metadata ``facets`` (``"site"`` or ``{"counted": "site"}``)."""
    columns = []
    for facet in facets:
        config = facet if isinstance(facet, str) else next(iter(facet.values()))
        columns.append(config if isinstance(config, str) else config.get("column", ""))
    return columns


class CountedFacet(ColumnFacet):
    """A column facet of ``articles`` read from ``facet_counts`` when that is exact."""

    type = COUNTED_TYPE
    #: The one config :meth:`get_configs` gives while Datasette's GROUP BY runs for it.
    _only: list[dict[str, Any]] | None = None

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        counted = await self._counted_filter()
        configs = super().get_configs()
        grouped = {
            index: column
            for index, column in enumerate(_column(config["config"]) for config in configs)
            if counted is None or column not in COUNTED_FACETS
        }
        together: dict[int, dict[str, Any]] | None = None
        if len(grouped) > 1 and _MATERIALIZED and _SEARCH.search(self.sql):
            together = await self._grouped_together(grouped, configs)
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        for index, source_and_config in enumerate(configs):
            column = _column(source_and_config["config"])
            if counted is not None and column in COUNTED_FACETS:
                results.append(await self._counted_result(column, source_and_config, counted))
            elif together is not None:
                results.append(together[index])
            else:
                self._only = [source_and_config]  # Datasette's GROUP BY for this one
                shown, stopped = await super().facet_results()
                results.extend({**result, "type": ColumnFacet.type} for result in shown)
                timed_out.extend(stopped)
        self._only = None
        return results, timed_out

    def get_configs(self) -> list[dict[str, Any]]:
        return self._only or super().get_configs()

    async def _counted_filter(self) -> tuple[str, str] | None:
        """``(filter column, filter value)`` of the kept counts that equal the GROUP BY of this
        page's rows, or None when there are none."""
        if self.table != COUNTED_TABLE:
            return None
        head = f" from {escape_sqlite(self.table)} "
        _, found, where = self.sql.partition(head)
        params = dict(self.params) if isinstance(self.params, dict) else list(self.params)
        if not found or head in where:
            return None
        if not where and not params:
            counted = (UNFILTERED, UNFILTERED)
        else:
            match = _ONE_EQUALITY.fullmatch(where)
            value = params.get("p0") if isinstance(params, dict) else None
            if not match or match["column"] not in COUNTED_FILTERS or len(params) != 1:
                return None
            if not isinstance(value, str):
                return None
            counted = (match["column"], value)
        from newsarchive.datasette.pages import has_table  # pages imports this module

        if not await has_table(self.ds.get_database(self.database), COUNTS_TABLE):
            return None
        return counted

    async def _counted_result(
        self, column: str, source_and_config: dict[str, Any], counted: tuple[str, str]
    ) -> dict[str, Any]:
        """The facet of ``column`` from the counts."""
        rows = await self.ds.execute(
            self.database,
            _COUNTS_SQL,
            {
                "fc": counted[0],
                "fv": counted[1],
                "column": column,
                "limit": self.get_facet_size() + 1,
            },
        )
        return await self._shown(column, source_and_config, [tuple(row) for row in rows.rows])

    async def _grouped_together(
        self, columns: dict[int, str], configs: list[dict[str, Any]]
    ) -> dict[int, dict[str, Any]] | None:
        """The facets of ``columns`` (by their index in ``configs``, the page's facet configs),
        from one statement that reads the page's rows once and groups them once per facet, as
        Datasette's GROUP BY does. None if it runs out of time (``facet_time_limit_ms``): one
        facet at a time, each with that time, may still finish."""
        picked = ", ".join(escape_sqlite(column) for column in dict.fromkeys(columns.values()))
        branches = " union all ".join(
            f"select * from (select {index} as facet, {escape_sqlite(column)} as value, "
            f"count(*) as count from matched where {escape_sqlite(column)} is not null "
            f"group by {escape_sqlite(column)} order by count desc, value "
            f"limit {self.get_facet_size() + 1})"
            for index, column in columns.items()
        )
        sql = f"with matched as materialized (select {picked} from ({self.sql})) {branches}"
        try:
            rows = await self.ds.execute(
                self.database,
                sql,
                self.params,
                truncate=False,
                custom_time_limit=self.ds.setting("facet_time_limit_ms"),
            )
        except QueryInterrupted:
            return None
        by_facet: dict[int, list[tuple[Any, int]]] = {index: [] for index in columns}
        for facet, value, count in rows.rows:  # each facet's rows in its own order
            by_facet[facet].append((value, count))
        return {
            index: await self._shown(columns[index], configs[index], values)
            for index, values in by_facet.items()
        }

    async def _shown(
        self, column: str, source_and_config: dict[str, Any], rows: list[tuple[Any, int]]
    ) -> dict[str, Any]:
        """The facet of ``column`` as Datasette's ``ColumnFacet`` shows it, from its ``(value,
        count)`` rows, most first, up to one more than the facet's size."""
        facet_size = self.get_facet_size()
        values = rows[:facet_size]
        expanded = await self.ds.expand_foreign_keys(
            self.database, self.table, column, [value for value, _ in values]
        )
        return {
            "name": column,
            "type": ColumnFacet.type,
            "hideable": source_and_config["source"] != "metadata",
            "toggle_url": self.ds.urls.path(
                path_with_removed_args(self.request, {"_facet": column})
            ),
            "results": [self._value(column, value, count, expanded) for value, count in values],
            "truncated": len(rows) > facet_size,
        }

    def _value(self, column: str, value: Any, count: int, expanded: dict) -> dict[str, Any]:
        """One value of the facet, with its toggle link (as ``ColumnFacet.facet_results``)."""
        column_qs = f"{column}__exact" if column.startswith("_") else column
        selected = (column_qs, str(value)) in self.get_querystring_pairs()
        if selected:
            toggle_path = path_with_removed_args(self.request, {column_qs: str(value)})
        else:
            toggle_path = path_with_added_args(self.request, {column_qs: value})
        return {
            "value": value,
            "label": expanded.get((column, value), value),
            "count": count,
            "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle_path)),
            "selected": selected,
        }


def _column(config: dict[str, Any]) -> str:
    return config.get("column") or config["simple"]
