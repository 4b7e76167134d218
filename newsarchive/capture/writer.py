"""WARC files with warcio: a rotating gzip writer, reading one capture back, indexing files.

No Scrapy here. A capture is one HTTP exchange written as two records, the ``response``
(first; its offset is the one the archive keeps) and its ``request`` (``WARC-Concurrent-To``
the response). warcio computes ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` (SHA-1,
base32) and ``WARC-Date``; every file starts with a ``warcinfo`` record. Each record is its
own gzip member, so a record can be read from its offset alone; members are compressed at zlib's
level 6 (:data:`GZIP_LEVEL`), not warcio's 9, which costs 2.5x the time on a plain HTML page for
0.5% fewer bytes, and a response whose body is content-encoded is stored in its member
uncompressed (:data:`ENCODED_BODY_LEVEL`).

What is stored is the HTTP message as Scrapy received it from the network: the body still
content-encoded (gzip stays gzip, with its ``Content-Encoding`` header) but no longer chunked,
so ``Transfer-Encoding`` is dropped from the stored headers.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

#: ``Request.meta`` key holding the capture (a :class:`CaptureRef` as a dict) of a response.
CAPTURE_META = "newsarchive_capture"
#: Headers not stored: the body is stored de-chunked, so this one would lie.
_DROPPED_RESPONSE_HEADERS = {"transfer-encoding"}
DEFAULT_MAX_BYTES = 1024**3
#: The protocol of an exchange when the response does not say.
DEFAULT_PROTOCOL = "HTTP/1.1"
#: Not Modified: the bodiless answer to a conditional request.
HTTP_NOT_MODIFIED = 304
#: zlib level of each record's gzip member (measured on 60 aeb-dev pages served without
#: Content-Encoding: level 9 8.9 ms and 36,839 bytes a page, 6 3.6 ms and 37,034 bytes, 1 1.7 ms and
#: 43,899 bytes; a body already gzip-encoded costs about 0.6 ms at any level).
GZIP_LEVEL = 6
#: zlib level of the member of a response whose body is content-encoded (gzip, br, ...): stored,
#: since compressing compressed bytes again gains nothing (60 aeb-dev pages gzip-encoded, with
#: their headers: 34,542 bytes a record stored against 34,446 at level 6, 0.03 ms against 0.59).
ENCODED_BODY_LEVEL = 0
#: zlib's window bits for a stream in a gzip wrapper (header and trailer).
GZIP_WBITS = zlib.MAX_WBITS | 16


class _GzipMembers:
    """A file each record goes to as its own gzip member (warcio's ``gzip=True`` always uses
    level 9): warcio flushes after each record, which ends the member."""

    def __init__(self, out: io.BufferedWriter, *, level: int = GZIP_LEVEL) -> None:
        self.out, self.level = out, level
        self._compressor: Any = None

    def write(self, data: bytes) -> None:
        if self._compressor is None:
            self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, GZIP_WBITS)
        self.out.write(self._compressor.compress(data))

    def flush(self) -> None:
        if self._compressor is not None:
            self.out.write(self._compressor.flush())
            self._compressor = None
        self.out.flush()


@dataclass
class CaptureRef:
    """Where one response lives in the WARC files; one ``captures`` row."""

    id: str
    """``WARC-Record-ID`` of the response record, ``urn:uuid:...`` without the angle brackets."""
    url: str
    """``WARC-Target-URI``: the URL requested."""
    warc_file: str
    """The WARC file: relative to the WARC folder (``NEWSARCHIVE_WARC_DIR``) when inside it, else absolute."""
    offset: int
    """Byte offset of the (gzip member of the) response record in the file."""
    length: int
    """Length in bytes of that gzip member."""
    payload_digest: str | None
    """``WARC-Payload-Digest`` (``sha1:BASE32``) of the HTTP body as received."""
    warc_date: str
    """``WARC-Date``: when the response was received (UTC, ISO 8601)."""
    status: int | None
    """HTTP status code."""
    content_type: str | None
    """The response's Content-Type header."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (every one a scalar: ``dataclasses.asdict`` would deep-copy)."""
        return {name: getattr(self, name) for name in _CAPTURE_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaptureRef:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**values)


_CAPTURE_FIELDS = tuple(field.name for field in fields(CaptureRef))


@dataclass
class StoredResponse:
    """An HTTP response read back from a WARC file."""

    url: str
    status: int
    protocol: str
    headers: list[tuple[str, str]]
    body: bytes
    """The payload as stored: still content-encoded unless read with ``decode=True``."""
    record_id: str
    warc_date: str


def record_id(rec_headers: StatusAndHeaders) -> str:
    return (rec_headers.get_header("WARC-Record-ID") or "").strip("<>")


