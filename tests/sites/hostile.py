"""A hostile news site on 127.0.0.1 for the fault-injection suite (tests/test_hostile.py).

Every page here is written for the tests (no real publisher's page): good articles, and every
kind of broken or hostile input a crawler meets (forged identities, redirects off the site,
truncated or lying bodies, binary data sent as HTML, wrong charsets, absurd markup, huge
headers, resets, trickles and bombs). Each answer is written byte by byte on the socket, so a
route can lie about its length, cut a gzip stream, reset the connection or stall.

``HostileSite(other=...)``: the base URL of a second site (another host, 127.0.0.2) that some
routes redirect to or name as their canonical URL.
"""
from __future__ import annotations

import gzip
import logging
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

WORDS = ("harbour council night shipping cranes terminal ferry budget report vote residents "
         "engineers inspection bridge river school library reading museum archive winter").split()
Route = Callable[["_Handler"], None]


def paragraph(seed: int, words: int = 60) -> str:
    """A readable made-up paragraph (the same for the same seed)."""
    return " ".join(WORDS[(seed * 7 + i * 3 + i // 5) % len(WORDS)] for i in range(words)).capitalize() + "."


def article_html(title: str, *, paragraphs: int = 6, canonical: str | None = None, charset: str | None = "utf-8",
                 body_text: str | None = None, extra_head: str = "", figure: str = "") -> str:
    """A small, well-formed news article page."""
    text = body_text or "\n".join(f"<p>{paragraph(i + len(title))}</p>" for i in range(paragraphs))
    meta = f'<meta charset="{charset}">' if charset else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f"<!DOCTYPE html><html lang=\"en\"><head>{meta}<title>{title}</title>{link}"
            f'<meta property="og:title" content="{title}">{extra_head}</head>'
            f"<body><article><h1>{title}</h1>{figure}{text}</article></body></html>")


class HostileSite:
    """Serve ``routes`` (path -> function writing the answer) on ``host`` in a thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        handler = type("Handler", (_Handler,), {"site": self})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> HostileSite:
        threading.Thread(target=self.httpd.serve_forever, name="hostile-site", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- route builders -----------------------------------------------------------
    def page(self, path: str, body: str | bytes, *, content_type: str = "text/html; charset=utf-8",
             status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = lambda h: h.answer(status, data, content_type, headers or {})

    def redirect(self, path: str, target: str, *, status: int = 302) -> None:
        self.routes[path] = lambda h: h.answer(status, b"", "text/html", {"Location": target})


class _Handler(BaseHTTPRequestHandler):
    site: HostileSite
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        path = urlsplit(self.path).path
        self.site.hits[path] = self.site.hits.get(path, 0) + 1
        route = self.site.routes.get(path)
        try:
            if route is None:
                self.answer(404, b"<html><body><h1>Not found</h1></body></html>", "text/html; charset=utf-8")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the crawler gave up first: that is what some routes test
        self.close_connection = True

    def answer(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None, *,
               content_length: int | None = None) -> None:
        """Status line, headers (``Content-Length`` as given, else the body's) and body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def trickle(self, body: bytes, *, chunk: int, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), chunk):
            self.raw(body[start:start + chunk])
            time.sleep(pause)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6)


def deflate_bomb(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (a few kilobytes on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width`` x ``height`` pixels and holds almost nothing (a pixel bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_bytes(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small JPEG drawn with Pillow (a gradient that depends on ``seed``)."""
    import io

    from PIL import Image

    image = Image.new("RGB", size)
    image.putdata([((x * 5 + seed * 40) % 256, (y * 7 + seed * 13) % 256, (x + y + seed) % 256)
                   for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
                            for n in range(1, 10))
                  + ']><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                  "<url><loc>{base}/laughs/&lol9;.html</loc></url></urlset>")
