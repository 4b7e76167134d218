"""Download each article's own pictures (Scrapy's media pipeline) and learn their facts.

``ArchiveImagesPipeline`` (an ``ImagesPipeline``) runs after validation and before the store
(``ITEM_PIPELINES``: validate 200, images 300, store 900): a dropped article
costs no download, and the store receives each ``Image`` already carrying its file facts
(format, pixel size, bytes, SHA-256, perceptual hash, file path, JPEG thumbnail, capture), so
one ``save_article`` writes everything (and merges a re-published copy into the picture it
copies, by perceptual hash).

Only ``Article.images`` are fetched: extraction has already left out related-story teasers,
logos and the like. A picture whose URL the archive already holds with its facts is not fetched
again. Limits: ``NEWSARCHIVE_IMAGE_MAX_BYTES``, ``NEWSARCHIVE_IMAGE_MAX_PIXELS`` (also Pillow's
``Image.MAX_IMAGE_PIXELS`` decompression-bomb guard), ``NEWSARCHIVE_IMAGE_FORMATS``. A picture
that fails (HTTP error, not an image, too big, broken file, not captured when replaying) is a
``failures`` row with stage "image" (or "replay"); the article is stored all the same.

Full-size files (the bytes as downloaded, not re-encoded) go to ``IMAGES_STORE`` (default
``images/`` beside the archive) as ``full/<sha256[:2]>/<sha256>.<ext>``: the same file
published twice is stored once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image as PILImage
from PIL import ImageOps
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.images import ImagesPipeline
from scrapy.utils.defer import ensure_awaitable

from newsarchive.capture.writer import CAPTURE_META
from newsarchive.extension import ArchiveExtension
from newsarchive.items import Article, CrawlFailure
from newsarchive.middlewares.capture import NotCaptured
from newsarchive.middlewares.checks import download_failure
from newsarchive.processors import in_domains

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
DEFAULT_THUMBNAIL_SIZE = 320
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


try:  # Scrapy logs media failures with a traceback, except "filtered" ones; we log our own line.
    from scrapy.pipelines.media import _MediaRequestFiltered as _QuietFailure
except ImportError:  # pragma: no cover (older or newer Scrapy)
    from scrapy.pipelines.media import FileException as _QuietFailure


class PictureRejected(_QuietFailure):
    """A picture that cannot be archived; becomes a ``failures`` row."""

    def __init__(
        self,
        reason: str,
        *,
        url: str | None = None,
        stage: str = "image",
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.stage = stage
        self.http_status = http_status


@dataclass
class PictureFacts:
    format: str
    width: int
    height: int
    bytes: int
    sha256: str
    phash: str
    thumbnail: bytes

    @property
    def extension(self) -> str:
        return _EXTENSIONS.get(self.format, self.format.lower())


def perceptual_hash(image: PILImage.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits."""
    import imagehash

    return str(imagehash.phash(image))


