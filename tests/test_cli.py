"""The newsarchive command itself: snapshot for publishing, serve's checks, extract on one file;
a user's mistakes (one line, exit 2, nothing created), the exit statuses of a crawl, serve's
signals."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
import sqlite_utils

from newsarchive.demo.server import SiteServer
from newsarchive.items import Article
from newsarchive.store import Archive
from tests.conftest import FAST, REPO, free_port, port_is_free, run_newsarchive

#: Seconds a test waits for a server to answer.
STARTUP_TIMEOUT = 60


def test_snapshot_is_a_single_consistent_file(tmp_path):
    db_path, copy = tmp_path / "live.db", tmp_path / "published.db"
    with Archive(db_path) as archive:
        archive.save_article(Article(url="https://example.org/a-b-c", title="Flood defences hold",
                                     body_text="The river rose overnight but the new walls held."))
    result = run_newsarchive("snapshot", str(copy), "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "published.db-wal").exists()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"
        assert conn.execute("select title from articles").fetchall() == [("Flood defences hold",)]
    again = run_newsarchive("snapshot", str(copy), "--db", str(db_path))
    assert again.returncode == 2 and "exists" in again.stderr


def test_serve_refuses_a_missing_archive(tmp_path):
    result = run_newsarchive("serve", "--db", str(tmp_path / "nothing.db"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_extract_one_file_prints_the_article_as_json():
    # A real Guardian page from ../shared/datasets/fundus-dev, bundled with the demo site.
    page = REPO / "newsarchive" / "demo" / "site" / "news" / "valencia-fire-death-toll.html.gz"
    result = run_newsarchive("extract", str(page))
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == "Death toll in Valencia fire rises to 10 as remains of last missing person found"
    assert article["published"] == "2024-02-24T11:42:23+00:00"
    lead = article["images"][0]
    assert lead["credit"] == "Eva Manez/Reuters" and (lead["photographer"], lead["agency"]) == ("Eva Manez", "Reuters")


def write_files(folder, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)


USER_MISTAKES = {  # name: (files written in the working folder, arguments, what stderr says)
    "profile without domains": ({"nodomains.toml": 'name = "x"\ntitle = "X"\n'},
                                ["crawl", "nodomains.toml"], "a profile needs domains"),
    "profile with a wrong type": ({"baddomains.toml": 'name = "x"\ndomains = "x.example"\n'},
                                  ["crawl", "baddomains.toml"], "domains must be a list of strings"),
    "not TOML": ({"broken.toml": "name = x x\n"}, ["crawl", "broken.toml"], "not a valid TOML file"),
    "unknown profile field": ({"extra.toml": 'name = "x"\ndomains = ["x.example"]\ncolour = "red"\n'},
                              ["crawl", "extra.toml"], "unknown profile fields: colour"),
    "missing profile file": ({}, ["crawl", "nonexistent.toml"], "no such file: nonexistent.toml"),
    "unknown site": ({}, ["crawl", "nosuchsite"], "spiders: gzero, news; bundled profiles: gzero"),
    "max_articles not a number": ({}, ["crawl", "gzero", "-a", "max_articles=abc"], "max_articles='abc' is not a whole number"),
    "since not a date": ({}, ["crawl", "gzero", "-a", "since=someday"], "since='someday' is not a date"),
    "feed_pages not a number": ({}, ["crawl", "gzero", "-a", "feed_pages=two"], "feed_pages must be a whole number"),
    "news spider with no site": ({}, ["crawl", "news"], "no site to crawl"),
    "-a without =": ({}, ["crawl", "gzero", "-a", "max_articles"], "must be NAME=VALUE"),
    "bad revisit schedule": ({}, ["crawl", "gzero", "-s", "NEWSARCHIVE_REVISIT_SCHEDULE=[[24]]"],
                             "NEWSARCHIVE_REVISIT_SCHEDULE must be"),
    "bad revisit budget": ({}, ["crawl", "gzero", "-s", "NEWSARCHIVE_REVISIT_BUDGET=lots"], "Invalid value for -s"),
    "crawl into a missing folder": ({}, ["crawl", "gzero", "--db", "missing-dir/a.db"], "does not exist"),
    "demo into a missing folder": ({}, ["demo", "--db", "missing-dir/a.db"], "does not exist"),
    "serve a file that is not a database": ({"notadb.db": "just text\n"}, ["serve", "notadb.db"],
                                            "is not an SQLite database"),
    "serve a database that is not an archive": ({"other.db": b""}, ["serve", "other.db"], "not a newsarchive archive"),
    "serve on a host that does not resolve": ({}, ["serve", "archive.db", "--host", "no-such-host.invalid"],
                                              "cannot resolve 'no-such-host.invalid'"),
    "reextract a missing archive": ({}, ["reextract", "--db", "nothing.db"], "does not exist"),
    "reextract from a missing WARC folder": ({}, ["reextract", "--db", "archive.db", "--warc-dir", "nowhere"],
                                             "Directory 'nowhere' does not exist"),
    "snapshot into a missing folder": ({}, ["snapshot", "missing-dir/copy.db", "--db", "archive.db"],
                                       "does not exist"),
}


@pytest.mark.parametrize("case", list(USER_MISTAKES))
def test_a_user_mistake_is_one_line_exit_2_and_creates_nothing(tmp_path, case):
    files, args, message = USER_MISTAKES[case]
    write_files(tmp_path, files)
    if case == "serve a database that is not an archive":
        sqlite3.connect(tmp_path / "other.db").execute("create table t (x)").connection.close()
    if "archive.db" in args:
        Archive(tmp_path / "archive.db").close()
    before = sorted(p.name for p in tmp_path.iterdir())
    if args[0] == "crawl" and "--db" not in args:
        args = [*args, "--db", "x.db"]
    result = run_newsarchive(*args, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no archive, lock, captures/ or images/


def test_an_archive_error_is_one_line_and_exit_1(tmp_path):
    """The archive's own errors are mapped at the command line's edge: no traceback."""
    db_path = tmp_path / "future.db"
    Archive(db_path).close()
    with sqlite3.connect(db_path) as conn:  # an archive written by a newer newsarchive
        conn.execute("pragma user_version = 999")
    conn.close()
    result = run_newsarchive("snapshot", str(tmp_path / "copy.db"), "--db", str(db_path))
    assert result.returncode == 1, result.stderr
    from newsarchive.store.schema import SCHEMA_VERSION

    expected = f"Error: {db_path} has schema version 999, this code reads {SCHEMA_VERSION}"
    assert result.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "copy.db").exists()


@contextlib.contextmanager
def busy_port():
    """A port on 127.0.0.1 that something already listens on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_serve_refuses_a_busy_port(tmp_path):
    db_path = tmp_path / "a.db"
    Archive(db_path).close()
    with busy_port() as port:
        result = run_newsarchive("serve", str(db_path), "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: Invalid value for --port: cannot listen on 127.0.0.1:{port}: "
                                                  "Address already in use"]


