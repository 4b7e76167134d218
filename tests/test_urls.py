"""One way to compare URLs (newsarchive.processors): registrable domains from tldextract's bundled
public suffix list, page keys from canonical_url; the URLs are written by the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsarchive.extract import extract_article
from newsarchive.processors import (
    host_labels,
    host_of,
    in_domains,
    page_key,
    registrable_domain,
    registrable_name,
    same_page,
)

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("url", "domain", "name"),
    [
        ("https://www.bbc.co.uk/news/world-1", "bbc.co.uk", "bbc"),
        ("https://news.bbc.co.uk/2/hi/uk_news/1.stm", "bbc.co.uk", "bbc"),
        ("https://www.itv.co.uk/news", "itv.co.uk", "itv"),
        ("https://www.abc.net.au/news/2024-05-01/story/1", "abc.net.au", "abc"),
        ("https://www.smh.com.au/national/story.html", "smh.com.au", "smh"),
        ("http://127.0.0.1:8765/articles/one", "127.0.0.1", "127.0.0.1"),
        ("http://localhost:8000/x", "localhost", "localhost"),
        ("HTTPS://WWW.Example.COM/Path", "example.com", "example"),
        ("", "", ""),
    ],
)
def test_registrable_domain(url, domain, name):
    assert registrable_domain(url) == domain
    assert registrable_name(url) == name


def test_two_sites_under_one_country_suffix_are_not_one_site():
    # the old rule kept the last two labels: every .co.uk site was "co.uk"
    assert registrable_domain("https://www.bbc.co.uk/") != registrable_domain(
        "https://www.itv.co.uk/"
    )
    assert registrable_domain("https://www.smh.com.au/") != registrable_domain(
        "https://www.theage.com.au/"
    )


def test_host_labels_leave_out_the_public_suffix_and_ip_addresses():
    assert host_labels("https://timesofindia.indiatimes.com/x") == ["timesofindia", "indiatimes"]
    assert host_labels("https://www.bbc.co.uk/news") == ["www", "bbc"]
    assert host_labels("http://127.0.0.1:8765/") == []


def test_page_keys_ignore_scheme_www_trailing_slash_fragment_and_tracking():
    a = "https://www.bbc.co.uk/news/story-1/?utm_source=x#top"
    assert page_key(a) == "bbc.co.uk/news/story-1"
    assert same_page(a, "http://bbc.co.uk/news/story-1")
    assert not same_page(a, "https://www.bbc.co.uk/news/story-2")
    assert same_page("http://127.0.0.1:8765/a?id=2", "http://127.0.0.1:8765/a/?id=2")
    assert not same_page("http://127.0.0.1:8765/a", "http://127.0.0.1:9999/a")  # port counts
    assert not same_page("http://127.0.0.1:8765/a?id=2", "http://127.0.0.1:8765/a?id=3")
    assert same_page("http://127.0.0.1:8765/a?id=2", "http://127.0.0.1:8765/a?id=3", query=False)
    assert not same_page(None, None)


def test_hosts_and_domains_of_a_local_test_server():
    assert host_of("http://127.0.0.1:8765/x") == "127.0.0.1"
    assert host_of("https://www.bbc.co.uk/x", www=False) == "bbc.co.uk"
    assert in_domains("http://127.0.0.1:8765/x", ["127.0.0.1"])
    assert in_domains("https://news.bbc.co.uk/x", ["bbc.co.uk"])
    assert not in_domains("https://www.itv.co.uk/x", ["bbc.co.uk"])


def _page(links: str) -> str:
    text = " ".join(["The article's own text, long enough to be a body of running prose."] * 12)
    return (
        "<html><head><title>A story</title></head><body><article><h1>A story</h1>"
        f"<p>{text}</p><p>{text}</p>{links}</article></body></html>"
    )


def test_a_picture_linking_to_another_story_of_the_same_site_is_a_teaser():
    """bbc.co.uk: a picture linking to another bbc.co.uk story is a teaser; one linking to
    itv.co.uk (another site under the same suffix) is a source link and stays."""
    links = (
        '<p><a href="https://www.bbc.co.uk/news/other-story"><img src="/teaser.jpg" width="600"></a></p>'
        '<p><a href="https://www.itv.co.uk/shop"><img src="/product.jpg" width="600"></a></p>'
    )
    article = extract_article("https://www.bbc.co.uk/news/a-story", _page(links))
    urls = [i.url for i in article.images]
    assert "https://www.bbc.co.uk/product.jpg" in urls
    assert "https://www.bbc.co.uk/teaser.jpg" not in urls


def test_teasers_on_a_local_test_server_with_a_port():
    links = (
        '<p><a href="http://127.0.0.1:8765/news/other-story"><img src="/teaser.jpg" width="600"></a></p>'
        '<p><a href="http://127.0.0.1:8765/news/a-story/photos/1"><img src="/own.jpg" width="600"></a></p>'
    )
    article = extract_article("http://127.0.0.1:8765/news/a-story", _page(links))
    assert [i.url for i in article.images] == ["http://127.0.0.1:8765/own.jpg"]
    assert article.site == "127.0.0.1"


def test_a_com_au_site_is_named_by_its_registrable_name():
    html = (
        "<html><head><title>Storm hits the coast | SMH</title>"
        '<meta property="og:title" content="Storm hits the coast | smh"></head>'
        "<body><h1>Storm hits the coast</h1><p>Text.</p></body></html>"
    )
    article = extract_article("https://www.smh.com.au/national/storm.html", html)
    assert article.title == "Storm hits the coast"
    assert article.site == "smh.com.au"


def test_the_suffix_list_is_read_without_network_or_writing_a_cache(tmp_path):
    """A fresh interpreter with sockets refused and HOME in an empty folder: the registrable
    domain comes from the bundled list, and nothing is written there or into the checkout."""
    before = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=CHECKOUT, capture_output=True, text=True
    ).stdout
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from newsarchive.processors import registrable_domain\n"
        "print(registrable_domain('https://www.bbc.co.uk/news'))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(CHECKOUT)}
    env.pop("XDG_CACHE_HOME", None)
    env.pop("TLDEXTRACT_CACHE", None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bbc.co.uk"
    assert "network used" not in done.stderr
    assert list(tmp_path.iterdir()) == []
    after = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=CHECKOUT, capture_output=True, text=True
    ).stdout
    assert after == before
