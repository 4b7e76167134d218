"""The article's own pictures: lead picture (JSON-LD / og:image) and figures of the
article, with caption, credit and alt; related-story and promo pictures excluded."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lxml import html as lxml_html

from newsarchive.extract.container import (
    in_junk,
    is_layout,
    junk_label,
    label,
)
from newsarchive.extract.credits import (
    looks_like_person,
    parse_credit,
    split_caption_credit,
    tidy_credit,
)
from newsarchive.extract.document import Page
from newsarchive.extract.structured import as_list, node_by_id, text_of
from newsarchive.items import Image
from newsarchive.processors import (
    absolute_url,
    clean_line,
    host_labels,
    page_key,
    registrable_domain,
)

_SRC_ATTRS = (
    "data-src",
    "data-lazy-src",
    "data-original",
    "data-lazy",
    "data-url",
    "data-hi-res-src",
    "data-full-src",
    "data-src-large",
    "data-runner-src",
    "src",
)
_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "srcset")
_CAPTION = re.compile(r"caption|figcaption|media-?text|image-?text|img-?text|desc", re.I)
_CREDIT = re.compile(
    r"credit|copyright|source|attribution|photographer|courtesy|rights|distributor", re.I
)
#: URL paths of what is not a picture: logos, UI icons, loader GIFs, tracking pixels, ad banners
_NOT_PICTURE = re.compile(
    r"logo|avatar|icon|sprite|spacer|pixel|blank\.|placeholder|gravatar|badge|"
    r"emoji|/ads?/|doubleclick|tracking|/wp-content/themes/|(?<!\d)1x1(?![\d-])|transparent|"
    r"newsletter|(?:loader|loading|spinner)[^/]*\.gif|/banners?/",
    re.I,
)


_AD_HOSTS = re.compile(r"doubleclick|googlesyndication|adservice|adsystem", re.I)


def _not_picture(url: str) -> bool:
    """A logo, icon, tracking pixel or ad, judged by the URL's path (a host named "logos…"
    or "icons…" may serve real pictures) and by known ad hosts."""
    parts = urlsplit(url)
    return bool(
        _NOT_PICTURE.search(f"{unquote(parts.path)}?{parts.query}")
        or _AD_HOSTS.search(parts.netloc)
    )


#: srcset sizes are widths; a density ("2x") counts as this many pixels per x, so any width
#: descriptor and any density compare on one scale (an entry without a descriptor is "1x").
DENSITY_SCALE = 1000


def parse_srcset(value: str | None) -> list[tuple[str, float]]:
    """srcset → [(url, width-or-density*1000)], following the HTML parsing rules, so commas
    inside URLs ("w_120,c_limit/pic.jpg 120w") are kept."""
    out: list[tuple[str, float]] = []
    if not value:
        return out
    pos, n = 0, len(value)
    while pos < n:
        while pos < n and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < n and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = value.find(",", pos)
            end = n if end < 0 else end
            descriptor = value[pos:end].strip()
            pos = end + 1
        if not url:
            continue
        size = float(DENSITY_SCALE)
        m = re.match(r"^(\d+(?:\.\d+)?)([wx])", descriptor)
        if m:
            size = float(m.group(1)) * (DENSITY_SCALE if m.group(2) == "x" else 1)
        out.append((url, size))
    return out


#: a lazy loader's stand-in printed in ``src``/``srcset`` until the real picture loads
_PLACEHOLDER = re.compile(
    r"\.svg(?:$|\?)|placeholder|blank\.|spacer|lazy[-_]?load|loading\.gif|/logo[^/]*$", re.I
)
_URLISH = re.compile(r"/|\.(?:jpe?g|png|gif|webp|avif)\b", re.I)
_LAZY_ATTR = re.compile(
    r"^data-(?:[\w-]*-)?(?:src|lazy|lazyload|original|url|hi-res-src|full-src|src-large|image|img)$"
)


#: A srcset width below this (pixels) is not taken as the picture's declared width.
SRCSET_MIN_WIDTH = 50


def image_url(img: lxml_html.HtmlElement, base: str) -> tuple[str | None, int | None]:
    """Largest URL an <img> (with its <picture> sources) offers, and its declared width.

    Lazy-loading attributes of any library are read: every attribute whose name ends in
    "srcset" is a srcset, every ``data-*src``/``data-*lazyload`` attribute is a URL.
    """
    best = _largest_in_srcsets(_picture_elements(img))
    width = (
        int(best[1])
        if best is not None and best[1] >= SRCSET_MIN_WIDTH and best[1] % DENSITY_SCALE
        else None
    )
    url = best[0] if best is not None else _lazy_or_src(img)
    if url is None:
        return None, None
    return absolute_url(url, base), width


def _picture_elements(img: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """The <img> and the <picture>/<source> elements around it.

    <picture><source ...><img></picture>; libxml2 does not know <source> is void, so the
    sources may also appear as the img's ancestors."""
    elements = [img]
    for anc in img.iterancestors():
        if anc.tag not in ("source", "picture"):
            break
        elements.append(anc)
        if anc.tag == "picture":
            elements.extend(s for s in anc.iter("source") if s not in elements)
            break
    return elements


