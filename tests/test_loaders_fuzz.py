"""Fuzz every source loader with truncated and corrupted copies of real files: a loader either returns
documents or raises CorpusError with one line naming the file — never another exception, never a
hang (each example has a deadline; examples are derandomised and bounded, ~20 s in all)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import CorpusError
from rag.loaders import ctgov, html, ngc, pdf, pubmed, read_sources, spl
from rag.models import Document

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FORMATS = SHARED / "formats"
pytestmark = pytest.mark.skipif(not FORMATS.exists(), reason="shared data not present")


def _ngc_member() -> bytes:
    with tarfile.open(SHARED / "ngc" / "ngc_summaries_full_xml.tar.gz") as archive:
        return archive.extractfile("summaries/ngc-2052.xml").read()


def _ngc_archive() -> bytes:
    data, out = _ngc_member(), io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("summaries/ngc-2052.xml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _one_page_pdf() -> bytes:
    """Page 1 of the real Veklury label as a PDF of its own (the whole label is too slow to fuzz)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_page(PdfReader(FORMATS / "pdf" / "REMDESIVIR.Oct2020.LabelContent.214787Orig1s000lbl.pdf").pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# (loader, file name the copy is written under, bytes of the real file)
SEEDS = {
    "ngc-xml": (ngc, "ngc-2052.xml", _ngc_member),
    "ngc-archive": (ngc, "ngc-fuzz.tar.gz", _ngc_archive),
    "ctgov-xml": (ctgov, "NCT00055081.xml", lambda: (SHARED / "clinicaltrials" / "xml" / "NCT00055081.xml").read_bytes()),
    "ctgov-json": (ctgov, "NCT00973089.json", lambda: (FORMATS / "ctgov_v2_json" / "NCT00973089.json").read_bytes()),
    "pubmed-xml": (pubmed, "pubmed-29768149.xml", lambda: (FORMATS / "pubmed_xml" / "pubmed-29768149.xml").read_bytes()),
    "pubmed-gz": (pubmed, "medline.xml.gz", lambda: (FORMATS / "pubmed_xml" / "test_current_medline.xml.gz").read_bytes()),
    "spl": (spl, "cough.xml", lambda: (FORMATS / "spl_xml" / "cough.xml").read_bytes()),
    "pdf": (pdf, "label.pdf", _one_page_pdf),
    "html": (html, "PDQ-summary.html", lambda: (FORMATS / "html" / "PDQ-summary.html").read_bytes()[:40_000]),
}
EXAMPLES = {"pdf": 30, "html": 30, "ngc-archive": 30}


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncate, flip bytes, splice junk, drop or duplicate a span — positions as fractions of the file."""
    n = len(data)
    where = int(draw(st.floats(0, 1)) * n)
    span = draw(st.integers(1, 400))
    kind = draw(st.sampled_from(["truncate", "flip", "junk", "drop", "duplicate", "gzip-truncate"]))
    if kind == "truncate":
        return data[:where]
    if kind == "flip":
        out = bytearray(data)
        for offset in draw(st.lists(st.integers(0, max(0, n - 1)), min_size=1, max_size=8)):
            out[offset] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "junk":
        return data[:where] + draw(st.binary(min_size=1, max_size=64)) + data[where:]
    if kind == "drop":
        return data[:where] + data[where + span :]
    if kind == "duplicate":
        return data[:where] + data[where : where + span] * draw(st.integers(2, 50)) + data[where:]
    # a compressed stream cut short (what a half-copied .gz looks like)
    return gzip.compress(data)[: max(1, where // 2)] if not data.startswith(b"\x1f\x8b") else data[: max(1, where)]


def _check(loader, name: str, payload: bytes) -> None:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(payload)
        try:
            result = loader.read(path).documents if hasattr(loader, "read") else loader.load(path)
        except CorpusError as error:
            message = str(error)
            assert message and "\n" not in message and name in message, message
            return
        assert isinstance(result, list) and all(isinstance(d, Document) for d in result)
        # and through the registry: the same file never breaks read_sources either
        read_sources([path])


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_damaged_files_fail_cleanly(seed: str) -> None:
    loader, name, make = SEEDS[seed]
    data = make()

    @settings(
        max_examples=EXAMPLES.get(seed, 60),
        deadline=timedelta(seconds=10),
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=damaged(data))
    def run(payload: bytes) -> None:
        _check(loader, name, payload)

    run()


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_empty_and_garbage_files(seed: str) -> None:
    loader, name, _ = SEEDS[seed]
    for payload in (b"", b"\x00" * 100, b"<<<<", "\u00e9t\u00e9".encode("latin-1"), b"\xff\xfe" + "<a>".encode("utf-16-le")):
        _check(loader, name, payload)
