"""The ``newsarchive`` command: crawl, demo, serve, extract."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

DEFAULT_DB = "archive.db"
#: Datasette's port (serve, demo --serve) and the sample site's (demo) unless told otherwise.
DEFAULT_PORT = 8001
DEFAULT_SITE_PORT = 8765
#: Exit status when the crawl was stopped before its end (see its crawls row).
EXIT_NOT_FINISHED = 1
#: Exit status when the site could not be reached: no discovery document and no page could be
#: fetched, or every page failed (EX_UNAVAILABLE).
EXIT_UNREACHABLE = 69
#: Exit status when another crawl holds the archive (EX_TEMPFAIL: cron may simply retry later).
EXIT_LOCKED = 75
#: Scrapy's log level unless --verbose or -L says otherwise: the end-of-run summary says the rest.
QUIET_LOG_LEVEL = "ERROR"
#: The first bytes of every SQLite 3 database file.


class ArchiveBusy(click.ClickException):
    """Another process writes the archive."""

    exit_code = EXIT_LOCKED


@contextlib.contextmanager
def archive_errors() -> Iterator[None]:
    """The archive's errors as the command's own, one line on stderr (as ``sqlite_utils/cli.py``
    maps its library's): a held lock is exit status 75 (:class:`ArchiveBusy`), any other
    archive error (a schema this code does not read...) exit status 1."""
    from newsarchive.store.archive import ArchiveError
    from newsarchive.store.lock import ArchiveLocked

    try:
        yield
    except ArchiveLocked as exc:
        raise ArchiveBusy(str(exc)) from exc
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc


class ArchivePath(click.Path):
    """An archive file: its folder must exist (nothing is created for a mistyped path), and with
    ``archive=True`` it must be an existing newsarchive SQLite file."""

    def __init__(self, *, archive: bool = False) -> None:
        super().__init__(dir_okay=False, exists=archive, path_type=Path)
        self.archive = archive

    def convert(self, value, param, ctx) -> Path:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        folder = path.expanduser().absolute().parent
        if not folder.is_dir():
            self.fail(f"folder {str(folder)!r} does not exist", param, ctx)
        if self.archive:
            from newsarchive.store.inspect import not_an_archive

            problem = not_an_archive(path)
            if problem:
                self.fail(problem, param, ctx)
        return path


db_option = click.option(
    "--db",
    "db",
    default=DEFAULT_DB,
    show_default=True,
    type=ArchivePath(),
    help="The SQLite archive file (its folder must exist).",
)
existing_db_option = click.option(
    "--db",
    "db",
    default=DEFAULT_DB,
    show_default=True,
    type=ArchivePath(archive=True),
    help="The SQLite archive file.",
)


#: The highest TCP port.
MAX_PORT = 65535


def port_option(flag: str, default: int, *, lowest: int = 1, help: str | None = None):
    """A TCP port option (``lowest``-65535; 0 would be a free one) with its default shown."""
    return click.option(
        flag, default=default, show_default=True, type=click.IntRange(lowest, MAX_PORT), help=help
    )


def log_options(command):
    """--verbose and -L LEVEL: Scrapy's own log, which is quiet by default."""
    command = click.option(
        "-L",
        "--loglevel",
        "loglevel",
        default=None,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
        help=f"Scrapy's log level  [default: {QUIET_LOG_LEVEL}: the summary at the end says the rest]",
    )(command)
    return click.option(
        "-v", "--verbose", is_flag=True, help="Scrapy's full log (the same as -L INFO)."
    )(command)


def _log_level(verbose: bool, loglevel: str | None) -> str:
    return (loglevel or ("INFO" if verbose else QUIET_LOG_LEVEL)).upper()


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"must be NAME=VALUE, got {value!r}", param_hint=what)
        pairs[key] = val
    return pairs