def _largest_in_srcsets(elements: list[lxml_html.HtmlElement]) -> tuple[str, float] | None:
    """The largest (url, size) of every srcset-like attribute, placeholders left out."""
    best: tuple[str, float] | None = None
    for el in elements:
        for attr, value in el.attrib.items():
            if not attr.endswith("srcset"):
                continue
            for url, size in parse_srcset(value):
                if url.startswith("data:") or _PLACEHOLDER.search(url):
                    continue
                if best is None or size > best[1]:
                    best = (url, size)
    return best


def _lazy_or_src(img: lxml_html.HtmlElement) -> str | None:
    """The first URL-like value of a lazy loader's attribute, else of ``src``."""
    lazy = [
        v for a, v in img.attrib.items() if _LAZY_ATTR.match(a) and not _PLACEHOLDER.search(v or "")
    ]
    for value in [*lazy, img.get("src")]:
        value = (value or "").strip()
        if (
            value
            and not value.startswith(("data:", "{"))
            and _URLISH.search(value)
            and " " not in value
        ):
            return value
    return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None


#: width/height attributes that give the picture's aspect ratio, not its size
_RATIOS = {(16, 9), (9, 16), (4, 3), (3, 4), (3, 2), (2, 3), (21, 9), (5, 4), (4, 5)}


#: A picture declared narrower or lower than this (pixels) is an icon or a button, not a photo.
MIN_WIDTH = 80
MIN_HEIGHT = 60


def _too_small(img: lxml_html.HtmlElement) -> bool:
    w, h = _int(img.get("width")), _int(img.get("height"))
    if (w, h) in _RATIOS:
        return False
    return (w is not None and w < MIN_WIDTH) or (h is not None and h < MIN_HEIGHT)


_SIZE_DIR = re.compile(
    r"[a-z]{0,3}[_-]?\d{1,5}[a-z]{0,2}|\d{2,5}x\d{0,5}|\d+:\d+|[a-z]{1,2}_\d+(?:[,%][^/]*)?|"
    r"[^/]*(?:c_limit|c_fill|c_scale|crop|resize|quality|format|width|height)[^/]*",
    re.I,
)
_ID_PARAMS = {
    "id",
    "imageid",
    "image_id",
    "img",
    "photo_id",
    "photoid",
    "uuid",
    "asset",
    "assetid",
    "mediaid",
}
_GENERIC_NAMES = {
    "image",
    "origin",
    "original",
    "photo",
    "picture",
    "media",
    "file",
    "default",
    "index",
    "thumbnail",
    "large",
    "full",
    "master",
    "img",
    "main",
}


#: a file name that names a size or a rendition only ("1280@40", "original", "w800")
_SIZE_NAME = re.compile(
    r"(?:\d{2,5}(?:[x@]\d{0,5})?|[a-z]{1,2}\d{2,5}|original|large|medium|small|full|master)", re.I
)
#: length from which a file name or directory is an id, not a word
_HASH_NAME = 16
#: a file name shorter than this ("1", "img") names no picture: the whole path does
_WORD_NAME_MIN = 6
#: a rendition suffix after a long id: "_R", "_P1", "-scaled", "_thumb"
_VARIANT = re.compile(r"[-_](?:[a-z]\d?|scaled|thumb|large|medium|small)$", re.I)


