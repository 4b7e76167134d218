"""Site profiles: what the crawler needs to know about one news site, as data.

A profile is a small TOML file (``newsarchive/profiles/<name>.toml``, or any path)::

    name = "gzero"
    title = "GZERO Media"
    domains = ["www.gzeromedia.com", "gzeromedia.com"]
    robots = ["https://www.gzeromedia.com/robots.txt"]     # read for Sitemap: lines
    sitemaps = []
    feeds = ["https://www.gzeromedia.com/feeds/feed.rss"]
    feed_pages = 3                                          # RebelMouse-style ?page=N paging
    sections = ["https://www.gzeromedia.com/video"]        # pages whose links are followed
    article_patterns = ['^/[a-z0-9-]+/[a-z0-9-]+-[a-z0-9-]+$']
    video_patterns = ['^/(?:video|gzero-world-with-ian-bremmer)/']
    skip_patterns = ['^/tag/', '^/author/']

Every field but ``name`` and ``domains`` is optional. The same fields can be given as
spider arguments (``scrapy crawl news -a domains=example.com -a feeds=https://…``).
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field, fields
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import urlsplit

from newsarchive.processors import in_domains

logger = logging.getLogger(__name__)

#: Bundled profiles (read through importlib.resources, so they load from an egg too, as under Scrapyd).
PROFILES = files(__package__)


class ProfileError(ValueError):
    """A profile that cannot be found or does not make sense."""


class ProfileNotFound(ProfileError):
    """No profile file, or no bundled profile, of that name."""


@dataclass
class SiteProfile:
    name: str
    """Site key stored in the archive (``articles.site``)."""
    domains: list[str]
    """Host names the crawl stays inside (sub-domains included)."""
    title: str | None = None
    """Human name of the site."""
    robots: list[str] = field(default_factory=list)
    """robots.txt URLs whose ``Sitemap:`` lines start discovery."""
    sitemaps: list[str] = field(default_factory=list)
    """Sitemap or sitemap index URLs (news, video and image sitemaps included)."""
    feeds: list[str] = field(default_factory=list)
    """RSS or Atom feed URLs."""
    feed_pages: int = 1
    """How many ``?page=N`` pages of each feed to read (RebelMouse pages its feeds)."""
    sections: list[str] = field(default_factory=list)
    """Section or home pages whose links to articles are followed; every run records what they
    place where (``placements``). List the home page here to follow it over time."""
    start_urls: list[str] = field(default_factory=list)
    """Article URLs to fetch directly."""
    article_patterns: list[str] = field(default_factory=list)
    """Regexes on the URL path: links from section pages that are articles (empty: a heuristic)."""
    video_patterns: list[str] = field(default_factory=list)
    """Regexes on the URL path of video pages (archived with kind = "video")."""
    skip_patterns: list[str] = field(default_factory=list)
    """Regexes on the URL path never to fetch as articles."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ProfileError("a profile needs a name")
        if not self.domains:
            raise ProfileError(f"profile {self.name!r} names no domains")
        for attr in ("article_patterns", "video_patterns", "skip_patterns"):
            for pattern in getattr(self, attr):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ProfileError(
                        f"profile {self.name!r}: bad {attr} regex {pattern!r}: {exc}"
                    ) from exc

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "profile") -> SiteProfile:
        """A profile from TOML data or arguments; ProfileError names what is wrong (``source``:
        the file or "arguments", for the message)."""
        data = _without_retired(data, source)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ProfileError(f"{source}: unknown profile fields: {', '.join(sorted(unknown))}")
        missing = [name for name in REQUIRED_FIELDS if not data.get(name)]
        if missing:
            raise ProfileError(f"{source}: a profile needs {' and '.join(missing)}")
        for name, value in data.items():
            _check_type(source, name, value)
        return cls(**data)

    def allows(self, url: str) -> bool:
        """True if ``url``'s host is one of the profile's domains or below one."""
        return in_domains(url, self.domains)

    def _matches(self, patterns: list[str], url: str) -> bool:
        path = urlsplit(url).path or "/"
        return any(re.search(p, path) for p in patterns)

    def is_skipped(self, url: str) -> bool:
        return self._matches(self.skip_patterns, url)

    def is_video(self, url: str) -> bool:
        return self._matches(self.video_patterns, url)

    def looks_like_article(self, url: str) -> bool:
        """Whether a link found on a section page should be fetched as an article."""
        if not self.allows(url) or self.is_skipped(url):
            return False
        if self.is_video(url):
            return True
        if self.article_patterns:
            return self._matches(self.article_patterns, url)
        last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        return (
            last.count("-") >= 3
            or last.endswith((".html", ".htm"))
            or bool(re.search(r"\d{6,}", last))
        )


