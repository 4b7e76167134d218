"""Pictures: facts and limits of one file, and real crawls of a site whose articles show a
good picture, a re-published (resized) copy of it on another site, and broken, oversized,
too-many-pixel, unsupported and missing pictures."""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random

import pytest
import sqlite_utils
from PIL import Image, ImageDraw

from newsarchive.demo.server import SiteServer
from newsarchive.pipelines.images import PictureRejected, analyse_picture
from tests.conftest import FAST, run_newsarchive

LIMITS = ("-s", "NEWSARCHIVE_IMAGE_MAX_BYTES=300000", "-s", "NEWSARCHIVE_IMAGE_MAX_PIXELS=20000000")
PARAGRAPH = ("<p>The harbour authority voted on Monday to let container ships dock after dark, ending a rule that "
             "dated from the age of sail and had kept the port closed for eleven hours a day.</p>")


def picture(seed: int = 1, size: tuple[int, int] = (800, 600)) -> Image.Image:
    rnd = random.Random(seed)
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        draw.line([(0, y), (size[0], y)], fill=(y * 255 // size[1], 80, 255 - y * 255 // size[1]))
    for _ in range(12):
        x, y, r = rnd.randrange(size[0]), rnd.randrange(size[1]), rnd.randrange(30, 150)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rnd.randrange(256) for _ in range(3)))
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def figure(src: str, caption: str, credit: str) -> str:
    return (f'<figure><img src="{src}" alt="{caption}"><figcaption>{caption} '
            f'<span class="credit">{credit}</span></figcaption></figure>')


def page(title: str, figures: list[str]) -> str:
    body = "".join(PARAGRAPH + f for f in figures)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="article:published_time" content="2025-03-03T10:00:00Z"></head><body><article>'
            f'<h1>{title}</h1><p class="byline">By Maria Quentin</p>{body}{PARAGRAPH}</article></body></html>')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures-site")
    (root / "media").mkdir()
    (root / "cdn").mkdir()
    (root / "alpha").mkdir()
    (root / "beta").mkdir()
    photo = picture()
    files = {
        "media/photo.jpg": encoded(photo, quality=90),
        "cdn/photo-small.jpg": encoded(photo.resize((400, 300), Image.Resampling.LANCZOS), quality=70),
        "media/broken.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"not really a picture" * 50,
        "media/heavy.jpg": encoded(Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)), quality=95),
        "media/bomb.png": encoded(Image.new("1", (6000, 4000)), "PNG"),
        "media/figure.bmp": encoded(picture(3, (64, 48)), "BMP"),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "alpha" / "story.html").write_text(page("Night shipping approved", [
        figure("/media/photo.jpg", "Cranes over the harbour at dawn.", "REUTERS/Jane Example"),
        figure("/media/broken.jpg", "A picture that is not one.", "Photo: Ola Nordmann"),
        figure("/media/heavy.jpg", "A picture too heavy to keep.", "Photo: Ola Nordmann"),
        figure("/media/bomb.png", "A picture with too many pixels.", "Photo: Ola Nordmann"),
        figure("/media/figure.bmp", "A bitmap.", "Photo: Ola Nordmann"),
        figure("/media/missing.jpg", "A picture that is gone.", "Photo: Ola Nordmann"),
    ]))
    (root / "beta" / "story.html").write_text(page("Ports stay open at night", [
        figure("/cdn/photo-small.jpg", "The harbour at dawn, seen from the pier.", "Jane Example/Reuters"),
    ]))
    with SiteServer(root) as server:
        yield root, server, files


@pytest.fixture(scope="module")
def archive(site, tmp_path_factory):
    root, server, files = site
    db_path = tmp_path_factory.mktemp("pictures-db") / "pictures.db"
    for key in ("alpha", "beta"):
        result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, *LIMITS, "-a", f"site={key}",
                                 "-a", f"start_urls={server.base_url}/{key}/story.html")
        assert result.returncode == 0, result.stderr[-3000:]
    return db_path, sqlite_utils.Database(db_path), files


# -- one file ---------------------------------------------------------------------------