def _stem(url: str | None, strict: bool = True) -> str:
    """Identity of a picture across its sizes: the file name without size decorations, or the
    source URL an image resizer carries in its query ("...?url=https://.../pic.jpg")."""
    parts = urlsplit(url or "")
    for value in re.findall(r"=(https?(?::|%3A)[^&]+)", parts.query):
        return _stem(unquote(value), strict)
    path = unquote(parts.path).rstrip("/")
    name = path.rsplit("/", 1)[-1].lower()
    name = re.sub(r"\.(jpe?g|png|webp|gif|avif)(\.\w+)?$", "", name)
    name = re.sub(r"[-_]\d{2,4}x\d{2,4}$|^\d{2,4}x\d{2,4}[-_]", "", name)
    if len(name) >= _HASH_NAME:  # "a5dac8…995be_R" / "…_P1": a variant suffix on a long id
        name = _VARIANT.sub("", name)
    ids = sorted((k, v) for k, v in parse_qsl(parts.query) if k.lower() in _ID_PARAMS)
    if ids:  # "media-library/image.jpg?id=123": the id tells pictures apart
        return f"{path.lower()}?{ids}"
    dirs = [d for d in path.lower().split("/")[:-1] if d and not _SIZE_DIR.fullmatch(d)]
    if _SIZE_NAME.fullmatch(name) and dirs and len(dirs[-1]) >= _HASH_NAME:
        return "/".join(dirs)  # ".../44152f…e5/16x9/1280@40.jpg": the directory names the picture
    if len(name) < _WORD_NAME_MIN or name.isdigit() or name in _GENERIC_NAMES:
        return path.lower()  # "/photos/123/master/4616.jpg?width=…": the whole path
    # directories that name a size ("s615b", "w_120,c_limit", "590x", "16:9") vary between the
    # sizes of one picture; the others ("article32650054.ece") tell pictures apart
    if not strict:
        return name
    return "/".join([*dirs, name])


def _texts(
    el: lxml_html.HtmlElement,
    pattern: re.Pattern[str],
    exclude: re.Pattern[str] | None = None,
    img: lxml_html.HtmlElement | None = None,
) -> list[lxml_html.HtmlElement]:
    """Outermost descendants whose class/id matches ``pattern``; those holding ``img`` skipped."""
    out: list[lxml_html.HtmlElement] = []
    for d in el.iter():
        if not isinstance(d.tag, str) or d.tag in ("img", "picture", "source"):
            continue
        lab = label(d)
        if pattern.search(lab) and not (exclude and exclude.search(lab)):
            if img is not None and (d is img or any(a is d for a in img.iterancestors())):
                continue
            if not any(o in d.iterancestors() for o in out):
                out.append(d)
    return out


def _text_without(el: lxml_html.HtmlElement, skip: list[lxml_html.HtmlElement]) -> str:
    parts: list[str] = []

    def walk(node: lxml_html.HtmlElement) -> None:
        if node in skip or node.tag in ("script", "style", "button", "svg", "noscript"):
            if node.tail:
                parts.append(node.tail)
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            elif child.tail:
                parts.append(child.tail)
        if node is not el and node.tail:
            parts.append(node.tail)

    walk(el)
    return " ".join(parts)


#: class words, inside a caption, of the element that holds the credit
_CAPTION_CREDIT = re.compile(r"author|autor|auteur|distributor|agency|photog|fotograf|byline", re.I)
#: labels of controls printed inside a caption ("Personen-Box aufklappen", "show more", "사진 확대")
_CONTROL = re.compile(
    r"(?:^|[\s_-])(?:toggle|expand|expander|collapse|btn|button|zoom|sr-only|visually-hidden|"
    r"screen-reader(?:-text)?|is_blind|aufklappen|icon)(?:$|[\s_-])",
    re.I,
)
#: separators left at a caption's end when the credit after them is taken out
_SEPARATORS = " /|·•–—-"
#: most words of a caption's last child that is the credit though nothing names it so
_CREDIT_MAX_WORDS = 8


