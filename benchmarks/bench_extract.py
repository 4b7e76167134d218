#!/usr/bin/env python3
"""Speed of newsarchive.extract against trafilatura, on the same pages in the same run.

    /work/venv/bin/python benchmarks/bench_extract.py [DATASET_DIR] [--rounds N]

Both sides get the page as bytes, as a crawler has it. trafilatura runs as
``bare_extraction(html, url=..., with_metadata=True)``. Prints pages/s for each and the ratio
(newsarchive / trafilatura; the target is >= 0.8).
"""
from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aeb-dev"


def load(dataset: Path) -> list[tuple[str, bytes]]:
    pages = []
    for line in (dataset / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            page = json.loads(line)
            pages.append((page["url"], gzip.decompress((dataset / page["file"]).read_bytes())))
    return pages


def run(func, pages, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for url, html in pages:
            try:
                func(url, html)
            except Exception:  # noqa: BLE001 - a failure still costs its time
                pass
        best = min(best, time.perf_counter() - start)
    return len(pages) / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--rounds", type=int, default=2, help="best of N rounds (default 2)")
    args = ap.parse_args()

    import trafilatura

    from newsarchive.extract import extract_article

    pages = load(args.dataset)
    # warm up imports and lazily loaded models on both sides
    for url, html in pages[:3]:
        trafilatura.bare_extraction(html, url=url, with_metadata=True)
        extract_article(url, html)

    traf = run(lambda u, h: trafilatura.bare_extraction(h, url=u, with_metadata=True), pages, args.rounds)
    ours = run(lambda u, h: extract_article(u, h), pages, args.rounds)
    print(f"dataset          {args.dataset.name} ({len(pages)} pages, best of {args.rounds})")
    print(f"trafilatura      {traf:8.1f} pages/s")
    print(f"newsarchive      {ours:8.1f} pages/s")
    print(f"ratio            {ours / traf:8.2f}  (target >= 0.80)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
