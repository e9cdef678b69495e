"""Text that is safe to print: corpus text, titles and queries can hold terminal escape sequences
(screen clear, window title, hyperlinks) and other control characters; printing strips them."""

from __future__ import annotations

import re

# ESC-introduced sequences (CSI, OSC ... BEL/ST, two-character escapes), then any other C0/C1 control
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BREAKS = {"\n": "\\n", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """`text` without escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def one_line(text: str) -> str:
    """`text` printable on one line: line breaks shown as `\\n` (a file name may hold one), so an
    error line is never cut and still names the file."""
    for raw, shown in _BREAKS.items():
        text = text.replace(raw, shown)
    return printable(text)


def json_for_terminal(text: str) -> str:
    """JSON text with DEL and C1 controls (and line separators) written as \\u escapes: JSON
    escapes C0 controls but lets these through raw, and a terminal acts on C1 (0x9b is CSI)."""
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
