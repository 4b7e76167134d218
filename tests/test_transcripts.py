"""Video transcripts (issue 14, part 3): caption tracks and timed text parsed from real YouTube
answers, fetched through a real Scrapy crawl from a local stand-in for YouTube, replayed from the
WARC files with the stand-in stopped, stored with full-text search and found by Datasette.

Fixtures: ``../shared/datasets/video-dev/captions/`` (a real innertube player answer and a real
timed-text document, from youtube-transcript-api's test assets) and
``../shared/datasets/video-dev/html/youtube-watch-GJLlxj_dtq8.html.gz`` (a real watch page). The
article that embeds the video is written here.

The last test opens what the crawl found in chromium (the search page and the "Said in videos"
canned query, served by ``newsarchive serve``); to refresh the README's screenshot of it, run

    NEWSARCHIVE_SCREENSHOTS=docs/screenshots python -m pytest tests/test_transcripts.py -k in_a_browser
"""
from __future__ import annotations

import gzip
import json
import socket
import threading
import xml.etree.ElementTree as ET
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlite_utils

from newsarchive.capture.writer import RotatingWarcWriter, exchange_key, index_warcs
from newsarchive.demo.server import SiteServer
from newsarchive.extract.transcripts import (
    TranscriptError,
    caption_tracks,
    initial_player_response,
    innertube_api_key,
    parse_player_answer,
    parse_timed_text,
    player_request_body,
)
from newsarchive.items import Transcript, TranscriptSegment
from newsarchive.store import Archive
from tests.conftest import FAST, REPO, run_newsarchive
from tests.test_browser import browser, screenshots, server, watched  # noqa: F401 (fixtures)
from tests.test_datasette import fetch_all, run

DATASETS = REPO.parent / "shared" / "datasets" / "video-dev"
PLAYER = DATASETS / "captions" / "innertube-player-GJLlxj_dtq8.json.gz"
TIMED_TEXT = DATASETS / "captions" / "timedtext-GJLlxj_dtq8.xml"
WATCH_PAGE = DATASETS / "html" / "youtube-watch-GJLlxj_dtq8.html.gz"
VIDEO = "GJLlxj_dtq8"
REAL_YOUTUBE = "https://www.youtube.com"
#: The languages the crawl asks for: two of the nine tracks' languages ("en" has two kinds).
LANGUAGES = ("en", "de")

pytestmark = pytest.mark.skipif(not PLAYER.exists(), reason="../shared/datasets/video-dev missing")


def player_answer() -> dict:
    return json.loads(gzip.decompress(PLAYER.read_bytes()))


def fixture_segments() -> list[tuple[float, float, str]]:
    """The timed-text fixture read with the standard library (not the code under test): the
    non-empty lines, unescaped, markup removed."""
    rows = []
    for element in ET.fromstring(TIMED_TEXT.read_bytes()):
        text = unescape(element.text or "")
        while "<" in text and ">" in text[text.index("<"):]:
            start = text.index("<")
            text = text[:start] + text[text.index(">", start) + 1:]
        if text.strip():
            rows.append((float(element.get("start")), float(element.get("dur")), " ".join(text.split())))
    return rows


# -- pure parsing -------------------------------------------------------------------------------


def test_player_answer_lists_every_caption_track():
    raw = player_answer()["captions"]["playerCaptionsTracklistRenderer"]["captionTracks"]
    tracks = caption_tracks(player_answer())
    assert len(tracks) == len(raw) > 1
    assert [t.language for t in tracks] == [r["languageCode"] for r in raw]
    assert [t.kind for t in tracks] == ["auto" if r.get("kind") == "asr" else "manual" for r in raw]
    assert {t.kind for t in tracks} == {"auto", "manual"}
    assert all("fmt=srv3" not in t.url and t.url.startswith(REAL_YOUTUBE + "/api/timedtext") for t in tracks)
    auto = next(t for t in tracks if t.kind == "auto")
    assert auto.name == next(r for r in raw if r.get("kind") == "asr")["name"]["runs"][0]["text"]


