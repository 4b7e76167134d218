"""Scrapy settings for newsarchive. Polite by default; every value can be overridden with -s."""
from __future__ import annotations

from newsarchive import __version__

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["newsarchive.spiders"]
NEWSPIDER_MODULE = "newsarchive.spiders"

#: Where the crawl writes (``-s NEWSARCHIVE_DB=path`` or ``newsarchive crawl --db path``).
NEWSARCHIVE_DB = "archive.db"
#: A page that says who runs the crawler; the spiders put it in the User-Agent
#: (``newsarchive/VERSION (+URL)``). Set it to your newsroom's contact page.
NEWSARCHIVE_CONTACT_URL = "https://github.com/newsarchive/newsarchive"
USER_AGENT = f"newsarchive/{__version__} (+{NEWSARCHIVE_CONTACT_URL})"

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024

#: Skip or conditionally request pages the archive already holds (see middlewares/incremental.py).
NEWSARCHIVE_INCREMENTAL = True
DOWNLOADER_MIDDLEWARES = {
    "newsarchive.middlewares.incremental.IncrementalMiddleware": 50,
}

ITEM_PIPELINES = {
    "newsarchive.pipelines.normalize.NormalizePipeline": 100,
    "newsarchive.pipelines.validate.ValidatePipeline": 200,
    "newsarchive.pipelines.store.StorePipeline": 900,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
