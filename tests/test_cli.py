"""The newsarchive command itself: snapshot for publishing, serve's checks, extract on one file."""
from __future__ import annotations

import json
import sqlite3

from newsarchive.items import Article
from newsarchive.store import Archive
from tests.conftest import REPO, run_newsarchive


def test_snapshot_is_a_single_consistent_file(tmp_path):
    db_path, copy = tmp_path / "live.db", tmp_path / "published.db"
    with Archive(db_path) as archive:
        archive.save_article(Article(url="https://example.org/a-b-c", title="Flood defences hold",
                                     body_text="The river rose overnight but the new walls held."))
    result = run_newsarchive("snapshot", str(copy), "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "published.db-wal").exists()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"
        assert conn.execute("select title from articles").fetchall() == [("Flood defences hold",)]
    again = run_newsarchive("snapshot", str(copy), "--db", str(db_path))
    assert again.returncode == 1 and "exists" in again.stderr


def test_serve_refuses_a_missing_archive(tmp_path):
    result = run_newsarchive("serve", "--db", str(tmp_path / "nothing.db"))
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_extract_one_file_prints_the_article_as_json():
    # A real Guardian page from ../shared/datasets/fundus-dev, bundled with the demo site.
    page = REPO / "newsarchive" / "demo" / "site" / "news" / "valencia-fire-death-toll.html.gz"
    result = run_newsarchive("extract", str(page))
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == "Death toll in Valencia fire rises to 10 as remains of last missing person found"
    assert article["published"] == "2024-02-24T11:42:23+00:00"
    lead = article["images"][0]
    assert lead["credit"] == "Eva Manez/Reuters" and (lead["photographer"], lead["agency"]) == ("Eva Manez", "Reuters")
