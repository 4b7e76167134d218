"""The ``newsarchive`` command: crawl, demo, serve, extract."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

DEFAULT_DB = "archive.db"
#: Exit status when another crawl holds the archive (EX_TEMPFAIL: cron may simply retry later).
EXIT_LOCKED = 75
db_option = click.option("--db", "db", default=DEFAULT_DB, show_default=True,
                         type=click.Path(dir_okay=False), help="The SQLite archive file.")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{what} must be NAME=VALUE, got {value!r}")
        pairs[key] = val
    return pairs


@click.group()
@click.version_option(package_name="newsarchive")
def cli() -> None:
    """Archive news sites into one SQLite file and search it with Datasette."""


@cli.command()
@click.argument("site")
@db_option
@click.option("-a", "args", multiple=True, metavar="NAME=VALUE", help="Spider argument (as scrapy crawl -a).")
@click.option("-s", "settings", multiple=True, metavar="NAME=VALUE", help="Scrapy setting (as scrapy crawl -s).")
@click.option("--replay", "replay", multiple=True, metavar="GLOB",
              help="Answer every request from these WARC files (e.g. 'captures/*.warc.gz') instead of the network.")
def crawl(site: str, db: str, args: tuple[str, ...], settings: tuple[str, ...], replay: tuple[str, ...]) -> None:
    """Crawl SITE (a spider such as gzero, or a site profile name or .toml file) into the archive.

    Every response is also written, with its request, to WARC files (captures/ beside the archive).
    With --replay the same spiders and pipelines run on captured responses, offline; a request the
    captures don't hold is a failures row (stage "replay"), and no new WARC is written.

    Exit status: 0 the crawl finished; 1 it did not (see the crawls row); 2 bad arguments;
    75 another crawl is writing the same archive (try again later).
    """
    overrides: dict = {"NEWSARCHIVE_DB": db}
    if replay:
        from newsarchive.capture.writer import expand_patterns

        if not expand_patterns(replay):
            raise click.UsageError(f"--replay: no file matches {' '.join(replay)}")
        # Nothing to be polite to: the answers come from files.
        overrides.update({"NEWSARCHIVE_REPLAY": list(replay), "AUTOTHROTTLE_ENABLED": False,
                          "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
    stats = _crawl(site, {**overrides, **_pairs(settings, "-s")}, _pairs(args, "-a"))
    click.echo(_summary(stats, db), err=True)
    sys.exit(0 if stats.get("finish_reason") == "finished" else 1)


def _crawl(site: str, overrides: dict, args: dict) -> dict:
    """Run a crawl, turning a bad profile and a held archive into the documented exit statuses."""
    from newsarchive.crawl import ArchiveLocked, run_crawl
    from newsarchive.profiles import ProfileError

    try:
        return run_crawl(site, settings_overrides=overrides, spider_args=args)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from exc
    except ArchiveLocked as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)


def _summary(stats: dict, db: str) -> str:
    new, changed, unchanged = (stats.get(f"newsarchive/pages_{k}", 0) for k in ("new", "changed", "unchanged"))
    failures = sum(v for k, v in stats.items() if k.startswith("newsarchive/failures/"))
    return (f"crawl {stats.get('finish_reason')}: {new} new, {changed} changed, {unchanged} unchanged pages, "
            f"{failures} failures -> {db}")


@cli.command()
@db_option
@click.option("--serve", "serve_after", is_flag=True, help="Open the archive in Datasette afterwards.")
@click.option("--port", default=8001, show_default=True, help="Datasette's port with --serve.")
@click.option("--site-port", default=8765, show_default=True,
              help="Port of the sample site; keep it fixed so that URLs stay the same from run to run.")
def demo(db: str, serve_after: bool, port: int, site_port: int) -> None:
    """Crawl the bundled sample site (served on 127.0.0.1, no network needed) into the archive."""
    from newsarchive.demo.server import SiteServer

    try:
        server = SiteServer(port=site_port)
    except OSError as exc:
        raise click.ClickException(f"cannot serve the sample site on 127.0.0.1:{site_port} ({exc}); "
                                   "choose another --site-port") from exc
    with server as site:
        base = site.base_url
        click.echo(f"serving the sample site at {base}", err=True)
        stats = _crawl("news", {
            "NEWSARCHIVE_DB": db, "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 4, "LOG_LEVEL": "WARNING",
            # The sample pages' pictures on their publishers' hosts stay unfetched: no network.
            "NEWSARCHIVE_IMAGE_DOMAINS": "127.0.0.1",
        }, {
            "site": "demo", "title": "Demo Media (bundled sample site)", "robots": f"{base}/robots.txt",
            "feeds": f"{base}/feed.rss", "sections": f"{base}/", "video_patterns": "^/video/",
        })
    click.echo(_summary(stats, db), err=True)
    if stats.get("finish_reason") != "finished":
        sys.exit(1)
    if serve_after:
        from newsarchive.datasette.serve import serve

        serve(db, port=port)
    else:
        click.echo(f"open it with:  newsarchive serve {db}   (then http://127.0.0.1:{port}/)", err=True)


@cli.command()
@click.argument("db_file", required=False, type=click.Path(dir_okay=False))
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True)
@click.option("--immutable", is_flag=True, help="Serve a published snapshot (faster; the file must not change).")
def serve(db_file: str | None, db: str, host: str, port: int, immutable: bool) -> None:
    """Serve the archive (DB_FILE, or --db) read-only with Datasette."""
    from newsarchive.datasette.serve import serve as run

    db = db_file or db
    if not Path(db).exists():
        raise click.ClickException(f"{db} does not exist: crawl first (newsarchive demo)")
    run(db, host=host, port=port, immutable=immutable)


@cli.command()
@click.argument("output", type=click.Path(dir_okay=False))
@db_option
def snapshot(output: str, db: str) -> None:
    """Write a consistent single-file copy of the archive to OUTPUT, to publish or download.

    Safe while a crawl writes. Serve it with `newsarchive serve OUTPUT --immutable`, which also
    offers the whole file for download.
    """
    from newsarchive.store import Archive

    if not Path(db).exists():
        raise click.ClickException(f"{db} does not exist")
    if Path(output).exists():
        raise click.ClickException(f"{output} exists; choose a new file")
    with Archive(db, readonly=True) as archive:
        archive.snapshot(output)
    click.echo(f"{db} -> {output} ({Path(output).stat().st_size:,} bytes)", err=True)


@cli.command()
@db_option
@click.option("--warc-dir", type=click.Path(file_okay=False), default=None,
              help="Folder the captures' WARC file names are relative to  [default: captures/ beside the archive]")
def reextract(db: str, warc_dir: str | None) -> None:
    """Re-run the current extraction over the stored captures of every article.

    Changed articles are updated and their previous values kept as revisions rows.
    """
    from newsarchive.reextract import reextract as run
    from newsarchive.store.lock import ArchiveLocked

    if not Path(db).exists():
        raise click.ClickException(f"{db} does not exist")
    try:
        result = run(db, warc_dir=warc_dir)
    except ArchiveLocked as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    counts = result.counts
    click.echo(f"reextract (crawl {result.crawl_id}): {counts['changed']} changed, {counts['unchanged']} unchanged, "
               f"{counts['new']} new, {counts['failed']} failed, {counts['missing']} with a missing WARC file -> {db}",
               err=True)
    sys.exit(1 if counts["missing"] or counts["failed"] else 0)


@cli.command()
@click.argument("source", required=False)
@click.option("--dataset", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A dataset folder (pages.jsonl + html/) to predict.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="predictions.jsonl to write.")
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
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (user's URL)
            return response.geturl(), response.read()
    path = Path(source)
    if not path.is_file():
        raise click.BadParameter(f"{source} is neither a URL nor a file")
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    return path.resolve().as_uri(), data


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    cli()


if __name__ == "__main__":
    cli()