def _controls(el: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    return [
        d for d in el.iter() if isinstance(d.tag, str) and d is not el and _CONTROL.search(label(d))
    ]


def _credit_child(
    cap: lxml_html.HtmlElement, skip: list[lxml_html.HtmlElement]
) -> list[lxml_html.HtmlElement]:
    """Credit elements inside a caption without a credit class: classes saying author /
    photographer / distributor, a <cite>/<small>, or a short last child after the text."""
    named = [
        d
        for d in cap.iter()
        if isinstance(d.tag, str)
        and d is not cap
        and d not in skip
        and _CAPTION_CREDIT.search(label(d))
    ]
    if named:
        return [d for d in named if not any(a in named for a in d.iterancestors())]
    children = [
        c for c in cap if isinstance(c.tag, str) and c not in skip and c.text_content().strip()
    ]
    while (
        len(children) == 1 and not (cap.text or "").strip() and not (children[0].tail or "").strip()
    ):
        cap = children[0]  # a wrapper: look at what it holds
        children = [
            c for c in cap if isinstance(c.tag, str) and c not in skip and c.text_content().strip()
        ]
    tagged = [c for c in cap.iter("cite", "small") if c.text_content().strip()]
    if tagged and clean_line(_text_without(cap, [*skip, *tagged])):
        return tagged[-1:]
    if len(children) < 2 and not (children and (cap.text or "").strip()):
        return []
    last = children[-1]
    text = clean_line(last.text_content()) or ""
    if last.tail and last.tail.strip():
        return []
    if len(text.split()) <= _CREDIT_MAX_WORDS and not _SENTENCE_END.search(text):
        return [last]
    return []


def _joined_credit(elements: list[lxml_html.HtmlElement]) -> str | None:
    """Credit elements joined into one credit (photographer and agency printed apart)."""
    parts: list[str] = []
    for el in elements:
        text = tidy_credit(_text_without(el, _controls(el)))
        if text and text not in parts:
            parts.append(text)
    return " / ".join(parts) or None


def caption_and_credit(
    holder: lxml_html.HtmlElement, img: lxml_html.HtmlElement | None = None
) -> tuple[str | None, str | None]:
    """Caption and credit printed in a figure-like element."""
    credits = _texts(holder, _CREDIT, img=img)
    credit = _joined_credit(credits)
    caps = holder.findall(".//figcaption")
    if not caps:
        caps = [c for c in _texts(holder, _CAPTION, _CREDIT, img=img) if c.tag != "figure"]
    caption = None
    for cap in caps:  # several caption elements: the caption, and a credit line
        skip = [*credits, *_controls(cap)]
        if credit is None:
            inner = _credit_child(cap, skip)
            if inner:
                credit = _joined_credit(inner)
                skip += inner
        text = clean_line((clean_line(_text_without(cap, skip)) or "").rstrip(_SEPARATORS))
        if not text:
            continue
        rest, embedded = split_caption_credit(text)
        if embedded and (credit is None or embedded == credit):
            credit = embedded
        elif credit and rest and rest.endswith(credit):
            rest = clean_line(rest[: -len(credit)].rstrip(" |-–—(").removesuffix("Photo:")) or None
        if rest and caption is None:
            caption = rest
    return caption, credit


def _jsonld_images(page: Page) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in as_list(page.main.get("image") if page.main else None):
        item = node_by_id(page.jsonld, item)
        if isinstance(item, str):
            out.append({"url": item})
        elif isinstance(item, dict):
            url = text_of(item.get("url")) or text_of(item.get("contentUrl"))
            if url:
                out.append(
                    {
                        "url": url,
                        "caption": text_of(item.get("caption")) or text_of(item.get("description")),
                        "credit": text_of(item.get("creditText"))
                        or text_of(item.get("copyrightHolder"))
                        or text_of(item.get("author")),
                        "width": _int(
                            item.get("width")
                            if not isinstance(item.get("width"), dict)
                            else item["width"].get("value")
                        ),
                        "height": _int(
                            item.get("height")
                            if not isinstance(item.get("height"), dict)
                            else item["height"].get("value")
                        ),
                    }
                )
    return out


def _make(
    url: str,
    caption: str | None,
    credit: str | None,
    alt: str | None,
    width: int | None = None,
    height: int | None = None,
    *,
    source: str = "page",
) -> Image:
    """An Image; ``source`` says where a caption comes from ("page" or "structured")."""
    credit = tidy_credit(credit)
    photographer, agency = parse_credit(credit) if credit else (None, None)
    caption = clean_line(caption)
    return Image(
        url=url,
        caption=caption,
        credit=credit,
        photographer=photographer,
        agency=agency,
        alt=clean_line(alt),
        caption_source=source if caption else None,
        width=width,
        height=height,
    )


def _with_credit(image: Image, credit: str | None) -> Image:
    """``image`` with ``credit`` (parsed into photographer/agency) when it shows none."""
    credit = tidy_credit(credit)
    if image.credit or not credit:
        return image
    photographer, agency = parse_credit(credit)
    return replace(image, credit=credit, photographer=photographer, agency=agency)


#: fewest words of an alt text that stands in for a missing caption
_ALT_MIN_WORDS = 3
_FILE_NAME = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)$|^[\w-]+$", re.I)


def _alt_as_caption(image: Image) -> Image:
    """The page prints no caption: the alt text, when it describes the picture, stands in."""
    alt = image.alt
    if image.caption or not alt or len(alt.split()) < _ALT_MIN_WORDS or _FILE_NAME.search(alt):
        return image
    if image.credit and alt.casefold() == image.credit.casefold():
        return image
    return replace(image, caption=alt, caption_source="alt")


def _other_pictures(node: lxml_html.HtmlElement, img: lxml_html.HtmlElement) -> bool:
    """Does ``node`` hold a picture other than ``img`` (its <noscript> copy does not count)?"""
    for other in node.iter("img"):
        if other is img or _too_small(other):
            continue
        if any(a.tag == "noscript" for a in other.iterancestors()):
            continue
        if other.get("id") and other.get("id") == img.get("id"):
            continue
        return True
    return False


#: ancestors of a picture (not counting <picture>/<source>) looked at for its caption holder
HOLDER_MAX_LEVELS = 6


