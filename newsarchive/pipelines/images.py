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

Files go to ``IMAGES_STORE`` (default ``images/`` beside the archive), named by the SHA-256 of
the downloaded bytes so that the same file published twice is stored once, through the
pipeline's own hooks: ``file_path`` gives ``full/<sha256[:2]>/<sha256>.<ext>`` (the bytes as
downloaded, not re-encoded: ``convert_image`` keeps them), ``thumb_path`` gives
``thumbs/<id>/<sha256[:2]>/<sha256>.jpg`` for the ``NEWSARCHIVE_THUMBNAIL_SIZE`` thumbnail
(id "small", also kept on the ``images`` row) and any ``IMAGES_THUMBS``, and ``get_images``
yields them all.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import logging
import mimetypes
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

from PIL import Image as PILImage
from PIL import ImageOps
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.images import ImagesPipeline

# Scrapy logs a failed media download with a traceback, except a "filtered" one (Scrapy 2.19,
# the project's lower bound); a rejected picture gets one log line and a failures row instead.
from scrapy.pipelines.media import FileInfo, FileInfoOrError, MediaPipeline, _MediaRequestFiltered
from scrapy.utils.defer import ensure_awaitable
from twisted.python.failure import Failure

from newsarchive.capture.writer import CAPTURE_META
from newsarchive.extension import ArchiveExtension
from newsarchive.items import Article, CrawlFailure, FailureStage, Image
from newsarchive.middlewares.capture import NotCaptured
from newsarchive.middlewares.checks import download_failure
from newsarchive.processors import in_domains

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
DEFAULT_THUMBNAIL_SIZE = 320
#: The thumbnail kept on the ``images`` row (``thumbs/small/…`` in ``IMAGES_STORE``).
THUMB_ID = "small"
THUMBNAIL_QUALITY = 80
WHITE = (255, 255, 255)
TRANSPARENT_MODES = ("RGBA", "LA", "P", "PA")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
#: How much of a file that is not a picture is read to tell what it is, and shown when unknown.
SNIFF_BYTES = 512
SHOWN_BYTES = 8
PICTURE_SCHEMES = ("http", "https")
#: Files are spread over folders named by the first hex digits of their hash (``full/ab/ab…``).
SHARD_DIGITS = 2


