"""Serve an archive with Datasette, read-only, with the project's metadata.

:class:`DatasetteConfig` is the one description of how an archive is served (its file, mutable
or not, the metadata, the settings); ``datasette_argv`` turns it into a ``datasette serve``
command line, which ``serve`` becomes (or, with ``replay_port``, runs beside pywb:
:mod:`newsarchive.datasette.replay`, "View as archived"), and ``make_datasette`` into an
in-process Datasette (tests, embedding). The pages, templates and connection settings are the plugin
:mod:`newsarchive.datasette`, which Datasette loads through the package's ``datasette`` entry
point. Nothing here writes to the archive: Datasette opens a mutable file with ``mode=ro``, and
an immutable one (``-i``) without even taking locks.

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
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
METADATA_PATH = HERE / "metadata.json"
#: Datasette's port unless told otherwise.
DEFAULT_PORT = 8001
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


class PluginNotInstalled(RuntimeError):
    """Datasette would serve the archive without its pages: the package is not installed."""


#: The entry point through which Datasette loads :mod:`newsarchive.datasette`.
PLUGIN_ENTRY_POINT = ("datasette", "newsarchive.datasette")


def check_plugin_installed() -> None:
    """:class:`PluginNotInstalled` unless Datasette will load the archive's plugin."""
    group, module = PLUGIN_ENTRY_POINT
    if not any(ep.value == module for ep in entry_points(group=group)):
        raise PluginNotInstalled(
            f"Datasette will not load {module}: install the package (pip install -e .) "
            f"so that its {group!r} entry point is registered"
        )


@dataclass(frozen=True)
class DatasetteConfig:
    """How Datasette serves one archive file: the single source of both the command line
    (:meth:`argv`) and the in-process Datasette (:meth:`datasette`)."""

    db_path: Path
    immutable: bool = False
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    def argv(self) -> list[str]:
        """The ``datasette serve`` command line."""
        argv = [sys.executable, "-m", "datasette", "serve"]
        argv += ["-i", str(self.db_path)] if self.immutable else [str(self.db_path)]
        argv += ["--metadata", str(metadata_file(self.db_path))]
        argv += ["--host", self.host, "--port", str(self.port)]
        for name, value in SETTINGS.items():
            argv += ["--setting", name, _setting_text(value)]
        return argv

    def datasette(self):
        """An in-process ``datasette.app.Datasette`` serving the same as :meth:`argv`."""
        from datasette.app import Datasette

        path = str(self.db_path)
        return Datasette(
            files=[] if self.immutable else [path],
            immutables=[path] if self.immutable else [],
            metadata=load_metadata(self.db_path),  # what metadata_file writes for argv
            settings=copy.deepcopy(SETTINGS),
        )


def datasette_argv(
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    immutable: bool = False,
) -> list[str]:
    """The ``datasette serve`` command line for an archive file."""
    check_plugin_installed()
    return DatasetteConfig(Path(db_path), immutable=immutable, host=host, port=port).argv()


def _setting_text(value: Any) -> str:
    """A setting's value as ``datasette serve --setting`` reads it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def serve(
    db_path: str | Path,
    *,
    replay_port: int | None = None,
    warc_dir: str | Path | None = None,
    **kw: Any,
) -> NoReturn:
    """Serve ``db_path`` with Datasette, and with pywb on ``replay_port`` for "View as archived".

    Without ``replay_port`` (or without pywb installed) this process becomes Datasette
    (``os.execv``): a signal meant for it (SIGTERM from systemd, Ctrl-C) reaches Datasette itself,
    no child is left holding the port, and the exit status is Datasette's. With it, this process
    supervises both (:func:`newsarchive.datasette.replay.supervise`): it passes signals on, stops
    pywb when Datasette ends and exits with Datasette's status. ``warc_dir`` is the folder of the
    WARC files (default ``captures/`` beside the archive).

    Other keyword arguments are those of :func:`datasette_argv`.
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
    # -- newsarchive replay (View as archived) --
    from newsarchive.datasette import replay

    if replay_port is not None and not replay.pywb_available():
        print(f'"View as archived" needs pywb: {replay.INSTALL_HINT}', file=sys.stderr)
        replay_port = None
    if replay_port is not None:
        captures = Path(warc_dir) if warc_dir else replay.default_captures(db_path)
        host = kw.get("host", "127.0.0.1")
        config = replay.ReplayConfig(captures.expanduser().resolve(), host=host, port=replay_port)
        sys.exit(replay.supervise(argv, config))
    # -- end replay --
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def wal_pending(db_path: str | Path) -> bool:
    """True if the archive's write-ahead log holds pages not yet in the main file."""
    wal = Path(f"{db_path}-wal")
    return wal.is_file() and wal.stat().st_size > 0


def make_datasette(db_path: str | Path, *, immutable: bool = False):
    """An in-process ``datasette.app.Datasette`` configured like :func:`serve`."""
    check_plugin_installed()
    return DatasetteConfig(Path(db_path), immutable=immutable).datasette()


def main(argv: list[str] | None = None) -> NoReturn:
    import argparse

    parser = argparse.ArgumentParser(description="Serve an archive with Datasette (read-only).")
    parser.add_argument("db_path", nargs="?", default="archive.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "-i",
        "--immutable",
        action="store_true",
        help="the file will not change while served (faster, no locks)",
    )
    parser.add_argument(
        "--replay-port",
        type=int,
        default=None,
        help="also serve the WARC captures with pywb on this port (View as archived)",
    )
    args = parser.parse_args(argv)
    serve(
        args.db_path,
        host=args.host,
        port=args.port,
        immutable=args.immutable,
        replay_port=args.replay_port,
    )


if __name__ == "__main__":
    main()
