"""Dates as pages and feeds write them: the stdlib fast path of ``to_iso_utc`` reads each form it
accepts exactly as dateparser does (it runs before dateparser to save ~30 ms a call), and what
it does not accept still reaches dateparser. Forms taken from the dev sets' pages and RSS feeds."""

from __future__ import annotations

import datetime as dt

import dateparser
import pytest

from newsarchive import processors
from newsarchive.items import Article
from newsarchive.processors import normalize_article, to_iso_utc

MONTHS = ("January", "May", "September", "Dec", "nov", "FEB", "Oct.")
DAYS = (1, 9, 13, 29, 31)
YEARS = (1999, 2019, 2024)


def _dateparser_iso(raw: str) -> str | None:
    parsed = dateparser.parse(raw, settings={"PREFER_DAY_OF_MONTH": "first"})
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds")


def _fast_forms() -> list[str]:
    forms = []
    for month in MONTHS:
        for day in DAYS:
            for year in YEARS:
                forms += [
                    f"{month} {day}, {year}",
                    f"{day} {month} {year}",
                    f"{day:02d} {month} {year} 08:02 GMT",
                    f"{day} {month} {year} 23:59:07",
                ]
    forms += [
        f"Tue, {day} Feb 2024 10:00:00 {zone}"
        for day in (1, 20)
        for zone in ("GMT", "+0000", "+0530", "-0800")
    ]
    return forms


@pytest.mark.parametrize("raw", _fast_forms())
def test_fast_path_reads_dates_as_dateparser_does(raw: str) -> None:
    assert to_iso_utc(raw) == _dateparser_iso(raw)


def test_fast_path_takes_the_common_forms() -> None:
    for raw in _fast_forms():
        quick = processors._parse_english(raw) or processors._parse_rfc2822(raw)
        # only impossible dates (31 November, 29 February 2019) are left to dateparser
        assert (quick is not None) == (_dateparser_iso(raw) is not None), raw
    assert to_iso_utc("November 19, 2019") == "2019-11-19T00:00:00+00:00"
    assert to_iso_utc("20 Nov 2019 08:02 GMT") == "2019-11-20T08:02:00+00:00"
    assert to_iso_utc("Tue, 20 Feb 2024 10:00:00 +0100") == "2024-02-20T09:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fri 6:45 PM, Feb 16, 2018", "2018-02-16T18:45:00+00:00"),  # a dev page's byline
        ("Sept 5, 2019", "2019-09-05T00:00:00+00:00"),
        ("12. März 2024", "2024-03-12T00:00:00+00:00"),
        ("31 Feb 2019", None),
    ],
)
def test_other_forms_still_reach_dateparser(raw: str, expected: str | None) -> None:
    assert processors._parse_english(raw) is None and processors._parse_rfc2822(raw) is None
    assert to_iso_utc(raw) == expected == _dateparser_iso(raw)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr-FR", "2019-06-05T00:00:00+00:00"),  # the page's own language
        ("en", None),  # an English page's dates are read in English only
        ("tlh", "2019-06-05T00:00:00+00:00"),  # a language dateparser lacks: every locale
        (None, "2019-06-05T00:00:00+00:00"),  # no language known: every locale
    ],
)
def test_an_articles_dates_are_read_in_its_language_and_english(
    language: str | None, expected: str | None
) -> None:
    article = Article(url="https://example.com/a", language=language, published_raw="5 juin 2019")
    assert normalize_article(article).published == expected
    english = Article(url="https://example.com/b", language=language, modified_raw="Sept 5, 2019")
    assert normalize_article(english).modified == "2019-09-05T00:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a dev page's (moneycontrol.com, India): dateparser reads IST as Israel's +02:00
        ("01:38:07 PM IST Nov 20, 2019", "2019-11-20"),
        ("Nov 20, 2019 11:30 PM CST", "2019-11-20"),  # US Central or China: not the next day in UTC
        ("Nov 20, 2019 11:30 PM EST", "2019-11-21T04:30:00+00:00"),  # one offset: converted
    ],
)
def test_a_time_in_an_ambiguous_zone_keeps_only_its_day(raw: str, expected: str) -> None:
    assert {"IST", "CST", "PST"} <= processors._ambiguous_zone_names()
    assert "EST" not in processors._ambiguous_zone_names() and "GMT" not in processors._ambiguous_zone_names()
    assert to_iso_utc(raw, languages=("en",)) == expected