class OneLineErrors(click.Group):
    """A user's mistake is one line on stderr ("Error: ..."), exit status 2: the usage text
    is one ``--help`` away."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None
            raise


@click.group(cls=OneLineErrors)
@click.version_option(package_name="newsarchive")
def cli() -> None:
    """Archive news sites into one SQLite file and search it with Datasette."""


@cli.command()
@click.argument("site")
@db_option
@click.option(
    "-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument (as scrapy crawl -a)."
)
@click.option(
    "-s",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Scrapy setting (as scrapy crawl -s).",
)
@click.option(
    "--replay",
    "replay",
    multiple=True,
    metavar="GLOB",
    help="Answer every request from these WARC files (e.g. 'captures/*.warc.gz') instead of the network.",
)
@log_options
def crawl(
    site: str,
    db: Path,
    args: tuple[str, ...],
    settings: tuple[str, ...],
    replay: tuple[str, ...],
    verbose: bool,
    loglevel: str | None,
) -> None:
    """Crawl SITE (a spider such as gzero, or a site profile name or .toml file) into the archive.

    Every response is also written, with its request, to WARC files (captures/ beside the archive).
    With --replay the same spiders and pipelines run on captured responses, offline; a request the
    captures don't hold is a failures row (stage "replay"), and no new WARC is written.

    Exit status: 0 the crawl ran and reached the site; 1 it was stopped before its end;
    2 bad arguments; 69 the site could not be reached (nothing fetched, or every page failed);
    75 another crawl is writing the same archive (try again later).
    """
    overrides: dict = {
        "NEWSARCHIVE_DB": str(db),
        "LOG_LEVEL": _log_level(verbose, loglevel),
        "NEWSARCHIVE_PROGRESS": True,
    }
    if replay:
        from newsarchive.capture.writer import expand_patterns

        if not expand_patterns(replay):
            raise click.BadParameter(f"no file matches {' '.join(replay)}", param_hint="--replay")
        # Nothing to be polite to: the answers come from files.
        overrides.update(
            {
                "NEWSARCHIVE_REPLAY": list(replay),
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            }
        )
    settings_pairs = _pairs(settings, "-s")
    plan = _plan(site, {**overrides, **settings_pairs}, _pairs(args, "-a"))
    _finish(_crawl(plan), db)


def _plan(site: str, overrides: dict, args: dict):
    """Check SITE and the spider arguments before anything is created (exit 2 on a mistake)."""
    from newsarchive.crawl import BadSetting, UnknownSite, plan_crawl
    from newsarchive.profiles import ProfileError, ProfileNotFound

    try:
        return plan_crawl(site, settings_overrides=overrides, spider_args=args)
    except (UnknownSite, ProfileNotFound) as exc:
        raise click.BadParameter(str(exc), param_hint="SITE") from exc
    except BadSetting as exc:
        raise click.BadParameter(str(exc), param_hint="-s") from exc
    except ValueError as exc:  # ProfileError, the spider's SpiderArgumentError
        hint = "SITE" if isinstance(exc, ProfileError) and not args else "-a"
        raise click.BadParameter(str(exc), param_hint=hint) from exc


def _crawl(plan) -> dict:
    """Run a checked crawl; a held archive is exit status 75."""
    from newsarchive.crawl import run_crawl

    with archive_errors():
        return run_crawl(plan)


def _finish(stats: dict, db: Path, *, exit_on_success: bool = True) -> None:
    """Print the end-of-run summary and exit with the status the crawl's outcome means (on
    success, only with ``exit_on_success``)."""
    from newsarchive.crawl import OUTCOME_FINISHED, OUTCOME_PAGES_FAILED, OUTCOME_UNREACHABLE

    click.echo(crawl_summary(stats, db), err=True)
    outcome = stats.get("newsarchive/outcome")
    if outcome in (OUTCOME_UNREACHABLE, OUTCOME_PAGES_FAILED):
        sys.exit(EXIT_UNREACHABLE)
    if outcome != OUTCOME_FINISHED:
        sys.exit(EXIT_NOT_FINISHED)
    if exit_on_success:
        sys.exit(0)


#: Failure reasons shown per stage in the summary.
SUMMARY_REASONS = 3
_PAGE_COUNTS = ("new", "changed", "unchanged", "skipped", "revisited", "removed")


def crawl_summary(stats: dict, db: str | Path) -> str:
    """One paragraph: the outcome, the pages, failures by stage with their first reasons, WARC bytes, time."""
    pages = ", ".join(f"{stats.get(f'newsarchive/pages_{k}', 0)} {k}" for k in _PAGE_COUNTS)
    lines = [
        f"crawl {stats.get('newsarchive/outcome', stats.get('finish_reason'))} "
        f"(crawl {stats.get('newsarchive/crawl_id', '?')} of {db}): pages {pages}."
    ]
    by_stage = {
        k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("newsarchive/failures/")
    }
    if by_stage:
        from newsarchive.store.inspect import first_failures

        reasons = first_failures(db, stats.get("newsarchive/crawl_id"), per_stage=SUMMARY_REASONS)
        parts = []
        for stage, count in sorted(by_stage.items(), key=lambda kv: -kv[1]):
            examples = "; ".join(reasons.get(stage, []))
            parts.append(f"{stage} {count}" + (f" ({examples})" if examples else ""))
        lines.append(f"Failures: {sum(by_stage.values())}: " + ", ".join(parts) + ".")
    else:
        lines.append("No failures.")
    warc = stats.get("newsarchive/capture_bytes", 0)
    lines.append(
        f"WARC: {warc:,} bytes in {stats.get('newsarchive/captures', 0)} records. "
        f"Elapsed: {stats.get('elapsed_time_seconds', 0):.1f} s."
    )
    return " ".join(lines)


@cli.command()
@db_option
@click.option(
    "--serve", "serve_after", is_flag=True, help="Open the archive in Datasette afterwards."
)
@port_option("--port", DEFAULT_PORT, help="Datasette's port with --serve.")
@port_option(
    "--site-port",
    DEFAULT_SITE_PORT,
    lowest=0,
    help="Port of the sample site; keep it fixed so that URLs stay the same from run to run.",
)
@log_options
def demo(
    db: Path, serve_after: bool, port: int, site_port: int, verbose: bool, loglevel: str | None
) -> None:
    """Crawl the bundled sample site (served on 127.0.0.1, no network needed) into the archive."""
    from newsarchive.demo.server import SiteServer

    replay = None
    if serve_after:
        _check_port("127.0.0.1", port)
        replay = _replay_port("127.0.0.1", port, None, False)
    try:
        server = SiteServer(port=site_port)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot serve the sample site on 127.0.0.1:{site_port} ({exc.strerror or exc}); "
            "choose another",
            param_hint="--site-port",
        ) from exc
    with server as site:
        base = site.base_url
        click.echo(f"serving the sample site at {base}", err=True)
        plan = _plan(
            "news",
            {
                "NEWSARCHIVE_DB": str(db),
                "AUTOTHROTTLE_ENABLED": False,
                "DOWNLOAD_DELAY": 0,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
                "LOG_LEVEL": _log_level(verbose, loglevel),
                "NEWSARCHIVE_PROGRESS": True,
                # The sample pages' pictures on their publishers' hosts stay unfetched: no network.
                "NEWSARCHIVE_IMAGE_DOMAINS": "127.0.0.1",
            },
            {
                "site": "demo",
                "title": "Demo Media (bundled sample site)",
                "robots": f"{base}/robots.txt",
                "feeds": f"{base}/feed.rss",
                "sections": f"{base}/",
                "video_patterns": "^/video/",
            },
        )
        stats = _crawl(plan)
    if not serve_after:
        click.echo(
            f"open it with:  newsarchive serve {db}   (then http://127.0.0.1:{port}/)", err=True
        )
    _finish(stats, db, exit_on_success=not serve_after)
    _become_datasette(db, port=port, replay_port=replay)


def _check_port(host: str, port: int, *, param_hint: str = "--port") -> None:
    """BadParameter (exit 2) unless ``host:port`` can be listened on now (IPv4 or IPv6)."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise click.BadParameter(
            f"cannot resolve {host!r}: {exc.strerror or exc}", param_hint="--host"
        ) from exc
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Datasette's server does
            sock.bind(address)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", param_hint=param_hint
        ) from exc


