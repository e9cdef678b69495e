"""PDF with a text layer (pypdf): guideline documents and prescribing information.

- Every Section carries the 1-based page its text starts on (Section.page), so passages cite pages.
  A sentence running over a page break is kept whole on the page where it starts.
- Running headers/footers (page numbers, "Reference ID: 4698734", repeated on many pages) are
  dropped; margin line numbers (the CDC public-comment draft numbers every line, continuing across
  pages, sometimes glued to a hyphen: "co-463") are stripped when the document has them.
- Headings: prescribing information ("FULL PRESCRIBING INFORMATION", "1 INDICATIONS AND USAGE",
  "2.1 Recommended Dosage", highlights banners "----INDICATIONS AND USAGE----"), and for other
  documents the entries of a "CONTENTS" list found on the first pages.
- A PDF without extractable text (scanned) is an error: it would index nothing.
pypdf raises many exception types on damaged files; all become one-line CorpusErrors.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

from rag.errors import CorpusError
from rag.loaders.common import clean, first_year, head, one_line, slug
from rag.loaders.limits import check_file_size
from rag.models import Document, Section

MAX_PAGES = 5000
_TRAILING_NUMBER = re.compile(r"(?<![\d.,/:])(\d{1,5})\s*$")
_LABEL_TOP = re.compile(r"^(\d{1,2})\s+([A-Z][A-Z0-9 ,/&()'’\-–]{2,80})$")
_LABEL_SUB = re.compile(r"^(\d{1,2})\.(\d{1,2})\s+([A-Z][\w ,/&()'’\-–:;]{2,100})$")
_BANNER = re.compile(r"^[\s\-_–—]{4,}\s*([A-Z][A-Z &/,()\-]{3,60}?)\s*[\-_–—\s]{4,}$")
_BOXED = re.compile(r"^WARNING:\s+[A-Z0-9 ,;:'’()\-–/]{4,}$")
_PRODUCT = re.compile(r"^([A-Z][A-Z0-9\-]{2,}\s*[®™]?)\s*\((.+?)\)\s*(.*)$")
_MAKER = re.compile(r"(?:Manufactured|Distributed|Marketed|Manufactured and distributed|Manufactured for|Distributed by)\s*(?:and distributed\s*)?(?:by|for)?\s*:?\s*\n?\s*([A-Z][^\n]{2,80})")
_REVISED = re.compile(r"Revised:?\s*(\d{1,2})\s*/\s*((?:19|20)\d\d)")
_COPYRIGHT = re.compile(r"©\s*((?:19|20)\d\d)")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*\s*$")


def can_load(path: Path) -> bool:
    return path.suffix.lower() == ".pdf" or head(path, 5).startswith(b"%PDF-")


def load(path: Path) -> list[Document]:
    where = str(path)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    check_file_size(path)
    try:
        pages, metadata = _extract(path)
    except CorpusError:
        raise
    except RecursionError as error:
        raise CorpusError(f"{where}: unreadable PDF (structure nested too deeply)") from error
    except Exception as error:  # noqa: BLE001 - pypdf's exceptions are open-ended on damaged files
        raise CorpusError(f"{where}: unreadable PDF ({one_line(error)})") from error
    if not any(line.strip() for page in pages for line in page):
        raise CorpusError(f"{where}: no text layer (scanned PDF?); run OCR first")
    pages = _drop_running_lines(pages)
    pages = _strip_line_numbers(pages)
    is_label = "PRESCRIBING INFORMATION" in "\n".join("\n".join(p) for p in pages[:3]).upper()
    sections = _sections(pages, is_label=is_label)
    if not sections:
        raise CorpusError(f"{where}: no text after removing headers and line numbers")
    title = _title(metadata, pages, is_label) or path.stem
    all_text = "\n".join("\n".join(p) for p in pages)
    body = None
    if is_label:
        maker = _MAKER.search("\n".join("\n".join(p) for p in pages[-4:]))
        body = _company(clean(maker.group(1))) if maker else None
    elif re.match(r"^[A-Z]{2,8}\b", title) and title.split()[0] not in {"THE", "A", "AN"}:
        body = title.split()[0]
    revised = (_REVISED.search(all_text) or _COPYRIGHT.search(all_text)) if is_label else None
    year = int(revised.group(revised.lastindex)) if revised else first_year(title) or first_year(str(metadata.get("/CreationDate", ""))[2:6])
    kind = "label" if is_label else "guideline" if "guideline" in title.lower() else "other"
    try:
        return [
            Document(
                id=f"pdf-{slug(path.stem.lower())}",
                title=title[:300],
                kind=kind,
                body=body[:300] if body else None,
                year=year,
                sections=sections,
                source_path=where,
            )
        ]
    except ValueError as error:
        raise CorpusError(f"{where}: {one_line(error)}") from error


def _extract(path: Path) -> tuple[list[list[str]], dict]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path), strict=False)
    except FileNotFoundError as error:
        raise CorpusError(f"{path}: cannot read ({one_line(error)})") from error
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise CorpusError(f"{path}: encrypted PDF; decrypt it first")
        except CorpusError:
            raise
        except Exception as error:  # noqa: BLE001
            raise CorpusError(f"{path}: encrypted PDF ({one_line(error)}); decrypt it first") from error
    count = len(reader.pages)
    if count == 0:
        raise CorpusError(f"{path}: PDF has no pages")
    if count > MAX_PAGES:
        raise CorpusError(f"{path}: {count} pages; more than {MAX_PAGES} is not a document this loader reads")
    pages = []
    for page in reader.pages:
        text = page.extract_text() or ""
        pages.append([line.rstrip() for line in text.replace("\r", "\n").split("\n")])
    try:
        metadata = dict(reader.metadata or {})
    except Exception:  # noqa: BLE001 - a damaged info dictionary only loses the metadata
        metadata = {}
    return pages, {str(k): str(v) for k, v in metadata.items()}


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", clean(line))


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page-number lines and lines repeated at the top/bottom of many pages."""
    edge: Counter[str] = Counter()
    for page in pages:
        lines = [line for line in page if line.strip()]
        for shape in {_shape(line) for line in lines[:3] + lines[-3:]}:
            edge[shape] += 1
    threshold = max(3, int(0.4 * len(pages)))
    running = {shape for shape, n in edge.items() if n >= threshold and len(pages) >= 4}
    out = []
    for number, page in enumerate(pages, start=1):
        lines = [line for line in page if line.strip()]
        top, bottom = lines[:3], lines[-3:]
        kept = []
        for index, line in enumerate(lines):
            at_edge = index < 3 or index >= len(lines) - 3
            text = clean(line)
            if at_edge and (text == str(number) or (line in top or line in bottom) and _shape(line) in running):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _strip_line_numbers(pages: list[list[str]]) -> list[list[str]]:
    """Remove margin line numbers: trailing integers that count up (1, 2, 3 ... across pages)."""
    flat = [(p, i, line) for p, page in enumerate(pages) for i, line in enumerate(page)]
    numbers = []
    for _, _, line in flat:
        match = _TRAILING_NUMBER.search(line)
        numbers.append(int(match.group(1)) if match else None)
    accepted = [False] * len(flat)
    expected: int | None = None
    for k, n in enumerate(numbers):
        if n is None:
            continue
        if expected is not None and expected <= n <= expected + 3:
            accepted[k] = True
            expected = n + 1
            continue
        following = [m for m in numbers[k + 1 : k + 4] if m is not None]  # re-anchor on a run n, n+1, ...
        if following and n < following[0] <= n + 3:
            accepted[k] = True
            expected = n + 1
    nonempty = sum(1 for _, _, line in flat if line.strip())
    if sum(accepted) < 20 or sum(accepted) < 0.5 * nonempty:
        return pages
    out: list[list[str]] = [[] for _ in pages]
    for k, (p, _, line) in enumerate(flat):
        if accepted[k]:
            line = _TRAILING_NUMBER.sub("", line).rstrip()
        if line.strip():
            out[p].append(line)
    return out


