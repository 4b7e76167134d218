"""Run the extractor over an evaluation dataset (see /work/shared/datasets/README.md) and
write predictions in the format of /work/shared/eval/README.md."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

from newsarchive.extract import ExtractionError, extract_article
from newsarchive.items import Article

logger = logging.getLogger(__name__)


def article_to_prediction(article: Article) -> dict[str, Any]:
    """An Article as one prediction record (without the page id)."""
    return {
        "title": article.title,
        "authors": list(article.authors),
        "published": article.published,
        "modified": article.modified,
        "description": article.description,
        "body": article.body_text,
        "language": article.language,
        "images": [
            {"url": i.url, "caption": i.caption, "credit": i.credit, "alt": i.alt}
            for i in article.images
        ],
        "videos": [
            {"provider": v.provider, "id": v.video_id, "url": v.url, "title": v.title}
            for v in article.videos
        ],
    }


def read_page(dataset_dir: Path, page: dict[str, Any]) -> bytes:
    data = (Path(dataset_dir) / page["file"]).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def predict_dataset(dataset_dir: Path, output: Path) -> int:
    """Extract every page of ``dataset_dir`` into ``output`` (JSON lines); returns the page count."""
    dataset_dir, output = Path(dataset_dir), Path(output)
    count = 0
    with (
        (dataset_dir / "pages.jsonl").open(encoding="utf-8") as pages,
        output.open("w", encoding="utf-8") as out,
    ):
        for line in pages:
            if not line.strip():
                continue
            page = json.loads(line)
            try:
                prediction = article_to_prediction(
                    extract_article(page["url"], read_page(dataset_dir, page))
                )
            except ExtractionError as exc:
                logger.warning("%s: %s", page["id"], exc)
                prediction = {}
            out.write(json.dumps({"id": page["id"], **prediction}, ensure_ascii=False) + "\n")
            count += 1
    return count
