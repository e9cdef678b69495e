"""Helpers shared by the source loaders: sniffing a file's head, safe XML parsing, HTML/XML markup
to headed text blocks, and turning those blocks into `Section`s.

XML is parsed with lxml with entity resolution, DTD loading and network access off (PubMed files
name a remote DTD; nothing is fetched). Every parser failure becomes a one-line CorpusError naming
the file, so a malformed file is reported and skipped instead of stopping a build.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from rag.errors import CorpusError
from rag.loaders.limits import InputLimits, check_file_size, limits, over_limit
from rag.models import Section

HEAD_BYTES = 8192
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]+")


def head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first `size` bytes of a file (decompressed for .gz); b'' when it cannot be read."""
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read(size)
        with path.open("rb") as handle:
            return handle.read(size)
    except (OSError, EOFError, zlib.error):
        return b""


def read_bytes(path: Path) -> bytes:
    """The whole file (decompressed for .gz), or CorpusError; held in memory, so at most
    max_file_bytes on disk and decompressed."""
    check_file_size(path)
    limit = limits().max_file_bytes
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                data = handle.read(limit + 1)
            if len(data) > limit:
                raise over_limit(path, f"decompresses to more than {limit:,} bytes", "max_file_bytes", limit)
            return data
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise CorpusError(f"{path}: cannot read ({one_line(error)})") from error


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def xml_pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


class ElementBudget:
    """Counts XML elements held in memory and their nesting as parse events arrive; CorpusError past
    max_elements or max_xml_depth. `release()` says the elements counted so far were freed."""

    def __init__(self, where: object, bounds: InputLimits | None = None) -> None:
        self.where = where
        self.bounds = bounds or limits()
        self.held = 0
        self.depth = 0

    def see(self, event: str) -> None:
        if event == "end":
            self.depth -= 1
            return
        self.held += 1
        self.depth += 1
        if self.held > self.bounds.max_elements:
            raise over_limit(self.where, f"more than {self.bounds.max_elements:,} XML elements", "max_elements", self.bounds.max_elements)
        if self.depth > self.bounds.max_xml_depth:
            raise over_limit(self.where, f"XML nested deeper than {self.bounds.max_xml_depth} elements", "max_xml_depth", self.bounds.max_xml_depth)

    def release(self) -> None:
        self.held = 0


FEED_BYTES = 1 << 20


def parse_xml(data: bytes, where: str) -> etree._Element:
    """The root element of an XML document, or CorpusError('<where>: not well-formed XML (...)').
    Fed in 1 MB pieces so that a flood of elements is refused (max_elements) before it is built."""
    if not data.strip():
        raise CorpusError(f"{where}: empty file")
    parser = xml_pull_parser()
    budget = ElementBudget(where)
    try:
        for offset in range(0, len(data), FEED_BYTES):
            parser.feed(data[offset : offset + FEED_BYTES])
            for event, _ in parser.read_events():
                budget.see(event)
        root = parser.close()
    except etree.XMLSyntaxError as error:
        raise CorpusError(f"{where}: not well-formed XML ({one_line_msg(error)})") from error
    except (ValueError, etree.LxmlError) as error:
        raise CorpusError(f"{where}: not readable as XML ({one_line(error)})") from error
    if root is None:
        raise CorpusError(f"{where}: no XML root element")
    return root


def one_line_msg(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def local(tag: object) -> str:
    """Tag name without namespace ('' for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


_PRIVATE_BULLETS = str.maketrans({"\uf0b7": "•", "\uf0a7": "▪", "\uf06e": "▪", "\uf0d8": "•", "\uf076": "•", "\uf0fc": "✓"})


_MOJIBAKE = re.compile(r"[ÂÃâ][\x80-\xbf]|â€")


def repair(text: str) -> str:
    """UTF-8 read as Latin-1/cp1252 somewhere upstream ("caseâ\x80\x93control", "â€™") repaired by
    ftfy, a well-kept library for exactly this; text without such marks is returned unchanged."""
    if not _MOJIBAKE.search(text):
        return text
    import ftfy

    return ftfy.fix_text(text, normalization="NFC")


def clean(text: str | None) -> str:
    """Whitespace collapsed to single spaces (newlines too), NFC-normalised, mojibake repaired;
    Symbol-font bullets (private-use code points from Word PDFs) mapped to real bullets."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFC", repair(text).translate(_PRIVATE_BULLETS)).split())


def clean_block_text(text: str) -> str:
    """Keep paragraph breaks (blank lines), collapse everything else."""
    paragraphs = [clean(p) for p in _BLANK_LINES.split(text.replace("\r", "\n"))]
    return "\n\n".join(p for p in paragraphs if p)


def element_text(element: etree._Element) -> str:
    return clean("".join(element.itertext()))


def slug(text: str) -> str:
    """A document-id-safe form of `text` (letters, digits, . _ : -). A name that is not all ASCII
    ('指南', 'Barré') or keeps nothing also gets 8 hex chars of its hash: two never share an id."""
    value = _ID_UNSAFE.sub("-", text).strip("-._:")
    if value and text.isascii():
        return value
    digest = hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{value or 'document'}-{digest}"


