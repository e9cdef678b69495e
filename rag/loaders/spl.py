"""DailyMed Structured Product Labeling (SPL) XML (`<document xmlns="urn:hl7-org:v3">`).

Sections are found by their LOINC codes and named canonically (boxed warning, indications and usage,
dosage and administration, contraindications, warnings and precautions / warnings, adverse
reactions, ...), with the label's own heading kept below ("Boxed warning > WARNING: SERIOUS
INFECTIONS AND MALIGNANCY"); subsections nest under their titles. Paragraphs, list items and table
rows are separate blocks. Product data elements and package-label panels are dropped.
id `spl-<setId>`; title from the document title (product line); body = labeler; year and as_of from
the effective time; version = SPL version number.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from rag.errors import CorpusError
from rag.loaders.common import clean, element_text, head, local, one_line, parse_xml, read_bytes, slug
from rag.models import Document, Section

NS = "urn:hl7-org:v3"
LOINC_NAMES = {
    "34066-1": "Boxed warning",
    "34067-9": "Indications and usage",
    "34068-7": "Dosage and administration",
    "43678-2": "Dosage forms and strengths",
    "34070-3": "Contraindications",
    "43685-7": "Warnings and precautions",
    "34071-1": "Warnings",
    "42232-9": "Precautions",
    "34084-4": "Adverse reactions",
    "34073-7": "Drug interactions",
    "43684-0": "Use in specific populations",
    "34088-5": "Overdosage",
    "34089-3": "Description",
    "34090-1": "Clinical pharmacology",
    "43680-8": "Nonclinical toxicology",
    "34092-7": "Clinical studies",
    "34093-5": "References",
    "34069-5": "How supplied",
    "34076-0": "Patient counseling information",
    "42231-1": "Medication guide",
    "42230-3": "Patient package insert",
    "43683-2": "Recent major changes",
    "55106-9": "Active ingredient",
    "55105-1": "Purpose",
    "50570-1": "Do not use",
    "50569-3": "Ask a doctor",
    "50568-5": "Ask a doctor or pharmacist",
    "50567-7": "When using this product",
    "50566-9": "Stop use and ask a doctor",
    "53414-9": "Pregnancy or breast feeding",
    "50565-1": "Keep out of reach of children",
    "51727-6": "Inactive ingredients",
    "53413-1": "Questions",
    "49489-8": "Microbiology",
    "34091-9": "Animal pharmacology and toxicology",
}
DROPPED = {"48780-1", "51945-4"}  # product data elements; package label principal display panel


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def can_load(path: Path) -> bool:
    if path.suffix.lower() != ".xml":
        return False
    data = head(path, 4096)
    return b"urn:hl7-org:v3" in data and b"<document" in data


def load(path: Path) -> list[Document]:
    where = str(path)
    root = parse_xml(read_bytes(path), where)
    if root.tag != _q("document"):
        raise CorpusError(f"{where}: root element <{local(root.tag)}> is not an SPL <document> in namespace {NS}")
    set_id = (root.find(_q("setId")).get("root") if root.find(_q("setId")) is not None else "") or ""
    document_id = (root.find(_q("id")).get("root") if root.find(_q("id")) is not None else "") or ""
    if not (set_id or document_id):
        raise CorpusError(f"{where}: no <setId> or <id> (not a complete SPL document)")
    version_element = root.find(_q("versionNumber"))
    version = version_element.get("value") if version_element is not None else None
    effective = root.find(_q("effectiveTime"))
    effective_value = (effective.get("value") or "") if effective is not None else ""
    year = int(effective_value[:4]) if re.match(r"^(19|20)\d\d", effective_value) else None
    as_of = f"{effective_value[:4]}-{effective_value[4:6]}-{effective_value[6:8]}" if re.match(r"^\d{8}", effective_value) else None
    labeler = _labeler(root)
    body = root.find(f"{_q('component')}/{_q('structuredBody')}")
    if body is None:
        raise CorpusError(f"{where}: no <structuredBody> (the label has no sections)")
    sections: list[Section] = []
    for component in body.findall(_q("component")):
        section = component.find(_q("section"))
        if section is not None:
            _section(section, (), sections, top=True)
    if not sections:
        raise CorpusError(f"{where}: no section text")
    title = _title(root, sections)
    if len(title) < 15 or title.lower() in {"drug facts", "prescribing information"}:
        title = _product(root) or title or Path(where).stem
    names = _names(root)
    identifiers = {"setid": set_id} if set_id else {"spl_id": document_id}
    if set_id:
        identifiers["url"] = f"https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={set_id}"
    try:
        return [
            Document(
                id=f"spl-{slug(set_id or document_id)}",
                title=title[:300],
                kind="label",
                body=labeler[:300] or None,
                year=year,
                version=version,
                identifiers=identifiers,
                as_of=as_of,
                facets={"synonyms": names} if names else {},
                sections=sections,
                source_path=where,
            )
        ]
    except ValueError as error:
        raise CorpusError(f"{where}: {one_line(error)}") from error


def _product(root: etree._Element) -> str:
    """'TRIAMINIC Childrens Night Time Cold and Cough (Diphenhydramine HCl, Phenylephrine HCl)'."""
    product = root.find(f".//{_q('manufacturedProduct')}/{_q('manufacturedProduct')}")
    if product is None:
        return ""
    name = product.find(_q("name"))
    generic = product.find(f"{_q('asEntityWithGeneric')}/{_q('genericMedicine')}/{_q('name')}")
    text = clean(" ".join(name.itertext())) if name is not None else ""
    if generic is not None and element_text(generic):
        text += f" ({element_text(generic)})"
    return text


def _names(root: etree._Element) -> list[str]:
    """'generic | BRAND' for each product of the label (its brand and generic names are synonyms)."""
    out: list[str] = []
    for product in root.iter(_q("manufacturedProduct")):
        name = product.find(_q("name"))
        generic = product.find(f"{_q('asEntityWithGeneric')}/{_q('genericMedicine')}/{_q('name')}")
        brand = clean(" ".join(name.itertext())) if name is not None else ""
        common = element_text(generic) if generic is not None else ""
        if brand and common and brand.lower() != common.lower():
            out.append(f"{common[:200]} | {brand[:200]}")
    return list(dict.fromkeys(out))[:20]


def _labeler(root: etree._Element) -> str:
    name = root.find(f"{_q('author')}/{_q('assignedEntity')}/{_q('representedOrganization')}/{_q('name')}")
    return element_text(name) if name is not None else ""


def _title(root: etree._Element, sections: list[Section]) -> str:
    """The product line of the document title ('HUMIRA (adalimumab) injection, for subcutaneous use')."""
    title = root.find(_q("title"))
    if title is None:
        return ""
    lines = [clean(x) for x in _title_lines(title) if clean(x)]
    for line in lines:
        if re.search(r"\(.+\).*\b(for|tablets?|injection|capsules?|solution|suspension|cream|syrup|oral)\b", line, re.I) and "highlights" not in line.lower():
            return line
    short = [line for line in lines if "highlights do not include" not in line.lower() and not line.lower().startswith("initial u.s. approval")]
    return short[0] if short else (lines[0] if lines else "")


def _title_lines(element: etree._Element) -> list[str]:
    lines = [""]
    if element.text:
        lines[-1] += element.text
    for child in element.iter():
        if child is element:
            continue
        if local(child.tag) == "br":
            lines.append("")
        elif child.text and local(child.tag) != "br":
            lines[-1] += child.text
        if child.tail:
            lines[-1] += child.tail
    return lines


def _strip_number(title: str) -> str:
    return re.sub(r"^\s*\d+(\.\d+)*\.?\s*", "", title).strip()


def _same(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"[^a-z]+", " ", _strip_number(s).lower().replace("&", "and")).strip()  # noqa: E731
    return norm(a) == norm(b) or norm(b).startswith(norm(a))


def _section(section: etree._Element, path: tuple[str, ...], out: list[Section], *, top: bool = False) -> None:
    code_element = section.find(_q("code"))
    code = code_element.get("code", "") if code_element is not None else ""
    if code in DROPPED:
        return
    title_element = section.find(_q("title"))
    title = element_text(title_element) if title_element is not None else ""
    names: list[str] = []
    if top and code in LOINC_NAMES:
        names.append(LOINC_NAMES[code])
        if title and not _same(LOINC_NAMES[code], title):
            names.append(title[:200])
    elif title:
        names.append(title[:200])
    here = path + tuple(names)
    text_element = section.find(_q("text"))
    if text_element is not None:
        blocks = _blocks(text_element)
        if blocks:
            out.append(Section(path=here or ("Label",), text="\n\n".join(blocks)))
    for component in section.findall(_q("component")):
        child = component.find(_q("section"))
        if child is not None:
            _section(child, here, out)


def _blocks(text_element: etree._Element) -> list[str]:
    """Paragraphs, list items and table rows (cells joined by ' | '), in order."""
    blocks: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = local(element.tag)
        if tag in {"renderMultiMedia", "observationMedia"}:
            return
        if tag == "tr":
            cells = [element_text(c) for c in element if local(c.tag) in {"td", "th"}]
            row = " | ".join(c for c in cells if c)
            if row:
                blocks.append(row)
            return
        if tag in {"paragraph", "item", "caption"}:
            nested = any(local(d.tag) in {"list", "table", "paragraph"} for d in element.iterdescendants())
            if not nested:
                text = element_text(element)
                if text:
                    blocks.append(("• " if tag == "item" else "") + text)
                return
            head_text = clean(element.text)
            if head_text:
                blocks.append(head_text)
            for child in element:
                walk(child)
                if clean(child.tail):
                    blocks.append(clean(child.tail))
            return
        if clean(element.text):
            blocks.append(clean(element.text))
        for child in element:
            walk(child)
            if clean(child.tail):
                blocks.append(clean(child.tail))

    walk(text_element)
    return blocks
