"""Downloader and spider middlewares: ``incremental`` (skip or revisit archived pages),
``checks`` (bodies that lie, redirects off the site), ``capture`` (WARC capture and replay)."""
