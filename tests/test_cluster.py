"""Many sites on a Scrapyd cluster (issue 15): three real scrapyd daemons on 127.0.0.1, six
local sites written by this test (tests' own pages, not a dataset), ``newsarchive cluster
deploy | schedule | status``, and rendezvous hashing of sites to nodes."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest

from newsarchive.cluster.config import load_cluster
from newsarchive.cluster.hashing import assign, assign_all
from newsarchive.demo.server import SiteServer
from tests.conftest import SITES, free_port, run_newsarchive

NODES = 3
#: The six sites; by rendezvous hashing these names spread over all three nodes (2, 3 and 1).
SITE_NAMES = ("north", "south", "east", "west", "centre", "island")
SITE_COUNT = len(SITE_NAMES)
ARTICLES_PER_SITE = 2
#: Settings of every job: 127.0.0.1 needs no politeness delays; extraction in the crawl's process.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "LOG_LEVEL": "INFO",
    "NEWSARCHIVE_EXTRACT_WORKERS": "0",
}
#: Seconds the jobs of one schedule may take on this (shared, 2-core) machine.
JOBS_TIMEOUT = 120

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2025-03-0{day}T10:00:00Z"></head>
<body><article><h1>{title}</h1>
<p class="byline">By Reporter {site}</p>
<p>The council of {site} voted on Monday on story {number}, a decision that ends a rule dating
from the age of sail and had kept the old port closed for eleven hours every single day.</p>
<p>Unions said the change in {site} would need new lighting and more crews, and asked for a
review after six months. The council agreed to publish the figures every quarter.</p>
<figure><img src="/pictures/night-dock.jpg" alt="Cranes lit at night"><figcaption>The terminal
of {site} lit for a trial night shift. <span class="credit">Photo: Ola Nordmann/Harbour
Press</span></figcaption></figure>
</article></body></html>
"""


def write_site(folder: Path, site: str) -> None:
    """A small news site: a feed and two articles, each with a picture (written by this test)."""
    (folder / "pictures").mkdir(parents=True)
    shutil.copy(SITES / "bad_input" / "pictures" / "night-dock.jpg", folder / "pictures")
    items = []
    for number in range(1, ARTICLES_PER_SITE + 1):
        title = f"{site.title()} council story {number}"
        page = ARTICLE.format(title=title, site=site, number=number, day=number)
        (folder / f"story-{number}.html").write_text(page)
        items.append(
            f"<item><title>{title}</title><link>{{{{BASE}}}}/story-{number}.html</link></item>"
        )
    (folder / "feed.rss").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{site}</title><link>{{{{BASE}}}}/</link>{''.join(items)}</channel></rss>"
    )


#: Seconds a held site waits for its gate at most (the test opens it within seconds).
GATE_TIMEOUT = 60


class GatedSite(SiteServer):
    """A site that answers no request until its gate opens: the jobs stay busy (pending or
    running) for as long as the test needs, however slow the machine is."""

    def __init__(self, root: Path, gate: threading.Event) -> None:
        super().__init__(root)
        self.gate = gate

    @property
    def routes(self) -> dict[str, dict]:  # read by the server before every answer
        self.gate.wait(GATE_TIMEOUT)
        return super().routes


def _api(base: str, endpoint: str) -> dict:
    with urllib.request.urlopen(f"{base}/{endpoint}", timeout=30) as response:
        return json.loads(response.read())


def start_scrapyd(home: Path) -> tuple[subprocess.Popen, str]:
    """A scrapyd on a free port of 127.0.0.1 with its own folders (as tests/test_scrapyd.py)."""
    port = free_port()
    home.mkdir(parents=True)
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.5\n"
        f"max_proc = 2\neggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\n"
        f"dbs_dir = {home / 'dbs'}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_for_scrapyd(base: str) -> None:
    for _ in range(150):
        try:
            if _api(base, "daemonstatus.json")["status"] == "ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"scrapyd at {base} did not start")


