"""What changed between two versions of an article: pure functions used by the store.

- :func:`readable_diff` gives a line diff of title and body that a journalist can read in Datasette;
- :func:`find_corrections` finds correction and editor's-note paragraphs, so that a revision that
  appends one is flagged.
"""

from __future__ import annotations

import difflib
import re

#: Paragraph openings that newsrooms use for corrections, clarifications and editor's notes.
CORRECTION_PATTERN = re.compile(
    r"^\W*(?:"
    r"(?:corrections?|clarifications?|editor['’]s\s+notes?|updated?)\s*(?:\([^)]{0,40}\)\s*)?[:—–-]"
    r"|updated?\s+(?:at|on)\s+\S"
    r"|an?\s+(?:earlier|previous)\s+version\s+of\s+this"
    r"|this\s+(?:article|story|report)\s+(?:has\s+been|was)\s+(?:updated|corrected|amended)"
    r")",
    re.IGNORECASE,
)
#: Unchanged paragraphs shown around each change in a readable diff.
DIFF_CONTEXT_PARAGRAPHS = 1


def paragraphs(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split("\n\n") if p.strip()]


def find_corrections(body: str | None) -> list[str]:
    """The paragraphs of ``body`` that are corrections, clarifications or editor's notes."""
    return [p for p in paragraphs(body) if CORRECTION_PATTERN.match(p)]


def new_corrections(old_body: str | None, new_body: str | None) -> list[str]:
    """Correction paragraphs present in ``new_body`` and not in ``old_body``."""
    before = set(find_corrections(old_body))
    return [p for p in find_corrections(new_body) if p not in before]


def readable_diff(
    old: dict[str, str | None],
    new: dict[str, str | None],
    *,
    fields: tuple[str, ...] = ("title", "body_text"),
) -> str:
    """A unified diff, paragraph by paragraph, of ``fields`` between two versions ("" if equal)."""
    parts = []
    for field in fields:
        before, after = paragraphs(old.get(field)), paragraphs(new.get(field))
        if before == after:
            continue
        lines = difflib.unified_diff(
            before,
            after,
            fromfile=f"{field} (before)",
            tofile=f"{field} (after)",
            lineterm="",
            n=DIFF_CONTEXT_PARAGRAPHS,
        )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
