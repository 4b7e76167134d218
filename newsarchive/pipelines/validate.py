"""Drop articles that hold nothing worth archiving; the store records why."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from newsarchive.items import Article


class ValidatePipeline:
    """An article needs a title or a body; ``check`` is the overridable rule.

    Without a title, a body shorter than ``min_untitled_words`` is not an article either: that is
    what broken markup or an error page leaves.
    """

    min_untitled_words: int = 20

    def check(self, article: Article) -> str | None:
        """The reason to reject ``article``, or None to keep it."""
        if not article.title and not article.body_text:
            return "no title and no body"
        words = len(article.body_text.split()) if article.body_text else 0
        if not article.title and words < self.min_untitled_words:
            return f"no title and only {words} words of body"
        if not article.url.startswith(("http://", "https://")):
            return f"not a web URL: {article.url!r}"
        return None

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article) and (reason := self.check(item)):
            raise DropItem(reason)
        return item
