"""PubMed/MEDLINE XML (`<PubmedArticleSet>`, as from efetch or the baseline/update files, plain or
.gz), streamed record by record so a 30,000-article baseline file is not held in memory.

One document per `<PubmedArticle>`: id `pmid-<PMID>`, title, journal (body), publication year,
identifiers pmid/doi/pmc, the abstract as sections (a structured abstract keeps its labels:
BACKGROUND, METHODS, RESULTS, CONCLUSIONS ...), and MeSH headings and keywords as a section.
An update file's `<DeleteCitation>` PMIDs are returned as deletions (see `read`); a newer record of
a PMID read later replaces the earlier one, as MEDLINE update files intend.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from rag.errors import CorpusError
from rag.loaders.common import FEED_BYTES, ElementBudget, clean, first_year, head, local, one_line, one_line_msg, xml_pull_parser
from rag.loaders.limits import CappedReader, check_document_count, check_file_size, limits
from rag.models import Document, Section


def doc_id(pmid: str) -> str:
    return f"pmid-{pmid}"


def can_load(path: Path) -> bool:
    name = path.name.lower()
    if not (name.endswith(".xml") or name.endswith(".xml.gz")):
        return False
    data = head(path, 2048)
    return b"<PubmedArticleSet" in data or b"DOCTYPE PubmedArticleSet" in data


def load(path: Path) -> list[Document]:
    return read(path).documents


def read(path: Path):  # -> rag.loaders.Loaded
    from rag.loaders import Loaded

    records = _Records(path)
    try:
        with _open(path) as handle:
            parser = xml_pull_parser()
            while chunk := handle.read(FEED_BYTES):
                parser.feed(chunk)
                records.take(parser.read_events())
            parser.close()
            records.take(parser.read_events())
    except etree.XMLSyntaxError as error:
        raise CorpusError(f"{path}: not well-formed XML ({one_line_msg(error)})") from error
    except (OSError, EOFError, zlib.error) as error:
        raise CorpusError(f"{path}: cannot read ({one_line(error)})") from error
    except etree.LxmlError as error:
        raise CorpusError(f"{path}: not readable as XML ({one_line(error)})") from error
    if not records.documents and not records.deletions and not records.books:
        raise CorpusError(f"{path}: no <PubmedArticle> or <DeleteCitation> records")
    return Loaded(documents=records.documents, deletions=records.deletions, replaces=True)


def _open(path: Path) -> CappedReader:
    """The file, decompressed for .gz, failing past max_decompressed_bytes (streamed, never held)."""
    check_file_size(path)
    bounds = limits()
    try:
        handle = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")
    except OSError as error:
        raise CorpusError(f"{path}: cannot read ({one_line(error)})") from error
    return CappedReader(handle, path, bounds.max_decompressed_bytes)


class _Records:
    """Turns parse events into documents and deletions. Every child of the root is freed once it
    ends (record or not), so memory holds one record; ElementBudget refuses a record, or the
    elements between two records, counting more than max_elements."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.budget = ElementBudget(path)
        self.documents: list[Document] = []
        self.deletions: list[str] = []
        self.books = 0

    def take(self, events: Iterable[tuple[str, etree._Element]]) -> None:
        for event, element in events:
            self.budget.see(event)
            if event == "start":
                if self.budget.depth == 1 and local(element.tag) != "PubmedArticleSet":
                    raise CorpusError(f"{self.path}: root element <{local(element.tag)}> is not <PubmedArticleSet>")
                continue
            if self.budget.depth == 1:  # a child of the root has ended
                if self._record(element):
                    self.budget.release()
                _free(element)

    def _record(self, element: etree._Element) -> bool:
        """Read one child of the root; False when it is not a record (its elements stay counted,
        so a flood of non-record elements meets max_elements in seconds, not after millions)."""
        tag = local(element.tag)
        if tag == "PubmedArticle":
            self.documents.append(_article(element, self.path))
            check_document_count(self.path, len(self.documents))
        elif tag == "DeleteCitation":
            self.deletions.extend(doc_id(p) for p in (clean(e.text) for e in element.iter("PMID")) if p.isdigit())
        elif tag == "PubmedBookArticle":
            self.books += 1
        else:
            return False
        return True