def analyse_picture(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
) -> PictureFacts:
    """The facts of one downloaded picture; :class:`PictureRejected` if it is over a limit,
    of another format, or not a readable picture. Never any other exception."""
    if not data:
        raise PictureRejected("empty file")
    if len(data) > max_bytes:
        raise PictureRejected(
            f"{len(data)} bytes: larger than NEWSARCHIVE_IMAGE_MAX_BYTES ({max_bytes})"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as image:
                fmt = (image.format or "").upper()
                if fmt not in formats:
                    raise PictureRejected(
                        f"format {fmt or 'unknown'} not archived (allowed: {', '.join(formats)})"
                    )
                width, height = image.size
                if width * height > max_pixels:
                    raise PictureRejected(
                        f"{width}x{height} pixels: more than NEWSARCHIVE_IMAGE_MAX_PIXELS "
                        f"({max_pixels})"
                    )
                image.load()  # decodes the whole file: truncated or corrupt data fails here
                oriented = ImageOps.exif_transpose(image)
                width, height = oriented.size
                phash = perceptual_hash(oriented)
                thumbnail = make_thumbnail(oriented, thumbnail_size)
    except PictureRejected:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise PictureRejected(
            f"more pixels than NEWSARCHIVE_IMAGE_MAX_PIXELS ({max_pixels}), "
            f"Pillow's decompression-bomb guard: {exc}"
        ) from exc
    except PILImage.UnidentifiedImageError as exc:
        raise PictureRejected(f"not a readable picture: {what_file(data)}") from exc
    except Exception as exc:  # OSError (truncated), SyntaxError, ...
        raise PictureRejected(
            f"not a readable picture: {what_file(data)}: {_sentence(exc)}"
        ) from exc
    return PictureFacts(
        format=fmt,
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        phash=phash,
        thumbnail=thumbnail,
    )


_PICTURE_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG", "PNG"),
    (b"GIF8", "GIF"),
    (b"RIFF", "WEBP"),
)
_KINDS = (
    (b"<svg", "an SVG drawing (vector pictures are not archived)"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"%pdf-", "a PDF document"),
    (b"{", "JSON data"),
)


def what_file(data: bytes) -> str:
    """What a file that cannot be read as a picture is, in words."""
    for magic, name in _PICTURE_MAGIC:
        if data.startswith(magic):
            return f"a broken {name} file ({len(data)} bytes)"
    head = data[:512].lstrip().lower()
    for start, what in _KINDS:
        if head.startswith(start) or (start == b"<svg" and b"<svg" in head):
            return what
    return f"unknown file format ({len(data)} bytes starting {data[:8].hex(' ')})"


def _sentence(exc: BaseException) -> str:
    """An exception's message without Python reprs ("Truncated File Read" -> "truncated file read")."""
    message = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip() or type(exc).__name__
    return message[0].lower() + message[1:]


