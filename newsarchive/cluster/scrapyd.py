"""A small Scrapyd client over the standard library (urllib), with timeouts.

Only the endpoints the cluster uses: ``daemonstatus.json``, ``addversion.json``,
``schedule.json`` and ``listjobs.json``. A node that does not answer is :class:`NodeUnreachable`;
a node that answers ``{"status": "error"}`` is :class:`NodeError`.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from newsarchive.cluster.config import Node

#: Seconds to wait for a node's answer (uploading an egg may take longer: DEPLOY_TIMEOUT).
TIMEOUT = 10.0
DEPLOY_TIMEOUT = 120.0


class NodeUnreachable(OSError):
    """The node did not answer (refused, timed out, not HTTP, not JSON)."""


class NodeError(RuntimeError):
    """The node answered with an error status."""


@dataclass(frozen=True)
class Job:
    """One job as ``listjobs.json`` lists it."""

    id: str
    spider: str
    state: str
    """"pending", "running" or "finished"."""
    start_time: str | None = None
    end_time: str | None = None

    @property
    def site(self) -> str | None:
        """The site the job crawls, from its id (``SITE--STAMP``, see :func:`job_id`)."""
        site, sep, _ = self.id.rpartition(JOB_SEPARATOR)
        return site if sep else None


#: Between the site and the time stamp in a job id.
JOB_SEPARATOR = "--"
JOB_STATES = ("pending", "running", "finished")


class ScrapydClient:
    """Talk to one node's Scrapyd."""

    def __init__(self, node: Node, *, timeout: float = TIMEOUT) -> None:
        self.node = node
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        if self.node.username is None:
            return {}
        token = f"{self.node.username}:{self.node.password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}

    def call(
        self,
        endpoint: str,
        *,
        query: dict[str, str] | None = None,
        form: list[tuple[str, str]] | None = None,
        body: tuple[bytes, str] | None = None,
        timeout: float | None = None,
    ) -> dict:
        """GET (or POST ``form``, or POST ``body`` with its content type) an endpoint's JSON."""
        url = f"{self.node.url}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = self._headers()
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        elif body is not None:
            data, headers["Content-Type"] = body
        request = urllib.request.Request(url, data=data, headers=headers)
        return self._answer(request, timeout or self.timeout)

    def _answer(self, request: urllib.request.Request, timeout: float) -> dict:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise NodeError(f"HTTP {exc.code} {exc.reason}") from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets; not JSON
            reason = getattr(exc, "reason", None) or exc
            raise NodeUnreachable(str(reason)) from exc
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise NodeError(str(message).strip().splitlines()[-1] if message else "error")
        return answer

    def status(self) -> dict:
        return self.call("daemonstatus.json")

    def add_version(self, project: str, version: str, egg: bytes) -> dict:
        """Upload an egg (``addversion.json``): the project's spiders, as scrapyd-deploy does."""
        body = multipart({"project": project, "version": version}, "egg", "project.egg", egg)
        return self.call("addversion.json", body=body, timeout=DEPLOY_TIMEOUT)

    def schedule(self, project: str, spider: str, *, job: str, settings: dict, args: dict) -> str:
        """Schedule a job (``schedule.json``) with per-job settings and spider arguments."""
        form = [("project", project), ("spider", spider), ("jobid", job)]
        form += [("setting", f"{key}={value}") for key, value in settings.items()]
        form += list(args.items())
        return self.call("schedule.json", form=form)["jobid"]

    def jobs(self, project: str) -> list[Job]:
        """Every job the node knows of the project (``listjobs.json``)."""
        answer = self.call("listjobs.json", query={"project": project})
        return [
            Job(
                str(entry.get("id")),
                str(entry.get("spider")),
                state,
                entry.get("start_time"),
                entry.get("end_time"),
            )
            for state in JOB_STATES
            for entry in answer.get(state, [])
        ]


def multipart(
    fields: dict[str, str], file_field: str, filename: str, content: bytes
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type: text fields and one file."""
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
