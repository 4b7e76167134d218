"""A small HTTP server for a folder of pages on 127.0.0.1: the demo site, and the tests' sites.

- ``/`` and folders answer their ``index.html``;
- ``PATH`` is served from ``PATH`` or, gzip-encoded, from ``PATH.gz``; a ``.gz`` file asked for by
  its own name is served as it is (``application/gzip``), as web servers serve ``sitemap.xml.gz``;
- ``{{BASE}}`` in text files becomes the server's own address;
- files carry an ``ETag`` (hash of the bytes served) and ``Last-Modified`` (the file's mtime), and a
  matching ``If-None-Match`` or ``If-Modified-Since`` gets 304, as a real web server would;
- an optional ``routes.json`` maps a path (or a path with its query) to a fixed answer
  (``{"/gone": {"status": 500, "body": "...", "content_type": "text/plain"}}``).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

DEMO_SITE = Path(__file__).parent / "site"
_TEXT_TYPES = (
    "text/",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/json",
)


class SiteServer:
    """Serve ``root`` on ``host:port`` (port 0: a free one) in a background thread."""

    def __init__(
        self,
        root: Path = DEMO_SITE,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        #: (path, headers) of every request received, for tests to inspect.
        self.requests: list[tuple[str, dict[str, str]]] = []
        # keep_alive: HTTP/1.1, connections kept open between requests, as news sites keep
        # them; off (HTTP/1.0, one connection a request) a route's made-up Content-Length
        # cannot leave a client waiting for the rest of a body.
        protocol = "HTTP/1.1" if keep_alive else "HTTP/1.0"
        handler = type("Handler", (_Handler,), {"site": self, "protocol_version": protocol})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        if isinstance(host, bytes):  # typeshed allows it (AF_UNIX); a TCP server has a str
            host = host.decode("ascii")
        return f"http://{host}:{port}"

    def start(self) -> SiteServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="site-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def routes(self) -> dict[str, dict]:
        """``routes.json``, read on each request so that tests can change a site between crawls."""
        routes_file = self.root / "routes.json"
        return json.loads(routes_file.read_text()) if routes_file.exists() else {}

    def resolve(self, path: str) -> Path | None:
        """The file that answers ``path``, inside ``root`` only."""
        candidate = (self.root / unquote(path).lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        for option in (candidate, candidate.with_name(candidate.name + ".gz")):
            if option.is_file():
                return option
        return None


class _Handler(BaseHTTPRequestHandler):
    site: SiteServer
    server_version = "newsarchive-site/1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        path = urlsplit(self.path).path
        self.site.requests.append((self.path, dict(self.headers)))
        routes = self.site.routes
        route = routes.get(self.path, routes.get(path))
        if route is not None:
            body = route.get("body", "").replace("{{BASE}}", self.site.base_url).encode("utf-8")
            self._send(
                route.get("status", 200),
                body,
                route.get("content_type", "text/html; charset=utf-8"),
                head=head,
                headers=route.get("headers", {}),
            )
            return
        file = self.site.resolve(path)
        if file is None:
            self._send(
                404,
                b"<html><body><h1>Not found</h1></body></html>",
                "text/html; charset=utf-8",
                head=head,
            )
            return
        # PATH answered from PATH.gz is gzip-encoded; a .gz file asked for by name is served as it is.
        gzipped = file.suffix == ".gz" and not path.endswith(".gz")
        name = file.name[:-3] if gzipped else file.name
        guessed, encoding = mimetypes.guess_type(name)
        ctype = "application/gzip" if encoding == "gzip" else guessed or "application/octet-stream"
        if name.endswith(".rss"):
            ctype = "application/rss+xml"
        body = file.read_bytes()
        if not gzipped and ctype.startswith(_TEXT_TYPES):
            body = body.replace(b"{{BASE}}", self.site.base_url.encode())
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        mtime = int(file.stat().st_mtime)
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        if self._not_modified(etag, mtime):
            self._send(304, b"", ctype, head=True, headers=headers)
            return
        self._send(200, body, ctype, head=head, headers=headers)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match:
            return etag in [tag.strip() for tag in if_none_match.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return mtime <= email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    def _send(
        self, status: int, body: bytes, ctype: str, *, head: bool, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
