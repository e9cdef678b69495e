"""Text that is safe to print: corpus text, titles and queries can hold terminal escape sequences
(screen clear, window title, hyperlinks) and other control characters; printing strips them."""

from __future__ import annotations

import re

# ESC-introduced sequences (CSI, OSC ... BEL/ST, two-character escapes), then any other C0/C1 control
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))
