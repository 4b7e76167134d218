"""Rendezvous (highest-random-weight) hashing: which node crawls which site.

Every (node, site) pair gets a weight from a stable hash; a site goes to the node of highest
weight. Adding a node moves to it only the sites it now wins; removing one moves only its own
sites (each to its runner-up); every other site stays where it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: Bytes of the SHA-256 digest read as the weight (64 bits: ties are practically impossible).
WEIGHT_BYTES = 8


class NoNodes(ValueError):
    """A site cannot be assigned to an empty list of nodes."""


def weight(node: str, site: str) -> int:
    """The stable weight of ``site`` on ``node``: the same on every machine and Python run."""
    digest = hashlib.sha256(f"{node}\0{site}".encode()).digest()
    return int.from_bytes(digest[:WEIGHT_BYTES], "big")


def assign(site: str, nodes: Iterable[str]) -> str:
    """The node (by name) that crawls ``site``: the one of highest weight (ties: the lower name)."""
    names = list(nodes)
    if not names:
        raise NoNodes(f"no node to assign {site!r} to")
    return max(names, key=lambda node: (weight(node, site), _reverse(node)))


def assign_all(sites: Iterable[str], nodes: Iterable[str]) -> dict[str, str]:
    """``{site: node}`` for every site."""
    names = list(nodes)
    return {site: assign(site, names) for site in sites}


def _reverse(name: str) -> tuple[int, ...]:
    """A key that orders names in reverse, so that ``max`` prefers the lower name on a tie."""
    return tuple(-ord(char) for char in name)
