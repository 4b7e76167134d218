""" "View as archived": pywb (Webrecorder) replays the archive's own WARC files beside Datasette.

``newsarchive serve`` runs two servers when pywb is installed (``pip install
'newsarchive[replay]'``): Datasette on its port and pywb's ``wayback`` on the next one
(``--replay-port``). This module is the pywb side:

* :class:`WarcIndex` keeps one CDXJ index per WARC file of the captures folder, made with pywb's
  own indexer (what ``wb-manager`` runs), in the temporary folder (:func:`index_folder`), never
  beside the archive. A file is (re)indexed when its size or modification time changes, so the file a crawl is still writing
  is re-read as it grows; the others are indexed once. :func:`supervise` runs
  :meth:`WarcIndex.update` before pywb starts and every :data:`INDEX_INTERVAL_S` seconds after;
  pywb reads its index folder on every lookup, so a capture is replayable within that time.
* :func:`pywb_config` is the collection pywb serves: :data:`COLLECTION`, its index that folder,
  its archive the captures folder. Replay only: no ``live`` collection, no recording, no
  proxy mode, so a resource the WARC files do not hold is pywb's local 404, never a fetch.
* :func:`supervise` runs Datasette and pywb as children of this process, passes on SIGTERM,
  SIGINT and SIGHUP, and when Datasette ends stops pywb and exits with Datasette's status; each
  child also gets SIGTERM if this process dies without that chance (Linux ``PR_SET_PDEATHSIG``).
* :func:`replay_link` is the URL of one capture in pywb: the collection, the capture's
  ``WARC-Date`` as a 14-digit timestamp, and the URL captured, so pywb shows that very version.

Datasette learns where pywb is from :data:`REPLAY_ENV` (set by :func:`supervise`).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsarchive.datasette.pages import has_table

logger = logging.getLogger(__name__)

#: The pywb collection of the archive's captures: ``http://HOST:PORT/archive/TIMESTAMP/URL``.
COLLECTION = "archive"
#: The environment variable holding pywb's collection URL, read by the Datasette plugin.
REPLAY_ENV = "NEWSARCHIVE_REPLAY_URL"
#: Seconds between two looks at the captures folder for new or grown WARC files.
INDEX_INTERVAL_S = 10
#: What a user runs to get "View as archived".
INSTALL_HINT = "pip install 'newsarchive[replay]'"
#: WARC (and ARC) file names pywb can index.
WARC_NAME = re.compile(r".*\.w?arc(\.gz)?$")
#: Seconds pywb gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10
#: Linux ``prctl`` option: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: Hosts that mean "every interface": links then use the host the browser asked for.
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
#: Exit status of a process ended by signal N is 128 + N (as a shell reports it).
SIGNAL_STATUS_BASE = 128
#: The bodiless answer to a conditional request: not replayable.
HTTP_NOT_MODIFIED = 304
#: Digits of a pywb timestamp (``YYYYMMDDhhmmss``).
TIMESTAMP_DIGITS = 14


def pywb_available() -> bool:
    """True if pywb (the ``replay`` extra) is installed (and not blocked: ``sys.modules``)."""
    try:
        return importlib.util.find_spec("pywb") is not None
    except ValueError:  # sys.modules["pywb"] is None: imports of it fail
        return False


def default_captures(db_path: str | Path) -> Path:
    """``captures/`` beside the archive file: where crawls write their WARC files by default."""
    return Path(db_path).expanduser().resolve().parent / "captures"


# -- index ----------------------------------------------------------------------------------


class WarcIndex:
    """One CDXJ file per WARC file of ``captures`` in ``indexes``, kept current by :meth:`update`.

    Each index is written to a temporary name and renamed, so pywb never reads half of one;
    the WARC file's size and modification time are part of its index's name, so a changed file
    is indexed again and its old index removed.
    """

    def __init__(self, captures: Path, indexes: Path) -> None:
        self.captures = captures
        self.indexes = indexes
        #: How many WARC files the last :meth:`update` found.
        self.files = 0

    def warc_files(self) -> Iterator[Path]:
        """Every WARC file under the captures folder (none if it does not exist yet)."""
        if not self.captures.is_dir():
            return
        for folder, _dirs, names in os.walk(self.captures):
            for name in sorted(names):
                if WARC_NAME.match(name):
                    yield Path(folder) / name

    def _index_name(self, warc: Path) -> str:
        stat = warc.stat()
        relative = warc.relative_to(self.captures).as_posix()
        key = hashlib.sha1(relative.encode("utf-8")).hexdigest()[:16]
        return f"{key}-{stat.st_size}-{stat.st_mtime_ns}.cdxj"

    def update(self) -> int:
        """Index the WARC files that are new or changed, drop the indexes of changed or deleted
        files; the number of files indexed."""
        self.indexes.mkdir(parents=True, exist_ok=True)
        wanted: dict[str, Path] = {}
        for warc in self.warc_files():
            with contextlib.suppress(OSError):  # deleted meanwhile
                wanted[self._index_name(warc)] = warc
        self.files, done = len(wanted), 0
        failed: set[str] = set()
        for name, warc in wanted.items():
            if (self.indexes / name).exists():
                continue
            if self._index(warc, self.indexes / name):
                done += 1
            else:
                failed.add(_key(name))
        for stale in self.indexes.glob("*.cdxj"):
            # a changed file keeps its previous index until the new one is written
            if stale.name not in wanted and _key(stale.name) not in failed:
                stale.unlink(missing_ok=True)
        return done

    def _index(self, warc: Path, target: Path) -> bool:
        """Write ``warc``'s CDXJ index to ``target``; False (and a warning) if it cannot be read."""
        with warnings.catch_warnings():  # pyamf's pkg_resources and pywb's cgi deprecations
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            from pywb.indexer.cdxindexer import write_cdx_index

        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # not *.cdxj
        relative = warc.relative_to(self.captures).as_posix()
        lines = io.BytesIO()
        try:
            with open(warc, "rb") as source:
                write_cdx_index(lines, source, relative, cdxj=True, sort=True, append_post=True)
        except Exception as exc:  # a record still being written, a damaged file: next time
            logger.warning("replay: cannot index %s yet: %s", warc, exc)
            return False
        kept = [line for line in lines.getvalue().splitlines(keepends=True) if _replayable(line)]
        partial.write_bytes(b"".join(kept))
        partial.replace(target)
        return True


