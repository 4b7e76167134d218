"""WARC captures: a real crawl of the demo site writes every response with its request to
rotating gzip WARC files that warcio's own checker and indexer accept, and the archive's
captures rows, articles and pictures point at the right records."""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from newsarchive.capture.writer import RotatingWarcWriter, index_warcs, iter_captures, read_capture
from newsarchive.demo.server import DEMO_SITE, SiteServer
from tests.conftest import FAST, run_newsarchive

MAX_BYTES = 150_000


def warcio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warcio.cli", *args], capture_output=True, text=True, timeout=120)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capture")
    with SiteServer(DEMO_SITE) as server:
        base = server.base_url
        result = run_newsarchive(
            "crawl", "news", "--db", str(folder / "a.db"), *FAST, "-s", "NEWSARCHIVE_IMAGE_DOMAINS=127.0.0.1",
            "-s", f"NEWSARCHIVE_WARC_DIR={folder / 'warcs'}", "-s", f"NEWSARCHIVE_WARC_MAX_BYTES={MAX_BYTES}",
            "-a", "site=demo", "-a", f"robots={base}/robots.txt", "-a", f"feeds={base}/feed.rss",
            "-a", f"sections={base}/", "-a", "video_patterns=^/video/")
        requests = [r[0] if isinstance(r, tuple) else r for r in server.requests]  # (path, headers)
    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted((folder / "warcs").glob("*.warc.gz"))
    return folder, base, requests, files, sqlite_utils.Database(folder / "a.db")


def test_warcio_check_and_index_accept_the_files(crawl):
    folder, _base, _requests, files, db = crawl
    assert len(files) > 1, "files rotate at NEWSARCHIVE_WARC_MAX_BYTES"
    check = warcio("check", "-v", *map(str, files))
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "digest pass" in check.stdout and "fail" not in check.stdout.replace("digest pass", "")
    index = warcio("index", "-f", "warc-type,warc-target-uri,warc-record-id,offset,length,filename", *map(str, files))
    assert index.returncode == 0, index.stderr
    entries = [json.loads(line) for line in index.stdout.splitlines()]
    types = Counter(e["warc-type"] for e in entries)
    assert types["warcinfo"] == len(files) and types["response"] == types["request"] == db["captures"].count
    responses = {(Path(e["filename"]).name, int(e["offset"])): e for e in entries if e["warc-type"] == "response"}
    for row in db.query("select * from captures"):
        entry = responses[(row["warc_file"], row["warc_offset"])]
        assert entry["warc-record-id"] == f"<{row['id']}>" and entry["warc-target-uri"] == row["url"]
        assert int(entry["length"]) == row["warc_length"]
    for path in files:  # each file starts with its warcinfo; a capture is never split
        assert path.stat().st_size < MAX_BYTES + 300_000
        with path.open("rb") as fh:
            assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"


def test_every_response_is_captured_with_its_request(crawl):
    _folder, base, requests, files, db = crawl
    captured = Counter(r["url"].removeprefix(base) for r in db.query("select url from captures"))
    assert captured == Counter(requests), "every request the site answered, and nothing else"
    for path in ("/robots.txt", "/feed.rss", "/sitemap.xml", "/", "/media/harbour-cranes.jpg", "/media/grain-silo.jpg"):
        assert captured[path] >= 1, path
    assert not any("related-thumb" in p for p in requests), "a related-story teaser is not the article's picture"

    ids = {r["id"] for r in db.query("select id from captures")}
    for path in files:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "request":
                    assert record.rec_headers.get_header("WARC-Concurrent-To").strip("<>") in ids
                    assert record.http_headers.get_header("User-Agent").startswith("newsarchive/")
                    assert record.http_headers.get_header("Host") == urlsplit(base).netloc
                    assert record.rec_headers.get_header("WARC-Date")