def _contents_entries(pages: list[list[str]]) -> set[str]:
    entries: set[str] = set()
    for page in pages[:3]:
        for index, line in enumerate(page):
            if clean(line).lower() in {"contents", "table of contents"}:
                for entry in page[index + 1 : index + 60]:
                    text = re.sub(r"[\s.]*\d+\s*$", "", clean(entry)).strip()
                    if 3 <= len(text) <= 90:
                        entries.add(text.lower())
                return entries
    return entries


def _join(lines: list[str]) -> str:
    """Lines to text: a line ending in '-' joins the next without a space ('co-' + 'prescribed')."""
    text = ""
    for line in lines:
        line = clean(line)
        if not line:
            continue
        if text.endswith("-") and line[:1].islower():
            text += line
        else:
            text += (" " if text else "") + line
    return text


def _paragraphs(lines: list[str]) -> str:
    """Keep bullets and numbered items on their own lines so they split as sentences."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if re.match(r"^\s*([•▪●◦o\-–\uf0b7\uf0a7]|\d+\.)\s", line) and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
    return "\n\n".join(_join(b) for b in blocks if _join(b))


def _sections(pages: list[list[str]], *, is_label: bool) -> list[Section]:
    contents = set() if is_label else _contents_entries(pages)
    contents_page = next((p for p, page in enumerate(pages[:3]) if any(clean(x).lower() in {"contents", "table of contents"} for x in page)), -1)
    sections: list[Section] = []
    path: tuple[str, ...] = ("Highlights",) if is_label else ()
    in_full = not is_label
    top_number = 0
    for number, page in enumerate(pages, start=1):
        lines: list[str] = []

        def flush(current_path: tuple[str, ...]) -> None:
            text = _paragraphs(lines)
            if text:
                sections.append(Section(path=current_path, text=text, page=number))
            lines.clear()

        for raw in page:
            line = clean(raw)
            heading: tuple[str, ...] | None = None
            if is_label:
                if line.upper() == "FULL PRESCRIBING INFORMATION":
                    in_full, top_number = True, 0
                    heading = ("Full prescribing information",)
                elif not in_full and (match := _BANNER.match(line)):
                    heading = ("Highlights", match.group(1).strip().title())
                elif in_full and (match := _LABEL_TOP.match(line)) and int(match.group(1)) >= top_number:
                    top_number = int(match.group(1))
                    heading = (line,)
                elif in_full and (match := _LABEL_SUB.match(line)) and int(match.group(1)) == top_number and path:
                    heading = (path[0], line)
                elif in_full and _BOXED.match(line) and top_number == 0:
                    heading = ("Boxed warning", line)
            elif contents and number - 1 > contents_page and line.lower() in contents:
                heading = (line,)
            if heading is not None:
                flush(path)
                path = heading
                continue
            lines.append(raw)
        flush(path)
    return _carry_sentences(sections)


def _carry_sentences(sections: list[Section]) -> list[Section]:
    """A sentence cut by a page break stays whole on the page where it starts."""
    out: list[Section] = []
    for section in sections:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.path == section.path
            and previous.page is not None
            and section.page == previous.page + 1
            and not _SENTENCE_END.search(previous.text)
            and section.text[:1].islower()
        ):
            match = re.search(r"[.!?][\"'”’)\]]*(\s|$)", section.text[:600])
            if match:
                moved, rest = section.text[: match.end()].strip(), section.text[match.end() :].strip()
                joiner = "" if previous.text.endswith("-") else " "
                out[-1] = previous.model_copy(update={"text": previous.text + joiner + moved})
                if rest:
                    out.append(section.model_copy(update={"text": rest}))
                continue
        out.append(section)
    return out


def _company(text: str) -> str:
    """'Gilead Sciences, Inc., Foster City, CA 94404' -> 'Gilead Sciences, Inc.'"""
    match = re.match(r"^(.+?\b(?:Inc\.?|LLC|L\.P\.|Ltd\.?|Limited|Corporation|Corp\.?|Company|GmbH|S\.A\.|plc|AG))(?=[,;\s]|$)", text)
    return match.group(1) if match else text.rstrip(".,; ")


def _title(metadata: dict, pages: list[list[str]], is_label: bool) -> str:
    meta_title = clean(metadata.get("/Title", ""))
    if meta_title and len(meta_title) > 8 and not meta_title.lower().startswith(("microsoft word", "untitled")) and not meta_title.lower().endswith((".doc", ".docx", ".pdf")):
        return meta_title
    first = [clean(line) for page in pages[:2] for line in page if clean(line)]
    if is_label:
        for line in first[:40]:
            if _PRODUCT.match(line) and "highlights" not in line.lower():
                return line
    for line in first[:10]:
        if len(line.split()) >= 3 and not line.isdigit():
            return line
    return ""