def wait_for(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_with_datasette_on_a_signal(tmp_path, signum):
    db_path = tmp_path / "a.db"
    Archive(db_path).close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "serve", str(db_path), "--port", str(port)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/-/versions.json", proc)
        os.kill(proc.pid, signum)  # the process the user started, as systemd or Ctrl-C would
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_is_free(port), "something still holds the port"
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)  # nothing of its process group is left
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_two_crawls_started_together_one_exits_75(tmp_path, demo_site):
    db_path = tmp_path / "race.db"
    argv = [sys.executable, "-m", "newsarchive.cli", "crawl", "news", "--db", str(db_path), *FAST,
            "-a", "site=demo", "-a", f"feeds={demo_site.base_url}/feed.rss"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    time.sleep(0.2)  # well within half a second of each other
    procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=240), p.stderr.read()) for p in procs]
    statuses = sorted(status for status, _ in results)
    assert statuses == [0, 75], results
    loser = next(err for status, err in results if status == 75)
    assert loser.strip().splitlines() == [f"Error: {db_path} is being written by pid {procs[0].pid}; not starting a second crawl"] \
        or "not starting a second crawl" in loser and len(loser.strip().splitlines()) == 1
    assert "Traceback" not in loser
    assert not (tmp_path / "race.db.lock").exists()
    assert sqlite_utils.Database(db_path)["crawls"].count == 1


def test_a_site_that_cannot_be_reached_exits_69(tmp_path):
    db_path = tmp_path / "outage.db"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_newsarchive("crawl", "news", "--db", str(db_path), "-s", "AUTOTHROTTLE_ENABLED=False",
                             "-s", "DOWNLOAD_DELAY=0", "-s", "RETRY_TIMES=0", "-a", "site=outage",
                             "-a", f"robots={dead}/robots.txt", "-a", f"feeds={dead}/feed.rss")
    assert result.returncode == 69, result.stderr
    crawl = next(sqlite_utils.Database(db_path).query("select * from crawls"))
    assert crawl["outcome"] == "unreachable" and crawl["finished"]
    # The default level: no Scrapy log, no traceback; one summary paragraph.
    assert "Traceback" not in result.stderr and "[scrapy" not in result.stderr
    summary = result.stderr.strip()
    assert summary.startswith("crawl unreachable") and len(summary.splitlines()) == 1
    assert "download 2 (" in summary and "connection refused" in summary


