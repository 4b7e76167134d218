"""Extraction in worker processes (newsarchive/pool.py): real crawls of a local site whose pages
are the bad_input site's two written articles, plus pages that kill or hang their worker (by
their names, through the test hook tests/extract_hooks.py)."""
from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
import sqlite_utils

from newsarchive.demo.server import SiteServer
from newsarchive.pool import (
    ExtractCrashed,
    ExtractPool,
    ExtractTimeout,
    PoolSettingError,
    _libc,
    give_back_free_memory,
)
from tests.conftest import FAST, SITES, run_newsarchive
from tests.extract_hooks import PID_DIR_VARIABLE

HOOK = "tests.extract_hooks.recording_extract"
GOOD = SITES / "bad_input"
#: Seconds a page may take in the tests (a written page takes milliseconds).
TEST_TIMEOUT = 3


@pytest.fixture
def misbehaving_site(tmp_path):
    """Two real articles, a page that kills its worker and one that hangs it."""
    root = tmp_path / "site"
    shutil.copytree(GOOD / "pictures", root / "pictures")
    for name in ("good-1.html", "good-2.html"):
        shutil.copy(GOOD / name, root / name)
    for name in ("crash.html", "hang.html"):
        shutil.copy(GOOD / "good-1.html", root / name)
    with SiteServer(root) as server:
        yield server


def crawl(db_path: Path, server: SiteServer, pages: list[str], *settings: str, pid_dir: Path | None = None):
    urls = ",".join(f"{server.base_url}/{page}" for page in pages)
    env_before = os.environ.get(PID_DIR_VARIABLE)
    if pid_dir is not None:
        os.environ[PID_DIR_VARIABLE] = str(pid_dir)
    try:
        return run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, "-a", "site=pooltest",
                               "-a", f"start_urls={urls}", "-s", f"NEWSARCHIVE_EXTRACT_FUNCTION={HOOK}", *settings)
    finally:
        if env_before is None:
            os.environ.pop(PID_DIR_VARIABLE, None)
        else:
            os.environ[PID_DIR_VARIABLE] = env_before


