"""Serve an archive with Datasette, read-only, with the project's metadata.

``datasette_argv`` builds the command line; ``serve`` runs it; ``make_datasette``
builds the same configuration in-process (tests, embedding). Nothing here
writes to the archive: Datasette opens a mutable file with ``mode=ro``, and an
immutable one (``-i``) without even taking locks.

Mutable or immutable:

* mutable (default): safe while a crawl is writing (WAL), but Datasette 0.65
  offers the "download database" link only for immutable files;
* immutable (``-i``): download allowed and faster, but the file must not change
  while served, and anything still in the ``-wal`` file is invisible. Serve a
  snapshot (``Archive.snapshot(dest)``) or call ``Archive.checkpoint()`` first.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
METADATA_PATH = HERE / "metadata.json"
TEMPLATES_DIR = HERE / "templates"
PLUGINS_DIR = HERE / "plugins"
STATIC_DIR = HERE / "static"
#: The database key in metadata.json: the stem of the default file ``archive.db``.
DEFAULT_DB_NAME = "archive"
#: Datasette settings (docs/performance.md has the measurements behind them):
#: * ``suggest_facets`` off: suggesting facets runs a GROUP BY over the whole table per
#:   candidate column on every table page (3.4 s of a 1M-article table page);
#: * ``num_sql_threads``: SQLite releases the GIL, so a few slow queries (a common-word search)
#:   no longer queue every other reader behind Datasette's default of 3 threads.
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "allow_download": True,
    "suggest_facets": False,
    "num_sql_threads": 8,
}


def load_metadata(db_path: str | Path | None = None) -> dict[str, Any]:
    """The metadata, with its database entry keyed by the stem of ``db_path``."""
    metadata = json.loads(METADATA_PATH.read_text(encoding="utf-8"))
    if db_path is not None:
        name = database_name(db_path)
        if name != DEFAULT_DB_NAME:
            databases = metadata.get("databases", {})
            databases[name] = databases.pop(DEFAULT_DB_NAME)
    return metadata


def database_name(db_path: str | Path) -> str:
    """The name Datasette gives a database file: its stem."""
    return Path(db_path).stem


def metadata_file(db_path: str | Path) -> Path:
    """A metadata file for ``db_path``: the packaged one for ``archive.db``, else a
    patched copy in the temporary directory (one file per database name)."""
    name = database_name(db_path)
    if name == DEFAULT_DB_NAME:
        return METADATA_PATH
    folder = Path(tempfile.gettempdir()) / "newsarchive-datasette"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"metadata-{name}.json"
    target.write_text(
        json.dumps(load_metadata(db_path), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return target


def _plugins_dir() -> Path | None:
    if PLUGINS_DIR.is_dir() and any(p.name != "__init__.py" for p in PLUGINS_DIR.glob("*.py")):
        return PLUGINS_DIR
    return None


def datasette_argv(
    db_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001, immutable: bool = False
) -> list[str]:
    """The ``datasette serve`` command line for an archive file."""
    db_path = Path(db_path)
    argv = [sys.executable, "-m", "datasette", "serve"]
    argv += ["-i", str(db_path)] if immutable else [str(db_path)]
    argv += ["--metadata", str(metadata_file(db_path))]
    argv += ["--template-dir", str(TEMPLATES_DIR)]
    plugins = _plugins_dir()
    if plugins:
        argv += ["--plugins-dir", str(plugins)]
    if STATIC_DIR.is_dir():
        argv += ["--static", f"newsarchive:{STATIC_DIR}"]
    argv += ["--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        argv += ["--setting", name, _setting_text(value)]
    return argv


def _setting_text(value: Any) -> str:
    """A setting's value as ``datasette serve --setting`` reads it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def serve(db_path: str | Path, **kw: Any) -> NoReturn:
    """Become Datasette on ``db_path``: this process is replaced (``os.execv``), so a signal
    meant for it (SIGTERM from systemd, Ctrl-C) reaches Datasette itself, no child is left
    holding the port, and the exit status is Datasette's.

    Keyword arguments are those of :func:`datasette_argv`.
    """
    if not Path(db_path).is_file():
        raise FileNotFoundError(db_path)
    if kw.get("immutable") and wal_pending(db_path):
        print(
            f"warning: {db_path}-wal holds changes that an immutable Datasette will not see; "
            "serve a snapshot (Archive.snapshot) or checkpoint the archive first",
            file=sys.stderr,
        )
    argv = datasette_argv(db_path, **kw)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def wal_pending(db_path: str | Path) -> bool:
    """True if the archive's write-ahead log holds pages not yet in the main file."""
    wal = Path(f"{db_path}-wal")
    return wal.is_file() and wal.stat().st_size > 0


def make_datasette(db_path: str | Path, *, immutable: bool = False):
    """An in-process ``datasette.app.Datasette`` configured like :func:`serve`."""
    from datasette.app import Datasette

    db_path = str(db_path)
    plugins = _plugins_dir()
    return Datasette(
        files=[] if immutable else [db_path],
        immutables=[db_path] if immutable else [],
        metadata=load_metadata(db_path),
        template_dir=str(TEMPLATES_DIR),
        plugins_dir=str(plugins) if plugins else None,
        static_mounts=[("newsarchive", str(STATIC_DIR))] if STATIC_DIR.is_dir() else None,
        settings=copy.deepcopy(SETTINGS),
    )


def main(argv: list[str] | None = None) -> NoReturn:
    import argparse

    parser = argparse.ArgumentParser(description="Serve an archive with Datasette (read-only).")
    parser.add_argument("db_path", nargs="?", default="archive.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "-i",
        "--immutable",
        action="store_true",
        help="the file will not change while served (faster, no locks)",
    )
    args = parser.parse_args(argv)
    serve(args.db_path, host=args.host, port=args.port, immutable=args.immutable)


if __name__ == "__main__":
    main()
