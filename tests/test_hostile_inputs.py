"""Small hostile files must not exhaust memory (issue 12, class 3): each is made here, small on disk,
and refused with one line naming the file and the limit, or read in bounded memory and linear cost.

Memory is checked in a child process that only loads or chunks (no torch) under an address-space
limit (RLIMIT_AS 1.5 GB) and reports its peak RSS (VmHWM), which must stay under 1 GB. Before the fixes each
of these children died or passed the limit: an unbounded tree of empty XML elements (~160 MB per
million), a whole giant sentence or word handed to the tokenizer. Timing is left to
benchmarks/bench_hostile.py; here cost is bounded by counting what the tokenizer is handed.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.chunking import MAX_CHARS_PER_TOKEN, SPECIAL_TOKENS, ChunkSettings, chunk_document, indexed_text
from rag.errors import CorpusError
from rag.loaders import loader_for, markdown, read_sources
from rag.loaders.limits import InputLimits, limits
from rag.models import Document, Section
from rag.validate import validate_corpus

ADDRESS_SPACE = 1_500_000_000
PEAK_RSS_MB = 1024
FRONT = "---\nid: doc\ntitle: A title\nkind: other\nbody: Body\nyear: 2024\nidentifiers: {url: x}\nas_of: 2024-01-01\n---\n"


def _in_limited_child(code: str, *args: str, timeout: float = 240) -> dict:
    """Run `code` in a child under RLIMIT_AS; it prints one JSON line, to which its peak RSS (MB) is added."""
    program = textwrap.dedent(
        f"""
        import json, re, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
        """
    ) + textwrap.dedent(code) + textwrap.dedent(
        """
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) through fork and exec.
        result["peak_mb"] = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
        print(json.dumps(result))
        """
    )
    run = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, f"child failed ({run.returncode}): {run.stderr[-600:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


READ_IN_CHILD = """
    from pathlib import Path
    from rag.loaders import read_sources
    loaded = read_sources([Path(sys.argv[1])])
    result = {"documents": len(loaded.documents), "problems": [p.message for p in loaded.problems]}