def test_pages_are_extracted_in_worker_processes(tmp_path, misbehaving_site):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    result = crawl(tmp_path / "a.db", misbehaving_site, ["good-1.html", "good-2.html"],
                   "-s", "NEWSARCHIVE_EXTRACT_WORKERS=2", pid_dir=pid_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [f.read_text().split() for f in pid_dir.iterdir()]
    assert sorted(r[2].rsplit("/", 1)[-1] for r in records) == ["good-1.html", "good-2.html"]
    crawler_pids = {int(r[1]) for r in records}
    worker_pids = {int(r[0]) for r in records}
    assert len(crawler_pids) == 1 and not worker_pids & crawler_pids  # workers are children of the crawl
    db = sqlite_utils.Database(tmp_path / "a.db")
    assert sorted(r["title"] for r in db.query("select title from articles")) == [
        "Harbour authority approves night shipping", "Library reopens with a quieter reading room"]


def test_a_page_that_kills_or_hangs_its_worker_is_a_failure_and_the_crawl_goes_on(tmp_path, misbehaving_site):
    result = crawl(tmp_path / "b.db", misbehaving_site, ["crash.html", "good-1.html", "hang.html", "good-2.html"],
                   "-s", "NEWSARCHIVE_EXTRACT_WORKERS=2", "-s", f"NEWSARCHIVE_EXTRACT_TIMEOUT={TEST_TIMEOUT}")
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(tmp_path / "b.db")
    assert sorted(r["title"] for r in db.query("select title from articles")) == [
        "Harbour authority approves night shipping", "Library reopens with a quieter reading room"]
    failures = {r["url"].rsplit("/", 1)[-1]: (r["stage"], r["reason"]) for r in db.query("select * from failures")}
    assert set(failures) == {"crash.html", "hang.html"}
    assert failures["crash.html"][0] == "extract" and "crashed the extraction worker" in failures["crash.html"][1]
    assert failures["hang.html"] == ("extract", f"extraction took longer than {TEST_TIMEOUT} s "
                                                "(NEWSARCHIVE_EXTRACT_TIMEOUT); the worker was stopped")


def test_the_pool_recovers_after_a_crash_and_runs_pages_in_its_workers():
    page = (GOOD / "good-1.html").read_bytes()

    async def run(pool: ExtractPool):
        crash = asyncio.ensure_future(pool.extract("http://127.0.0.1/crash.html", page))
        good = [asyncio.ensure_future(pool.extract(f"http://127.0.0.1/{n}.html", page)) for n in range(3)]
        outcomes = await asyncio.gather(crash, *good, return_exceptions=True)
        return outcomes, pool.pids, await pool.extract("http://127.0.0.1/after.html", page)

    with ExtractPool(workers=2, timeout=TEST_TIMEOUT, function=HOOK) as pool:
        outcomes, pids, after = asyncio.run(run(pool))
    assert isinstance(outcomes[0], ExtractCrashed)
    assert [a.title for a in outcomes[1:]] == ["Harbour authority approves night shipping"] * 3
    assert after.title == "Harbour authority approves night shipping"
    assert pids and os.getpid() not in pids


def test_a_hung_page_times_out_in_process_pool():
    with ExtractPool(workers=1, timeout=1, function=HOOK) as pool:
        with pytest.raises(ExtractTimeout):
            asyncio.run(pool.extract("http://127.0.0.1/hang.html", b"<html></html>"))


def test_bad_pool_settings_are_refused():
    with pytest.raises(PoolSettingError, match="NEWSARCHIVE_EXTRACT_WORKERS"):
        ExtractPool(workers=-1)
    with pytest.raises(PoolSettingError, match="cannot import"):
        ExtractPool(function="newsarchive.no_such_module.extract")


def test_per_page_costs_stay_cut(tmp_path):
    """synchronous=NORMAL under WAL; no pipeline normalises again what extraction normalised."""
    from newsarchive.crawl import project_settings
    from newsarchive.store import Archive

    with Archive(tmp_path / "a.db") as archive:
        assert archive.db.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert archive.db.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL
    pipelines = [path for path, order in project_settings().getwithbase("ITEM_PIPELINES").items() if order is not None]
    assert pipelines and not any("normaliz" in str(path).lower() for path in pipelines)


def test_workers_stop_when_the_crawl_is_killed(tmp_path):
    """A crawl killed with SIGKILL leaves no extraction worker behind."""
    import signal
    import subprocess
    import sys
    import time

    script = ("import asyncio, sys\n"
              "from newsarchive.pool import ExtractPool\n"
              "pool = ExtractPool(workers=2, function='tests.extract_hooks.recording_extract')\n"
              "async def main():\n"
              "    await pool.extract('http://127.0.0.1/good.html', sys.argv[1].encode())\n"
              "    print(' '.join(map(str, pool.pids)), flush=True)\n"
              "    await asyncio.sleep(600)\n"
              "asyncio.run(main())\n")
    page = (GOOD / "good-1.html").read_text()
    crawl = subprocess.Popen([sys.executable, "-c", script, page], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1])
    pids = [int(p) for p in crawl.stdout.readline().split()]
    assert len(pids) == 2 and crawl.pid not in pids
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.2)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _rss_kib() -> int:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_the_crawl_process_gives_freed_memory_back():
    """What a crawl's process holds for pages in flight goes back to the system once freed:
    glibc by itself keeps freed blocks below the top of its heap (the crawl calls this once a
    second, newsarchive/extension.py)."""
    if not hasattr(_libc(), "malloc_trim"):
        pytest.skip("not glibc")
    blocks = [bytearray(64 * 1024) for _ in range(1200)]  # 75 MiB in heap-sized blocks
    keeper = bytearray(64 * 1024)  # above them in the heap, so that the top is not free
    held = _rss_kib()
    del blocks
    before = _rss_kib()
    assert held - before < 10 * 1024, (held, before)  # freed, and still resident
    give_back_free_memory()
    assert before - _rss_kib() > 50 * 1024, (held, before)
    del keeper