def first_year(text: str | None) -> int | None:
    """The first plausible 4-digit year (1900-2099) in `text`."""
    if not text:
        return None
    match = re.search(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", text)
    return int(match.group(1)) if match else None


# --- markup to blocks ----------------------------------------------------------------------------

HEADINGS = {f"h{i}": i for i in range(1, 7)}
BLOCK_TAGS = frozenset(
    """p div li dd dt ul ol dl table thead tbody tfoot tr caption blockquote pre section article header
    footer main aside figure figcaption address center form fieldset hr h1 h2 h3 h4 h5 h6 paragraph item
    list""".split()
)
SKIP_TAGS = frozenset("script style noscript template iframe object embed svg math canvas button select input textarea head title meta link".split())
EMPHASIS = frozenset("strong b u em i span a font sup sub".split())


class Block:
    """A heading (level 1-6 for h1-h6; 7-9 for emphasised paragraphs used as headings) or a text block."""

    __slots__ = ("level", "text")

    def __init__(self, text: str, level: int = 0) -> None:
        self.text = text
        self.level = level

    @property
    def is_heading(self) -> bool:
        return self.level > 0

    def __repr__(self) -> str:
        return f"Block({self.text[:40]!r}, level={self.level})"


class Collector:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buffer: list[str] = []

    def add(self, text: str | None) -> None:
        if text:
            self.buffer.append(text)

    def flush(self) -> None:
        text = clean("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.blocks.append(Block(text))

    def heading(self, text: str, level: int) -> None:
        self.flush()
        text = clean(text)
        if text:
            self.blocks.append(Block(text, level))


def _underlined(element: etree._Element) -> bool:
    return local(element.tag).lower() == "u" or "underline" in (element.get("style") or "").replace(" ", "").lower()


def _emphasis_level(element: etree._Element) -> int:
    """A paragraph that is only emphasised text reads as a heading: bold and underlined -> 7, bold
    -> 8, underlined -> 9 ('<p><strong><u>Liver Tests</u></strong></p>', '<p><u>Class IIa</u></p>');
    0 when it is ordinary text. A trailing ':' is allowed."""
    text = element_text(element).rstrip(":").strip()
    if not text or len(text) > 120 or text.endswith((".", ";", ",")):
        return 0
    emphasised = [
        e
        for e in element.iter()
        if e is not element and (local(e.tag).lower() in {"strong", "b"} or _underlined(e))
    ]
    outer = [e for e in emphasised if not any(a in emphasised for a in e.iterancestors())]
    if clean("".join("".join(e.itertext()) for e in outer)).rstrip(":").strip() != text:
        return 0
    bold = any(local(e.tag).lower() in {"strong", "b"} for e in emphasised)
    underline = any(_underlined(e) for e in emphasised)
    return 7 if bold and underline else 8 if bold else 9


def _row_cells(row: etree._Element) -> list[str]:
    return [element_text(cell) for cell in row if local(cell.tag) in {"td", "th"}]


def _walk(element: etree._Element, out: Collector, header: list[str] | None) -> None:
    tag = local(element.tag).lower()
    if not tag or tag in SKIP_TAGS:
        return
    if tag in HEADINGS:
        out.heading(element_text(element), HEADINGS[tag])
        return
    if tag == "table":
        out.flush()
        _table(element, out)
        return
    if tag == "br":
        out.add("\n")
        return
    block = tag in BLOCK_TAGS
    if block:
        out.flush()
        level = _emphasis_level(element) if tag == "p" else 0
        if level:
            out.heading(element_text(element).rstrip(":").strip(), level)
            return
    if tag == "li":
        out.add("• ")
    out.add(element.text)
    for child in element:
        _walk(child, out, header)
        out.add(child.tail)
    if block:
        out.flush()


def _table(table: etree._Element, out: Collector) -> None:
    """Each row becomes one block 'Header: cell; Header: cell' so a rating stays beside its item."""
    header: list[str] = []
    for row in table.iter():
        if local(row.tag).lower() == "caption":
            caption = element_text(row)
            if caption:
                out.blocks.append(Block(caption))
            continue
        if local(row.tag).lower() != "tr":
            continue
        cells = _row_cells(row)
        if not any(cells):
            continue
        is_header = all(local(c.tag).lower() == "th" for c in row if local(c.tag) in {"td", "th"}) or (
            row.getparent() is not None and local(row.getparent().tag).lower() == "thead"
        )
        if is_header and not header:
            header = cells
            continue
        if header and len(header) == len(cells):
            text = "; ".join(f"{h}: {c}" if h and c else c for h, c in zip(header, cells, strict=True) if c)
        else:
            text = " | ".join(c for c in cells if c)
        if text:
            out.blocks.append(Block(text))


def markup_blocks(element: etree._Element) -> list[Block]:
    """Headings and text blocks of an (X)HTML element tree, in document order."""
    out = Collector()
    _walk(element, out, None)
    out.flush()
    return out.blocks


def html_fragment_blocks(fragment: str) -> list[Block]:
    """Blocks of an HTML fragment (as stored in NGC field values)."""
    if not fragment or not fragment.strip():
        return []
    if "<" not in fragment:
        return [Block(clean(fragment))] if clean(fragment) else []
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        text = clean(re.sub(r"<[^>]+>", " ", fragment))
        return [Block(text)] if text else []
    return markup_blocks(root)


def sections_from_blocks(
    blocks: Iterable[Block], base: tuple[str, ...] = (), *, page: int | None = None, max_depth: int = 6
) -> list[Section]:
    """Group text blocks under the chain of headings above them; one Section per heading chain run."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            path = base + tuple(title for _, title in stack)[-max_depth:]
            sections.append(Section(path=path, text="\n\n".join(texts), page=page))
            texts.clear()

    for block in blocks:
        if block.is_heading:
            flush()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text[:200]))
        else:
            texts.append(block.text)
    flush()
    return sections