def test_player_answer_without_captions_or_unreadable():
    answer = player_answer()
    del answer["captions"]
    assert caption_tracks(answer) == []
    assert caption_tracks({"playabilityStatus": {"status": "LOGIN_REQUIRED"}}) == []
    with pytest.raises(TranscriptError):
        parse_player_answer(b"<html>not json</html>")
    with pytest.raises(TranscriptError):
        parse_player_answer(b"[1, 2]")


def test_timed_text_segments():
    segments = parse_timed_text(TIMED_TEXT.read_bytes())
    assert [(s.start_s, s.duration_s, s.text) for s in segments] == fixture_segments()
    assert len(segments) < TIMED_TEXT.read_text().count("<text ")  # the empty line is skipped
    assert all("<" not in s.text and "&" not in s.text for s in segments)
    for bad in (b"", b"<html><body>blocked</body></html>", b"not xml at all"):
        with pytest.raises(TranscriptError):
            parse_timed_text(bad)


def test_watch_page_gives_the_api_key_and_its_own_tracks():
    page = gzip.decompress(WATCH_PAGE.read_bytes()).decode("utf-8")
    key = innertube_api_key(page)
    assert key and key in page
    tracks = caption_tracks(initial_player_response(page) or {})
    assert tracks and {t.language for t in tracks} >= set(LANGUAGES)
    assert innertube_api_key("<html></html>") is None and initial_player_response("<html></html>") is None
    body = json.loads(player_request_body(VIDEO))
    assert body["videoId"] == VIDEO and body["context"]["client"]["clientName"] in ("ANDROID", "WEB")


def test_replay_index_tells_posts_apart_by_body(tmp_path):
    with RotatingWarcWriter(tmp_path) as writer:
        url = "http://127.0.0.1:1/youtubei/v1/player?key=k"
        for video in ("aaaaaaaaaaa", "bbbbbbbbbbb"):
            writer.write_exchange(url=url, method="POST", request_body=player_request_body(video),
                                  status=200, response_headers=[], body=video.encode())
        writer.write_exchange(url="http://127.0.0.1:1/page", status=200, response_headers=[], body=b"p")
    index = index_warcs(writer.files)
    assert url not in index  # a GET of the API URL is not answered by a POST's capture
    for video in ("aaaaaaaaaaa", "bbbbbbbbbbb"):
        ref = index[exchange_key(url, "POST", player_request_body(video))]
        assert ref.url == url
    keys = {exchange_key(url, "POST", player_request_body(v)) for v in ("aaaaaaaaaaa", "bbbbbbbbbbb")}
    assert len({index[k].id for k in keys}) == 2 and "http://127.0.0.1:1/page" in index


# -- store ----------------------------------------------------------------------------------


def transcript(segments: list[TranscriptSegment], kind="auto") -> Transcript:
    return Transcript(provider="youtube", video_id=VIDEO, video_url=f"{REAL_YOUTUBE}/watch?v={VIDEO}",
                      language="en", kind=kind, url="https://www.youtube.com/api/timedtext?v=x",
                      segments=segments)


def test_store_saves_replaces_and_searches_transcripts(tmp_path):
    first = [TranscriptSegment(0.0, 1.5, "The harbour reopened"), TranscriptSegment(1.5, 2.0, "on Monday")]
    with Archive(tmp_path / "a.db") as archive:
        assert archive.save_transcript(transcript(first)) == "new"
        assert archive.save_transcript(transcript(first)) == "unchanged"
        assert archive.save_transcript(transcript([*first[:1], TranscriptSegment(1.5, 2.0, "on Tuesday")])) == "changed"
        assert archive.save_transcript(transcript(first, kind="manual")) == "new"
        db = archive.db
        assert db["transcripts"].count == 2 and db["videos"].count == 1  # the video row is made
        row = db["transcripts"].get(f"youtube:{VIDEO}:en:auto")
        assert row["text"] == "The harbour reopened on Tuesday" and row["segment_count"] == 2
        assert [r["text"] for r in db.query(
            "select text from transcript_segments where transcript_id = ? order by position", [row["id"]])] == [
            "The harbour reopened", "on Tuesday"]
        found = list(db.query("select s.transcript_id, s.start_s from transcript_segments_fts f join "
                              "transcript_segments s on s.rowid = f.rowid where transcript_segments_fts match 'tuesday'"))
        assert found == [{"transcript_id": row["id"], "start_s": 1.5}]
        assert db.execute("select count(*) from transcripts_fts where transcripts_fts match 'monday'").fetchone()[0] == 1


