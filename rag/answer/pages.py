"""The answer page as one string in a chosen format (markdown, json, html), and writing it to a file
for `rag ask --out`."""

from __future__ import annotations

import os
from pathlib import Path

from rag.answer.models import Answer
from rag.errors import RagError, writing
from rag.text import json_for_terminal

PAGE_FORMATS: tuple[str, ...] = ("markdown", "json", "html")


def page_text(answer: Answer, output: str) -> str:
    """The page without a trailing newline. JSON keeps corpus text exactly (escaped); markdown and
    HTML strip control characters, and HTML escapes markup."""
    if output == "json":
        return json_for_terminal(answer.model_dump_json(indent=2))
    if output == "markdown":
        from rag.answer.render import to_markdown

        return to_markdown(answer).rstrip("\n")
    if output == "html":
        from rag.answer.html import to_html

        return to_html(answer).rstrip("\n")
    raise RagError(f"unknown page format {output!r}; choose one of {', '.join(PAGE_FORMATS)}")


def write_page(path: Path, page: str) -> Path:
    """Write `page` to `path` whole or not at all (a temporary file beside it, then a rename)."""
    partial = path.with_name(f".{path.name}.partial")
    with writing(path, "answer page", "check the path, its permissions and the free disk space", error=RagError):
        try:
            partial.write_text(page + "\n", encoding="utf-8")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return path
