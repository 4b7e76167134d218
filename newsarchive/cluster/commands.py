"""``newsarchive cluster deploy | schedule | status``: the code behind the commands.

Each function writes one line per node or site through ``say`` and returns the exit status:
0 all went well; 1 a node answered with an error (or the egg could not be built);
69 a node did not answer (EX_UNAVAILABLE).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

from newsarchive.cluster.config import Cluster, Site
from newsarchive.cluster.hashing import assign_all
from newsarchive.cluster.scrapyd import (
    JOB_SEPARATOR,
    Job,
    NodeError,
    NodeUnreachable,
    ScrapydClient,
)

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NODE_ERROR = 1
EXIT_UNREACHABLE = 69
#: The spider every site's job runs (its profile is an argument).
SPIDER = "news"
#: Seconds the egg build may take.
BUILD_TIMEOUT = 300
#: What is left out of the copy of the checkout the egg is built from.
BUILD_IGNORE = (".git", ".venv", "venv", "tests", "*.db", "*.egg-info", "build", "__pycache__")
#: Job states in which a site is still being crawled.
BUSY = ("pending", "running")

Say = Callable[[str], None]


class EggBuildError(RuntimeError):
    """The project egg could not be built."""


def project_root() -> Path:
    """The checkout newsarchive runs from (scrapy.cfg and setup.py beside the package)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "scrapy.cfg").is_file() or not (root / "setup.py").is_file():
        raise EggBuildError(f"{root} is not a newsarchive checkout (scrapy.cfg, setup.py)")
    return root


