"""HTML pages (beautifulsoup4 with the lxml parser; encoding detected by bs4): headings h1-h6 (and
bold-only paragraphs) become the section path; paragraphs, list items and table rows are blocks.

Boilerplate is dropped before reading: scripts, styles, forms, navigation, headers/footers/asides,
elements whose role/class/id say navigation, menu, breadcrumb, cookie, banner, share or footer, a
"contents" list, and reference lists (sections headed "References"). Metadata comes from <meta>
tags when present (FDA SPL renderings carry documentSetId, version and effective time; PDQ pages
their CDR id). id `html-<file stem>`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from rag.errors import CorpusError
from rag.loaders.common import HEADINGS, Block, Collector, clean, first_year, one_line, read_bytes, sections_from_blocks, slug
from rag.loaders.limits import limits, over_limit
from rag.models import Document, Section

BOILERPLATE_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "form", "button", "select", "input",
                    "textarea", "nav", "header", "footer", "aside", "head", "link", "meta"]
BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar", "toolbar"}
BOILERPLATE_NAME = re.compile(
    r"(^|[-_ ])(nav|navbar|navigation|menu|breadcrumbs?|footer|site-header|sidebar|cookies?|consent|banner|skip(-link)?|share|social|"
    r"subscribe|newsletter|advert|ads|promo)([-_ ]|$)|(^|\s)(toc|table-of-contents)(\s|$)",
    re.IGNORECASE,
)
CONTAINERS = {"div", "ul", "ol", "nav", "section", "aside", "span", "p", "table", "form", "header", "footer", "a", "li"}
DROPPED_HEADINGS = re.compile(r"^(references?|bibliography|(full prescribing information: )?contents\*?|table of contents|on this page)$", re.IGNORECASE)
BLOCK_TAGS = {"p", "div", "li", "dd", "dt", "ul", "ol", "dl", "blockquote", "pre", "section", "article", "main", "figure", "figcaption",
              "address", "center", "caption", "hr", "tr", "tbody", "thead", "tfoot"}
SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "math", "img", "map", "area"}


def can_load(path: Path) -> bool:
    return path.suffix.lower() in {".html", ".htm", ".xhtml"}


def load(path: Path) -> list[Document]:
    where = str(path)
    data = read_bytes(path)
    _check_tags(data, where)
    if not data.strip():
        raise CorpusError(f"{where}: empty file")
    try:
        return [_parse(data, path)]
    except CorpusError:
        raise
    except RecursionError as error:
        raise CorpusError(f"{where}: HTML nested too deeply to read") from error
    except (ValueError, TypeError, AttributeError, LookupError, AssertionError) as error:  # parser edge cases on damaged markup
        raise CorpusError(f"{where}: unreadable HTML ({one_line(error)})") from error


def _check_tags(data: bytes, where: str) -> None:
    """Refuse a page with more '<' marks (an upper bound of its tags) than max_elements before
    BeautifulSoup builds a Python object for every element (a million cost ~450 MB and ~35 s)."""
    bound = limits().max_elements
    marks = data.count(b"<")
    if marks > bound:
        raise over_limit(where, f"{marks:,} '<' marks (more elements than a page has)", "max_elements", bound)


def _parse(data: bytes, path: Path) -> Document:
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    where = str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(data, "lxml")
    meta = {}
    for tag in soup.find_all("meta"):
        key = tag.get("name") or tag.get("property") or tag.get("itemprop")
        if key and tag.get("content"):
            meta[str(key).lower()] = clean(str(tag.get("content")))
    canonical = soup.find("link", rel="canonical")
    page_title = clean(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup(BOILERPLATE_TAGS):
        tag.decompose()
    for tag in soup.find_all(list(CONTAINERS)):
        if getattr(tag, "decomposed", False):
            continue
        attrs = tag.attrs if isinstance(getattr(tag, "attrs", None), dict) else {}
        role = str(attrs.get("role") or "").lower()
        names = " ".join([str(attrs.get("id") or ""), *[str(c) for c in (attrs.get("class") or [])]])
        if role in BOILERPLATE_ROLES or (names.strip() and BOILERPLATE_NAME.search(names)):
            tag.decompose()
    root = soup.body or soup
    out = Collector()
    _walk(root, out)
    out.flush()
    blocks, cdr = _drop_boilerplate_blocks(out.blocks)
    sections = _sections(blocks)
    if not sections:
        raise CorpusError(f"{where}: no text in the page body")
    h1 = next((b.text for b in blocks if b.level == 1), "")
    is_label = "documentsetid" in meta or "PRESCRIBING INFORMATION" in " ".join(b.text for b in blocks[:20]).upper()
    title = _title(page_title, h1, is_label) or path.stem
    kind = "label" if is_label else "review" if "(PDQ" in title else "guideline" if "guideline" in title.lower() else "other"
    body = meta.get("author") or meta.get("publisher") or meta.get("citation_publisher") or meta.get("dc.publisher") or meta.get("og:site_name")
    if not body and "(PDQ" in title:
        body = "National Cancer Institute (PDQ)"
    effective = meta.get("documenteffectivetime", "")
    changed = next((m for b in blocks if b.is_heading and (m := re.search(r"Changes to This Summary \((\d\d)/(\d\d)/(\d{4})\)", b.text))), None)
    if changed and not effective:  # PDQ: the date of the last change
        effective = changed.group(3) + changed.group(1) + changed.group(2)
    year = first_year(effective[:4]) or first_year(meta.get("dcterms.modified") or meta.get("article:modified_time") or meta.get("date") or "")
    identifiers = {}
    if meta.get("documentsetid"):
        identifiers["setid"] = meta["documentsetid"]
    if cdr:
        identifiers["cdr"] = cdr
    url = meta.get("og:url") or (canonical.get("href") if canonical is not None else None)
    if url:
        identifiers["url"] = str(url)
    try:
        return Document(
            id=f"html-{slug(path.stem.lower())}",
            title=title[:300],
            kind=kind,
            body=body[:300] if body else None,
            year=year,
            version=meta.get("documentversionnumber"),
            identifiers=identifiers,
            as_of=f"{effective[:4]}-{effective[4:6]}-{effective[6:8]}" if re.match(r"^\d{8}$", effective) else None,
            sections=sections,
            source_path=where,
        )
    except ValueError as error:
        raise CorpusError(f"{where}: {one_line(error)}") from error


def _walk(node, out: Collector) -> None:  # noqa: ANN001 - bs4 Tag or NavigableString
    from bs4 import Comment, NavigableString, Tag

    if isinstance(node, Comment):
        return
    if isinstance(node, NavigableString):
        out.add(str(node))
        return
    if not isinstance(node, Tag):
        return
    name = (node.name or "").lower()
    if name in SKIP_TAGS:
        return
    if name in HEADINGS:
        out.heading(node.get_text(""), HEADINGS[name])
        return
    if name == "table":
        out.flush()
        _table(node, out)
        return
    if name == "br":
        out.add("\n")
        return
    block = name in BLOCK_TAGS
    if block:
        out.flush()
        if name == "p" and _bold_only(node):
            out.heading(clean(node.get_text(" ")).rstrip(":").strip(), 7)
            return
    if name == "li":
        out.add("• ")
    for child in node.children:
        _walk(child, out)
    if block:
        out.flush()


def _bold_only(node) -> bool:  # noqa: ANN001
    text = clean(node.get_text(" ")).rstrip(":").strip()
    if not text or len(text) > 120 or text.endswith((".", ";", ",")):
        return False
    bold = [b for b in node.find_all(["strong", "b"]) if not b.find_parent(["strong", "b"])]
    return bool(bold) and clean(" ".join(b.get_text(" ") for b in bold)).rstrip(":").strip() == text


def _table(table, out: Collector) -> None:  # noqa: ANN001
    header: list[str] = []
    caption = table.find("caption")
    if caption is not None and clean(caption.get_text(" ")):
        out.blocks.append(Block(clean(caption.get_text(" "))))
    for row in table.find_all("tr"):
        cells = [clean(c.get_text(" ")) for c in row.find_all(["td", "th"], recursive=False)]
        if not any(cells):
            continue
        if not header and all(c.name == "th" for c in row.find_all(["td", "th"], recursive=False)):
            header = cells
            continue
        if header and len(header) == len(cells):
            text = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True) if c)
        else:
            text = " | ".join(c for c in cells if c)
        if text:
            out.blocks.append(Block(text))


def _drop_boilerplate_blocks(blocks: list[Block]) -> tuple[list[Block], str | None]:
    """Drop reference lists and contents lists (a heading and everything below it until the next
    heading of the same or a higher level) and a leading PDQ 'CDR...;...' metadata line."""
    out: list[Block] = []
    dropping: int | None = None
    cdr = None
    for block in blocks:
        if not block.is_heading and not out and (match := re.match(r"^(CDR\d+);", block.text)):
            cdr = match.group(1)
            continue
        if block.is_heading:
            if dropping is not None and block.level <= dropping:
                dropping = None
            if dropping is None and DROPPED_HEADINGS.match(block.text.strip()):
                dropping = block.level
                continue
        if dropping is None:
            out.append(block)
    return out, cdr


def _sections(blocks: list[Block]) -> list[Section]:
    """A page's single <h1> is its title, not a section: it is left out of the paths."""
    if sum(1 for b in blocks if b.level == 1) == 1:
        blocks = [b for b in blocks if b.level != 1]
    return sections_from_blocks(blocks)


def _title(page_title: str, h1: str, is_label: bool) -> str:
    page_title = re.sub(r"^WCMS Summary:\s*", "", page_title)
    if is_label:
        match = re.search(r"([A-Z][A-Z0-9\-]{2,}\s*[®™]?\s*\([^)]{2,80}\)[^.]{0,80}?\buse)", page_title)
        if match:
            return clean(match.group(1))
    if h1 and (not page_title or len(h1) <= len(page_title)):
        return h1
    return page_title or h1