def write_cluster(
    path: Path, nodes: list[tuple[str, str]], profiles: list[Path], shards: Path
) -> Path:
    lines = [f'shards = "{shards}"', "[settings]"]
    lines += [f'{key} = "{value}"' for key, value in FAST_SETTINGS.items()]
    for name, url in nodes:
        lines += ["[[nodes]]", f'name = "{name}"', f'url = "{url}"']
    for profile in profiles:
        lines += ["[[sites]]", f'profile = "{profile}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for_jobs(nodes: list[tuple[str, str]], homes: list[Path], expected: int) -> None:
    """Until ``expected`` jobs are finished on the nodes together and none is pending or running."""
    deadline = time.monotonic() + JOBS_TIMEOUT
    while time.monotonic() < deadline:
        answers = [_api(url, "listjobs.json?project=newsarchive") for _, url in nodes]
        busy = sum(len(a["pending"]) + len(a["running"]) for a in answers)
        if not busy and sum(len(a["finished"]) for a in answers) >= expected:
            return
        time.sleep(0.5)
    logs = "\n".join(
        p.read_text()[-1500:] for home in homes for p in (home / "logs").rglob("*.log")
    )
    pytest.fail(f"the cluster's jobs did not finish in {JOBS_TIMEOUT} s:\n{logs}")


SCHEDULED = re.compile(r"^site (\S+): scheduled on node (\S+) as job (\S+)$", re.M)


class Crawled:
    """The cluster after one deploy and schedule: what the module's tests look at."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[tuple[str, str]] = []
        self.homes: list[Path] = []
        self.profiles: list[Path] = []
        self.servers: list[SiteServer] = []
        self.shards = root / "shards"
        self.cluster_file = root / "cluster.toml"
        self.deploy = self.schedule = self.again = self.during = self.shards_during = None
        self.deploy_tmp = root
        #: The archive the shards were merged into (by the merge test).
        self.merged: Path | None = None


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    state = Crawled(root)
    gate = threading.Event()
    with ExitStack() as stack:
        stack.callback(gate.set)  # never leave a server thread waiting
        procs = []
        for number in range(1, NODES + 1):
            home = root / f"node{number}"
            proc, url = start_scrapyd(home)
            stack.callback(_stop, proc)
            procs.append(proc)
            state.nodes.append((f"node{number}", url))
            state.homes.append(home)
        for site in SITE_NAMES:
            write_site(root / "sites" / site, site)
            server = stack.enter_context(GatedSite(root / "sites" / site, gate))
            state.servers.append(server)
            profile = root / "profiles" / f"{site}.toml"
            profile.parent.mkdir(exist_ok=True)
            profile.write_text(
                f'name = "{site}"\ndomains = ["127.0.0.1"]\nfeeds = ["{server.base_url}/feed.rss"]\n'
            )
            state.profiles.append(profile)
        state.shards.mkdir()
        for _, url in state.nodes:
            wait_for_scrapyd(url)
        write_cluster(state.cluster_file, state.nodes, state.profiles, state.shards)
        state.deploy_tmp = root / "deploy-tmp"  # the deploy's temporary folders go here
        state.deploy_tmp.mkdir()
        state.deploy = run_newsarchive("cluster", "deploy", str(state.cluster_file),
                                       env={"TMPDIR": str(state.deploy_tmp)})
        assert state.deploy.returncode == 0, state.deploy.stderr
        state.schedule = run_newsarchive("cluster", "schedule", str(state.cluster_file))
        state.again = run_newsarchive("cluster", "schedule", str(state.cluster_file))
        state.during = run_newsarchive("cluster", "status", str(state.cluster_file))
        state.shards_during = run_newsarchive("cluster", "shards", str(state.cluster_file))
        gate.set()
        wait_for_jobs(state.nodes, state.homes, SITE_COUNT)
        yield state


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def _titles(shard: Path) -> list[str]:
    with sqlite3.connect(shard) as db:
        return sorted(row[0] for row in db.execute("select title from articles"))


def test_each_site_is_crawled_into_its_own_shard_on_its_node(crawled):
    assert crawled.deploy.stderr.count(": deployed,") == NODES, crawled.deploy.stderr
    # scrapyd-deploy --build-egg leaves its temporary folder behind unless the deploy cleans it
    assert list(crawled.deploy_tmp.iterdir()) == []
    scheduled = SCHEDULED.findall(crawled.schedule.stderr)
    assert crawled.schedule.returncode == 0, crawled.schedule.stderr
    assert len(scheduled) == SITE_COUNT, crawled.schedule.stderr
    names = [name for name, _ in crawled.nodes]
    for site, node, job in scheduled:
        assert node == assign(site, names)
        assert job.startswith(f"{site}--")
        shard = crawled.shards / site / f"{site}.db"
        expected = [f"{site.title()} council story {n}" for n in range(1, ARTICLES_PER_SITE + 1)]
        assert _titles(shard) == expected
        assert list((crawled.shards / site / "captures").glob("*.warc.gz")), site
    # Every node got work: the six sites are spread.
    assert {node for _, node, _ in scheduled} == {name for name, _ in crawled.nodes}


def test_a_second_schedule_while_jobs_run_skips_every_busy_site(crawled):
    again = crawled.again.stderr
    assert crawled.again.returncode == 0, again
    assert not SCHEDULED.findall(again), again
    skipped = re.findall(
        r"^site (\S+): skipped, job \1--\S+ is (pending|running) on node", again, re.M
    )
    assert sorted(site for site, _ in skipped) == sorted(SITE_NAMES)


def test_status_shows_each_finished_job_with_its_crawl_outcome(crawled):
    during = crawled.during.stderr
    assert crawled.during.returncode == 0, during
    busy = re.findall(r"^  (pending|running) +([a-z]+)--\S+  ", during, re.M)
    assert len(busy) == SITE_COUNT, during
    done = run_newsarchive("cluster", "status", str(crawled.cluster_file))
    assert done.returncode == 0, done.stderr
    for _site, _, job in SCHEDULED.findall(crawled.schedule.stderr):
        assert re.search(
            rf"finished +{re.escape(job)} .* finished: {ARTICLES_PER_SITE} new, 0 changed",
            done.stderr,
        ), done.stderr
    assert done.stderr.count("0 pending, 0 running") == NODES


def test_shards_lists_only_the_shards_of_idle_sites(crawled):
    assert crawled.shards_during.returncode == 0, crawled.shards_during.stderr
    assert crawled.shards_during.stdout == ""  # every site's job was pending or running
    assert (
        len(
            re.findall(
                r"^site \S+: job \S+ is (?:pending|running)$", crawled.shards_during.stderr, re.M
            )
        )
        == SITE_COUNT
    )
    done = run_newsarchive("cluster", "shards", str(crawled.cluster_file))
    assert done.returncode == 0, done.stderr
    expected = sorted(str(crawled.shards / site / f"{site}.db") for site in SITE_NAMES)
    assert sorted(done.stdout.splitlines()) == expected


def _content(db_path: Path) -> dict[str, list]:
    """What an archive holds, without crawl-specific columns (ids are stable across archives)."""
    queries = {
        "articles": "select id, site, kind, canonical_url, title, description, published from articles",
        "texts": "select article_id, body_text from article_texts",
        "pictures": "select article_id, image_id, position, caption, credit, photographer, agency "
        "from article_images",
        "images": "select id, url, sha256, file_bytes from images",
        "videos": "select v.id, v.provider, v.video_id, v.title, av.article_id "
        "from videos v join article_videos av on av.video_id = v.id",
        "revisions": "select article_id, changed_fields, old_values from revisions",
    }
    with sqlite3.connect(db_path) as db:
        return {name: sorted(map(repr, db.execute(sql))) for name, sql in queries.items()}


def test_merged_shards_equal_a_single_process_crawl(crawled, tmp_path):
    listed = run_newsarchive("cluster", "shards", str(crawled.cluster_file))
    shards = listed.stdout.split()
    assert listed.returncode == 0 and len(shards) == SITE_COUNT, listed.stderr
    archive = crawled.merged = crawled.root / "archive.db"
    merged = run_newsarchive("merge", *map(str, shards), "--db", str(archive))
    assert merged.returncode == 0, merged.stderr
    single = tmp_path / "single.db"
    for profile in crawled.profiles:
        fast = [arg for key, value in FAST_SETTINGS.items() for arg in ("-s", f"{key}={value}")]
        done = run_newsarchive("crawl", str(profile), "--db", str(single), *fast)
        assert done.returncode == 0, done.stderr
    assert _content(archive) == _content(single)
    assert len(_content(archive)["articles"]) == SITE_COUNT * ARTICLES_PER_SITE
    assert len(_content(archive)["pictures"]) == SITE_COUNT * ARTICLES_PER_SITE
    before = _content(archive)
    again = run_newsarchive("merge", *map(str, shards), "--db", str(archive))
    assert again.returncode == 0, again.stderr
    assert _content(archive) == before


def test_removing_a_node_reassigns_only_its_sites(crawled, tmp_path):
    names = [name for name, _ in crawled.nodes]
    before = {site: node for site, node, _ in SCHEDULED.findall(crawled.schedule.stderr)}
    removed = Counter(before.values()).most_common(1)[0][0]  # the node with the most sites
    kept = [node for node in crawled.nodes if node[0] != removed]
    smaller = write_cluster(tmp_path / "cluster.toml", kept, crawled.profiles, crawled.shards)
    done = run_newsarchive("cluster", "schedule", str(smaller))
    assert done.returncode == 0, done.stderr
    after = {site: node for site, node, _ in SCHEDULED.findall(done.stderr)}
    assert set(after) == set(before)
    for site, node in before.items():
        if node == removed:
            assert after[site] != removed and after[site] == assign(
                site, [n for n in names if n != removed]
            )
        else:
            assert after[site] == node, (site, before, after)
    wait_for_jobs(crawled.nodes, crawled.homes, 2 * SITE_COUNT)


def test_merging_the_second_rounds_shards_adds_nothing(crawled):
    if crawled.merged is None:
        pytest.skip("the merge test did not run")
    before = _content(crawled.merged)
    shards = sorted(crawled.shards.glob("*/*.db"))
    merged = run_newsarchive("merge", *map(str, shards), "--db", str(crawled.merged))
    assert merged.returncode == 0, merged.stderr
    assert _content(crawled.merged) == before


def test_rendezvous_hashing_moves_only_the_changed_nodes_share():
    sites = [f"site-{n}" for n in range(100)]
    nodes = ["alpha", "bravo", "charlie", "delta"]
    base = assign_all(sites, nodes)
    assert len(set(base.values())) == len(nodes)  # every node gets a share
    assert base == assign_all(sites, list(reversed(nodes)))  # order does not matter
    without = assign_all(sites, [n for n in nodes if n != "charlie"])
    moved = {site for site in sites if base[site] != without[site]}
    assert moved == {site for site in sites if base[site] == "charlie"}
    with_more = assign_all(sites, [*nodes, "echo"])
    moved = {site for site in sites if base[site] != with_more[site]}
    assert moved and moved == {site for site in sites if with_more[site] == "echo"}


@pytest.mark.parametrize(
    "text, message",
    [
        ('shards = "."\n', "no [[nodes]]"),
        ('shards = "."\n[[nodes]]\nname = "a"\nurl = "ftp://x"\n', "url must start with http"),
        (
            'shards = "."\n[[nodes]]\nname = "a"\nurl = "http://x"\n[[sites]]\nprofile = "nosuch"\n',
            "no profile 'nosuch'",
        ),
        (
            'shards = "missing"\n[[nodes]]\nname = "a"\nurl = "http://x"\n[[sites]]\nprofile = "gzero"\n',
            "does not exist",
        ),
        ("shards = [", "not a valid TOML file"),
    ],
)
def test_a_bad_cluster_file_is_one_line_and_exit_status_2(tmp_path, text, message):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    done = run_newsarchive("cluster", "schedule", str(path))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.toml"]


def test_a_node_that_does_not_answer_is_a_line_and_exit_status_69(tmp_path):
    path = write_cluster(
        tmp_path / "cluster.toml", [("down", f"http://127.0.0.1:{free_port()}")], [], tmp_path
    )
    path.write_text(path.read_text() + '[[sites]]\nprofile = "gzero"\n')
    cluster = load_cluster(path)
    assert cluster.sites[0].name == "gzero" and cluster.shards == tmp_path
    for command in ("status", "schedule", "deploy", "shards"):
        done = run_newsarchive("cluster", command, str(path))
        assert done.returncode == 69, done.stderr
        assert done.stdout == ""
        assert "node down" in done.stderr and "does not answer" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_node_without_the_project_answers_an_error_and_exit_status_1(tmp_path):
    proc, url = start_scrapyd(tmp_path / "fresh")  # a real scrapyd, nothing deployed to it
    try:
        wait_for_scrapyd(url)
        path = write_cluster(tmp_path / "cluster.toml", [("fresh", url)], [], tmp_path)
        path.write_text(path.read_text() + '[[sites]]\nprofile = "gzero"\n')
        for command in ("status", "schedule", "shards"):
            done = run_newsarchive("cluster", command, str(path))
            assert done.returncode == 1, done.stderr
            assert "node fresh" in done.stderr and "answered with an error" in done.stderr
            assert done.stdout == "" and "Traceback" not in done.stderr
    finally:
        _stop(proc)