def _free(element: etree._Element) -> None:
    """Drop an ended element's content and every earlier sibling (they are done with)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _text(element: etree._Element | None) -> str:
    return clean("".join(element.itertext())) if element is not None else ""


def _article(element: etree._Element, path: Path) -> Document:
    citation = element.find("MedlineCitation")
    pmid = _text(citation.find("PMID")) if citation is not None else ""
    if not pmid.isdigit():
        raise CorpusError(f"{path}: a <PubmedArticle> has no numeric <PMID> ({pmid[:20]!r})")
    where = f"{path}: PMID {pmid}"
    article = citation.find("Article")
    if article is None:
        raise CorpusError(f"{where}: no <Article> element")
    title = _text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle"))
    if not title:
        raise CorpusError(f"{where}: empty <ArticleTitle>")
    journal = _text(article.find("Journal/Title")) or _text(article.find("Journal/ISOAbbreviation")) or _text(citation.find("MedlineJournalInfo/MedlineTA"))
    pub_date = article.find("Journal/JournalIssue/PubDate")
    year = first_year(_text(pub_date.find("Year")) if pub_date is not None else "") or first_year(_text(pub_date.find("MedlineDate")) if pub_date is not None else "")
    year = year or first_year(_text(article.find("ArticleDate/Year")))
    identifiers = {"pmid": pmid}
    doi = next((_text(e) for e in article.findall("ELocationID") if e.get("EIdType") == "doi" and _text(e)), "")
    for article_id in element.findall("PubmedData/ArticleIdList/ArticleId"):
        kind = article_id.get("IdType")
        if kind == "doi" and not doi:
            doi = _text(article_id)
        elif kind == "pmc" and _text(article_id):
            identifiers["pmc"] = _text(article_id)
    if doi:
        identifiers["doi"] = doi
    sections: list[Section] = []
    for part in article.findall("Abstract/AbstractText"):
        text = _text(part)
        if not text:
            continue
        label = clean(part.get("Label") or "") or clean(part.get("NlmCategory") or "").title()
        sections.append(Section(path=("Abstract", label) if label else ("Abstract",), text=text))
    mesh = []
    for heading in citation.findall("MeshHeadingList/MeshHeading"):
        descriptor = _text(heading.find("DescriptorName"))
        qualifiers = [_text(q) for q in heading.findall("QualifierName") if _text(q)]
        if descriptor:
            mesh.append(descriptor + (f" ({', '.join(qualifiers)})" if qualifiers else ""))
    keywords = [_text(k) for k in citation.findall("KeywordList/Keyword") if _text(k)]
    chemicals = [_text(c) for c in citation.findall("ChemicalList/Chemical/NameOfSubstance") if _text(c)]
    descriptors = [_text(h.find("DescriptorName")) for h in citation.findall("MeshHeadingList/MeshHeading") if _text(h.find("DescriptorName"))]
    types = [_text(t) for t in article.findall("PublicationTypeList/PublicationType") if _text(t)]
    terms = []
    if mesh:
        terms.append("MeSH terms: " + "; ".join(mesh))
    if keywords:
        terms.append("Keywords: " + "; ".join(keywords))
    if types:
        terms.append("Publication type: " + "; ".join(types))
    if terms:
        sections.append(Section(path=("Indexing",), text="\n\n".join(terms)))
    if not any(s.path[:1] == ("Abstract",) for s in sections):
        sections.insert(0, Section(path=("Title",), text=title))
    try:
        return Document(
            id=doc_id(pmid),
            title=title[:1000],
            kind="abstract",
            body=journal[:300] or None,
            year=year,
            identifiers=identifiers,
            facets={key: values[:100] for key, values in (("mesh", descriptors), ("chemicals", chemicals), ("keywords", keywords)) if values},
            sections=sections,
            source_path=str(path),
        )
    except ValueError as error:
        raise CorpusError(f"{where}: {one_line(error)}") from error