"""


def _one_problem(result: dict, path: Path, limit_name: str) -> str:
    (message,) = result["problems"]
    assert "\n" not in message and str(path) in message and limit_name in message, message
    assert f"RAG_{limit_name.upper()}" in message, "the message says how to raise the limit"
    return message


def _gzip_repeated(path: Path, head: bytes, unit: bytes, count: int, tail: bytes) -> None:
    """A .gz of head + unit*count + tail, written in 1 MB pieces (tiny on disk: it compresses ~1000:1)."""
    per_write = max(1, 1_000_000 // len(unit))
    with gzip.open(path, "wb", compresslevel=6) as handle:
        handle.write(head)
        for start in range(0, count, per_write):
            handle.write(unit * min(per_write, count - start))
        handle.write(tail)


# --------------------------------------------------------------------------- XML: floods of elements


def test_a_gzipped_flood_of_empty_pubmed_elements_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """20M empty elements (80 MB decompressed, ~100 KB on disk). Before: never cleared, ~3 GB."""
    path = tmp_path / "flood.xml.gz"
    _gzip_repeated(path, b"<?xml version='1.0'?>\n<PubmedArticleSet>", b"<x/>", 20_000_000, b"</PubmedArticleSet>")
    assert path.stat().st_size < 500_000
    result = _in_limited_child(READ_IN_CHILD, str(path))
    _one_problem(result, path, "max_elements")
    assert result["documents"] == 0 and result["peak_mb"] < PEAK_RSS_MB


def test_pubmed_records_are_freed_as_they_are_read(tmp_path: Path) -> None:
    """1.5M elements in 300k small records are fine (each record freed and its count released as it
    ends), while the same number of elements outside any record passes max_elements."""
    records = tmp_path / "records.xml.gz"
    _gzip_repeated(records, b"<PubmedArticleSet>", b"<DeleteCitation>" + b"<PMID>7</PMID>" * 4 + b"</DeleteCitation>", 300_000, b"</PubmedArticleSet>")
    result = _in_limited_child(READ_IN_CHILD, str(records))
    assert result["problems"] == [] and result["peak_mb"] < PEAK_RSS_MB
    loose = tmp_path / "loose.xml.gz"
    _gzip_repeated(loose, b"<PubmedArticleSet>", b"<x><y/><y/><y/><y/></x>", 300_000, b"</PubmedArticleSet>")
    _one_problem(_in_limited_child(READ_IN_CHILD, str(loose)), loose, "max_elements")


HEADS = {
    "ctgov": ("NCT0.xml", b"<clinical_study>", b"</clinical_study>"),
    "spl": ("label.xml", b'<document xmlns="urn:hl7-org:v3">', b"</document>"),
    "ngc": ("ngc-1.xml", b'<Version><Field Name="Guideline Title"/>', b"</Version>"),
    "html": ("page.html", b"<html><body>", b"</body></html>"),
}


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_every_whole_document_markup_loader_refuses_a_flood_of_elements(kind: str, tmp_path: Path) -> None:
    """1.2M empty elements (4.8 MB). Before: parsed whole (HTML: ~35 s and ~550 MB in BeautifulSoup)."""
    name, head, tail = HEADS[kind]
    path = tmp_path / name
    path.write_bytes(head + b"<x/>" * 1_200_000 + tail)
    assert loader_for(path).__name__.endswith(kind)
    _one_problem({"problems": [p.message for p in read_sources([path]).problems]}, path, "max_elements")


def test_a_flood_of_elements_in_a_trial_record_stays_under_the_memory_limit(tmp_path: Path) -> None:
    """10M empty elements (40 MB, under max_file_bytes). Before: parsed whole, ~1.6 GB."""
    path = tmp_path / "NCT0.xml"
    path.write_bytes(b"<clinical_study>" + b"<x/>" * 10_000_000 + b"</clinical_study>")
    result = _in_limited_child(READ_IN_CHILD, str(path))
    _one_problem(result, path, "max_elements")
    assert result["peak_mb"] < PEAK_RSS_MB


def test_a_flood_of_json_objects_in_a_trial_record_is_refused(tmp_path: Path) -> None:
    """1.2M empty objects (3.6 MB). Before: json.loads built them all (100 MB of them: ~2 GB)."""
    path = tmp_path / "NCT0.json"
    path.write_bytes(b'{"protocolSection": {}, "x": [' + b"{}," * 1_200_000 + b"{}]}")
    _one_problem({"problems": [p.message for p in read_sources([path]).problems]}, path, "max_elements")


@pytest.mark.parametrize("name", ["corpus.jsonl", "records.xml"])
def test_one_file_yields_at_most_max_documents(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MAX_DOCUMENTS", "3")
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(f'{{"_id": "{n}", "text": "Text {n}."}}\n' for n in range(5)), encoding="utf-8")
    else:
        record = "<PubmedArticle><MedlineCitation><PMID>{n}</PMID><Article><ArticleTitle>T</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
        path.write_text("<PubmedArticleSet>" + "".join(record.format(n=n + 1) for n in range(5)) + "</PubmedArticleSet>", encoding="utf-8")
    loaded = read_sources([path])
    assert loaded.documents == []
    _one_problem({"problems": [p.message for p in loaded.problems]}, path, "max_documents")


@pytest.mark.parametrize(("name", "head"), [("deep.xml", b"<PubmedArticleSet>"), ("NCT0.xml", b"<clinical_study>")])
def test_deep_nesting_is_one_line(name: str, head: bytes, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(head + b"<a>" * 300 + b"</a>" * 300 + b"</" + head[1:])
    (problem,) = read_sources([path]).problems
    assert "\n" not in problem.message and str(path) in problem.message and "deep" in problem.message, problem.message


def test_gzip_decompressed_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20 MB of whitespace inside the root: no elements to count, only bytes (limit lowered to 10 MB)."""
    monkeypatch.setenv("RAG_MAX_DECOMPRESSED_BYTES", "10_000_000")
    path = tmp_path / "spaces.xml.gz"
    _gzip_repeated(path, b"<PubmedArticleSet>", b" " * 1000, 20_000, b"</PubmedArticleSet>")
    _one_problem({"problems": [p.message for p in read_sources([path]).problems]}, path, "max_decompressed_bytes")


# --------------------------------------------------------------------------- archives and file sizes


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


SUMMARY = b'<Version><Field Name="Guideline Title"><FieldValue Value="A guideline"/></Field>' + (
    b'<Field Name="Major Recommendations"><FieldValue Value="&lt;p&gt;Do this.&lt;/p&gt;"/></Field></Version>'
)