def test_records_hold_the_bytes_the_network_gave(crawl):
    _folder, _base, _requests, files, db = crawl
    folder = files[0].parent
    for row in db.query("select * from captures"):
        stored = read_capture(folder / row["warc_file"], row["warc_offset"])
        assert stored.record_id == row["id"] and stored.status == row["status"] == 200
        assert sha1_b32(stored.body) == row["payload_digest"]
        assert row["warc_date"].endswith("Z")
    # A gzip-encoded page is stored encoded, with its Content-Encoding; decoding gives the page.
    row = next(db.query("select * from captures where url like '%valencia-fire-death-toll%'"))
    stored = read_capture(folder / row["warc_file"], row["warc_offset"])
    assert ("Content-Encoding", "gzip") in stored.headers and stored.body[:2] == b"\x1f\x8b"
    assert b"Valencia" in gzip.decompress(stored.body)
    assert read_capture(folder / row["warc_file"], row["warc_offset"], decode=True).body == gzip.decompress(stored.body)
    picture = (DEMO_SITE / "media" / "grain-silo.jpg").read_bytes()
    row = next(db.query("select * from captures where url like '%grain-silo.jpg'"))
    assert read_capture(folder / row["warc_file"], row["warc_offset"]).body == picture
    assert row["content_type"] == "image/jpeg"


def test_articles_and_pictures_link_to_their_capture(crawl):
    _folder, _base, _requests, _files, db = crawl
    articles = list(db.query("select a.url, c.url as captured, c.content_type from articles a "
                             "left join captures c on c.id = a.capture_id"))
    assert len(articles) == 8
    assert all(a["captured"] == a["url"] and a["content_type"].startswith("text/html") for a in articles)
    pictures = list(db.query("select i.url, c.url as captured from images i join captures c on c.id = i.capture_id"))
    assert sorted(p["url"].rsplit("/", 1)[-1] for p in pictures) == ["grain-silo.jpg", "harbour-cranes.jpg"]
    assert all(p["url"] == p["captured"] for p in pictures)
    crawl_id = next(db.query("select max(id) as id from crawls"))["id"]
    assert {r["crawl_id"] for r in db.query("select crawl_id from captures")} == {crawl_id}


def test_writer_rotates_and_reads_back(tmp_path):
    body = gzip.compress(b"<html><body>" + b"x" * 5000 + b"</body></html>")
    with RotatingWarcWriter(tmp_path, max_bytes=500) as writer:
        refs = [writer.write_exchange(url=f"https://example.com/p{i}?a=1", request_headers=[("Host", "example.com")],
                                      status=200, body=body,
                                      response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                                                        ("Transfer-Encoding", "chunked")])
                for i in range(3)]
    assert len(writer.files) == 3 and {r.warc_file for r in refs} == {p.name for p in writer.files}
    assert warcio("check", *map(str, writer.files)).returncode == 0
    stored = read_capture(tmp_path / refs[1].warc_file, refs[1].offset)
    assert stored.url == "https://example.com/p1?a=1" and stored.body == body
    assert all(k.lower() != "transfer-encoding" for k, _ in stored.headers)  # the body is stored de-chunked
    assert [c.id for p in writer.files for c in iter_captures(p)] == [r.id for r in refs]
    assert set(index_warcs(writer.files)) == {r.url for r in refs}


def _deflate_block_type(path, offset: int) -> int:
    """The BTYPE of the first deflate block of the gzip member at ``offset`` (RFC 1951: 0 stored,
    1 fixed Huffman, 2 dynamic Huffman); the members written here have a 10-byte gzip header."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        head = fh.read(11)
    assert head[:3] == b"\x1f\x8b\x08" and head[3] == 0  # gzip, deflate, no optional fields
    return (head[10] >> 1) & 0b11


def test_an_encoded_body_is_stored_not_compressed_again(tmp_path):
    """Compressing a gzip body again gains nothing: its record's member is stored (level 0).
    A plain body is compressed; both read back byte for byte."""
    page = b"<html><body>" + b"<p>The same sentence, again.</p>" * 300 + b"</body></html>"
    with RotatingWarcWriter(tmp_path) as writer:
        encoded = writer.write_exchange(url="https://example.com/gz", status=200, body=gzip.compress(page),
                                        response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
        plain = writer.write_exchange(url="https://example.com/plain", status=200, body=page,
                                      response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "identity")])
    path = tmp_path / encoded.warc_file
    assert _deflate_block_type(path, encoded.offset) == 0
    assert _deflate_block_type(path, plain.offset) in (1, 2) and plain.length < len(page) / 10
    assert gzip.decompress(read_capture(path, encoded.offset).body) == page
    assert read_capture(path, plain.offset).body == page
    assert warcio("check", str(path)).returncode == 0