@cli.command()
@click.argument("db_file", required=False, type=ArchivePath(archive=True))
@click.option(
    "--db",
    "db",
    default=None,
    type=ArchivePath(archive=True),
    help=f"The SQLite archive file  [default: {DEFAULT_DB}]",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@port_option("--port", DEFAULT_PORT)
@click.option(
    "--immutable",
    is_flag=True,
    help="Serve a published snapshot (faster; the file must not change).",
)
@click.option(
    "--replay-port",
    default=None,
    type=click.IntRange(1, MAX_PORT),
    help="pywb's port for View as archived  [default: --port + 1]",
)
@click.option("--no-replay", is_flag=True, help="Serve without pywb (no View as archived).")
@click.option(
    "--warc-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the WARC files pywb replays  [default: captures/ beside the archive]",
)
def serve(
    db_file: Path | None,
    db: Path | None,
    host: str,
    port: int,
    immutable: bool,
    replay_port: int | None,
    no_replay: bool,
    warc_dir: Path | None,
) -> None:
    """Serve the archive (DB_FILE, or --db) read-only with Datasette.

    With pywb installed (pip install 'newsarchive[replay]'), serve also starts pywb on
    --replay-port over the crawls' WARC files, and each article page gets "View as archived":
    the page as it was captured, with its own pictures and layout, replayed from the WARC files
    only (never the live web); each revision links to the captures before and after it. New WARC
    files are indexed as crawls write them (every few seconds).

    SIGTERM or Ctrl-C stops Datasette and pywb, and the exit status is Datasette's. Without pywb
    (or with --no-replay) this process becomes Datasette itself.
    """
    db = db_file or db
    if db is None:
        db = ArchivePath(archive=True).convert(DEFAULT_DB, None, click.get_current_context())
    _check_port(host, port)
    replay = _replay_port(host, port, replay_port, no_replay)
    _become_datasette(
        db, host=host, port=port, immutable=immutable, replay_port=replay, warc_dir=warc_dir
    )


def _replay_port(host: str, port: int, replay_port: int | None, no_replay: bool) -> int | None:
    """pywb's port (checked free), or None: no replay asked for, or pywb not installed (which
    the serve module says in one line)."""
    from newsarchive.datasette.replay import pywb_available

    if no_replay:
        return None
    chosen = replay_port or port + 1
    if chosen > MAX_PORT or chosen == port:
        raise click.BadParameter(
            f"{chosen} is not a usable port for pywb", param_hint="--replay-port"
        )
    if pywb_available():
        _check_port(host, chosen, param_hint="--replay-port")
    return chosen


def _become_datasette(db: Path, **kw) -> None:
    """Serve ``db`` with Datasette (and pywb when ``replay_port`` is given; keywords: those of
    :func:`newsarchive.datasette.serve.serve`)."""
    from newsarchive.datasette.serve import PluginNotInstalled, serve

    try:
        serve(db, **kw)
    except PluginNotInstalled as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.argument("output", type=ArchivePath())
@existing_db_option
def snapshot(output: Path, db: Path) -> None:
    """Write a consistent single-file copy of the archive to OUTPUT, to publish or download.

    Safe while a crawl writes. Serve it with `newsarchive serve OUTPUT --immutable`, which also
    offers the whole file for download.
    """
    from newsarchive.store import Archive

    if output.exists():
        raise click.BadParameter(f"{output} exists; choose a new file", param_hint="OUTPUT")
    with archive_errors(), Archive(db, readonly=True) as archive:
        _with_progress(
            f"snapshot of {db.stat().st_size:,} bytes",
            lambda: archive.snapshot(output),
            lambda: f"{_size(output):,} bytes written",
        )
    click.echo(f"{db} -> {output} ({output.stat().st_size:,} bytes)", err=True)


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


#: Seconds between two looks at a job running in a thread.
_POLL = 0.2


def _with_progress(what: str, job, text) -> None:
    """Run ``job`` in a thread, showing ``text()`` as its progress; re-raise what it raised."""
    import threading

    from newsarchive.progress import Progress

    outcome: list[BaseException] = []

    def target() -> None:
        try:
            job()
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    worker = threading.Thread(target=target, name="newsarchive-job")
    with Progress(what) as meter:
        worker.start()
        while worker.is_alive():
            worker.join(_POLL)
            meter.show(text())
    if outcome:
        raise outcome[0]


#: Settings ``reextract`` (not a Scrapy command) also takes from environment variables of their names.
EXTRACT_SETTINGS = (
    "NEWSARCHIVE_EXTRACT_WORKERS",
    "NEWSARCHIVE_EXTRACT_TIMEOUT",
    "NEWSARCHIVE_EXTRACT_FUNCTION",
)


def _extract_settings_from_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in EXTRACT_SETTINGS if os.environ.get(name)}