def _replayable(cdxj_line: bytes) -> bool:
    """False for the index line of a ``304 Not Modified`` answer to a crawl's conditional request:
    it holds no page, and pywb would replay it as an empty one next to the real captures."""
    try:
        fields = json.loads(cdxj_line.split(b" ", 2)[2])
    except (IndexError, ValueError):
        return True
    return str(fields.get("status")) != str(HTTP_NOT_MODIFIED)


def _key(index_name: str) -> str:
    """The part of an index's name that names its WARC file."""
    return index_name.split("-", 1)[0]


def index_folder(captures: Path) -> Path:
    """Where the indexes of ``captures`` are kept between runs: one folder per captures folder
    in the temporary folder (as the Datasette metadata copies are), never inside the archive's."""
    key = hashlib.sha1(str(captures.resolve()).encode("utf-8")).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "newsarchive-replay" / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- pywb ------------------------------------------------------------------------------------


def pywb_config(captures: Path, indexes: Path) -> dict[str, Any]:
    """pywb's ``config.yaml``: one replay-only collection over the captures folder."""
    return {
        "collections": {
            COLLECTION: {
                "index_paths": f"{indexes}{os.sep}",
                "archive_paths": f"{captures.resolve()}{os.sep}",
            }
        },
        "framed_replay": True,
        "enable_memento": True,
    }


@dataclass(frozen=True)
class ReplayConfig:
    """How pywb serves one archive's captures."""

    captures: Path
    host: str = "127.0.0.1"
    port: int = 8002

    def url(self) -> str:
        """The collection's URL, as :data:`REPLAY_ENV` gives it to Datasette."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{COLLECTION}/"

    def argv(self, root: Path) -> list[str]:
        """pywb's ``wayback`` server on ``root`` (the folder holding its ``config.yaml``)."""
        code = "import sys; from pywb.apps.cli import wayback; wayback(sys.argv[1:])"
        # pyamf (a pywb dependency) warns that pkg_resources is deprecated on every start.
        return [
            sys.executable,
            "-W",
            "ignore::UserWarning",
            "-c",
            code,
            "-b",
            self.host,
            "-p",
            str(self.port),
            "-d",
            str(root),
        ]


def write_root(replay: ReplayConfig, indexes: Path) -> Path:
    """A temporary folder with pywb's ``config.yaml`` (JSON is YAML) for this run."""
    root = Path(tempfile.mkdtemp(prefix="newsarchive-pywb-"))
    config = pywb_config(replay.captures, indexes)
    (root / "config.yaml").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return root


def replay_link(base: str, warc_date: str | None, url: str | None) -> str | None:
    """pywb's URL of the capture of ``url`` taken at ``warc_date`` (``WARC-Date``), under the
    collection URL ``base``; None without a date or an http(s) URL."""
    if not base or not warc_date or not url or not url.startswith(("http://", "https://")):
        return None
    digits = re.sub(r"\D", "", warc_date)[:TIMESTAMP_DIGITS]
    if len(digits) != TIMESTAMP_DIGITS:
        return None
    return f"{base.rstrip('/')}/{digits}/{url}"


def replay_base(request_host: str | None) -> str | None:
    """The collection URL from :data:`REPLAY_ENV`; None when serve runs no pywb. A wildcard
    host (``0.0.0.0``) becomes the host name the browser used to reach Datasette."""
    value = os.environ.get(REPLAY_ENV)
    if not value:
        return None
    parts = urllib.parse.urlsplit(value)
    if (parts.hostname or "") in WILDCARD_HOSTS and request_host:
        name = urllib.parse.urlsplit(f"//{request_host}").hostname or "127.0.0.1"
        name = f"[{name}]" if ":" in name else name
        parts = parts._replace(netloc=f"{name}:{parts.port}")
    return urllib.parse.urlunsplit(parts)


