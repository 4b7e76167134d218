"""GZERO Media (www.gzeromedia.com), a RebelMouse site: the generic spider on its profile."""

from __future__ import annotations

from newsarchive.spiders.news import NewsSpider


class GzeroSpider(NewsSpider):
    name = "gzero"
    profile_name = "gzero"
    #: Its "More from GZERO Media" blocks are YouTube videos: what is said in them is archived.
    transcripts = True
