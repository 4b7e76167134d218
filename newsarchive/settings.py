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
# Items and requests of one response handled at once. Scrapy's 100 starts 100 asyncio tasks for
# every response's output, however little it yields (a page: one article and a few requests);
# the crawl's main process is its limit (docs/performance.md): 8 took it from 14.1 to 11.7 ms a
# page (600 dev pages). A sitemap's requests are only scheduled, so 8 costs them nothing.
CONCURRENT_ITEMS = 8
# Extraction reads at most this much of a page (scripts and styles dropped first; past it the
# text is cut and a failures row, stage "page-cut", says so): one huge page costs tens of MB.
NEWSARCHIVE_MAX_PAGE_BYTES = 2 * 1024 * 1024
#: Extraction runs in this many worker processes (newsarchive/pool.py) while the reactor keeps
#: downloading; None: one per core; 0: in the crawl's own process (no time limit then).
NEWSARCHIVE_EXTRACT_WORKERS = None
#: Seconds a page may take from its hand-off to the workers (its extraction and its wait behind
#: the page ahead of it); past it the page is a failures row (stage "extract").
NEWSARCHIVE_EXTRACT_TIMEOUT = 60
#: The extraction function (dotted name), called as f(url, body, *, site, encoding) -> Article.
NEWSARCHIVE_EXTRACT_FUNCTION = "newsarchive.extract.extract_article"

#: Skip or conditionally request pages the archive already holds (see middlewares/incremental.py).
NEWSARCHIVE_INCREMENTAL = True
#: Revisits of archived pages by age, when no modification date says whether they changed:
#: [age up to (hours; None: any age), revisit interval (hours)]. Default: younger than a day every
#: run, up to 7 days every 6 hours, up to 30 days daily, older weekly. JSON from the command line:
#: ``-s 'NEWSARCHIVE_REVISIT_SCHEDULE=[[24, 0], [null, 12]]'``. Removed pages are never revisited.
NEWSARCHIVE_REVISIT_SCHEDULE = [[24, 0], [7 * 24, 6], [30 * 24, 24], [None, 7 * 24]]
#: Archived pages that no feed or sitemap lists any more revisited per run at most (newest first).
NEWSARCHIVE_REVISIT_BUDGET = 100
DOWNLOADER_MIDDLEWARES = {
    "newsarchive.middlewares.incremental.IncrementalMiddleware": 50,
    "newsarchive.middlewares.checks.OffsiteRedirectMiddleware": 60,  # no redirect leaves the profile's domains
    # Next to the download handler, past HttpCompression (590), Redirect (600) and Retry (550):
    # the WARC gets each response as the network gave it (see newsarchive/middlewares/capture.py).
    "newsarchive.middlewares.checks.BodyCheckMiddleware": 945,  # a compressed body cut short or a bomb
    "newsarchive.middlewares.capture.WarcCaptureMiddleware": 950,
    "newsarchive.middlewares.capture.WarcReplayMiddleware": 960,
}
EXTENSIONS = {
    # Owns the crawl's archive: its lock, connection, crawls row and failures (extension.py).
    # Last of the extensions, so that the crawls row gets the stats CoreStats sets at the end.
    "newsarchive.extension.ArchiveExtension": 900,
    "newsarchive.progress.CrawlProgress": 500,
    # Scrapy's two control servers, off: a scheduled crawl has no one to answer, and each is a
    # way into the crawl's process. RemoteControl (on by default in Scrapy 2.19) runs any
    # Python posted to it and writes its token to ~/.local/state/scrapy/job_files, a file a
    # killed crawl leaves behind; off, its module and aiohttp (9 MiB) are not even imported.
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.telnet.TelnetConsole": None,
}
#: Progress on stderr (``newsarchive crawl`` and ``demo`` turn it on): True (a live display on
#: a terminal, else plain lines), "live" or "lines"; False: none (Scrapy's LogStats still logs).
NEWSARCHIVE_PROGRESS = False
#: Seconds between two plain progress lines (stderr not a terminal: cron, a log file).
NEWSARCHIVE_PROGRESS_INTERVAL = 30
SPIDER_MIDDLEWARES = {
    "newsarchive.middlewares.capture.CaptureLinkMiddleware": 950,
}

# Captures (WARC) and replay.
#: Folder of the WARC files; None: ``captures/`` beside NEWSARCHIVE_DB.
NEWSARCHIVE_WARC_DIR = None
#: A WARC file is closed, and the next one started, once it reaches this size.
NEWSARCHIVE_WARC_MAX_BYTES = 1024**3
#: False: write no WARC files (and no captures rows).
NEWSARCHIVE_WARC_ENABLED = True
#: Glob pattern(s) of WARC files to answer every request from instead of the network
#: (``newsarchive crawl SITE --replay 'captures/*.warc.gz'``); a replay writes no WARC.
NEWSARCHIVE_REPLAY = None

# Pictures (newsarchive/pipelines/images.py).
#: Folder of the full-size picture files; None: ``images/`` beside NEWSARCHIVE_DB.
IMAGES_STORE = None
#: Pictures larger than this many bytes are failures (stage "image"), not downloaded past it.
NEWSARCHIVE_IMAGE_MAX_BYTES = 20 * 1024 * 1024
#: Pictures with more pixels are failures; also Pillow's decompression-bomb limit.
NEWSARCHIVE_IMAGE_MAX_PIXELS = 50_000_000
#: Formats archived, as Pillow names them.
NEWSARCHIVE_IMAGE_FORMATS = ["JPEG", "PNG", "GIF", "WEBP"]
#: Longer side, in pixels, of the JPEG thumbnail kept in the archive.
NEWSARCHIVE_THUMBNAIL_SIZE = 320
#: Hosts pictures may be fetched from (and their subdomains); empty: any host.
NEWSARCHIVE_IMAGE_DOMAINS: list[str] = []

# Video transcripts (newsarchive/spiders/transcripts.py).
#: Fetch the caption tracks of the YouTube videos archived articles embed: True or False; None:
#: the spider decides (on for the gzero spider, whose pages are full of videos; off for news).
NEWSARCHIVE_TRANSCRIPTS = None
#: Where YouTube's watch pages, player API and timed text are asked for.
NEWSARCHIVE_YOUTUBE_BASE = "https://www.youtube.com"
#: Language codes of the caption tracks fetched ("en,de"); empty: every track a video lists.
NEWSARCHIVE_TRANSCRIPT_LANGUAGES: list[str] = []

ITEM_PIPELINES = {
    "newsarchive.pipelines.validate.ValidatePipeline": 200,
    # After validation (a dropped article costs no download), before the store (which then
    # writes the pictures' facts with the article in one transaction).
    "newsarchive.pipelines.images.ArchiveImagesPipeline": 300,
    "newsarchive.pipelines.store.StorePipeline": 900,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
