"""RebelMouse (gzeromedia.com and others).

Markup: ``h1.widget__headline``; the body in ``.body-description``; the byline in
``.social-author__name``; the section in ``.widget__section``; pictures in
``p.shortcode-media-rebelmouse-image`` with ``small.media-caption`` and
``small.media-photo-credit`` beside the <img>; YouTube in ``p.shortcode-media-youtube``
(lazy: the player URL in ``data-runner-src``). Below the post, "More from ..." lists other
posts with the same widget markup: only the first post (the one with the <h1>) is the article.
"""

from __future__ import annotations

from typing import Any

from newsarchive.extract.authors import clean_author
from newsarchive.extract.body import container_text
from newsarchive.extract.document import Page
from newsarchive.processors import clean_line


def _has_class(name: str) -> str:
    return f'contains(concat(" ", normalize-space(@class), " "), " {name} ")'


def detect(page: Page) -> bool:
    if page.tree.xpath(f"//h1[{_has_class('widget__headline')}]"):
        return True
    generator = (page.meta_first("generator") or "").lower()
    return "rebelmouse" in generator


def prepare(page: Page) -> dict[str, Any]:
    tree = page.tree
    fields: dict[str, Any] = {}
    h1s = tree.xpath(f"//h1[{_has_class('widget__headline')}]") or tree.xpath("//h1")
    if not h1s:
        return fields
    h1 = h1s[0]
    fields["title"] = clean_line(h1.text_content())
    # the post: the nearest ancestor of the headline that also holds a body
    post = None
    for anc in h1.iterancestors():
        if anc.xpath(f".//*[{_has_class('body-description')}]"):
            post = anc
            break
    if post is None:
        return fields
    body = post.xpath(f".//*[{_has_class('body-description')}]")[0]
    page.body_container = body
    page.article_root = post
    fields["body_text"] = container_text(body) or None
    authors: list[str] = []
    for el in post.xpath(f".//*[{_has_class('social-author__name')}]"):
        authors.extend(clean_author(el.text_content()))
    if authors:
        fields["authors"] = authors
    section = post.xpath(f".//*[{_has_class('widget__section')}]")
    if section:
        fields["section"] = clean_line(section[0].text_content())
    return fields
