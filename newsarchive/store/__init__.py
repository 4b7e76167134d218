"""The archive store: one SQLite file (schema in ``schema``, writes in ``archive``)."""

from newsarchive.store.archive import (
    Archive,
    ArchiveError,
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
    "ReadOnlyArchiveError",
    "SchemaVersionError",
    "article_id",
    "stable_id",
    "utc_now",
]
