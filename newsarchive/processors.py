"""Small pure processors: one place for every normalisation rule.

Extraction (``newsarchive.extract``) and the normalise pipeline both call these,
so a value is normalised the same way whether it was crawled, re-extracted or
evaluated. Each function accepts ``None`` and returns ``None`` for empty input.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import unicodedata
import zoneinfo
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

import tldextract
from w3lib.html import remove_tags
from w3lib.url import canonicalize_url as _w3_canonicalize
from w3lib.url import safe_url_string, url_query_cleaner

from newsarchive.items import Article, Image, Video

logger = logging.getLogger(__name__)

_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n\s*\n+")

#: Query parameters that only track the reader; removed from canonical URLs.
TRACKING_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_name",
    "utm_reader",
    "utm_brand",
    "utm_social",
    "utm_social-type",
    "fbclid",
    "gclid",
    "dclid",
    "gclsrc",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "_ga",
    "_gl",
    "cmpid",
    "ocid",
    "ito",
    "smid",
    "sr_share",
    "rebelltitem",
    "rebellt",
    "partner",
    "ref",
    "ref_src",
    "ref_url",
    "share",
    "traffic_source",
    "xtor",
)


def clean_text(value: str | None, *, nfc: bool = True) -> str | None:
    """Unicode NFC, spaces collapsed, paragraphs kept apart by one blank line.

    ``nfc=False`` keeps the page's own code points (a decomposed "u" + U+0308 stays two code
    points): an article's text is archived as the page printed it.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)) if nfc else str(value)
    text = text.replace("\u00ad", "").replace("\ufeff", "")
    paragraphs = [
        " ".join(_WS.sub(" ", line).strip() for line in para.split("\n") if line.strip())
        for para in _BLANKS.split(text)
    ]
    text = "\n\n".join(p for p in paragraphs if p)
    return text or None


def clean_body(value: str | None) -> str | None:
    """An article's text: spaces collapsed, paragraphs kept apart by one blank line, the page's
    own code points kept (no NFC rewrite: the archive keeps what was published)."""
    return clean_text(value, nfc=False)


def clean_line(value: str | None) -> str | None:
    """Like :func:`clean_text` but on one line (titles, names, captions)."""
    text = clean_text(value)
    return " ".join(text.split()) if text else None


def absolute_url(url: str | None, base: str | None = None) -> str | None:
    """Resolve ``url`` against ``base``; None for empty, data: and javascript: URLs."""
    if not url:
        return None
    url = url.strip()
    if not url or url.startswith(("data:", "javascript:", "about:", "blob:")):
        return None
    if url.startswith("//"):
        scheme = (base or "https:").split(":", 1)[0]
        url = f"{scheme}:{url}"
    try:
        return safe_url_string(urljoin(base, url) if base else url)
    except ValueError:  # unparsable URL ("http://host:notaport/"), a page's typo
        return None


