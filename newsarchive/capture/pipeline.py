"""Item pipeline: a replayed request that the captures don't hold is a ``failures`` row with
stage "replay" (the spider's errback reports it as an ignored request; this renames it)."""
from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsarchive.items import CrawlFailure


class ReplayFailuresPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReplayFailuresPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        replay = getattr(self.crawler, "newsarchive_replay", None)
        if (replay is not None and isinstance(item, CrawlFailure) and item.stage == "ignored"
                and item.url in replay.missing):
            item.stage = "replay"
            item.reason = "not in the captures"
        return item