def _holder_of(
    img: lxml_html.HtmlElement, stop: lxml_html.HtmlElement | None
) -> lxml_html.HtmlElement:
    """The figure (or figure-like wrapper) that carries the picture's caption: the nearest
    ancestor holding a caption or credit element and no other picture."""
    node = img
    figure = None
    steps = 0
    while steps < HOLDER_MAX_LEVELS:
        parent = node.getparent()
        if parent is None or parent is stop:
            break
        node = parent
        if node.tag in ("source", "picture"):
            continue
        steps += 1
        if _other_pictures(node, img):
            break
        if node.tag == "figure" and figure is None:
            figure = node
        if (
            node.find(".//figcaption") is not None
            or _texts(node, _CAPTION, img=img)
            or _texts(node, _CREDIT, img=img)
        ):
            return node
    if figure is not None:
        return figure
    return img.getparent() if img.getparent() is not None else img


_SENTENCE_END = re.compile(r"[.!?]$")


def _unlabelled_caption(
    img: lxml_html.HtmlElement,
    root: lxml_html.HtmlElement | None,
    body: lxml_html.HtmlElement | None,
) -> tuple[str | None, str | None]:
    """Caption markup without telling class names (generated CSS classes): short text blocks
    that follow the picture inside the wrapper that holds only this picture. The first block is
    the caption; a last short block without a full stop is the credit."""
    node = img
    for _ in range(UNLABELLED_MAX_LEVELS):
        parent = node.getparent()
        if parent is not None and parent.tag == "p" and not _other_pictures(parent, img):
            return _paragraph_caption(parent, img)
        if (
            parent is None
            or parent is root
            or parent is body
            or parent.tag in ("body", "article", "main")
        ):
            return None, None
        node = parent
        if node.tag in ("source", "picture", "a"):
            continue
        if _other_pictures(node, img):
            return None, None
        blocks = _blocks_after(node, img)
        if not blocks:
            continue
        if len(" ".join(b for b in blocks if b)) > UNLABELLED_MAX_CHARS:
            return None, None
        return _caption_blocks([b for b in blocks if b])
    return None, None


#: ancestors of a picture looked at for an unlabelled caption
UNLABELLED_MAX_LEVELS = 4
#: an unlabelled caption in a WordPress-classic paragraph is at most this long (characters)
PARAGRAPH_CAPTION_MAX_CHARS = 250
#: text after a picture longer than this (characters) is article text, not a caption
UNLABELLED_MAX_CHARS = 400


def _paragraph_caption(
    paragraph: lxml_html.HtmlElement, img: lxml_html.HtmlElement
) -> tuple[str | None, str | None]:
    """WordPress classic: <p><img><br><em>Caption</em></p>."""
    text = clean_line(_text_without(paragraph, [img]))
    if (
        text
        and len(text) <= PARAGRAPH_CAPTION_MAX_CHARS
        and paragraph.xpath(".//em|.//i|.//small|.//br")
    ):
        return split_caption_credit(text)
    return None, None


def _blocks_after(node: lxml_html.HtmlElement, img: lxml_html.HtmlElement) -> list[str | None]:
    """The texts of the leaf elements of ``node`` that follow the picture."""
    blocks: list[str | None] = []
    after = False
    for el in node.iter():
        if el is img or (el.tag == "picture" and any(a is el for a in img.iterancestors())):
            after = True
            continue
        if (
            not after
            or not isinstance(el.tag, str)
            or el.tag in ("script", "style", "button", "svg")
        ):
            continue
        if len(el) == 0 and el.text and el.text.strip():
            blocks.append(clean_line(el.text_content()))
    return blocks


def _caption_blocks(blocks: list[str]) -> tuple[str | None, str | None]:
    """The caption and credit of the text blocks under a picture: a last short block without a
    full stop is the credit."""
    credit = None
    if (
        len(blocks) > 1
        and len(blocks[-1].split()) <= _CREDIT_MAX_WORDS
        and not _SENTENCE_END.search(blocks[-1])
    ):
        credit = blocks.pop()
    caption, embedded = split_caption_credit(" ".join(blocks))
    return caption, credit or embedded


#: host labels that name no publisher
_HOST_WORDS = {
    "www",
    "m",
    "amp",
    "mobile",
    "com",
    "net",
    "org",
    "co",
    "uk",
    "de",
    "news",
    "edition",
    "static",
    "cdn",
    "img",
    "images",
    "media",
}
#: shortest host label that names a publisher
_BRAND_MIN = 4


def _brands(url: str) -> set[str]:
    """Host labels that name the publisher: "timesofindia.indiatimes.com" → {timesofindia, indiatimes}."""
    return {
        part for part in host_labels(url) if len(part) >= _BRAND_MIN and part not in _HOST_WORDS
    }