def test_a_site_answering_500_everywhere_exits_69(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    error = {"status": 500, "body": "<html><body>Internal error</body></html>"}
    feed = ("<rss version='2.0'><channel><title>t</title>" + "".join(
        f"<item><link>{{{{BASE}}}}/news/story-number-{i}.html</link></item>" for i in range(3)) + "</channel></rss>")
    # A site written by this test: first everything fails; then the feed works but every page fails.
    routes = {"/feed.rss": error, **{f"/news/story-number-{i}.html": error for i in range(3)}}
    (root / "routes.json").write_text(json.dumps(routes))
    args = ["crawl", "news", "--db", str(tmp_path / "errors.db"), "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "DOWNLOAD_DELAY=0", "-s", "RETRY_TIMES=0", "-s", "ROBOTSTXT_OBEY=False", "-a", "site=errors"]
    with SiteServer(root) as site:
        nothing = run_newsarchive(*args, "-a", f"feeds={site.base_url}/feed.rss")
        routes["/feed.rss"] = {"body": feed, "content_type": "application/rss+xml"}
        (root / "routes.json").write_text(json.dumps(routes))
        pages = run_newsarchive(*args, "-a", f"feeds={site.base_url}/feed.rss")
    assert nothing.returncode == 69 and nothing.stderr.startswith("crawl unreachable"), nothing.stderr
    assert pages.returncode == 69 and pages.stderr.startswith("crawl pages_failed"), pages.stderr
    assert "http 3 (" in pages.stderr and "HTTP 500" in pages.stderr
    outcomes = [r["outcome"] for r in sqlite_utils.Database(tmp_path / "errors.db").query("select outcome from crawls order by id")]
    assert outcomes == ["unreachable", "pages_failed"]


def test_the_summary_replaces_the_log_which_is_one_flag_away(tmp_path, bad_site):
    args = ["crawl", "news", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
            "-a", "site=badsite", "-a", f"feeds={bad_site.base_url}/feed.rss"]
    quiet = run_newsarchive(*args, "--db", str(tmp_path / "quiet.db"))
    assert quiet.returncode == 0, quiet.stderr
    summary = quiet.stderr.strip()
    assert len(summary.splitlines()) == 1 and "[scrapy" not in summary, summary
    assert summary.startswith("crawl finished (crawl 1 of ")
    assert "pages 2 new, 0 changed, 0 unchanged, 0 skipped, 0 revisited, 0 removed" in summary
    assert "http 3 (" in summary and "HTTP 404" in summary and "WARC: " in summary and "Elapsed: " in summary
    home = tmp_path / "home"
    home.mkdir()
    verbose = run_newsarchive(*args, "--db", str(tmp_path / "verbose.db"), "--verbose",
                              env={"HOME": str(home), "XDG_STATE_HOME": str(home / ".local/state")})
    assert verbose.returncode == 0 and "[scrapy.core.engine] INFO: Spider opened" in verbose.stderr
    # Neither of Scrapy's control servers runs, and nothing is written in the user's home folder
    # (RemoteControl's token file, ~/.local/state/scrapy/job_files, when it was on).
    assert "TelnetConsole" not in verbose.stderr and "RemoteControl" not in verbose.stderr
    assert "Enabled extensions" in verbose.stderr and "ArchiveExtension" in verbose.stderr
    assert list(home.rglob("*")) == []


def run_in_terminal(*args: str, cwd=REPO, timeout: float = 240) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as stdout and stderr; its status and everything it wrote."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd, stdout=slave, stderr=slave,
                            env={**os.environ, "COLUMNS": "160"})
    os.close(slave)
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), output.decode("utf-8", "replace")


def test_progress_is_live_on_a_terminal_and_plain_lines_under_cron(tmp_path, demo_site):
    args = ["crawl", "news", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.3",
            "-a", "site=demo", "-a", f"feeds={demo_site.base_url}/feed.rss", "-a", f"sections={demo_site.base_url}/"]
    status, shown = run_in_terminal(*args, "--db", str(tmp_path / "live.db"))
    assert status == 0, shown
    assert "\x1b[" in shown and "crawl: " in shown and "pages done" in shown and "pages/min" in shown
    assert "crawl finished" in shown

    plain = run_newsarchive(*args, "--db", str(tmp_path / "cron.db"), "-s", "NEWSARCHIVE_PROGRESS_INTERVAL=0.5")
    assert plain.returncode == 0, plain.stderr
    lines = [line for line in plain.stderr.splitlines() if line.startswith("crawl progress (")]
    assert len(lines) >= 2 and "\x1b[" not in plain.stderr, plain.stderr
    assert all("pages done" in line and "queued" in line and "failures" in line for line in lines)
    assert plain.stderr.strip().splitlines()[-1].startswith("crawl finished")

    # reextract and snapshot show theirs too.
    status, shown = run_in_terminal("reextract", "--db", str(tmp_path / "cron.db"))
    assert status == 0 and "reextract: " in shown and "articles" in shown, shown
    status, shown = run_in_terminal("snapshot", str(tmp_path / "copy.db"), "--db", str(tmp_path / "cron.db"))
    assert status == 0 and "snapshot of " in shown, shown


def test_when_datasette_cannot_start_its_failure_is_the_exit_status(tmp_path):
    """serve's process becomes Datasette, so Datasette's own failure is the command's status. The
    module entry (``python -m newsarchive.datasette.serve``) runs the same code without the
    command line's port check: on a busy port, Datasette itself fails to start."""
    db_path = tmp_path / "a.db"
    Archive(db_path).close()
    with busy_port() as port:
        result = subprocess.run([sys.executable, "-m", "newsarchive.datasette.serve", str(db_path), "--port", str(port)],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stderr
    assert "address already in use" in result.stderr