def warc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RotatingWarcWriter:
    """Write captures to ``folder/PREFIX-TIMESTAMP-SERIAL-PID.warc.gz``, starting a new file
    once the current one has reached ``max_bytes`` (a capture is never split across files)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        prefix: str = "newsarchive",
        software: str = "newsarchive",
        info: dict[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max(1, int(max_bytes))
        self.prefix = prefix
        self.software = software
        self.info = dict(info or {})
        self._serial = 0
        self._fh: io.BufferedWriter | None = None
        self._members: _GzipMembers | None = None
        self._writer: WARCWriter | None = None
        self.path: Path | None = None
        self.files: list[Path] = []

    # -- files ------------------------------------------------------------------------
    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
        while True:
            self._serial += 1
            path = self.folder / f"{self.prefix}-{stamp}-{self._serial:05d}-{os.getpid()}.warc.gz"
            if not path.exists():
                break
        self._fh = path.open("xb")
        self._members = _GzipMembers(self._fh)
        self._writer = WARCWriter(self._members, gzip=False)
        self.path = path
        self.files.append(path)
        info = {
            "software": self.software,
            "format": "WARC File Format 1.0",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/",
            **self.info,
        }
        self._writer.write_record(self._writer.create_warcinfo_record(path.name, info))
        self._fh.flush()

    def _rotate_if_full(self) -> None:
        if self._fh is not None and self._fh.tell() >= self.max_bytes:
            self.close()
        if self._fh is None:
            self._open()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = self._writer = self._members = None

    def __enter__(self) -> RotatingWarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ----------------------------------------------------------------------
    def _current(self) -> tuple[WARCWriter, io.BufferedWriter, Path]:
        """The open file (a new one when the current is full), its writer and path."""
        self._rotate_if_full()
        if self._writer is None or self._fh is None or self.path is None:
            raise RuntimeError(f"no WARC file open in {self.folder}")
        return self._writer, self._fh, self.path

    def write_exchange(
        self,
        *,
        url: str,
        method: str = "GET",
        request_headers: Iterable[tuple[str, str]] = (),
        request_body: bytes = b"",
        status: int,
        response_headers: Iterable[tuple[str, str]],
        body: bytes,
        protocol: str | None = None,
        ip_address: str | None = None,
        warc_date: str | None = None,
    ) -> CaptureRef:
        """Write one response and its request; return where the response record is."""
        writer, fh, path = self._current()
        date = warc_date or warc_now()
        protocol = protocol or DEFAULT_PROTOCOL
        kept = [(k, v) for k, v in response_headers if k.lower() not in _DROPPED_RESPONSE_HEADERS]
        response = _response_record(
            writer, url, status, kept, body, protocol=protocol, date=date, ip_address=ip_address
        )
        request = _request_record(
            writer, url, method, list(request_headers), request_body, protocol=protocol, date=date
        )
        request.rec_headers.add_header(
            "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
        )
        offset = fh.tell()
        self._write(writer, response, level=_response_level(kept))
        length = fh.tell() - offset
        self._write(writer, request, level=GZIP_LEVEL)
        fh.flush()
        return CaptureRef(
            id=record_id(response.rec_headers),
            url=url,
            warc_file=path.name,
            offset=offset,
            length=length,
            payload_digest=response.rec_headers.get_header("WARC-Payload-Digest"),
            warc_date=date,
            status=status,
            content_type=next((v for k, v in kept if k.lower() == "content-type"), None),
        )

    def _write(self, writer: WARCWriter, record: ArcWarcRecord, *, level: int) -> None:
        """One record, as its own gzip member at zlib ``level``."""
        if self._members is not None:
            self._members.level = level
        writer.write_record(record)


def _response_level(headers: list[tuple[str, str]]) -> int:
    """The zlib level of a response record: stored when its body is content-encoded."""
    encodings = (v.strip().lower() for k, v in headers if k.lower() == "content-encoding")
    return ENCODED_BODY_LEVEL if any(e not in ("", "identity") for e in encodings) else GZIP_LEVEL


def _response_record(
    writer: WARCWriter,
    url: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    protocol: str,
    date: str,
    ip_address: str | None,
) -> ArcWarcRecord:
    """The ``response`` record of one exchange (not written yet)."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    warc_headers = {"WARC-Date": date}
    if ip_address:
        warc_headers["WARC-IP-Address"] = ip_address
    # With its length, warcio reads the body once for its payload digest and once to write it;
    # without, it copies it to a temporary file and hashes it twice (the record is the same).
    return writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=StatusAndHeaders(f"{status} {reason}", headers, protocol=protocol),
        warc_headers_dict=warc_headers,
    )


def _request_record(
    writer: WARCWriter,
    url: str,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    protocol: str,
    date: str,
) -> ArcWarcRecord:
    """The ``request`` record of one exchange (not written yet)."""
    http_request = StatusAndHeaders(
        f"{method} {_request_target(url)} {protocol}",
        headers,
        protocol=protocol,
        is_http_request=True,
    )
    return writer.create_warc_record(
        url,
        "request",
        payload=io.BytesIO(body),
        http_headers=http_request,
        warc_headers_dict={"WARC-Date": date},
    )


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# -- reading ----------------------------------------------------------------------------


