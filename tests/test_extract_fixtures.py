"""Recorded pages against expected fields (web-poet style): one folder a case, one test a field.

A case is ``tests/fixtures/extract/<case>/`` holding

* ``page.html`` or ``page.html.gz``: the page; a real page from ../shared/datasets (the case's
  name says which dataset and page) or a page written for the test (``written_*`` cases);
* ``expected.json``: ``{"url": "...", "source": "where the page comes from", "fields": {...}}``.

Fields and how each is compared:

* ``title``, ``description``, ``section``, ``language``, ``kind``, ``published``, ``modified``,
  ``authors``, ``canonical_url``: equal (``published``/``modified``: the ISO string starts with
  the expected value, so a day or a minute can be pinned);
* ``body_contains`` / ``body_excludes``: strings that must / must not be in the body text;
* ``images``: the article's pictures in order, exactly that many; each expected picture gives
  the attributes it pins (``url`` or ``url_contains``, ``caption``, ``credit``, ``photographer``,
  ``agency``, ``alt``, ``caption_source``, ``is_lead``; ``null`` pins "none");
* ``videos``: the video ids, in order.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from newsarchive.extract import extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
EQUAL = ("title", "description", "section", "language", "kind", "authors", "canonical_url")
PREFIX = ("published", "modified")


def _cases() -> list[tuple[str, str]]:
    cases = []
    for folder in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists()):
        fields = json.loads((folder / "expected.json").read_text(encoding="utf-8"))["fields"]
        cases += [(folder.name, field) for field in fields]
    return cases


_ARTICLES: dict[str, object] = {}


def _article(case: str):
    if case not in _ARTICLES:
        folder = FIXTURES / case
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        gz = folder / "page.html.gz"
        html = gzip.decompress(gz.read_bytes()) if gz.exists() else (folder / "page.html").read_bytes()
        _ARTICLES[case] = extract_article(expected["url"], html)
    return _ARTICLES[case]


def _expected(case: str, field: str):
    return json.loads((FIXTURES / case / "expected.json").read_text(encoding="utf-8"))["fields"][field]


def _image_view(image, keys) -> dict:
    view = {}
    for key in keys:
        if key == "url_contains":
            view[key] = image.url
        else:
            view[key] = getattr(image, key)
    return view


@pytest.mark.parametrize("case, field", _cases())
def test_field(case, field):
    article = _article(case)
    want = _expected(case, field)
    if field in EQUAL:
        assert getattr(article, field) == want
    elif field in PREFIX:
        got = getattr(article, field)
        assert got is not None and got.startswith(want), f"{field}: {got!r} does not start with {want!r}"
    elif field == "body_contains":
        missing = [s for s in want if s not in (article.body_text or "")]
        assert not missing, f"not in the body: {missing}"
    elif field == "body_excludes":
        present = [s for s in want if s in (article.body_text or "")]
        assert not present, f"in the body but not text of the article: {present}"
    elif field == "images":
        got = [image.url for image in article.images]
        assert len(article.images) == len(want), f"{len(got)} pictures, {len(want)} expected: {got}"
        for image, expected in zip(article.images, want):
            view = _image_view(image, expected)
            if "url_contains" in expected:
                assert expected["url_contains"] in image.url, f"{image.url} lacks {expected['url_contains']}"
                view.pop("url_contains")
                expected = {k: v for k, v in expected.items() if k != "url_contains"}
            assert view == expected
    elif field == "videos":
        assert [v.video_id for v in article.videos] == want
    else:
        pytest.fail(f"{case}: unknown expected field {field!r}")