def make_thumbnail(
    image: PILImage.Image, size: int = DEFAULT_THUMBNAIL_SIZE, quality: int = 80
) -> bytes:
    """A JPEG at most ``size`` pixels on its longer side (transparency on white)."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    else:
        image = image.copy()
    image.thumbnail((size, size), PILImage.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


class ArchiveImagesPipeline(ImagesPipeline):
    """Scrapy's ImagesPipeline, fed from ``Article.images``, writing facts back onto them."""

    LOG_FAILED_RESULTS = False

    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.store_uri = store_uri
        self.max_bytes = settings.getint("NEWSARCHIVE_IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES)
        self.max_pixels = settings.getint("NEWSARCHIVE_IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS)
        self.formats = tuple(
            f.upper() for f in settings.getlist("NEWSARCHIVE_IMAGE_FORMATS", list(DEFAULT_FORMATS))
        )
        self.thumbnail_size = settings.getint("NEWSARCHIVE_THUMBNAIL_SIZE", DEFAULT_THUMBNAIL_SIZE)
        self.domains = [d.lower() for d in settings.getlist("NEWSARCHIVE_IMAGE_DOMAINS")]
        # Pillow's own guard: past twice this, Image.open refuses outright.
        PILImage.MAX_IMAGE_PIXELS = self.max_pixels
        self.extension = ArchiveExtension.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveImagesPipeline:
        settings = crawler.settings
        cls._update_stores(settings)
        store = settings.get("IMAGES_STORE") or str(
            Path(settings.get("NEWSARCHIVE_DB") or "archive.db").expanduser().resolve().parent
            / "images"
        )
        return cls(store, crawler=crawler)

    # -- which pictures ---------------------------------------------------------------
    def wanted(self, url: str) -> bool:
        if urlsplit(url).scheme not in ("http", "https"):
            return False
        if self.domains and not in_domains(url, self.domains):
            return False
        return not self.extension.picture_known(url)

    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        if not isinstance(item, Article):
            return []
        requests, seen = [], set()
        for image in item.images:
            if image.url in seen or not self.wanted(image.url):
                continue
            seen.add(image.url)
            requests.append(
                Request(
                    image.url,
                    callback=NO_CALLBACK,
                    meta={
                        "allow_offsite": True,  # pictures often live on a CDN's host
                        "newsarchive_media": True,
                        "download_maxsize": self.max_bytes,
                    },
                )
            )
        return requests

    def media_to_download(self, request: Request, info: Any, *, item: Any = None) -> None:
        """Always download what ``get_media_requests`` asks for (it already skipped pictures
        the archive holds): the facts come from the bytes."""
        return None

    # -- results ----------------------------------------------------------------------
    async def media_downloaded(
        self, response, request: Request, info: Any, *, item: Any = None
    ) -> dict:
        if response.status != 200:
            raise PictureRejected(
                f"HTTP {response.status}", url=request.url, http_status=response.status
            )
        try:
            facts = analyse_picture(
                response.body,
                max_bytes=self.max_bytes,
                max_pixels=self.max_pixels,
                formats=self.formats,
                thumbnail_size=self.thumbnail_size,
            )
        except PictureRejected as exc:
            exc.url, exc.http_status = request.url, response.status
            raise
        path = f"full/{facts.sha256[:2]}/{facts.sha256}.{facts.extension}"
        await ensure_awaitable(
            self.store.persist_file(
                path,
                io.BytesIO(response.body),
                info,
                meta={"width": facts.width, "height": facts.height},
                headers={"Content-Type": f"image/{facts.extension.replace('jpg', 'jpeg')}"},
            )
        )
        self.inc_stats("downloaded")
        capture = request.meta.get(CAPTURE_META) or {}
        return {
            "url": request.url,
            "path": path,
            "checksum": facts.sha256,
            "status": "downloaded",
            "facts": facts,
            "capture_id": capture.get("id"),
        }

    def media_failed(self, failure, request: Request, info: Any):
        exc = failure.value
        if isinstance(exc, PictureRejected):
            exc.url = exc.url or request.url
            raise exc
        if isinstance(exc, NotCaptured):
            raise PictureRejected("not in the captures", url=request.url, stage="replay")
        if isinstance(exc, IgnoreRequest):
            raise PictureRejected(f"not fetched: {exc or type(exc).__name__}", url=request.url)
        message = str(exc)
        if "max size" in message or "maxsize" in message:
            raise PictureRejected(
                f"larger than NEWSARCHIVE_IMAGE_MAX_BYTES ({self.max_bytes}): {message}",
                url=request.url,
            )
        _, reason = download_failure(exc, timeout=request.meta.get("download_timeout"))
        raise PictureRejected(reason, url=request.url)

    def item_completed(self, results: list, item: Any, info: Any) -> Any:
        if not isinstance(item, Article):
            return item
        found: dict[str, dict] = {}
        for ok, value in results:
            if ok:
                found[value["url"]] = value
                continue
            exc = getattr(value, "value", value)
            if not isinstance(exc, PictureRejected) or not exc.url:
                logger.warning("picture of %s failed: %s", item.url, exc)
                continue
            logger.warning("picture %s (%s): %s", exc.url, item.url, exc.reason)
            self.extension.record_failure(
                CrawlFailure(
                    url=exc.url, stage=exc.stage, reason=exc.reason, http_status=exc.http_status
                )
            )
        for image in item.images:
            result = found.get(image.url)
            if result is None:
                continue
            facts: PictureFacts = result["facts"]
            image.file_format, image.file_width, image.file_height = (
                facts.format,
                facts.width,
                facts.height,
            )
            image.file_bytes, image.sha256, image.phash = facts.bytes, facts.sha256, facts.phash
            image.thumbnail, image.file_path, image.capture_id = (
                facts.thumbnail,
                result["path"],
                result["capture_id"],
            )
        return item