def read_capture(path: str | Path, offset: int, *, decode: bool = False) -> StoredResponse:
    """The response record at ``offset`` of ``path``. ``decode=True`` undoes the body's
    Content-Encoding (gzip, deflate, br) as a browser would; otherwise the body is as stored."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            if record.rec_type != "response":
                raise ValueError(f"{path}@{offset} is a {record.rec_type} record, not a response")
            http = record.http_headers
            body = record.content_stream().read() if decode else record.raw_stream.read()
            return StoredResponse(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(http.get_statuscode() or 0),
                protocol=http.protocol or DEFAULT_PROTOCOL,
                headers=list(http.headers),
                body=body,
                record_id=record_id(record.rec_headers),
                warc_date=record.rec_headers.get_header("WARC-Date"),
            )
    raise ValueError(f"no WARC record at {path}@{offset}")


def expand_patterns(patterns: str | Iterable[str]) -> list[Path]:
    """WARC files matching glob ``patterns`` (one string, or several), sorted, de-duplicated."""
    if isinstance(patterns, str):
        patterns = [patterns]
    files: dict[str, Path] = {}
    for pattern in patterns:
        for name in sorted(glob.glob(os.path.expanduser(pattern))):
            path = Path(name)
            if path.is_file():
                files.setdefault(str(path.resolve()), path.resolve())
    return list(files.values())


def exchange_key(url: str, method: str = "GET", body: bytes = b"") -> str:
    """What replay looks an exchange up by: the URL of a GET (or HEAD) without a body; for any
    other request (a POST to an API) its method, URL and the SHA-256 of its body, so that two
    POSTs to one URL with different bodies (the innertube player API asked about two videos)
    are two captures. (A URL never contains a space.)"""
    method = (method or "GET").upper()
    if method in ("GET", "HEAD") and not body:
        return url
    return f"{method} {url} sha256:{hashlib.sha256(body or b'').hexdigest()}"


def _capture_ref(path: Path, record: ArcWarcRecord, offset: int, length: int) -> CaptureRef:
    headers, http = record.rec_headers, record.http_headers
    return CaptureRef(
        id=record_id(headers),
        url=headers.get_header("WARC-Target-URI"),
        warc_file=str(path),
        offset=offset,
        length=length,
        payload_digest=headers.get_header("WARC-Payload-Digest"),
        warc_date=headers.get_header("WARC-Date"),
        status=int(http.get_statuscode() or 0) if http else None,
        content_type=http.get_header("Content-Type") if http else None,
    )


def _iter_exchanges(path: str | Path) -> Iterator[tuple[CaptureRef | None, str | None, str | None]]:
    """Every record of interest of one WARC file, in file order: ``(ref, None, None)`` for a
    response, ``(None, response id, key)`` for a request that is not a plain GET
    (``WARC-Concurrent-To`` names its response; key: :func:`exchange_key`)."""
    path = Path(path)
    with path.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            if record.rec_type == "response":
                iterator.read_to_end(record)
                ref = _capture_ref(
                    path, record, iterator.get_record_offset(), iterator.get_record_length()
                )
                yield ref, None, None
            elif record.rec_type == "request" and record.http_headers is not None:
                method = record.http_headers.protocol or "GET"  # the request line's first word
                body = record.content_stream().read()
                if method.upper() in ("GET", "HEAD") and not body:
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                response_id = (record.rec_headers.get_header("WARC-Concurrent-To") or "").strip(
                    "<>"
                )
                yield None, response_id, exchange_key(url, method, body)


def iter_captures(path: str | Path) -> Iterator[CaptureRef]:
    """Every response record of one WARC file, in file order."""
    for ref, _response_id, _key in _iter_exchanges(path):
        if ref is not None:
            yield ref


def _file_index(path: str | Path) -> list[tuple[str, CaptureRef]]:
    """``(exchange key, capture)`` of every response of one file: a response to a request that
    is not a plain GET is keyed by :func:`exchange_key` of that request, not by its URL."""
    refs: list[CaptureRef] = []
    keys: dict[str, str] = {}
    for ref, response_id, key in _iter_exchanges(path):
        if ref is not None:
            refs.append(ref)
        elif response_id and key:
            keys[response_id] = key
    return [(keys.get(ref.id, ref.url), ref) for ref in refs]


def index_warcs(paths: Iterable[str | Path]) -> dict[str, CaptureRef]:
    """Exchange key (:func:`exchange_key`: the URL of a GET) → its latest capture (by WARC-Date,
    then file and offset order) over ``paths``.
    A 304 Not Modified (no body: the answer to a conditional request) is used only when the
    files hold nothing else for the URL."""
    index: dict[str, CaptureRef] = {}

    def rank(ref: CaptureRef) -> tuple[bool, str]:
        return ref.status != HTTP_NOT_MODIFIED, ref.warc_date or ""

    for path in paths:
        for key, ref in _file_index(path):
            current = index.get(key)
            if current is None or rank(ref) >= rank(current):
                index[key] = ref
    return index


def relative_to(path: str | Path, folder: str | Path | None) -> str:
    """``path`` relative to ``folder`` when inside it, else absolute: ``captures.warc_file``."""
    path = Path(path).resolve()
    if folder is not None:
        try:
            return path.relative_to(Path(folder).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
