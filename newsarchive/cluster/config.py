"""The cluster file (``cluster.toml``): Scrapyd nodes, sites, and where shards go.

::

    shards = "/srv/newsarchive/shards"      # shared by the coordinator and every node
    project = "newsarchive"                 # Scrapyd project name (default)
    settings = { DOWNLOAD_DELAY = "2" }     # Scrapy settings for every job (optional)

    [[nodes]]
    name = "crawler-1"
    url = "http://10.0.0.11:6800"
    username = "scrapyd"                    # optional HTTP basic auth
    password = "secret"

    [[sites]]
    profile = "gzero"                       # a bundled profile name, or a profile file
    settings = { CLOSESPIDER_PAGECOUNT = "500" }   # optional, this site's jobs only
    args = { max_articles = "50" }          # optional spider arguments

Each site's job writes ``SHARDS/SITE/SITE.db`` (its shard archive) and ``SHARDS/SITE/captures/``
(its WARC files); a profile file is copied to ``SHARDS/SITE/profile.toml`` for the nodes to read.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.profiles import ProfileError, is_profile_path, load_profile

#: The Scrapyd project the egg is deployed as (scrapy.cfg's ``[deploy] project``).
DEFAULT_PROJECT = "newsarchive"
#: A site key usable as a folder name and in a Scrapyd job id.
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: A node name: letters, digits and ``_.-``.
NODE_NAME = SITE_NAME
_TOP_KEYS = {"shards", "project", "settings", "nodes", "sites"}
_NODE_KEYS = {"name", "url", "username", "password"}
_SITE_KEYS = {"profile", "settings", "args"}


class ClusterConfigError(ValueError):
    """A cluster file that cannot be read or does not make sense (one line says what)."""


@dataclass(frozen=True)
class Node:
    """One Scrapyd daemon."""

    name: str
    """Name used in output and in the hashing (changing it moves the node's sites)."""
    url: str
    """Scrapyd's base URL (``http://host:6800``), without a trailing slash."""
    username: str | None = None
    """HTTP basic auth user, if Scrapyd asks for one."""
    password: str | None = None
    """HTTP basic auth password."""


@dataclass(frozen=True)
class Site:
    """One site crawled by the cluster: one job at a time, one shard."""

    name: str
    """The site key (the profile's ``name``): the shard's folder and the jobs' id prefix."""
    profile: str
    """A bundled profile name, or the absolute path of a profile file."""
    settings: dict[str, str] = field(default_factory=dict)
    """Scrapy settings for this site's jobs (over the cluster's)."""
    args: dict[str, str] = field(default_factory=dict)
    """Spider arguments for this site's jobs."""

    @property
    def is_file(self) -> bool:
        return is_profile_path(self.profile)


@dataclass(frozen=True)
class Cluster:
    """A parsed cluster file."""

    nodes: list[Node]
    sites: list[Site]
    shards: Path
    """Folder of the shards (absolute): one sub-folder per site."""
    project: str = DEFAULT_PROJECT
    settings: dict[str, str] = field(default_factory=dict)
    """Scrapy settings for every job."""

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def site_folder(self, site: Site | str) -> Path:
        return self.shards / (site if isinstance(site, str) else site.name)

    def shard(self, site: Site | str) -> Path:
        """The site's shard archive: ``SHARDS/SITE/SITE.db``."""
        name = site if isinstance(site, str) else site.name
        return self.site_folder(name) / f"{name}.db"

    def captures(self, site: Site | str) -> Path:
        """The site's WARC folder: ``SHARDS/SITE/captures``."""
        return self.site_folder(site) / "captures"


def load_cluster(path: Path) -> Cluster:
    """Read and check a cluster file; :class:`ClusterConfigError` says what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClusterConfigError(f"{path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClusterConfigError(f"{path}: not a valid TOML file: {exc}") from exc
    where = Path(path).expanduser().resolve().parent
    _check_keys(data, _TOP_KEYS, str(path))
    shards = data.get("shards")
    if not isinstance(shards, str) or not shards:
        raise ClusterConfigError(f"{path}: shards must name a folder")
    cluster = Cluster(
        nodes=_nodes(data.get("nodes"), str(path)),
        sites=_sites(data.get("sites"), str(path), where),
        shards=(where / Path(shards).expanduser()).resolve(),
        project=_text(data.get("project", DEFAULT_PROJECT), "project", str(path)),
        settings=_strings(data.get("settings", {}), "settings", str(path)),
    )
    if not cluster.shards.is_dir():
        raise ClusterConfigError(f"{path}: shards folder {str(cluster.shards)!r} does not exist")
    return cluster


def _check_keys(table: object, known: set[str], where: str) -> dict:
    """``table`` when it is a table of ``known`` keys only."""
    if not isinstance(table, dict):
        raise ClusterConfigError(f"{where} must be a table")
    unknown = set(table) - known
    if unknown:
        raise ClusterConfigError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    return table


def _text(value: object, name: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ClusterConfigError(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value


def _strings(value: object, name: str, where: str) -> dict[str, str]:
    """A table of settings or arguments; numbers and booleans become their TOML spelling."""
    if not isinstance(value, dict):
        raise ClusterConfigError(f"{where}: {name} must be a table")
    out = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "True" if item else "False"
        elif isinstance(item, str | int | float):
            out[key] = str(item)
        else:
            raise ClusterConfigError(f"{where}: {name}.{key} must be a string or number")
    return out


def _nodes(value: object, path: str) -> list[Node]:
    if not isinstance(value, list) or not value:
        raise ClusterConfigError(f"{path}: no [[nodes]]")
    nodes = []
    for number, table in enumerate(value, 1):
        where = f"{path}: node {number}"
        table = _check_keys(table, _NODE_KEYS, where)
        name, url = _text(table.get("name"), "name", where), _text(table.get("url"), "url", where)
        if not NODE_NAME.match(name):
            raise ClusterConfigError(f"{where}: name {name!r} must be letters, digits, _ . -")
        if not url.startswith(("http://", "https://")):
            raise ClusterConfigError(f"{where}: url must start with http:// or https://")
        user, password = table.get("username"), table.get("password")
        nodes.append(Node(name, url.rstrip("/"), user, password))
    _unique([node.name for node in nodes], "node name", path)
    return nodes


def _sites(value: object, path: str, where: Path) -> list[Site]:
    if not isinstance(value, list) or not value:
        raise ClusterConfigError(f"{path}: no [[sites]]")
    sites = [_site(table, f"{path}: site {number}", where) for number, table in enumerate(value, 1)]
    _unique([site.name for site in sites], "site", path)
    return sites


def _site(table: object, context: str, where: Path) -> Site:
    table = _check_keys(table, _SITE_KEYS, context)
    profile = _text(table.get("profile"), "profile", context)
    if is_profile_path(profile):
        profile = str((where / Path(profile).expanduser()).resolve())
    try:
        name = load_profile(profile).name
    except ProfileError as exc:
        raise ClusterConfigError(f"{context}: {exc}") from exc
    if not SITE_NAME.match(name):
        raise ClusterConfigError(f"{context}: site name {name!r} must be letters, digits, _ . -")
    settings = _strings(table.get("settings", {}), "settings", context)
    return Site(name, profile, settings, _strings(table.get("args", {}), "args", context))


def _unique(names: list[str], what: str, path: str) -> None:
    seen = {name for name in names if names.count(name) > 1}
    if seen:
        raise ClusterConfigError(f"{path}: {what} listed twice: {', '.join(sorted(seen))}")