def test_facts_of_a_picture():
    data = encoded(picture(), quality=90)
    facts = analyse_picture(data)
    assert (facts.format, facts.width, facts.height, facts.bytes) == ("JPEG", 800, 600, len(data))
    assert facts.sha256 == hashlib.sha256(data).hexdigest() and len(facts.phash) == 16
    thumb = Image.open(io.BytesIO(facts.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (320, 240)
    copy = encoded(picture().resize((400, 300)), quality=60)
    assert analyse_picture(copy).phash == facts.phash  # re-encoded and resized: the same picture
    assert analyse_picture(encoded(picture(2), quality=90)).phash != facts.phash
    transparent = Image.new("RGBA", (50, 900), (255, 0, 0, 0))
    facts = analyse_picture(encoded(transparent, "PNG"))
    assert facts.format == "PNG" and Image.open(io.BytesIO(facts.thumbnail)).size == (18, 320)


@pytest.mark.parametrize("data, kw, reason", [
    (b"", {}, "empty file"),
    (b"GIF89a broken", {}, "not a readable picture"),
    (encoded(picture(), quality=90)[:5000], {}, "not a readable picture"),  # truncated
    (encoded(picture(), quality=90), {"max_bytes": 1000}, "larger than NEWSARCHIVE_IMAGE_MAX_BYTES"),
    (encoded(Image.new("1", (5000, 5000)), "PNG"), {"max_pixels": 1_000_000}, "NEWSARCHIVE_IMAGE_MAX_PIXELS"),
    (encoded(picture(seed=4, size=(40, 30)), "BMP"), {}, "format BMP not archived"),
])
def test_rejected_pictures(data, kw, reason):
    with pytest.raises(PictureRejected) as caught:
        analyse_picture(data, **kw)
    assert reason in caught.value.reason


# -- crawls -------------------------------------------------------------------------------


def test_downloaded_picture_has_its_facts_file_and_thumbnail(archive):
    db_path, db, files = archive
    row = next(db.query("select * from images where url like '%/media/photo.jpg'"))
    data = files["media/photo.jpg"]
    assert (row["file_format"], row["file_width"], row["file_height"], row["file_bytes"]) == ("JPEG", 800, 600, len(data))
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (db_path.parent / "images" / row["file_path"]).read_bytes() == data
    thumb = Image.open(io.BytesIO(row["thumbnail"]))
    assert thumb.format == "JPEG" and max(thumb.size) == 320
    use = next(db.query("select caption, credit from article_images where image_id = ?", [row["id"]]))
    assert (use["caption"], use["credit"]) == ("Cranes over the harbour at dawn.", "REUTERS/Jane Example")
    capture = next(db.query("select * from captures where id = ?", [row["capture_id"]]))
    assert capture["url"] == row["url"] and capture["content_type"] == "image/jpeg"


def test_a_republished_copy_is_the_same_picture_row(archive):
    _db_path, db, _files = archive
    links = {r["site"]: r["image_id"] for r in db.query(
        "select a.site, ai.image_id from article_images ai join articles a on a.id = ai.article_id "
        "join images i on i.id = ai.image_id where i.sha256 is not null")}
    assert set(links) == {"alpha", "beta"} and links["alpha"] == links["beta"]
    urls = {r["url"].rsplit("/", 1)[-1]: r["image_id"] for r in db.query("select * from image_urls")}
    assert urls["photo.jpg"] == urls["photo-small.jpg"] == links["alpha"]
    assert db.execute("select count(*) from images where phash is not null").fetchone()[0] == 1


def test_bad_pictures_are_failures_and_the_article_is_kept(archive):
    _db_path, db, _files = archive
    failures = {r["url"].rsplit("/", 1)[-1]: r for r in db.query("select * from failures where stage = 'image'")}
    assert set(failures) == {"broken.jpg", "heavy.jpg", "bomb.png", "figure.bmp", "missing.jpg"}
    assert failures["broken.jpg"]["reason"].startswith("not a readable picture")
    assert "NEWSARCHIVE_IMAGE_MAX_BYTES" in failures["heavy.jpg"]["reason"]
    assert "NEWSARCHIVE_IMAGE_MAX_PIXELS" in failures["bomb.png"]["reason"]
    assert failures["figure.bmp"]["reason"].startswith("format BMP not archived")
    assert (failures["missing.jpg"]["reason"], failures["missing.jpg"]["http_status"]) == ("HTTP 404", 404)
    assert all(f["crawl_id"] == 1 for f in failures.values())
    article = next(db.query("select * from articles where site = 'alpha'"))
    pictures = [r["url"].rsplit("/", 1)[-1] for r in db.query(
        "select i.url from article_images ai join images i on i.id = ai.image_id where ai.article_id = ? "
        "order by ai.position", [article["id"]])]
    assert pictures == ["photo.jpg", "broken.jpg", "heavy.jpg", "bomb.png", "figure.bmp", "missing.jpg"]


def test_reuse_queries_and_thumbnails_in_datasette(archive):
    from newsarchive.datasette.serve import make_datasette

    db_path, _db, _files = archive
    name = db_path.stem

    async def fetch(paths):
        ds = make_datasette(db_path)
        await ds.invoke_startup()
        return [await ds.client.get(p) for p in paths]

    reused, by_photographer, by_agency, table = asyncio.run(fetch([
        f"/{name}/photos_reused_across_sites.json?_shape=array",
        f"/{name}/photos_by_photographer.json?_shape=array&name=Jane",
        f"/{name}/photos_by_agency.json?_shape=array&name=Reuters",
        f"/{name}/images?sha256__notblank=1",
    ]))
    assert [(r["sites"], r["site_list"].split(",")) for r in reused.json()] in ([(2, ["alpha", "beta"])],
                                                                              [(2, ["beta", "alpha"])])
    assert [r["photographer"] for r in by_photographer.json()] == ["Jane Example"]
    assert [r["agency"] for r in by_agency.json()] == ["Reuters"]
    assert table.status_code == 200 and table.text.count('src="data:image/jpeg;base64,') == 1