def in_domains(url: str, domains: list[str]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or a sub-domain of one (port ignored)."""
    host = host_of(url)
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


def _is_home_page(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def trusted_canonical(
    url: str, declared: str | None, domains: list[str] | None = None
) -> str | None:
    """The ``rel=canonical`` a page at ``url`` declares, when it may name the page's identity;
    None when the fetched URL must be the identity instead.

    A page can claim any URL as its canonical: only a claim on the same site counts (a host of
    ``domains``, or ``url``'s own host when no domains are given), and never the site's home page
    for a page that is not the home page (templates that print the home page on every page would
    fold every article into one row).
    """
    if not declared:
        return None
    canonical = absolute_url(declared, url)
    if not canonical or urlsplit(canonical).scheme not in ("http", "https"):
        return None
    same_site = in_domains(canonical, domains) if domains else host_of(canonical) == host_of(url)
    if not same_site:
        return None
    if _is_home_page(canonical) and not _is_home_page(url):
        return None
    return canonical


@functools.lru_cache(maxsize=4096)
def canonical_url(url: str | None) -> str | None:
    """Canonical form of an article URL: tracking parameters and fragment removed,
    query sorted (w3lib); the path is kept as the site spells it. Remembers the last few
    thousand URLs: a page compares the same few URLs (its own, its links' hosts) many times."""
    if not url:
        return None
    try:
        cleaned = url_query_cleaner(url, TRACKING_PARAMS, remove=True, unique=False)
        return _w3_canonicalize(cleaned, keep_fragments=False)
    except ValueError:  # unparsable URL
        return None


def host_of(url: str | None, *, www: bool = True) -> str:
    """The lower-case host name of ``url``'s canonical form (IDNA-encoded, no port); without a
    leading "www." when ``www`` is False; "" when there is none."""
    canonical = canonical_url(url)
    host = (urlsplit(canonical).hostname or "") if canonical else ""
    return host if www else host.removeprefix("www.")


def page_key(url: str | None, *, query: bool = True) -> str:
    """What two URLs of one page have in common: the canonical form (:func:`canonical_url`)
    without its scheme, a leading "www." and a trailing slash (and without the query when
    ``query`` is False); "" for no URL."""
    canonical = canonical_url(url)
    if not canonical:
        return ""
    parts = urlsplit(canonical)
    key = parts.netloc.removeprefix("www.") + parts.path.rstrip("/")
    return f"{key}?{parts.query}" if query and parts.query else key


def same_page(a: str | None, b: str | None, *, query: bool = True) -> bool:
    """Whether ``a`` and ``b`` name the same page: equal :func:`page_key`."""
    key = page_key(a, query=query)
    return bool(key) and key == page_key(b, query=query)


@functools.cache
def _suffixes() -> tldextract.TLDExtract:
    """tldextract on the public suffix list it bundles: no download, no cache written."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _split_host(url: str | None) -> tldextract.tldextract.ExtractResult | None:
    host = host_of(url)
    return _split(host) if host else None


@functools.lru_cache(maxsize=4096)
def _split(host: str) -> tldextract.tldextract.ExtractResult:
    """A host's subdomain, domain and public suffix (a page's links share a few hosts)."""
    return _suffixes().extract_str(host)


def registrable_domain(url: str | None) -> str:
    """The site a URL belongs to: its registrable domain under the public suffix list
    ("bbc.co.uk" for https://www.bbc.co.uk/news, "abc.net.au" for news.abc.net.au); the host
    itself when it has no public suffix (an IP address such as 127.0.0.1, "localhost"); "" when
    there is no host."""
    parts = _split_host(url)
    if parts is None:
        return ""
    return f"{parts.domain}.{parts.suffix}" if parts.domain and parts.suffix else parts.domain


def registrable_name(url: str | None) -> str:
    """The name part of :func:`registrable_domain`: "bbc" for www.bbc.co.uk, "tokyo-np" for
    tokyo-np.co.jp; the host itself for an IP address or a host without a public suffix."""
    parts = _split_host(url)
    return parts.domain if parts is not None else ""


def host_labels(url: str | None) -> list[str]:
    """The labels of ``url``'s host left of its public suffix: ["timesofindia", "indiatimes"]
    for timesofindia.indiatimes.com, ["www", "bbc"] for www.bbc.co.uk; none for an IP address
    or a host without a public suffix."""
    parts = _split_host(url)
    if parts is None or not parts.suffix:
        return []
    return [label for label in (*parts.subdomain.split("."), parts.domain) if label]


def to_iso_utc(value: str | None, *, languages: tuple[str, ...] | None = None) -> str | None:
    """Parse a date or time as pages write it into ISO 8601.

    A time with an offset is converted to UTC (``2024-02-24T11:42:23+00:00``); a time
    without an offset is taken as UTC; a bare date stays a date (``2024-02-24``).
    ``languages`` (ISO 639-1 codes, e.g. ``("de", "en")``) are the only ones dateparser tries
    for what the stdlib forms miss; without them it tries every locale it has.
    """
    if not value:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    parsed = _parse_iso(raw)
    if parsed is None:
        parsed = _parse_loose(raw, languages)
    if parsed is None:
        return None
    if isinstance(parsed, dt.datetime):
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).isoformat(timespec="seconds")
    return parsed.isoformat()


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_iso(raw: str) -> dt.datetime | dt.date | None:
    if _DATE_ONLY.match(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return None
    candidate = raw.replace("Z", "+00:00").replace(" ", "T", 1)
    candidate = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", candidate)
    try:
        return dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None


@functools.cache
def _ambiguous_zone_names() -> frozenset[str]:
    """Time-zone abbreviations that stand for more than one UTC offset among the IANA zones, in
    winter or summer: IST (India +05:30, Ireland, Israel), CST and CDT (US Central, China, Cuba),
    PST (US Pacific, the Philippines). dateparser takes one of them (IST as +02:00)."""
    offsets: dict[str, set[dt.timedelta | None]] = {}
    for name in zoneinfo.available_timezones():
        zone = zoneinfo.ZoneInfo(name)
        for moment in (dt.datetime(2024, 1, 15, 12), dt.datetime(2024, 7, 15, 12)):
            abbreviation = zone.tzname(moment)
            if abbreviation and abbreviation.isalpha():
                offsets.setdefault(abbreviation, set()).add(zone.utcoffset(moment))
    return frozenset(name for name, seen in offsets.items() if len(seen) > 1)


def _parse_loose(raw: str, languages: tuple[str, ...] | None) -> dt.datetime | dt.date | None:
    if raw.isdigit() and len(raw) in (10, 13):  # Unix timestamp, s or ms
        seconds = int(raw) / (1000 if len(raw) == 13 else 1)
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    quick = _parse_english(raw) or _parse_rfc2822(raw)
    if quick is not None:
        return quick
    import dateparser  # slow to import, ~30 ms a call: only for what the stdlib forms miss
    from dateparser.data import language_order

    if languages and not all(code in language_order for code in languages):
        languages = None  # one dateparser does not know: every locale
    # "1:38 PM IST Nov 20, 2019": which IST is not written, so the instant is not known; the
    # day is, as the page gives it.
    ambiguous = [w for w in re.findall(r"\b[A-Z]{3,4}\b", raw) if w in _ambiguous_zone_names()]
    if ambiguous:
        raw = re.sub(rf"\b(?:{'|'.join(ambiguous)})\b", " ", raw)
    try:
        parsed = dateparser.parse(
            raw,
            languages=list(languages) if languages else None,
            settings={"PREFER_DAY_OF_MONTH": "first"},
        )
    except (ValueError, OverflowError, TypeError) as exc:  # dateparser raises on odd input
        logger.debug("unparsable date %r: %s", raw, exc)
        return None
    return parsed.date() if parsed is not None and ambiguous else parsed


#: English month names and their three-letter abbreviations (dateparser reads them the same way).
_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for name in (full, full[:3])
}
_TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
#: "November 19, 2019", "Nov 19 2019"; "19 Nov 2019", "20 Nov 2019 08:02 GMT".
_ENGLISH_DATES = (
    re.compile(r"^(?P<month>[A-Za-z]{3,9})\.? (?P<day>\d{1,2}),? (?P<year>\d{4})$"),
    re.compile(
        r"^(?P<day>\d{1,2}) (?P<month>[A-Za-z]{3,9})\.? (?P<year>\d{4})"
        rf"(?: {_TIME}(?: (?P<utc>GMT|UTC))?)?$"
    ),
)
#: "Tue, 20 Feb 2024 10:00:00 GMT" / "+0100" (feeds); a weekday and a zone are required.
_RFC2822 = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}(?::\d{2})? "
    r"(?:GMT|UTC|[+-]\d{4})$"
)


def _parse_english(raw: str) -> dt.datetime | None:
    """A date written with an English month name, as dateparser reads it (a naive datetime at
    midnight without a time; UTC when it says GMT/UTC); None for any other form."""
    for pattern in _ENGLISH_DATES:
        m = pattern.match(raw)
        if m is None:
            continue
        month = _MONTHS.get(m["month"].lower())
        if month is None:
            return None
        parts = m.groupdict()
        try:
            return dt.datetime(
                int(m["year"]),
                month,
                int(m["day"]),
                int(parts.get("hour") or 0),
                int(parts.get("minute") or 0),
                int(parts.get("second") or 0),
                tzinfo=dt.UTC if parts.get("utc") else None,
            )
        except ValueError:  # 31 February: left to dateparser
            return None
    return None


def _parse_rfc2822(raw: str) -> dt.datetime | None:
    """An RFC 2822 date (feeds' pubDate) with its zone; None for any other form."""
    if not _RFC2822.match(raw):
        return None
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


_CREDIT_PREFIX = re.compile(
    r"^\s*(?:\(|\[)?\s*(?:photo(?:graph)?s?|image|picture|credit|foto|bild)\s*(?:credit)?\s*[:\-–—]?\s*",
    re.I,
)


_MARKUP_DEBRIS = re.compile(r"</?[a-zA-Z][\w-]*(?:\s|$)|<<")


def clean_title(value: str | None) -> str | None:
    """A headline without stray tags ("A <b>bold</b> title" → "A bold title"), or None when
    what was found is markup debris from a broken page ("<body <p <<<<")."""
    text = clean_line(remove_tags(value)) if value else None
    if text and _MARKUP_DEBRIS.search(text):
        return None
    return text


def clean_credit(value: str | None) -> str | None:
    """A printed credit without "Photo:"/"Credit:" prefixes and wrapping parentheses."""
    text = clean_line(value)
    if not text:
        return None
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    text = re.sub(r"^(?:©|\(c\)|copyright\b)\s*", "", text, flags=re.I)
    text = re.sub(
        r"^(?:(?:photo|image|picture)\s*credits?|credits?|photo(?:graph)?s?|images?|pictures?|source|foto|bild)\s*:\s*",
        "",
        text,
        flags=re.I,
    )
    text = re.sub(
        r"^(?:photo(?:graph)?s?|images?|pictures?|illustrations?)\s+by\s+", "", text, flags=re.I
    )
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text or None


def normalize_image(image: Image, *, base_url: str | None = None) -> Image:
    return replace(
        image,
        url=absolute_url(image.url, base_url) or image.url,
        caption=clean_line(image.caption),
        credit=clean_credit(image.credit),
        photographer=clean_line(image.photographer),
        agency=clean_line(image.agency),
        alt=clean_line(image.alt),
    )


def normalize_video(video: Video, *, base_url: str | None = None) -> Video:
    return replace(
        video,
        provider=(video.provider or "").lower(),
        url=absolute_url(video.url, base_url) or video.url,
        title=clean_line(video.title),
        description=clean_text(video.description),
        published=to_iso_utc(video.published) or video.published,
        thumbnail_url=absolute_url(video.thumbnail_url, base_url),
        channel=clean_line(video.channel),
    )


def _unique(values: list[str | None]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value
    return list(seen.values())


def date_languages(language: str | None) -> tuple[str, ...] | None:
    """The languages a page's dates are read in: its own (declared, else detected on the body)
    and English, which pages in every language use. ``None`` (every locale) when it has none.

    Reading every locale costs a process 31 MiB and 1.4 s the first time, and may read a word
    of another language as a month. A language dateparser does not know means every locale.
    """
    primary = (language or "").split("-")[0].lower()
    if not primary:
        return None
    return (primary,) if primary == "en" else (primary, "en")


def normalize_article(article: Article) -> Article:
    """Apply every processor to an article. Idempotent: normalising twice changes nothing."""
    base = article.url
    languages = date_languages(article.language)
    url = absolute_url(article.url) or article.url
    canonical = canonical_url(absolute_url(article.canonical_url, base) or url)
    images: list[Image] = []
    seen_images: set[str] = set()
    for image in article.images:
        image = normalize_image(image, base_url=base)
        if image.url and image.url not in seen_images:
            seen_images.add(image.url)
            images.append(replace(image, position=len(images)))
    videos: list[Video] = []
    seen_videos: set[tuple[str, str]] = set()
    for video in article.videos:
        video = normalize_video(video, base_url=base)
        key = (video.provider, video.video_id)
        if video.video_id and key not in seen_videos:
            seen_videos.add(key)
            videos.append(video)
    return replace(
        article,
        url=url,
        canonical_url=canonical,
        kind=article.kind if article.kind in ("article", "video") else "article",
        title=clean_title(article.title),
        description=clean_text(article.description),
        authors=_unique([clean_line(a) for a in article.authors]),
        published=to_iso_utc(article.published, languages=languages)
        or to_iso_utc(article.published_raw, languages=languages),
        modified=to_iso_utc(article.modified, languages=languages)
        or to_iso_utc(article.modified_raw, languages=languages),
        published_raw=clean_line(article.published_raw),
        modified_raw=clean_line(article.modified_raw),
        section=clean_line(article.section),
        tags=_unique([clean_line(t) for t in article.tags]),
        language=clean_line(article.language),
        body_text=clean_body(article.body_text),
        images=images,
        videos=videos,
    )