# -- a crawl through a local stand-in for YouTube ------------------------------------------------


class YouTubeStandIn:
    """A local stand-in for www.youtube.com: the real watch page and player answer of
    GJLlxj_dtq8 with their timed-text URLs pointing here, and the real timed text."""

    def __init__(self, *, robots: bytes = b"User-agent: *\nDisallow: /private/\n") -> None:
        self.robots = robots
        self.requests: list[tuple[str, str, bytes]] = []
        handler = type("Handler", (_YouTubeHandler,), {"stand_in": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        page = gzip.decompress(WATCH_PAGE.read_bytes()).decode("utf-8")
        self.key = innertube_api_key(page)
        self.watch_page = self.here(page).encode("utf-8")
        self.player = self.here(json.dumps(player_answer())).encode("utf-8")

    def here(self, text: str) -> str:
        return text.replace(f"{REAL_YOUTUBE}/api/timedtext", f"{self.base}/api/timedtext")

    def __enter__(self) -> YouTubeStandIn:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _YouTubeHandler(BaseHTTPRequestHandler):
    stand_in: YouTubeStandIn

    def log_message(self, format, *args) -> None:
        pass

    def answer(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.stand_in.requests.append(("GET", self.path, b""))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/robots.txt":
            self.answer(200, self.stand_in.robots, "text/plain")
        elif parts.path == "/watch" and query.get("v") == [VIDEO]:
            self.answer(200, self.stand_in.watch_page, "text/html; charset=utf-8")
        elif parts.path == "/api/timedtext" and query.get("v") == [VIDEO] and "fmt" not in query:
            self.answer(200, TIMED_TEXT.read_bytes(), "text/xml; charset=UTF-8")
        else:
            self.answer(404, b"not here", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.stand_in.requests.append(("POST", self.path, body))
        try:
            asked = json.loads(body)
        except ValueError:
            asked = {}
        client = (asked.get("context") or {}).get("client") or {}
        if (urlsplit(self.path).path == "/youtubei/v1/player"
                and parse_qs(urlsplit(self.path).query).get("key") == [self.stand_in.key]
                and asked.get("videoId") == VIDEO and client.get("clientName") in ("ANDROID", "WEB")):
            self.answer(200, self.stand_in.player, "application/json; charset=UTF-8")
        else:
            self.answer(400, b'{"error": "bad request"}', "application/json")


ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Tablet review: the harbour office tests a new computer | Local News</title>
<meta property="og:title" content="Tablet review: the harbour office tests a new computer">
<meta property="article:published_time" content="2024-05-02T08:00:00Z">
</head><body><article>
<h1>Tablet review: the harbour office tests a new computer</h1>
<p>The harbour office spent a week with a small tablet computer to see whether it could replace the
laptops its inspectors carry along the quays every morning, in rain and in wind.</p>
<p>Inspectors said the screen was bright enough to read outdoors and that the keyboard cover was
comfortable for writing short reports, although the battery ran low by the end of a long shift.</p>
<iframe width="560" height="315" src="https://www.youtube.com/embed/GJLlxj_dtq8" title="Surface Go Review"
 allowfullscreen></iframe>
<p>The video above is the review the office watched before the trial. The harbour master will
decide next month whether to buy twenty of the tablets for the inspection teams.</p>
</article></body></html>
"""


def crawl_args(site: str, youtube: str) -> list[str]:
    return [*FAST, "-a", "site=local", "-a", f"start_urls={site}/news/tablet-review.html",
            "-s", "NEWSARCHIVE_TRANSCRIPTS=True", "-s", f"NEWSARCHIVE_YOUTUBE_BASE={youtube}",
            "-s", f"NEWSARCHIVE_TRANSCRIPT_LANGUAGES={','.join(LANGUAGES)}"]


TRANSCRIPTS = "select id, video_id, language, kind, name, text, segment_count, source_url from transcripts order by id"
SEGMENTS = "select transcript_id, position, start_s, duration_s, text from transcript_segments order by transcript_id, position"


def rows(db: sqlite_utils.Database, sql: str) -> list[dict]:
    return [dict(r) for r in db.query(sql)]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transcripts")
    (folder / "site" / "news").mkdir(parents=True)
    (folder / "site" / "news" / "tablet-review.html").write_text(ARTICLE, encoding="utf-8")
    with SiteServer(folder / "site") as site, YouTubeStandIn() as youtube:
        result = run_newsarchive("crawl", "news", "--db", str(folder / "live.db"),
                                 *crawl_args(site.base_url, youtube.base))
        requests = list(youtube.requests)
        bases = (site.base_url, youtube.base)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, bases, requests


def test_live_crawl_stores_each_track_with_its_segments(live):
    folder, (_site, youtube), requests = live
    db = sqlite_utils.Database(folder / "live.db")
    article = next(db.query("select id, title from articles"))
    assert [r["video_id"] for r in db.query("select video_id from article_videos")] == [f"youtube:{VIDEO}"]
    wanted = [t for t in player_answer()["captions"]["playerCaptionsTracklistRenderer"]["captionTracks"]
              if t["languageCode"] in LANGUAGES]
    expected_ids = sorted(f"youtube:{VIDEO}:{t['languageCode']}:{'auto' if t.get('kind') == 'asr' else 'manual'}"
                          for t in wanted)
    transcripts = rows(db, TRANSCRIPTS)
    assert [t["id"] for t in transcripts] == expected_ids and len(expected_ids) == 3
    expected = fixture_segments()
    for t in transcripts:
        assert t["text"] == " ".join(text for _, _, text in expected)
        assert t["segment_count"] == len(expected) and t["source_url"].startswith(f"{youtube}/api/timedtext")
        assert "fmt=srv3" not in t["source_url"]
    segments = rows(db, SEGMENTS)
    assert [(s["start_s"], s["duration_s"], s["text"]) for s in segments if s["transcript_id"] == expected_ids[0]] == expected
    # The flow: watch page, one player POST naming the video, one timed-text GET per track; robots.txt read.
    posts = [json.loads(body) for method, _, body in requests if method == "POST"]
    assert [p["videoId"] for p in posts] == [VIDEO]
    assert sum(1 for m, path, _ in requests if m == "GET" and path.startswith("/api/timedtext")) == 3
    assert any(path == "/robots.txt" for _, path, _ in requests)
    # Every answer is captured; each transcript names the capture of its timed text.
    captured = {r["id"]: r["url"] for r in db.query("select id, url from captures")}
    assert all(captured[t["capture_id"]] == t["source_url"]
               for t in rows(db, "select capture_id, source_url from transcripts"))
    assert any("/youtubei/v1/player" in url for url in captured.values())
    assert rows(db, "select * from failures") == []
    assert article["title"].startswith("Tablet review")


def test_replay_gives_the_same_transcripts_offline(live, tmp_path):
    folder, (site, youtube), _ = live
    for base in (site, youtube):  # both servers are down: only the WARC files can answer
        host, port = base.removeprefix("http://").split(":")
        with socket.socket() as sock:
            assert sock.connect_ex((host, int(port))) != 0
    replay_db = tmp_path / "replay.db"
    result = run_newsarchive("crawl", "news", "--db", str(replay_db), *crawl_args(site, youtube),
                             "--replay", str(folder / "captures" / "*.warc.gz"))
    assert result.returncode == 0, result.stderr[-3000:]
    live_db, replayed = sqlite_utils.Database(folder / "live.db"), sqlite_utils.Database(replay_db)
    assert rows(replayed, TRANSCRIPTS) == rows(live_db, TRANSCRIPTS) != []
    assert rows(replayed, SEGMENTS) == rows(live_db, SEGMENTS)
    assert rows(replayed, "select * from failures") == []
    stats = json.loads(next(replayed.query("select stats from crawls"))["stats"])
    assert stats.get("newsarchive/replay/missing") is None and stats["newsarchive/transcripts_new"] == 3


def test_search_page_and_canned_query_find_what_is_said(live):
    folder, _, _ = live
    db_path = folder / "live.db"
    sqlite_utils.Database(db_path).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    word = "shorter"  # said in the third line of the fixture, at 5.7 s
    start = next(s for s, _, text in fixture_segments() if word in text)
    moment = f"https://www.youtube.com/watch?v={VIDEO}&amp;t={int(start)}s"
    search, canned = run(fetch_all(db_path, [f"/-/search?q={word}", f"/live/said_in_videos.json?q={word}&_shape=objects"]))
    assert search.status_code == 200 and canned.status_code == 200, (search.text[:500], canned.text[:500])
    assert 'na-hit-transcript' in search.text and "<mark>shorter</mark>" in search.text
    assert moment in search.text and "Tablet review" in search.text
    assert "3 transcripts" in search.text
    found = canned.json()["rows"]
    assert len(found) == 3  # the line, in each of the three tracks
    for row in found:
        assert row["moment"] == moment.replace("&amp;", "&") and row["starts_at_s"] == start
        assert "[shorter]" in row["snippet"]
        assert [a["title"] for a in json.loads(row["articles"])] == [
            "Tablet review: the harbour office tests a new computer"]
    nothing = run(fetch_all(db_path, ["/live/said_in_videos.json?q=&_shape=objects"]))[0]
    assert nothing.status_code == 200 and nothing.json()["rows"] == []


def test_robots_txt_refusing_the_player_api_leaves_a_failure_and_the_watch_page_tracks(tmp_path):
    """robots.txt is obeyed for YouTube as for any site: a refused player request is a failures
    row (stage "transcript"), never a failure of the article; the watch page's own caption
    tracks are fetched instead."""
    (tmp_path / "site" / "news").mkdir(parents=True)
    (tmp_path / "site" / "news" / "tablet-review.html").write_text(ARTICLE, encoding="utf-8")
    robots = b"User-agent: *\nDisallow: /youtubei/\n"
    with SiteServer(tmp_path / "site") as site, YouTubeStandIn(robots=robots) as youtube:
        result = run_newsarchive("crawl", "news", "--db", str(tmp_path / "a.db"),
                                 *crawl_args(site.base_url, youtube.base))
        requests = list(youtube.requests)
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(tmp_path / "a.db")
    assert not [r for r in requests if r[0] == "POST"]
    failures = rows(db, "select url, stage, reason from failures")
    assert len(failures) == 1 and failures[0]["stage"] == "transcript"
    assert "/youtubei/v1/player" in failures[0]["url"] and "robots.txt" in failures[0]["reason"]
    assert db["articles"].count == 1
    assert json.loads(next(db.query("select stats from crawls"))["stats"]).get("newsarchive/pages_failed") is None
    page = gzip.decompress(WATCH_PAGE.read_bytes()).decode("utf-8")
    from_page = [t for t in caption_tracks(initial_player_response(page) or {}) if t.language in LANGUAGES]
    assert sorted(r["id"] for r in db.query("select id from transcripts")) == sorted(
        f"youtube:{VIDEO}:{t.language}:{t.kind}" for t in from_page)
    assert all("exp=xpe" in r["source_url"] for r in db.query("select source_url from transcripts"))


def test_reextract_reads_transcripts_again_from_the_captures(live, tmp_path):
    folder, _, _ = live
    source = sqlite_utils.Database(folder / "live.db")
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_path = tmp_path / "old.db"
    db_path.write_bytes((folder / "live.db").read_bytes())
    db = sqlite_utils.Database(db_path)
    expected = rows(db, SEGMENTS)
    # What an older parser would have stored for one track: the markup left in a line.
    tid = f"youtube:{VIDEO}:en:auto"
    db.execute("update transcript_segments set text = 'this is <i>not</i> the original transcript' "
               "where transcript_id = ? and position = 1", [tid])
    db.conn.commit()
    result = run_newsarchive("reextract", "--db", str(db_path), "--warc-dir", str(folder / "captures"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows(db, SEGMENTS) == expected
    stats = json.loads(next(db.query("select stats from crawls order by id desc limit 1"))["stats"])
    assert stats["newsarchive/reextract/transcripts_changed"] == 1
    assert stats["newsarchive/reextract/transcripts_unchanged"] == 2


def test_article_page_links_the_transcripts_of_its_video(live):
    folder, _, _ = live
    db_path = folder / "live.db"
    aid = next(sqlite_utils.Database(db_path).query("select id from articles"))["id"]
    (article, segments) = run(fetch_all(db_path, [
        f"/live/articles/{aid}", f"/live/transcript_segments.json?transcript_id=youtube:{VIDEO}:en:auto&_sort=position&_shape=objects"]))
    assert article.status_code == 200 and "Said in it:" in article.text
    assert "en (auto)" in article.text and "de (manual)" in article.text
    assert [r["text"] for r in segments.json()["rows"]] == [text for _, _, text in fixture_segments()]


# -- in a real browser ---------------------------------------------------------------------------


#: The screenshot's viewport: the README's width, and a height below the page's so it is cut to the page.
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 400}


@pytest.fixture(scope="module")
def archive_db(live) -> Path:
    """What tests.test_browser's ``server`` fixture serves: the live crawl's archive."""
    db_path = live[0] / "live.db"
    sqlite_utils.Database(db_path).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db_path


def test_what_is_said_in_a_browser(server, watched, archive_db, screenshots):  # noqa: F811
    """A journalist searches for a word said in the video: the search page and the canned query
    show the video, the moment it is said and the article that embeds it; nothing is asked of any
    host but 127.0.0.1 (every request the pages make is recorded, not only let through)."""
    word = "shorter"  # said in the third line of the fixture
    start = int(next(s for s, _, text in fixture_segments() if word in text))
    moment = f"https://www.youtube.com/watch?v={VIDEO}&t={start}s"
    title = "Tablet review: the harbour office tests a new computer"
    page, asked = watched.page, []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{server}/-/search?q={word}")
    hit = page.locator(".na-hit-transcript").first
    hit.wait_for()
    assert page.locator(".na-hit-transcript").count() == 3  # one hit for each track
    assert hit.locator("mark").first.inner_text().lower() == word
    assert hit.locator("a.na-moment").get_attribute("href") == moment
    assert "Surface Go" in hit.locator("a.na-title").inner_text()
    article_id = next(sqlite_utils.Database(archive_db).query("select id from articles"))["id"]
    embedding = hit.locator("a", has_text=title)
    assert embedding.get_attribute("href") == f"/{archive_db.stem}/articles/{article_id}"
    page.set_viewport_size(SCREENSHOT_VIEWPORT)  # the page's own height, without blank space below
    page.screenshot(path=str(screenshots / "transcripts.png"), full_page=True)
    assert (screenshots / "transcripts.png").stat().st_size > 0
    page.goto(f"{server}/{archive_db.stem}/said_in_videos?q={word}")
    table = page.locator("table.rows-and-columns")
    table.wait_for()
    lines = table.locator("tbody tr")
    assert lines.count() == 3  # the line, in each of the three tracks
    for number in range(lines.count()):
        line = lines.nth(number)
        assert line.locator(f'a[href="{moment}"]').count() == 1
        assert "Surface Go" in line.locator("td.col-video").inner_text()
        assert title in line.locator("td.col-articles").inner_text()
        # The canned query's [ ] around the match are shown marked.
        assert line.locator("td.col-snippet mark").inner_text() == word
    outside = [url for url in asked if not url.startswith(("http://127.0.0.1", "data:"))]
    assert asked and outside == []
    assert watched.errors == [] and watched.dialogs == []