@cli.command()
@existing_db_option
@click.option(
    "--warc-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder the captures' WARC file names are relative to  [default: captures/ beside the archive]",
)
def reextract(db: Path, warc_dir: Path | None) -> None:
    """Re-run the current extraction over the stored captures of every article.

    Changed articles are updated and their previous values kept as revisions rows.
    """
    from newsarchive.crawl import project_settings
    from newsarchive.pool import ExtractPool, PoolSettingError
    from newsarchive.progress import Progress
    from newsarchive.reextract import reextract as run

    def show(done: int, total: int, counts) -> None:
        meter.show(
            f"{done}/{total} articles: {counts['changed']} changed, {counts['unchanged']} unchanged, "
            f"{counts['failed']} failed"
        )

    try:  # the crawl's NEWSARCHIVE_EXTRACT_* settings (environment variables of those names too)
        pool = ExtractPool.from_settings(project_settings(_extract_settings_from_environment()))
    except (PoolSettingError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    with archive_errors(), Progress("reextract") as meter:
        result = run(db, warc_dir=warc_dir, progress=show, pool=pool)
    counts = result.counts
    click.echo(
        f"reextract (crawl {result.crawl_id}): {counts['changed']} changed, {counts['unchanged']} unchanged, "
        f"{counts['new']} new, {counts['failed']} failed, {counts['missing']} with a missing WARC file -> {db}",
        err=True,
    )
    sys.exit(1 if counts["missing"] or counts["failed"] else 0)


@cli.command()
@click.argument("source", required=False)
@click.option(
    "--dataset",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A dataset folder (pages.jsonl + html/) to predict.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="predictions.jsonl to write."
)
def extract(source: str | None, dataset: Path | None, output: Path | None) -> None:
    """Extract one page (a URL or an HTML file; JSON out), or a whole dataset with --dataset."""
    if dataset:
        from newsarchive.extract.evaluate import predict_dataset

        if not output:
            raise click.UsageError("--dataset needs --output")
        count = predict_dataset(dataset, output)
        click.echo(f"{count} pages -> {output}", err=True)
        return
    if not source:
        raise click.UsageError("give a URL or a file, or --dataset DIR --output FILE")
    from newsarchive.extract import extract_article

    url, html = _read_source(source)
    article = extract_article(url, html)
    click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))


