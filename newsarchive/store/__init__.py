"""The archive store: one SQLite file (schema in ``schema``, writes in ``archive``).

This package's names are the store's public interface."""

from newsarchive.store.archive import (
    Archive,
    ArchiveError,
    CapturedArticle,
    ReadOnlyArchiveError,
    SchemaVersionError,
    article_id,
    stable_id,
    utc_now,
)
from newsarchive.store.schema import FTS_TABLES, MIGRATIONS, SCHEMA_VERSION

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