def find_page_sites(page: Page) -> set[str]:
    """The sites the page belongs to (``Page.sites``): its address and its canonical/og:url (a
    replayed or mirrored copy is served from another host but still links to its own site), as
    registrable domains and publisher names."""
    declared = [page.url, page.meta_first("og:url")]
    declared += [
        link.get("href")
        for link in page.tree.iter("link")
        if (link.get("rel") or "").strip().lower() == "canonical"
    ]
    urls = [url for url in (absolute_url(u, page.url) for u in declared if u) if url]
    return ({registrable_domain(u) for u in urls} | {b for u in urls for b in _brands(u)}) - {""}


def _own_site(href: str, page: Page) -> bool:
    """Is ``href`` on the page's site, or on another host of the same publisher
    ("recipes.timesofindia.com" for "timesofindia.indiatimes.com")?"""
    return registrable_domain(href) in page.sites or bool(_brands(href) & page.sites)


#: a link that opens the picture itself (lightbox, zoom, photo viewer), not another page
_LIGHTBOX = re.compile(
    r"lightbox|fancybox|zoom|photoswipe|enlarge|fullscreen|gallery|galerie|modal", re.I
)


def _same_page(href: str, page: Page) -> bool:
    """Does ``href`` lead to this article or a page under it ("…/article/photos/1")? Scheme,
    "www." and query do not count."""
    own = [page_key(u, query=False) for u in (page.url, page.meta_first("og:url")) if u]
    target = page_key(href, query=False)
    return any(u and (target == u or target.startswith(u + "/")) for u in own)


_PHOTO_WORD = re.compile(r"photo|foto|image|bild|picture|gallery|galerie|slideshow|pic", re.I)
#: fewest digits of an article id in a URL ("/articles/view/sports/367061")
_ID_DIGITS = 5


def _own_photo_page(href: str, page: Page) -> bool:
    """A photo page of this article: the link names a picture and carries the article's id
    ("/articles/image/sports/367061/287149", "/article_photo/list?article_id=379018")."""
    if not _PHOTO_WORD.search(href):
        return False
    ids = {
        m
        for u in (page.url, page.meta_first("og:url"))
        if u
        for m in re.findall(rf"\d{{{_ID_DIGITS},}}", urlsplit(u).path)
    }
    return any(re.search(rf"(?<!\d){i}(?!\d)", href) for i in ids)


def _opens_picture(link: lxml_html.HtmlElement) -> bool:
    """A link marked as opening a lightbox / photo viewer."""
    names = " ".join([label(link), *(a for a in link.attrib if a.startswith("data-"))])
    return bool(_LIGHTBOX.search(names))


