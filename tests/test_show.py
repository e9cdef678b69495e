"""`rag show ID`: the passage an answer page cites, in full, with its source document; a document id
lists its passages; an unknown id is one line naming it. Read from the session's fixture index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURE_CORPUS, one_line_error

from rag.errors import QueryError
from rag.index.load import open_index
from rag.show import show

DOC = "cemiplimab-recurrent-cervical-phase3"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def store(fixture_index):
    return open_index(fixture_index.root).store


def test_a_passage_id_prints_the_passage_in_full_and_its_source(rag, fixture_index, store) -> None:
    passage = store.passages_of(DOC)[1]
    document = store.document(DOC)
    result = rag("show", passage.id, "--index", str(fixture_index.root))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert passage.text in out and passage.id in out and " > ".join(passage.section) in out
    assert f"(2 of {len(store.passages_of(DOC))} in the document)" in out  # ordinal 1 is the second passage
    for fact in (document.title, document.kind, document.source_line(), *document.identifiers.values()):
        assert fact in out
    assert out.index(passage.text) < out.index(document.title)  # the passage first, then where it comes from


def test_a_document_id_lists_its_passages_briefly(rag, fixture_index, store) -> None:
    passages = store.passages_of(DOC)
    result = rag("show", DOC, "--index", str(fixture_index.root))
    assert result.returncode == 0, result.stderr
    assert f"{len(passages)} passage(s):" in result.stdout
    positions = [result.stdout.index(p.id) for p in passages]
    assert positions == sorted(positions)  # in document order
    assert all(len(line) <= 110 for line in result.stdout.splitlines() if line.startswith("      "))  # briefly


def test_json_has_the_passage_and_document_exactly(rag, fixture_index, store) -> None:
    passage = store.passages_of(DOC)[0]
    data = json.loads(rag("show", passage.id, "--index", str(fixture_index.root), "--format", "json").stdout)
    assert data["found"] == "passage" and data["passages"] == []
    assert data["passage"] == {"id": passage.id, "doc_id": DOC, "section": list(passage.section), "page": passage.page,
                               "ordinal": passage.ordinal, "text": passage.text}
    document = store.document(DOC)
    assert data["document"]["title"] == document.title and data["document"]["identifiers"] == document.identifiers
    assert data["document"]["citation"] == document.source_line() and data["document"]["passages"] == len(store.passages_of(DOC))
    listed = json.loads(rag("show", DOC, "--index", str(fixture_index.root), "--format", "json").stdout)
    assert listed["found"] == "document" and listed["passage"] is None
    assert [p["id"] for p in listed["passages"]] == [p.id for p in store.passages_of(DOC)]


def test_an_id_copied_from_a_markdown_page_is_found(fixture_index, store) -> None:
    passage = store.passages_of(DOC)[0]
    assert show(f" `{passage.id}` ", index_root=fixture_index.root).passage.text == passage.text  # type: ignore[union-attr]


@pytest.mark.parametrize("ref", ["no-such-doc", f"{DOC}#000000000000", "x'; DROP TABLE passages; --"])
def test_an_unknown_id_is_one_line_naming_it(rag, fixture_index, ref: str) -> None:
    result = rag("show", ref, "--index", str(fixture_index.root))
    assert result.returncode == 2
    one_line_error(result, repr(ref), "rag search")
    with pytest.raises(QueryError, match="rag search"):
        show(ref, index_root=fixture_index.root)


def test_show_prints_no_control_characters(rag, tmp_path: Path) -> None:
    from rag.index.build import BuildSettings, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("hpv-screening-abstract.md", "carboplatin-dosing-review.md"):
        (corpus / name).write_text((FIXTURE_CORPUS / name).read_text(encoding="utf-8"), encoding="utf-8")
    escape = "\x1b[2J\x1b]0;owned\x07\x9b31m"
    front = {"id": "escape-trial", "title": f"Escape {escape} trial", "kind": "trial", "body": "Society", "year": 2024,
             "as_of": "2026-01-01", "identifiers": {"nct": f"NCT0{escape}1"}}
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + f"---\n\n# Results {escape}\n\nResponse improved {escape} in lymphoma.\n"
    (corpus / "escape.md").write_text(text, encoding="utf-8")
    root = tmp_path / "index"
    report = build_index([corpus], root, BuildSettings(dense=False))
    assert not report.problems, report.problems
    passage = open_index(root).store.passages_of("escape-trial")[0]
    for ref in (passage.id, "escape-trial"):
        result = rag("show", ref, "--index", str(root))
        assert result.returncode == 0, result.stderr
        assert not CONTROL.findall(result.stdout) and "Escape" in result.stdout and "in lymphoma" in result.stdout
    as_json = rag("show", passage.id, "--index", str(root), "--format", "json")
    assert not CONTROL.findall(as_json.stdout) and escape in json.loads(as_json.stdout)["passage"]["text"]  # kept, escaped
