"""The code's shape, kept by a test: small functions in newsarchive/ (issue 10).

ruff (lint and format) and mypy run in .ci/run; what neither checks is kept here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsarchive"

#: The longest a function may be, in lines from its ``def`` to its last line, docstring included.
MAX_FUNCTION_LINES = 50


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_function_over_the_limit():
    too_long = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in _functions(path)
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not too_long, "split these into named steps:\n" + "\n".join(too_long)


def test_the_check_sees_the_package():
    """The walk above finds the package's functions (an empty walk would pass vacuously)."""
    count = sum(1 for path in PACKAGE.rglob("*.py") for _ in _functions(path))
    assert count > 300