class PictureRejected(_MediaRequestFiltered):
    """A picture that cannot be archived; becomes a ``failures`` row."""

    def __init__(
        self,
        reason: str,
        *,
        url: str | None = None,
        stage: FailureStage = "image",
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.stage = stage
        self.http_status = http_status


@dataclass(frozen=True)
class PictureLimits:
    """What a picture may be to be archived (the ``NEWSARCHIVE_IMAGE_*`` settings)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: tuple[str, ...] = DEFAULT_FORMATS


@dataclass
class PictureFacts:
    format: str
    width: int
    height: int
    bytes: int
    sha256: str
    phash: str
    thumbnail: builtins.bytes


class PictureInfo(FileInfo):
    """Scrapy's result of one downloaded file, with the picture's facts and its capture."""

    facts: PictureFacts
    capture_id: str | None


def extension_of(fmt: str) -> str:
    """The file name extension of a picture in Pillow's format ``fmt`` ("JPEG" -> "jpg")."""
    return _EXTENSIONS.get(fmt, fmt.lower())


def perceptual_hash(image: PILImage.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits."""
    import imagehash

    return str(imagehash.phash(image))


# -- one file ---------------------------------------------------------------------------------


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
    image = open_picture(data, PictureLimits(max_bytes, max_pixels, formats))
    return picture_facts(image, data, thumbnail=make_thumbnail(image, thumbnail_size))


def open_picture(data: bytes, limits: PictureLimits) -> PILImage.Image:
    """The picture in ``data``, decoded and turned upright (EXIF orientation), with its Pillow
    ``format``; :class:`PictureRejected` if it breaks ``limits`` or cannot be read. Never any
    other exception."""
    if not data:
        raise PictureRejected("empty file")
    if len(data) > limits.max_bytes:
        raise PictureRejected(
            f"{len(data)} bytes: larger than NEWSARCHIVE_IMAGE_MAX_BYTES ({limits.max_bytes})"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as image:
                check_header(image, limits)
                image.load()  # decodes the whole file: truncated or corrupt data fails here
                upright = ImageOps.exif_transpose(image)
    except PictureRejected:
        raise
    except Exception as exc:  # OSError (truncated), SyntaxError, decompression bombs, ...
        raise unreadable(exc, data, limits) from exc
    upright.format = image.format  # a transposed copy has none; convert_image reads it
    return upright


def check_header(image: PILImage.Image, limits: PictureLimits) -> None:
    """:class:`PictureRejected` if the opened (not yet decoded) ``image`` is of a format not
    archived or has too many pixels."""
    fmt = (image.format or "").upper()
    if fmt not in limits.formats:
        raise PictureRejected(
            f"format {fmt or 'unknown'} not archived (allowed: {', '.join(limits.formats)})"
        )
    width, height = image.size
    if width * height > limits.max_pixels:
        raise PictureRejected(
            f"{width}x{height} pixels: more than NEWSARCHIVE_IMAGE_MAX_PIXELS ({limits.max_pixels})"
        )


def unreadable(exc: Exception, data: bytes, limits: PictureLimits) -> PictureRejected:
    """The rejection, in words, of ``data`` that Pillow failed to read with ``exc``."""
    if isinstance(exc, (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning)):
        return PictureRejected(
            f"more pixels than NEWSARCHIVE_IMAGE_MAX_PIXELS ({limits.max_pixels}), "
            f"Pillow's decompression-bomb guard: {exc}"
        )
    if isinstance(exc, PILImage.UnidentifiedImageError):
        return PictureRejected(f"not a readable picture: {what_file(data)}")
    return PictureRejected(f"not a readable picture: {what_file(data)}: {_sentence(exc)}")


def picture_facts(image: PILImage.Image, data: bytes, *, thumbnail: bytes) -> PictureFacts:
    """The facts of ``image`` (from :func:`open_picture`), read from the file ``data``."""
    width, height = image.size
    return PictureFacts(
        format=(image.format or "").upper(),
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(image),
        thumbnail=thumbnail,
    )


def picture_format(data: bytes) -> str | None:
    """Pillow's name for the format of the picture in ``data`` (its header only), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as image:
                return image.format
    except Exception:  # not a picture: no format
        return None


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
    head = data[:SNIFF_BYTES].lstrip().lower()
    for start, what in _KINDS:
        if head.startswith(start) or (start == b"<svg" and b"<svg" in head):
            return what
    return f"unknown file format ({len(data)} bytes starting {data[:SHOWN_BYTES].hex(' ')})"


def _sentence(exc: BaseException) -> str:
    """An exception's message without Python reprs ("Truncated File Read" -> "truncated file read")."""
    message = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip() or type(exc).__name__
    return message[0].lower() + message[1:]


def thumbnail_image(image: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
    """An RGB copy of ``image`` within ``size`` (transparency on white)."""
    if image.mode in TRANSPARENT_MODES:
        rgba = image.convert("RGBA")
        thumbnail = PILImage.new("RGB", rgba.size, WHITE)
        thumbnail.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        thumbnail = image.convert("RGB")
    else:
        thumbnail = image.copy()
    thumbnail.thumbnail(size, PILImage.Resampling.LANCZOS)
    return thumbnail


def encode_jpeg(image: PILImage.Image, *, quality: int = THUMBNAIL_QUALITY) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def make_thumbnail(image: PILImage.Image, size: int = DEFAULT_THUMBNAIL_SIZE) -> bytes:
    """A JPEG at most ``size`` pixels on its longer side (transparency on white)."""
    return encode_jpeg(thumbnail_image(image, (size, size)))


def downloaded_body(response: Response | None) -> bytes:
    """The bytes of ``response``; ValueError without one (``file_path`` before the download)."""
    if response is None:
        raise ValueError("a picture is stored under the hash of its bytes: it needs the response")
    return response.body


def content_key(data: bytes) -> str:
    """``<sha256[:2]>/<sha256>`` of a downloaded file: where its files are stored."""
    sha256 = hashlib.sha256(data).hexdigest()
    return f"{sha256[:SHARD_DIGITS]}/{sha256}"


# -- the pipeline -----------------------------------------------------------------------------


class ArchiveImagesPipeline(ImagesPipeline):
    """Scrapy's ImagesPipeline, fed from ``Article.images``, writing facts back onto them."""

    LOG_FAILED_RESULTS = False

    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.store_uri = store_uri
        self.limits = PictureLimits(
            max_bytes=settings.getint("NEWSARCHIVE_IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES),
            max_pixels=settings.getint("NEWSARCHIVE_IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS),
            formats=tuple(
                f.upper()
                for f in settings.getlist("NEWSARCHIVE_IMAGE_FORMATS", list(DEFAULT_FORMATS))
            ),
        )
        size = settings.getint("NEWSARCHIVE_THUMBNAIL_SIZE", DEFAULT_THUMBNAIL_SIZE)
        # IMAGES_THUMBS as a dict, or as JSON from the command line ("-s IMAGES_THUMBS=…").
        self.thumbs = {**settings.getdict("IMAGES_THUMBS"), THUMB_ID: (size, size)}
        self.domains = [d.lower() for d in settings.getlist("NEWSARCHIVE_IMAGE_DOMAINS")]
        # Pillow's own guard: past twice this, Image.open refuses outright.
        PILImage.MAX_IMAGE_PIXELS = self.limits.max_pixels
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
        if urlsplit(url).scheme not in PICTURE_SCHEMES:
            return False
        if self.domains and not in_domains(url, self.domains):
            return False
        return not self.extension.picture_known(url)

    def get_media_requests(self, item: Any, info: MediaPipeline.SpiderInfo) -> list[Request]:
        if not isinstance(item, Article):
            return []
        urls = [
            url for url in dict.fromkeys(image.url for image in item.images) if self.wanted(url)
        ]
        meta = {
            "allow_offsite": True,  # pictures often live on a CDN's host
            "newsarchive_media": True,
            "download_maxsize": self.limits.max_bytes,
        }
        return [Request(url, callback=NO_CALLBACK, meta=meta) for url in urls]

    def media_to_download(
        self, request: Request, info: MediaPipeline.SpiderInfo, *, item: Any = None
    ) -> None:
        """Always download what ``get_media_requests`` asks for (it already skipped pictures
        the archive holds): the facts come from the bytes."""
        return None

    # -- where and what is stored -------------------------------------------------------
    def file_path(
        self,
        request: Request,
        response: Response | None = None,
        info: MediaPipeline.SpiderInfo | None = None,
        *,
        item: Any = None,
    ) -> str:
        """``full/<sha256[:2]>/<sha256>.<ext>``: the same file at two URLs is stored once."""
        body = downloaded_body(response)
        return f"full/{content_key(body)}.{extension_of(picture_format(body) or 'bin')}"

    def thumb_path(
        self,
        request: Request,
        thumb_id: str,
        response: Response | None = None,
        info: MediaPipeline.SpiderInfo | None = None,
        *,
        item: Any = None,
    ) -> str:
        """``thumbs/<thumb_id>/<sha256[:2]>/<sha256>.jpg``, beside the full file's name."""
        return f"thumbs/{thumb_id}/{content_key(downloaded_body(response))}.jpg"

    def get_images(
        self,
        response: Response,
        request: Request,
        info: MediaPipeline.SpiderInfo,
        *,
        item: Any = None,
    ) -> Iterator[tuple[str, PILImage.Image, io.BytesIO]]:
        """The picture as downloaded, then each thumbnail (``self.thumbs``);
        :class:`PictureRejected` if it breaks the limits or cannot be read."""
        image = open_picture(response.body, self.limits)
        path = self.file_path(request, response=response, info=info, item=item)
        full, body = self.convert_image(image, response_body=io.BytesIO(response.body))
        yield path, full, body
        for thumb_id, size in self.thumbs.items():
            thumb_path = self.thumb_path(request, thumb_id, response=response, info=info, item=item)
            yield thumb_path, *self.convert_image(image, size, response_body=body)

    def convert_image(
        self,
        image: PILImage.Image,
        size: tuple[int, int] | None = None,
        *,
        response_body: io.BytesIO,
    ) -> tuple[PILImage.Image, io.BytesIO]:
        """The full picture is kept as downloaded (never re-encoded); a thumbnail is a JPEG
        within ``size``, transparency on white."""
        if size is None:
            return image, response_body
        thumbnail = thumbnail_image(image, size)
        return thumbnail, io.BytesIO(encode_jpeg(thumbnail))

    # -- results ----------------------------------------------------------------------
    async def media_downloaded(
        self,
        response: Response,
        request: Request,
        info: MediaPipeline.SpiderInfo,
        *,
        item: Any = None,
    ) -> PictureInfo:
        """Store the picture's files (``get_images``) and return them with its facts."""
        # Replaces FilesPipeline.media_downloaded, which turns any status but 200 into a bare
        # "download-error", logs each rejected file with a traceback and returns only url, path
        # and checksum (and whose file_downloaded stores every file as image/jpeg): here a
        # rejection keeps its readable reason and status for the failures row, and the result
        # carries the facts item_completed writes onto the Image. Which files, under which
        # names, made how, stays with the pipeline's hooks (get_images, file_path, thumb_path,
        # convert_image).
        if response.status != HTTPStatus.OK:
            raise PictureRejected(
                f"HTTP {response.status}", url=request.url, http_status=response.status
            )
        try:
            images = list(self.get_images(response, request, info, item=item))
        except PictureRejected as exc:
            exc.url, exc.http_status = request.url, response.status
            raise
        for path, image, buffer in images:
            await self.persist(path, image, buffer, info)
        self.inc_stats("downloaded")
        return self.picture_info(images, response, request)

    async def persist(
        self, path: str, image: PILImage.Image, buffer: io.BytesIO, info: MediaPipeline.SpiderInfo
    ) -> None:
        """Write one file to ``IMAGES_STORE``, with its own Content-Type."""
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        await ensure_awaitable(
            self.store.persist_file(
                path,
                buffer,
                info,
                meta={"width": image.width, "height": image.height},
                headers={"Content-Type": content_type},
            )
        )

    def picture_info(
        self,
        images: list[tuple[str, PILImage.Image, io.BytesIO]],
        response: Response,
        request: Request,
    ) -> PictureInfo:
        """The result of one stored picture: ``images`` as ``get_images`` yielded them."""
        (path, image, _body), *thumbs = images
        thumb_files = {thumb_path: buffer for thumb_path, _image, buffer in thumbs}
        thumbnail = thumb_files[self.thumb_path(request, THUMB_ID, response=response)]
        facts = picture_facts(image, response.body, thumbnail=thumbnail.getvalue())
        capture = request.meta.get(CAPTURE_META) or {}
        return {
            "url": request.url,
            "path": path,
            "checksum": facts.sha256,
            "status": "downloaded",
            "facts": facts,
            "capture_id": capture.get("id"),
        }

    def media_failed(
        self, failure: Failure, request: Request, info: MediaPipeline.SpiderInfo
    ) -> NoReturn:
        exc = cast(BaseException, failure.value)  # a Failure always holds its exception
        rejection = self.rejection(exc, request)
        if rejection is exc:
            raise rejection
        raise rejection from exc

    def rejection(self, exc: BaseException, request: Request) -> PictureRejected:
        """What a failed download (``exc``) of the picture at ``request`` is, in words."""
        if isinstance(exc, PictureRejected):
            exc.url = exc.url or request.url
            return exc
        if isinstance(exc, NotCaptured):
            return PictureRejected("not in the captures", url=request.url, stage="replay")
        if isinstance(exc, IgnoreRequest):
            return PictureRejected(f"not fetched: {exc or type(exc).__name__}", url=request.url)
        message = str(exc)
        if "max size" in message or "maxsize" in message:
            return PictureRejected(
                f"larger than NEWSARCHIVE_IMAGE_MAX_BYTES ({self.limits.max_bytes}): {message}",
                url=request.url,
            )
        _, reason = download_failure(exc, timeout=request.meta.get("download_timeout"))
        return PictureRejected(reason, url=request.url)

    def item_completed(
        self, results: list[FileInfoOrError], item: Any, info: MediaPipeline.SpiderInfo
    ) -> Any:
        if not isinstance(item, Article):
            return item
        found: dict[str, PictureInfo] = {}
        for _ok, value in results:
            if isinstance(value, Failure):
                self.record_failure(value.value, item)
            else:
                found[value["url"]] = cast(PictureInfo, value)
        for image in item.images:
            if image.url in found:
                write_facts(image, found[image.url])
        return item

    def record_failure(self, exc: BaseException | None, item: Article) -> None:
        """Log a picture of ``item`` that failed with ``exc``; a failures row if rejected."""
        if not isinstance(exc, PictureRejected) or not exc.url:
            logger.warning("picture of %s failed: %s", item.url, exc)
            return
        logger.warning("picture %s (%s): %s", exc.url, item.url, exc.reason)
        self.extension.record_failure(
            CrawlFailure(
                url=exc.url, stage=exc.stage, reason=exc.reason, http_status=exc.http_status
            )
        )


def write_facts(image: Image, info: PictureInfo) -> None:
    """Set the file facts of one stored picture on the article's ``image``."""
    facts = info["facts"]
    image.file_format, image.file_width, image.file_height = facts.format, facts.width, facts.height
    image.file_bytes, image.sha256, image.phash = facts.bytes, facts.sha256, facts.phash
    image.thumbnail, image.file_path = facts.thumbnail, info["path"]
    image.capture_id = info["capture_id"]