@pytest.mark.parametrize(
    ("variable", "value", "limit_name"),
    [("RAG_MAX_ARCHIVE_MEMBERS", "3", "max_archive_members"), ("RAG_MAX_DECOMPRESSED_BYTES", "500", "max_decompressed_bytes")],
)
def test_an_archive_stops_at_its_limits_and_keeps_what_it_read(variable: str, value: str, limit_name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(variable, value)
    path = tmp_path / "ngc-archive.tar.gz"
    _tar(path, {f"ngc-{n}.xml": SUMMARY for n in range(5)})
    loaded = read_sources([path])
    assert 1 <= len(loaded.documents) < 5
    (problem,) = loaded.problems
    assert limit_name in problem.message and str(path) in problem.message and "\n" not in problem.message


def test_an_archive_member_over_the_file_limit_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MAX_FILE_BYTES", "5000")
    path = tmp_path / "ngc-archive.tar.gz"
    _tar(path, {"ngc-1.xml": SUMMARY, "ngc-2.xml": SUMMARY + b" " * 6000})
    loaded = read_sources([path])
    assert [d.id for d in loaded.documents] == ["ngc-1"]
    (problem,) = loaded.problems
    assert "ngc-2.xml" in problem.message and "max_file_bytes" in problem.message


FILES = {
    "doc.md": FRONT.encode() + b"# S\nText.\n",
    "page.html": b"<html><body><h1>T</h1><p>Text.</p></body></html>",
    "NCT0.json": b'{"protocolSection": {}}',
    "corpus.jsonl": b'{"_id": "1", "text": "Text."}\n',
    "NCT0.xml": b"<clinical_study></clinical_study>",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_loader_refuses_a_file_over_max_file_bytes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / name
    path.write_bytes(FILES[name] + b" " * 2000)
    monkeypatch.setenv("RAG_MAX_FILE_BYTES", "1000")
    _one_problem({"problems": [p.message for p in read_sources([path]).problems]}, path, "max_file_bytes")


def test_the_default_file_limit_is_checked_before_reading(tmp_path: Path) -> None:
    """A sparse file just over the 100 MB default costs nothing on disk and is refused unread."""
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.write(FRONT.encode())
        handle.truncate(InputLimits().max_file_bytes + 1)
    with pytest.raises(CorpusError, match=r"max_file_bytes=100,000,000; .*RAG_MAX_FILE_BYTES"):
        markdown.load(path)


def test_the_corpus_format_doc_lists_every_limit_with_its_default() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "corpus-format.md").read_text(encoding="utf-8")
    for name, field in InputLimits.model_fields.items():
        row = next((line for line in doc.splitlines() if f"`RAG_{name.upper()}`" in line), "")
        assert f"{field.default:,}" in row, f"docs/corpus-format.md: no row for {name} with default {field.default:,}"


def test_a_malformed_limit_override_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MAX_ELEMENTS", "lots")
    with pytest.raises(CorpusError, match="RAG_MAX_ELEMENTS='lots': not a positive whole number"):
        limits()


# --------------------------------------------------------------------------- YAML front matter

ALIAS_BOMB = """---
id: bomb
title: Bomb
kind: other
body: Body
year: 2024
as_of: 2024-01-01
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
identifiers: {url: *e}
---
# S
Text.
"""


def _write(tmp_path: Path, text: str, name: str = "doc.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_alias_bomb_in_front_matter_is_refused(tmp_path: Path) -> None:
    """Before: the identifier was stringified (59,049 'lol's here; 39 MB from the issue's 5.7 KB)."""
    path = _write(tmp_path, ALIAS_BOMB)
    assert path.stat().st_size < 1000
    with pytest.raises(CorpusError) as raised:
        markdown.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: line 9 ") and "alias" in message and "\n" not in message
    problems, _ = validate_corpus(tmp_path)
    assert problems == [message]


@pytest.mark.parametrize(
    ("field", "match"),
    [
        ("identifiers: {url: [a, b]}", "identifiers.*must be text or a number, not list"),
        ("identifiers: {url: {nested: x}}", "identifiers.*not dict"),
        ("identifiers: {url: true}", "identifiers.*not bool"),
        ("identifiers: {url: " + "x" * 3000 + "}", "field 'identifiers' holds a text longer than 2,000 characters.*RAG_MAX_FIELD_CHARS"),
    ],
)
def test_front_matter_values_are_typed_strictly_and_bounded(field: str, match: str, tmp_path: Path) -> None:
    path = _write(tmp_path, FRONT.replace("identifiers: {url: x}", field))
    with pytest.raises(CorpusError, match=match):
        markdown.load(path)


def test_a_long_title_and_huge_front_matter_are_refused(tmp_path: Path) -> None:
    long_title = _write(tmp_path, FRONT.replace("A title", "t" * 2001), "title.md")
    with pytest.raises(CorpusError, match="field 'title' holds a text longer than 2,000"):
        markdown.load(long_title)
    padded = _write(tmp_path, FRONT.replace("---\n# ", "---\n").replace("as_of", "provenance: [" + ", ".join(["p"] * 40_000) + "]\nas_of"), "big.md")
    with pytest.raises(CorpusError, match="front matter of [0-9,]+ characters, over the limit max_front_matter_bytes"):
        markdown.load(padded)


def test_a_body_of_millions_of_short_lines_loads_under_the_memory_limit(tmp_path: Path) -> None:
    """30M one-letter lines (60 MB). Before: a list of every line, ~50 bytes each (~1.9 GB)."""
    path = tmp_path / "lines.md"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(FRONT + "# Lines\n")
        for _ in range(30):
            handle.write("a\n" * 1_000_000)
    result = _in_limited_child(READ_IN_CHILD, str(path))
    assert result["documents"] == 1 and result["problems"] == [] and result["peak_mb"] < PEAK_RSS_MB


def test_sections_of_one_file_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MAX_ELEMENTS", "5")
    path = _write(tmp_path, FRONT + "".join(f"# H{n}\nText {n}.\n" for n in range(6)))
    with pytest.raises(CorpusError, match=r"doc.md: more than 5 sections, over the limit max_elements=5"):
        markdown.load(path)


def test_a_heading_with_a_long_run_of_spaces_is_read_in_linear_time(tmp_path: Path) -> None:
    """'# a' + 200,000 spaces + 'b': the old heading regex backtracked over the run at every space
    (~10^10 steps: hours). The child must finish within its 60 s timeout."""
    path = _write(tmp_path, FRONT + "# a" + " " * 200_000 + "b\nText.\n")
    result = _in_limited_child(READ_IN_CHILD + "\n    result['path'] = loaded.documents[0].sections[0].path[0][:3]\n", str(path), timeout=60)
    assert result["path"] == "a  "


# --------------------------------------------------------------------------- the chunker


class CountingTokenizer:
    """The real token counter, recording the longest text it was handed and the total."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self.count = count
        self.longest = 0
        self.total = 0

    def __call__(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        self.total += len(text)
        return self.count(text)


def _one_section(text: str) -> Document:
    return Document(id="doc", title="T", sections=[Section(path=("S",), text=text)])


@pytest.mark.parametrize("kind", ["one-line", "word"])
def test_a_giant_sentence_or_word_is_tokenized_in_bounded_pieces(kind: str, count_tokens, hf_tokenizer) -> None:
    """1 MB with no sentence boundary (words, or one 'word' of letters, which the model reads as a
    single [UNK]). Before: the whole megabyte went to the tokenizer at once (and the word became one
    1 MB passage); the text re-tokenized was quadratic. Now every piece is at most a passage long and
    the tokenizer sees each character a bounded number of times."""
    text = " ".join(["survival", "improved", "with", "q3w", "dosing"] * 40_000) if kind == "one-line" else "abcdefghij" * 100_000
    counter = CountingTokenizer(count_tokens)
    settings = ChunkSettings()
    passages = chunk_document(_one_section(text), counter, settings)
    max_chars = (settings.max_tokens - SPECIAL_TOKENS) * MAX_CHARS_PER_TOKEN
    assert counter.longest <= len(indexed_text("T", ("S",), "")) + max_chars
    assert counter.total <= 20 * len(text)  # measured ~9x for words, ~3x for the word
    assert max(len(p.text) for p in passages) <= max_chars
    assert "".join("".join(p.text for p in passages).split()) == "".join(text.split())
    for passage in passages[:: max(1, len(passages) // 50)]:
        assert len(hf_tokenizer.encode(indexed_text("T", passage.section, passage.text)).ids) <= settings.max_tokens


CHUNK_IN_CHILD = """
    from pathlib import Path
    from rag.chunking import ChunkSettings, chunk_document
    from rag.embedding import DEFAULT_MODEL, resolve_model, token_counter
    from rag.loaders import markdown
    count = token_counter(resolve_model(DEFAULT_MODEL))
    (document,) = markdown.load(Path(sys.argv[1]))
    passages = chunk_document(document, count, ChunkSettings())
    result = {"passages": len(passages), "longest": max(len(p.text) for p in passages)}
"""


def test_a_20_mb_one_line_markdown_body_chunks_under_the_memory_limit(tmp_path: Path) -> None:
    """A one-line body of one 20 MB 'word' (the issue's 50 MB body aborted in `tokenizers` after
    7.5 GB; 20 MB here keeps the test to ~20 s). Before: tokenized whole, past the 1.5 GB limit."""
    path = tmp_path / "huge.md"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(FRONT + "# Results\n")
        for _ in range(20):
            handle.write("abcdefghij" * 100_000)
        handle.write("\n")
    result = _in_limited_child(CHUNK_IN_CHILD, str(path))
    assert result["passages"] >= 20_000_000 // 4064 and result["longest"] <= 4064
    assert result["peak_mb"] < PEAK_RSS_MB
