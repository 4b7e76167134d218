"""The archive store: one SQLite file (schema in ``schema``, writes in ``archive``).

This package's names are the store's public interface."""

import sys


def _import_sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy, when it is installed, only to map numpy's scalar types to
    column types; the archive stores none, and numpy costs the crawl's process about 22 MiB
    (issue 13). Later ``import numpy`` (py3langid's, in an extraction worker) works as usual."""
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # import numpy: ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        del sys.modules["numpy"]


_import_sqlite_utils_without_numpy()


from newsarchive.store.archive import (  # noqa: E402 - after the numpy guard
    Archive,
    ArchiveError,
    CapturedArticle,
    ReadOnlyArchiveError,
    SchemaVersionError,
    article_id,
    stable_id,
    utc_now,
)
from newsarchive.store.schema import FTS_TABLES, MIGRATIONS, SCHEMA_VERSION  # noqa: E402

__all__ = [
    "FTS_TABLES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "CapturedArticle",
    "ReadOnlyArchiveError",
    "SchemaVersionError",
    "article_id",
    "stable_id",
    "utc_now",
]