#: Fields a profile cannot do without.
REQUIRED_FIELDS = ("name", "domains")
#: Fields older profiles may still hold, which nothing reads any more: each is dropped with a
#: warning saying why, so that a user's profile file keeps loading.
RETIRED_FIELDS = {
    "platform": "extraction recognises a publishing platform from the page's markup",
}


def _without_retired(data: dict, source: str) -> dict:
    """``data`` without :data:`RETIRED_FIELDS`, each one found logged as a warning."""
    for name in sorted(set(data) & set(RETIRED_FIELDS)):
        logger.warning("%s: %s is no longer used (%s); ignored", source, name, RETIRED_FIELDS[name])
    return {k: v for k, v in data.items() if k not in RETIRED_FIELDS}


def _check_type(source: str, name: str, value: object) -> None:
    """ProfileError unless ``value`` has the type field ``name`` documents."""
    if name in LIST_FIELDS:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expected = "a list of strings"
    elif name == "feed_pages":
        ok, expected = (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            "a whole number, 1 or more",
        )
    else:
        ok, expected = value is None or isinstance(value, str), "a string"
    if not ok:
        raise ProfileError(f"{source}: {name} must be {expected}, got {value!r}")


def _split(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def load_profile(name_or_path: str) -> SiteProfile:
    """Load a bundled profile by name (``gzero``) or a TOML file by path."""
    path: Traversable
    if is_profile_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileNotFound(f"no such file: {name_or_path}")
    else:
        path = PROFILES / f"{name_or_path}.toml"
        if not path.is_file():
            raise ProfileNotFound(
                f"no profile {name_or_path!r} (bundled: {', '.join(bundled_profiles())})"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{name_or_path}: not a valid TOML file: {exc}") from exc
    except OSError as exc:
        raise ProfileError(f"{name_or_path}: {exc.strerror or exc}") from exc
    return SiteProfile.from_dict(data, source=name_or_path)


def is_profile_path(name_or_path: str) -> bool:
    """Whether ``name_or_path`` names a file (it has a suffix or a folder) rather than a bundled profile."""
    path = Path(name_or_path)
    return bool(path.suffix) or len(path.parts) > 1


def bundled_profiles() -> list[str]:
    """Names of the profiles that ship with newsarchive."""
    return sorted(p.name[:-5] for p in PROFILES.iterdir() if p.name.endswith(".toml"))


LIST_FIELDS = (
    "domains",
    "robots",
    "sitemaps",
    "feeds",
    "sections",
    "start_urls",
    "article_patterns",
    "video_patterns",
    "skip_patterns",
)


def profile_from_arguments(args: dict, *, base: SiteProfile | None = None) -> SiteProfile:
    """Build a profile from spider arguments (comma-separated lists), over ``base`` if given.

    ``site`` names the profile (the archive's site key); it defaults to the first domain.
    """
    data = {f.name: getattr(base, f.name) for f in fields(SiteProfile)} if base else {}
    for key in LIST_FIELDS:
        if key in args:
            data[key] = _split(args[key])
    if "site" in args:
        data["name"] = args["site"]
    for key in ("title", *RETIRED_FIELDS):
        if key in args:
            data[key] = args[key]
    if "feed_pages" in args:
        try:
            data["feed_pages"] = int(args["feed_pages"])
        except ValueError:
            raise ProfileError(
                f"feed_pages must be a whole number, got {args['feed_pages']!r}"
            ) from None
    if not data.get("domains"):
        urls = [
            u
            for key in ("start_urls", "sections", "feeds", "sitemaps", "robots")
            for u in data.get(key, [])
        ]
        data["domains"] = sorted({urlsplit(u).hostname for u in urls if urlsplit(u).hostname})
    if not data.get("name"):
        domains = data.get("domains") or []
        data["name"] = domains[0].removeprefix("www.") if domains else ""
    if not data["domains"]:
        raise ProfileError(
            "no site to crawl: give a profile, or domains=, feeds=, sitemaps=, robots=, "
            "sections= or start_urls="
        )
    return SiteProfile.from_dict(data, source="arguments")