def build_egg(folder: Path) -> Path:
    """Build the project egg with scrapyd-client (``scrapyd-deploy --build-egg``) from a copy of
    the checkout in ``folder``, so that the checkout is left as it was."""
    source = folder / "project"
    shutil.copytree(project_root(), source, ignore=shutil.ignore_patterns(*BUILD_IGNORE))
    egg = folder / "newsarchive.egg"
    command = [sys.executable, "-m", "scrapyd_client.deploy", "--build-egg", str(egg)]
    # scrapyd-deploy --build-egg leaves its own temporary folder (scrapydeploy-*) behind: give
    # it one inside ``folder``, which goes when the caller is done.
    scratch = folder / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    try:
        done = subprocess.run(
            command, cwd=source, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise EggBuildError(f"building the egg took over {BUILD_TIMEOUT} s") from exc
    if done.returncode != 0 or not egg.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EggBuildError(f"building the egg failed: {last[0]}")
    return egg


def deploy(cluster: Cluster, say: Say) -> int:
    """Build the egg once and upload it to every node (``addversion.json``)."""
    say("deploy: building the egg (scrapyd-deploy --build-egg)")
    with tempfile.TemporaryDirectory(prefix="newsarchive-egg-") as folder:
        try:
            egg = build_egg(Path(folder)).read_bytes()
        except EggBuildError as exc:
            say(f"deploy: {exc}")
            return EXIT_NODE_ERROR
    version = str(int(time.time()))
    say(f"deploy: egg of {len(egg):,} bytes, version {version}")
    statuses = [
        _deploy_to(ScrapydClient(node), cluster.project, version, egg, say)
        for node in cluster.nodes
    ]
    ok = statuses.count(EXIT_OK)
    say(f"deploy: {ok} of {len(statuses)} nodes have version {version}")
    return max(statuses, key=_severity)


def _deploy_to(client: ScrapydClient, project: str, version: str, egg: bytes, say: Say) -> int:
    name = client.node.name
    try:
        answer = client.add_version(project, version, egg)
    except NodeUnreachable as exc:
        say(f"node {name}: does not answer ({exc})")
        return EXIT_UNREACHABLE
    except NodeError as exc:
        say(f"node {name}: refused the egg ({exc})")
        return EXIT_NODE_ERROR
    say(f"node {name}: deployed, {answer.get('spiders', '?')} spiders")
    return EXIT_OK


def _severity(status: int) -> int:
    """Which exit status wins when nodes differ: unreachable over error over success."""
    return {EXIT_OK: 0, EXIT_NODE_ERROR: 1, EXIT_UNREACHABLE: 2}[status]


@dataclass
class ClusterJobs:
    """What ``listjobs.json`` says on every node that answered."""

    jobs: dict[str, list[Job]]
    """Jobs by node name."""
    unknown: dict[str, str]
    """Nodes whose jobs are unknown, with what happened ("does not answer (…)", "answered
    with an error (…)")."""
    status: int = EXIT_OK
    """69 if a node did not answer, else 1 if one answered with an error, else 0."""

    def busy(self) -> dict[str, tuple[str, Job]]:
        """``{site: (node, job)}`` for every site with a pending or running job on any node."""
        return {
            job.site: (node, job)
            for node, jobs in self.jobs.items()
            for job in jobs
            if job.state in BUSY and job.site
        }


def list_jobs(cluster: Cluster) -> ClusterJobs:
    """Every node's jobs of the project."""
    found = ClusterJobs({}, {})
    for node in cluster.nodes:
        try:
            found.jobs[node.name] = ScrapydClient(node).jobs(cluster.project)
        except NodeUnreachable as exc:
            found.unknown[node.name] = f"does not answer ({exc})"
            found.status = EXIT_UNREACHABLE
        except NodeError as exc:
            found.unknown[node.name] = f"answered with an error ({exc})"
            found.status = max(found.status, EXIT_NODE_ERROR, key=_severity)
    return found


def job_id(site: str, now: dt.datetime | None = None) -> str:
    """A Scrapyd job id naming its site: ``SITE--YYYYmmddTHHMMSSffffffZ``."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{site}{JOB_SEPARATOR}{stamp}"


def job_settings(cluster: Cluster, site: Site) -> dict[str, str]:
    """The job's Scrapy settings: the cluster's, the site's, then its shard and WARC folder."""
    return {
        **cluster.settings,
        **site.settings,
        "NEWSARCHIVE_DB": str(cluster.shard(site)),
        "NEWSARCHIVE_WARC_DIR": str(cluster.captures(site)),
    }


def job_profile(cluster: Cluster, site: Site) -> str:
    """The ``profile`` argument: a bundled name, or the profile file copied into the site's
    folder on the shared shards filesystem (so that every node reads the same file)."""
    folder = cluster.site_folder(site)
    folder.mkdir(exist_ok=True)
    if not site.is_file:
        return site.profile
    copy = folder / "profile.toml"
    text = Path(site.profile).read_bytes()
    if not copy.is_file() or copy.read_bytes() != text:
        copy.write_bytes(text)
    return str(copy)


def schedule(cluster: Cluster, say: Say) -> int:
    """Schedule one job per site on its node, skipping sites whose previous job is still
    pending or running on any node, and sites whose node does not answer."""
    found = list_jobs(cluster)
    for node, reason in found.unknown.items():
        say(f"node {node}: {reason}")
    assigned = assign_all([site.name for site in cluster.sites], [n.name for n in cluster.nodes])
    busy = found.busy()
    counts = {"scheduled": 0, "busy": 0, "failed": 0}
    for site in cluster.sites:
        outcome = _schedule_site(cluster, site, assigned[site.name], busy, found, say)
        counts[outcome] += 1
    say(
        f"schedule: {counts['scheduled']} scheduled, {counts['busy']} still busy, "
        f"{counts['failed']} not scheduled"
    )
    if found.status != EXIT_OK:
        return found.status
    return EXIT_NODE_ERROR if counts["failed"] else EXIT_OK


def _schedule_site(
    cluster: Cluster,
    site: Site,
    node_name: str,
    busy: dict[str, tuple[str, Job]],
    found: ClusterJobs,
    say: Say,
) -> str:
    """Schedule one site's job (or say why not): "scheduled", "busy" or "failed"."""
    if site.name in busy:
        node, job = busy[site.name]
        say(f"site {site.name}: skipped, job {job.id} is {job.state} on node {node}")
        return "busy"
    if node_name in found.unknown:
        say(f"site {site.name}: not scheduled, its node {node_name} {found.unknown[node_name]}")
        return "failed"
    client = ScrapydClient(cluster.node(node_name))
    args = {**site.args, "profile": job_profile(cluster, site)}
    try:
        scheduled = client.schedule(
            cluster.project,
            SPIDER,
            job=job_id(site.name),
            settings=job_settings(cluster, site),
            args=args,
        )
    except (NodeUnreachable, NodeError) as exc:
        say(f"site {site.name}: not scheduled on node {node_name} ({exc})")
        return "failed"
    say(f"site {site.name}: scheduled on node {node_name} as job {scheduled}")
    return "scheduled"


#: Seconds to wait for a shard a crawl is writing.
TIMEOUT_SECONDS = 5
#: What ``status`` shows of a finished job's crawls row.
_CRAWL_COLUMNS = "outcome, pages_new, pages_changed, pages_unchanged, finished"


def crawl_row(shard: Path, job: str) -> dict | None:
    """The shard's ``crawls`` row of Scrapyd job ``job`` (read-only), or None."""
    if not shard.is_file():
        return None
    uri = f"{shard.resolve().as_uri()}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=TIMEOUT_SECONDS) as db:
            db.row_factory = sqlite3.Row
            row = db.execute(
                f"select {_CRAWL_COLUMNS} from crawls where json_extract(args, '$.job') = ? "
                "order by id desc limit 1",
                (job,),
            ).fetchone()
    except sqlite3.Error as exc:
        logger.warning("cannot read %s: %s", shard, exc)
        return None
    return dict(row) if row else None


def describe(cluster: Cluster, job: Job, *, busy: Container[str] = ()) -> str:
    """One line about a job; for a finished one, its outcome from its shard's crawls row,
    unless a later job of its site (in ``busy``) is writing the shard now: then the shard is
    not opened (SQLite's WAL cannot be shared across hosts on a network filesystem)."""
    times = f"started {job.start_time}" if job.start_time else "waiting"
    line = f"  {job.state:<8} {job.id}  {times}"
    if job.state != "finished" or not job.site:
        return line
    if job.site in busy:
        return f"{line}  outcome in its shard once the site's current job ends"
    row = crawl_row(cluster.shard(job.site), job.id)
    if row is None:
        return f"{line}  outcome unknown (no crawls row in {cluster.shard(job.site)})"
    return (
        f"{line}  {row['outcome']}: {row['pages_new']} new, {row['pages_changed']} changed, "
        f"{row['pages_unchanged']} unchanged"
    )


def status(cluster: Cluster, say: Say) -> int:
    """Jobs per node (pending, running, finished), each finished one with its crawl's outcome."""
    found = list_jobs(cluster)
    busy = found.busy()
    for node in cluster.nodes:
        if node.name in found.unknown:
            say(f"node {node.name} ({node.url}): {found.unknown[node.name]}")
            continue
        jobs = found.jobs[node.name]
        counts = ", ".join(
            f"{sum(j.state == s for j in jobs)} {s}" for s in ("pending", "running", "finished")
        )
        say(f"node {node.name} ({node.url}): {counts}")
        for job in jobs:
            say(describe(cluster, job, busy=busy))
    return found.status


def idle_shards(cluster: Cluster, say: Say, out: Say) -> int:
    """Print (through ``out``) the shard of every site that has one and no pending or running
    job on any node: the shards safe to merge now. If a node does not answer, nothing is
    printed (it may be writing any shard) and the status is 69."""
    found = list_jobs(cluster)
    for node, reason in found.unknown.items():
        say(f"node {node}: {reason}; no shard listed")
    if found.status != EXIT_OK:
        return found.status
    busy = found.busy()
    for site in cluster.sites:
        if site.name in busy:
            say(f"site {site.name}: job {busy[site.name][1].id} is {busy[site.name][1].state}")
        elif cluster.shard(site).is_file():
            out(str(cluster.shard(site)))
    return EXIT_OK
