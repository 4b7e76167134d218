"""The picture files a crawl writes through the ImagesPipeline's own hooks (``file_path``,
``thumb_path``, ``get_images``, ``convert_image``): named by the SHA-256 of the downloaded bytes,
kept as downloaded, with a JPEG thumbnail per ``IMAGES_THUMBS`` entry and the archive's own.

The site is written here: a page with a transparent PNG, a JPEG stored sideways with an EXIF
orientation, one photo published at two URLs and a truncated PNG."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import sqlite_utils
from PIL import Image

from newsarchive.demo.server import SiteServer
from tests.conftest import FAST, run_newsarchive
from tests.test_images import encoded, figure, page, picture

EXIF_ORIENTATION = 0x0112
ROTATED_CLOCKWISE = 6  # stored sideways: shown turned 90 degrees clockwise
BIG = 600


def transparent_png() -> bytes:
    image = picture(5, (600, 400)).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 100, 100))  # a fully transparent corner
    return encoded(image, "PNG")


def sideways_jpeg() -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_CLOCKWISE
    return encoded(picture(6, (400, 200)), quality=90, exif=exif.tobytes())


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    root = tmp_path_factory.mktemp("picture-files-site")
    photo = encoded(picture(7), quality=90)
    files = {
        "media/clear.png": transparent_png(),
        "media/sideways.jpg": sideways_jpeg(),
        "media/photo.jpg": photo,
        "copy/photo.jpg": photo,
        "media/broken.png": transparent_png()[:300],
    }
    for name, data in files.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(data)
    figures = [
        figure(f"/{name}", f"Picture {n}.", "Photo: Ola Nordmann") for n, name in enumerate(files)
    ]
    (root / "story.html").write_text(page("Four pictures, three files", figures))
    db_path = tmp_path_factory.mktemp("picture-files-db") / "files.db"
    thumbs = json.dumps({"big": [BIG, BIG]})
    with SiteServer(root) as server:
        result = run_newsarchive(
            "crawl", "news", "--db", str(db_path), *FAST, "-s", f"IMAGES_THUMBS={thumbs}",
            "-a", "site=files", "-a", f"start_urls={server.base_url}/story.html",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        row["url"].split("/", 3)[-1]: row
        for row in sqlite_utils.Database(db_path).query("select * from images")
    }
    return db_path.parent / "images", files, rows, result.stderr


def test_files_are_named_by_the_hash_of_their_bytes_and_kept_as_downloaded(crawled):
    store, files, rows, _log = crawled
    for name in ("media/clear.png", "media/sideways.jpg", "media/photo.jpg"):
        row, data = rows[name], files[name]
        sha = hashlib.sha256(data).hexdigest()
        extension = {"PNG": "png", "JPEG": "jpg"}[row["file_format"]]
        assert (row["sha256"], row["file_path"]) == (sha, f"full/{sha[:2]}/{sha}.{extension}")
        assert (store / row["file_path"]).read_bytes() == data  # not re-encoded
    stored = sorted(p.relative_to(store).as_posix() for p in (store / "full").rglob("*.*"))
    assert stored == sorted({rows[n]["file_path"] for n in rows if rows[n]["file_path"]})
    assert len(stored) == 3  # the photo at two URLs is one file


def test_each_thumbnail_is_a_jpeg_file_and_the_small_one_is_on_the_row(crawled):
    store, _files, rows, _log = crawled
    for row in rows.values():
        if row["sha256"] is None:
            continue
        key = f"{row['sha256'][:2]}/{row['sha256']}.jpg"
        small = (store / "thumbs" / "small" / key).read_bytes()
        assert small == row["thumbnail"]
        big = Image.open(store / "thumbs" / "big" / key)
        longer = max(row["file_width"], row["file_height"])
        assert big.format == "JPEG" and max(big.size) == min(BIG, longer)  # never enlarged


def test_thumbnails_are_upright_and_transparency_is_white(crawled):
    _store, _files, rows, _log = crawled
    sideways = rows["media/sideways.jpg"]
    assert (sideways["file_width"], sideways["file_height"]) == (200, 400)
    assert Image.open(io.BytesIO(sideways["thumbnail"])).size == (160, 320)
    clear = Image.open(io.BytesIO(rows["media/clear.png"]["thumbnail"]))
    assert clear.size == (320, 213) and min(clear.convert("RGB").getpixel((5, 5))) > 240


def test_a_rejected_picture_is_one_log_line_without_traceback(crawled):
    _store, _files, rows, log = crawled
    assert rows["media/broken.png"]["sha256"] is None
    about = [line for line in log.splitlines() if "media/broken.png" in line]
    ours = [line for line in about if "[newsarchive.pipelines.images] WARNING" in line]
    assert len(ours) == 1 and "not a readable picture: a broken PNG file" in ours[0]
    assert not [line for line in about if "[scrapy" in line and "ERROR" in line]
    assert "Traceback" not in log
