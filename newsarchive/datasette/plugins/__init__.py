"""Datasette plugins loaded with ``--plugins-dir`` (each module here is one)."""
