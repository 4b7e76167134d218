"""Scrapyd: a real scrapyd on 127.0.0.1, the project deployed with scrapyd-deploy, a crawl
scheduled through schedule.json, its articles found in the archive."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlite_utils

from tests.conftest import REPO, free_port


def _api(base: str, endpoint: str, data: list[tuple[str, str]] | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(f"{base}/{endpoint}", data=body, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path):
    port = free_port()
    home = tmp_path / "scrapyd"
    home.mkdir()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.5\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n")
    proc = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _api(base, "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("scrapyd did not start")
        yield base, home
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deploy_schedule_and_archive(tmp_path, scrapyd, bad_site):
    base, home = scrapyd
    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "tests", "*.db", "*.egg-info", "build", "__pycache__"))
    cfg = project / "scrapy.cfg"
    cfg.write_text(cfg.read_text() + f"\n[deploy:test]\nurl = {base}/\nproject = newsarchive\n")
    deploy = subprocess.run([sys.executable, "-m", "scrapyd_client.deploy", "test", "-p", "newsarchive"],
                            cwd=project, capture_output=True, text=True, timeout=180)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "news" in _api(base, "listspiders.json?project=newsarchive")["spiders"]

    db_path = tmp_path / "scrapyd.db"
    job = _api(base, "schedule.json", [
        ("project", "newsarchive"), ("spider", "news"), ("site", "scheduled"),
        ("feeds", f"{bad_site.base_url}/feed.rss"),
        ("setting", f"NEWSARCHIVE_DB={db_path}"), ("setting", "AUTOTHROTTLE_ENABLED=False"),
        ("setting", "DOWNLOAD_DELAY=0"),
    ])
    assert job["status"] == "ok", job
    for _ in range(600):
        jobs = _api(base, "listjobs.json?project=newsarchive")
        if any(j["id"] == job["jobid"] for j in jobs["finished"]):
            break
        time.sleep(0.2)
    else:
        logs = "\n".join(p.read_text() for p in (home / "logs").rglob("*.log"))
        pytest.fail(f"the scheduled crawl did not finish:\n{logs[-3000:]}")
    db = sqlite_utils.Database(db_path)
    titles = sorted(r["title"] for r in db.query("select title from articles where site = 'scheduled'"))
    assert "Harbour authority approves night shipping" in titles
    crawl = next(db.query("select * from crawls"))
    assert crawl["spider"] == "news" and crawl["outcome"] == "finished"