def _read_source(source: str) -> tuple[str, bytes]:
    if source.startswith(("http://", "https://")):
        import urllib.request

        from newsarchive.settings import USER_AGENT

        request = urllib.request.Request(source, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.geturl(), response.read()
    path = Path(source)
    if not path.is_file():
        raise click.BadParameter(f"{source} is neither a URL nor a file")
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    return path.resolve().as_uri(), data


# -- merge: shard archives into one (issue 15, the one writer) ---------------------------------


@cli.command()
@click.argument(
    "shards",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@db_option
@click.option(
    "--warc-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The archive's captures folder  [default: captures/ beside the archive]",
)
def merge(shards: tuple[Path, ...], db: Path, warc_dir: Path | None) -> None:
    """Fold finished shard archives (one crawl job each) into the archive, in the order given.

    Each shard's WARC files (captures/ beside it) are copied under the archive's captures folder
    (shards/<sha256>/), its picture files (images/ beside it) into images/ beside the archive. A
    shard merged before is skipped. One transaction per shard; safe while Datasette reads. Exit
    status 0 when every shard is merged or skipped, 2 when a SHARD is not an archive (nothing is
    written), 75 when another process holds the archive or a crawl still writes a shard (that
    shard is skipped, the others merged: run again later), 1 on any other archive error.
    """
    from newsarchive.store import Archive
    from newsarchive.store.lock import ArchiveLocked, archive_lock
    from newsarchive.store.merge import merge_shard, shard_problem

    for shard in shards:
        problem = shard_problem(shard)
        if problem is None and shard.absolute() == db.absolute():
            problem = f"{str(shard)!r} is the archive itself"
        if problem:
            raise click.BadParameter(problem, param_hint="SHARD")
    captures = warc_dir or db.absolute().parent / "captures"
    images = db.absolute().parent / "images"
    busy = 0
    with archive_errors(), archive_lock(db), Archive(db) as archive:
        for number, shard in enumerate(shards, 1):
            click.echo(f"merging {number}/{len(shards)}: {shard}", err=True)
            try:
                summary = merge_shard(archive, shard, captures_dir=captures, images_dir=images)
            except ArchiveLocked as exc:
                busy += 1
                click.echo(f"merge {shard}: skipped, still being written ({exc})", err=True)
                continue
            click.echo(f"merge {summary.line()}", err=True)
    if busy:
        sys.exit(EXIT_LOCKED)


# -- end merge ---------------------------------------------------------------------------------


# --- cluster commands (issue 15: many sites on a Scrapyd cluster; docs/cluster.md) ---------


def _load_cluster(path: Path):
    """The parsed cluster file; a bad one is one line on stderr and exit status 2."""
    from newsarchive.cluster.config import ClusterConfigError, load_cluster

    try:
        return load_cluster(path)
    except ClusterConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="CLUSTER.toml") from exc


def _say(line: str) -> None:
    click.echo(line, err=True)


cluster_file = click.argument(
    "cluster_file", metavar="CLUSTER.toml", type=click.Path(path_type=Path)
)


@cli.group(cls=OneLineErrors)
def cluster() -> None:
    """Crawl many sites on Scrapyd nodes, one shard archive per site (docs/cluster.md).

    Exit status: 0 done; 1 a node answered with an error (or the egg could not be built);
    2 a bad cluster file; 69 a node did not answer.
    """


@cluster.command("deploy")
@cluster_file
def cluster_deploy(cluster_file: Path) -> None:
    """Build the project egg once and deploy it to every node."""
    from newsarchive.cluster.commands import deploy

    sys.exit(deploy(_load_cluster(cluster_file), _say))


@cluster.command("schedule")
@cluster_file
def cluster_schedule(cluster_file: Path) -> None:
    """Schedule one job per site on its node (rendezvous hashing); a site whose previous job is
    pending or running on any node is skipped."""
    from newsarchive.cluster.commands import schedule

    sys.exit(schedule(_load_cluster(cluster_file), _say))


@cluster.command("status")
@cluster_file
def cluster_status(cluster_file: Path) -> None:
    """Jobs per node, and each finished job's outcome from its shard's crawls row."""
    from newsarchive.cluster.commands import status

    sys.exit(status(_load_cluster(cluster_file), _say))


@cluster.command("shards")
@cluster_file
def cluster_shards(cluster_file: Path) -> None:
    """Print the shard of every site with no pending or running job, one path a line: the shards
    to merge now (`newsarchive merge $(newsarchive cluster shards CLUSTER.toml) --db ...`)."""
    from newsarchive.cluster.commands import idle_shards

    sys.exit(idle_shards(_load_cluster(cluster_file), _say, click.echo))


# --- end of cluster commands ----------------------------------------------------------------


if __name__ == "__main__":
    cli()