# -- supervision -----------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)


class Supervisor:
    """Datasette and pywb as children; Datasette's end is the end of both."""

    def __init__(self, datasette_argv: list[str], replay: ReplayConfig) -> None:
        self.datasette_argv = datasette_argv
        self.replay = replay
        self.index = WarcIndex(replay.captures, index_folder(replay.captures) / "indexes")
        self.children: list[subprocess.Popen] = []
        self.pywb_reported = False
        self.stopped: int | None = None

    def _forward(self, signum: int, _frame: Any) -> None:
        self.stopped = signum
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        """Serve until Datasette exits; its exit status (128 + N if signal N ended it)."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._forward)
        indexed = self.index.update()
        print(
            f"View as archived: pywb replays {self.replay.captures} at {self.replay.url()} "
            f"({self.index.files} WARC file(s), {indexed} newly indexed)",
            file=sys.stderr,
            flush=True,
        )
        if self.stopped is not None:  # stopped while indexing: start nothing
            return SIGNAL_STATUS_BASE + self.stopped
        root = write_root(self.replay, self.index.indexes)
        try:
            self.children.append(_start(self.replay.argv(root)))
            env = {**os.environ, REPLAY_ENV: self.replay.url()}
            datasette = _start(self.datasette_argv, env)
            self.children.append(datasette)
            if self.stopped is not None:  # a signal while starting them
                self._forward(self.stopped, None)
            status = self._wait(datasette)
        finally:
            self._stop_all()
            shutil.rmtree(root, ignore_errors=True)
        return SIGNAL_STATUS_BASE - status if status < 0 else status

    def _wait(self, datasette: subprocess.Popen) -> int:
        """Datasette's return code, keeping the index current meanwhile."""
        while True:
            try:
                return datasette.wait(timeout=INDEX_INTERVAL_S)
            except subprocess.TimeoutExpired:
                pass
            self._check_pywb()
            try:
                self.index.update()
            except OSError as exc:
                logger.warning("replay: cannot update the index: %s", exc)

    def _check_pywb(self) -> None:
        pywb = self.children[0]
        if pywb.poll() is not None and not self.pywb_reported:
            self.pywb_reported = True
            print(
                f"warning: pywb stopped (status {pywb.returncode}); "
                "View as archived links will not answer until serve is restarted",
                file=sys.stderr,
                flush=True,
            )

    def _stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def supervise(datasette_argv: list[str], replay: ReplayConfig) -> int:
    """Run Datasette (``datasette_argv``) and pywb over ``replay`` until Datasette exits."""
    return Supervisor(datasette_argv, replay).run()


# -- links on the article page -----------------------------------------------------------------

#: The latest capture of the article's URLs at or before a moment (second precision: ``seen_at``
#: and ``WARC-Date`` are written differently), of any status: what a revision's change was
#: seen in (a removal's 404 too).
_CAPTURE_AT_SQL = (
    "select url, warc_date from captures where url in ({urls}) "
    "and substr(warc_date, 1, 19) <= substr(:moment, 1, 19) "
    "order by warc_date desc, rowid desc limit 1"
)
#: The latest successful capture of the article's URLs strictly before a moment: the version
#: a revision's old values come from.
_CAPTURE_BEFORE_SQL = (
    "select url, warc_date from captures where url in ({urls}) and status between 200 and 299 "
    "and substr(warc_date, 1, 19) < substr(:moment, 1, 19) "
    "order by warc_date desc, rowid desc limit 1"
)


async def article_replay(db, page: dict[str, Any], base: str) -> dict[str, Any]:
    """pywb links for an article page (:func:`newsarchive.datasette.pages.article_page`'s
    dict): ``article``, its own capture; ``revisions``, per revision id the capture of the
    version before the change (``before``) and the one the change was seen in (``after``).

    A revision has no capture reference of its own: the captures of the article's URLs (the URL
    fetched and the one its capture was requested as) are matched to its ``seen_at``.
    """
    article, capture = page["article"], page.get("capture") or {}
    links: dict[str, Any] = {
        "article": replay_link(base, capture.get("warc_date"), capture.get("url")),
        "revisions": {},
    }
    urls = sorted({u for u in (article.get("url"), capture.get("url")) if u})
    if not urls or not page.get("revisions") or not await has_table(db, "captures"):
        return links
    marks = ", ".join(f":u{n}" for n in range(len(urls)))
    params = {f"u{n}": url for n, url in enumerate(urls)}
    for revision in page["revisions"]:
        after = (
            await db.execute(
                _CAPTURE_AT_SQL.format(urls=marks), {**params, "moment": revision["seen_at"]}
            )
        ).first()
        moment = after["warc_date"] if after else revision["seen_at"]
        before = (
            await db.execute(_CAPTURE_BEFORE_SQL.format(urls=marks), {**params, "moment": moment})
        ).first()
        links["revisions"][revision["id"]] = {
            "before": replay_link(base, before["warc_date"], before["url"]) if before else None,
            "after": replay_link(base, after["warc_date"], after["url"]) if after else None,
        }
    return links
