"""Polite by default: what a newsroom's crawl does to a site unless told otherwise."""
from __future__ import annotations

from scrapy.crawler import Crawler

from newsarchive.crawl import project_settings
from newsarchive.spiders.gzero import GzeroSpider


def test_defaults_obey_robots_throttle_and_identify_the_crawler():
    settings = project_settings()
    assert settings.getbool("ROBOTSTXT_OBEY")
    assert settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert settings.getfloat("DOWNLOAD_DELAY") >= 1
    assert settings.get("TWISTED_REACTOR") == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def test_user_agent_carries_the_contact_url_from_settings():
    settings = project_settings({"NEWSARCHIVE_CONTACT_URL": "https://newsroom.example/about-our-crawler"})
    crawler = Crawler(GzeroSpider, settings)
    assert crawler.settings.get("USER_AGENT").endswith("(+https://newsroom.example/about-our-crawler)")
    own = project_settings({"USER_AGENT": "MyNewsroomBot/2.0"})
    assert Crawler(GzeroSpider, own).settings.get("USER_AGENT") == "MyNewsroomBot/2.0"