def _teaser_link(img: lxml_html.HtmlElement, page: Page) -> bool:
    """A picture linking to another article is a teaser, not part of this article."""
    for anc in img.iterancestors():
        if anc.tag == "a":
            href = absolute_url(anc.get("href"), page.url)
            if (
                not href
                or _same_page(href, page)
                or _opens_picture(anc)
                or _own_photo_page(href, page)
            ):
                return False
            if not _own_site(href, page):  # shop / source links around product pictures
                return False
            return not re.search(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", href, re.I)
        if anc.tag in ("figure", "article", "section", "main", "body"):
            return False
    return False


def _lead_candidates(page: Page) -> list[dict[str, Any]]:
    """The lead picture as structured data names it: JSON-LD image(s), then og:image."""
    candidates = _jsonld_images(page)
    og = page.meta_first(
        "og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src"
    )
    if og:
        candidates.append(
            {
                "url": og,
                "alt": page.meta_first("og:image:alt", "twitter:image:alt"),
                "width": _int(page.meta_first("og:image:width")),
                "height": _int(page.meta_first("og:image:height")),
            }
        )
    return candidates


#: class/id words of a byline or author box: a picture there is the writer's headshot
_AUTHOR_BOX = re.compile(
    r"author|autor|auteur|byline|avatar|contributor|journalist|reporter|profile-?pic", re.I
)
#: URL paths of writers' headshots
_AUTHOR_PATH = re.compile(
    r"/(?:arc-)?authors?/|/autor(?:en|es)?/|/profiles?/|headshot|/byline", re.I
)


#: a byline printed under a picture: the picture is the writer's
_BYLINE = re.compile(r"(?:by|von|par|por|di|af|av|door|przez|tarafından)\b", re.I)


def _writer_card(caption: str) -> bool:
    """Is the text under a picture a byline ("By Jane Doe", "Von")?"""
    m = _BYLINE.match(caption)
    if not m:
        return False
    rest = caption[m.end() :].strip(" :")
    return not rest or looks_like_person(rest)


def _headshot(
    img: lxml_html.HtmlElement,
    url: str,
    stop: lxml_html.HtmlElement | None,
    body: lxml_html.HtmlElement | None = None,
) -> bool:
    """An author's picture (in a byline / author box, or from a headshot path). A block that
    holds the article itself ("post-content has-author") is no author box."""
    if _AUTHOR_PATH.search(unquote(urlsplit(url).path)):
        return True
    for anc in img.iterancestors():
        if anc is stop:
            return False
        if _AUTHOR_BOX.search(label(anc)):
            return not is_layout(anc, body)
    return False


#: a paragraph of running text has at least this many characters
_RUNNING_TEXT = 80


#: a wrapper of the article root adds at most this share of text to be part of the article
_WRAPPER_TEXT = 1.2


def _picture_scope(root: lxml_html.HtmlElement | None) -> lxml_html.HtmlElement | None:
    """Where the article's pictures are looked for: the article root, widened to the
    ``<article>`` element around it, or to a wrapper that adds a picture (an "opener" figure
    beside the headline block) and little text."""
    if root is None or root.tag == "article":
        return root
    for anc in root.iterancestors():
        if anc.tag == "article":
            return anc
    parent = root.getparent()
    if parent is None or parent.tag in ("body", "main", "html"):
        return root
    own = len(root.text_content())
    if len(parent.text_content()) <= _WRAPPER_TEXT * own and any(
        next(sib.iter("img"), None) is not None
        for sib in root.itersiblings(preceding=True)
        if isinstance(sib.tag, str)
    ):
        return parent
    return root


class _Pictures:
    """The pictures found so far, one record per picture: another size of a picture already
    found (same URL or same stem) fills the caption/credit the first record lacks."""

    def __init__(self) -> None:
        self.images: list[Image] = []
        self._urls: set[str] = set()
        self._stems: dict[str, int] = {}

    def add(self, image: Image) -> bool:
        """Add ``image``; False when it is another copy of a picture already there."""
        stem = _stem(image.url)
        if image.url in self._urls:
            return False
        if stem and stem in self._stems:
            index = self._stems[stem]
            old = self.images[index]
            if not old.caption and image.caption:
                old = replace(old, caption=image.caption, caption_source=image.caption_source)
            if not old.credit and image.credit:
                old = replace(
                    old, credit=image.credit, photographer=image.photographer, agency=image.agency
                )
            self.images[index] = replace(old, alt=old.alt or image.alt)
            return False
        self._urls.add(image.url)
        if stem:
            self._stems[stem] = len(self.images)
        self.images.append(image)
        return True


class _Span:
    """Where the article's text lies inside the picture scope, in document order."""

    def __init__(self, root: lxml_html.HtmlElement, body: lxml_html.HtmlElement | None) -> None:
        self.order = {el: i for i, el in enumerate(root.iter())}
        self.in_body: set[lxml_html.HtmlElement] = set()
        self.body_start, self.body_end = -1, len(self.order)
        self.text_end = self.body_end
        running = [
            p
            for p in root.iter("p")
            if len(p.text_content().strip()) >= _RUNNING_TEXT and not in_junk(p, root, body=body)
        ]
        if body is not None and body in self.order:
            # a body split into chunks repeats the container's markup: all chunks are body
            chunks = [body]
            if body.get("class"):
                chunks += [
                    c
                    for c in root.xpath(f".//{body.tag}[@class=$c]", c=body.get("class"))
                    if c is not body
                ]
            for chunk in chunks:
                self.in_body.update(chunk.iter("img"))
            self.body_start = min(self.order[c] for c in chunks)
            self.body_end = self.text_end = max(self.order[d] for c in chunks for d in c.iter())
            # the text may go on in sibling blocks: the article ends with its last paragraph
            for p in running:
                if self.order[p] > self.text_end:
                    self.text_end = max(self.order[d] for d in p.iter())
        # the first paragraph of running text: a picture above it is the page's lead
        self.first_text = self.order[running[0]] if running else len(self.order)

    def at(self, img: lxml_html.HtmlElement) -> int:
        return self.order.get(img, 0)

    def before_text(self, img: lxml_html.HtmlElement) -> bool:
        """Shown between headline and text (above the body or its first paragraph)?"""
        return (img not in self.in_body and self.at(img) < self.body_start) or self.at(
            img
        ) < self.first_text


def _title_credit(img: lxml_html.HtmlElement, caption: str | None) -> str | None:
    """A credit the picture's title attribute adds to its caption or alt text
    (title="Jarrad Branthwaite jubelt | Getty Images/Naomi Baker")."""
    title = clean_line(img.get("title"))
    if not title:
        return None
    rest, credit = split_caption_credit(title)
    known = {clean_line(t) for t in (caption, img.get("alt")) if t}
    return credit if credit and rest and rest in known else None


def _markup_picture(
    img: lxml_html.HtmlElement,
    page: Page,
    root: lxml_html.HtmlElement,
    body: lxml_html.HtmlElement | None,
) -> Image | None:
    """The Image an <img> of the article shows, or None when it is not the article's picture
    (tiny, in a junk block, a teaser, a logo/icon, a headshot)."""
    if _too_small(img) or in_junk(img, root, body=body) or _teaser_link(img, page):
        return None
    url, width = image_url(img, page.url)
    if not url or _not_picture(url) or _headshot(img, url, root, body):
        return None
    holder = _holder_of(img, root)
    if holder is not root and junk_label(label(holder)):
        return None
    caption, credit = caption_and_credit(holder, img)
    if caption is None and credit is None:
        caption, credit = _unlabelled_caption(img, root, body)
    if caption and _writer_card(caption):
        return None  # "Von Monique de Cleur" under a picture: the writer's card
    if credit is None:
        credit = _title_credit(img, caption)
    return _make(
        url,
        caption,
        credit,
        img.get("alt"),
        width or _int(img.get("width")),
        _int(img.get("height")),
    )


#: text an ancestor of the headline holds to stand for the article when no body container
#: is found (a page whose text is not in paragraphs)
_HEADLINE_BLOCK_TEXT = 1000


def _headline_block(page: Page) -> lxml_html.HtmlElement | None:
    """The nearest ancestor of the <h1> that holds a page of text: the article, when the page
    has no paragraph markup to find its body by."""
    h1 = next(page.tree.iter("h1"), None)
    if h1 is None:
        return None
    for anc in h1.iterancestors():
        if anc.tag in ("body", "html"):
            return None
        if len(anc.text_content()) >= _HEADLINE_BLOCK_TEXT:
            return anc
    return None


def _markup_pictures(page: Page, found: _Pictures) -> bool:
    """Add the pictures the article's markup shows, in page order; True when one of them is
    shown between headline and text (the page's lead)."""
    root = page.article_root
    root = _picture_scope(root if root is not None else _headline_block(page))
    if root is None:
        return False
    body = page.body_container
    span = _Span(root, body)
    lead_in_markup = False
    body_seen = False
    for img in root.iter("img"):
        if img in span.in_body:
            body_seen = True
        elif span.at(img) > span.text_end or (body_seen and span.at(img) > span.body_end):
            continue  # after the article text: related stories, promos
        image = _markup_picture(img, page, root, body)
        if image is not None and found.add(image) and span.before_text(img):
            lead_in_markup = True
    return lead_in_markup


#: paths of a site's own images (theme assets, a branded or default social card), not an article's
_SITE_IMAGE = re.compile(
    r"/(?:themes?|skins?)/|/assets/(?:img|images|png|svg|static|logos?)/|brand(?:ed|ing)?[_/-]|default[_-]?(?:image|og|share|social)|"
    r"fallback|social[_-]?(?:card|share)",
    re.I,
)


def _lead(page: Page, images: list[Image], lead_in_markup: bool) -> Image | None:
    """The lead picture structured data names, taken out of ``images`` when the markup
    shows it (or shows another crop of it above the text), else a new record."""
    for cand in _lead_candidates(page):
        url = absolute_url(cand["url"], page.url)
        if not url:
            continue
        loose = _stem(url, strict=False)
        idx = next(
            (
                i
                for i, im in enumerate(images)
                if im.url == url or (loose and _stem(im.url, strict=False) == loose)
            ),
            None,
        )
        if idx is not None:  # the markup shows it: keep the markup's record, first
            return _with_credit(images.pop(idx), cand.get("credit"))
        if lead_in_markup:  # a social-media crop of the lead the page already shows
            return _with_credit(images.pop(0), cand.get("credit"))
        if _SITE_IMAGE.search(unquote(urlsplit(url).path)):
            continue  # the site's default/branded card, not a picture of this article
        return _make(
            url,
            cand.get("caption") or cand.get("alt"),
            cand.get("credit"),
            cand.get("alt"),
            cand.get("width"),
            cand.get("height"),
            source="structured",
        )
    return None


def extract_images(page: Page) -> list[Image]:
    """The article's pictures, lead first: the markup's pictures of the article, and the
    lead picture structured data names when the markup does not show it."""
    found = _Pictures()
    lead_in_markup = _markup_pictures(page, found)
    images = found.images
    lead = _lead(page, images, lead_in_markup)
    if lead is not None:
        images.insert(0, replace(lead, is_lead=True))
    return [replace(_alt_as_caption(image), position=i) for i, image in enumerate(images)]
