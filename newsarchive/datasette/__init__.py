"""Datasette configuration for the archive: metadata, templates and ``serve``."""
