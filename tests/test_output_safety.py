"""Output safety (issue 12, class 5): terminal escape sequences and control characters written into
corpus text by the test itself never reach the terminal through `rag search` or `rag ask`, in any
format; rich markup in a query is printed as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURE_CORPUS

from rag.text import json_for_terminal, one_line, printable

CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home
TITLE = "\x1b]0;owned\x07"  # set the window title
LINK = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"  # OSC 8 hyperlink
C1 = "\x9b31m\x9d0;owned\x9c"  # 8-bit CSI and OSC
BARE = "\x07\x08\x7f\x00"  # bell, backspace, DEL, NUL
HOSTILE = CLEAR + TITLE + LINK + C1 + BARE
# Anything a terminal acts on: C0 but newline and tab, DEL, C1.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _write_doc(folder: Path, name: str, front: dict, body: str) -> None:
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n\n" + body
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three documents (so every BM25 idf is positive); one carries escapes in its title, identifier,
    section heading and body."""
    from rag.index.build import BuildSettings, build_index

    corpus = tmp_path_factory.mktemp("hostile-corpus")
    for name in ("hpv-screening-abstract.md", "carboplatin-dosing-review.md"):
        (corpus / name).write_text((FIXTURE_CORPUS / name).read_text(encoding="utf-8"), encoding="utf-8")
    front = {
        "id": "zanubrutinib-escape-trial", "title": f"Zanubrutinib {HOSTILE} trial", "kind": "trial",
        "body": f"Escape {TITLE}Society", "year": 2024, "as_of": "2026-01-01",
        "identifiers": {"nct": f"NCT0000{CLEAR}0042"},
    }
    body = f"# Efficacy {TITLE}\n\nZanubrutinib improved response in relapsed lymphoma {HOSTILE} with manageable toxicity.\n"
    _write_doc(corpus, "escape.md", front, body)
    root = tmp_path_factory.mktemp("hostile-index") / "index"
    build_index([corpus], root, BuildSettings(dense=False))
    return root


def _assert_clean(output: str, *visible: str) -> None:
    assert not CONTROL.findall(output), sorted(set(CONTROL.findall(output)))
    for text in visible:
        assert text in output, output


@pytest.mark.parametrize("output", ["text", "json"])
def test_search_prints_no_control_characters(rag, hostile_index: Path, output: str) -> None:
    result = rag("search", "zanubrutinib lymphoma", "--retriever", "bm25", "--index", str(hostile_index), "--format", output)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stdout, "Zanubrutinib", "click here", "manageable toxicity")
    if output == "json":  # JSON keeps the text exactly, escaped: nothing is lost for a script
        hit = json.loads(result.stdout)["hits"][0]
        assert hit["title"] == f"Zanubrutinib {HOSTILE} trial" and HOSTILE in hit["text"]


@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_ask_prints_no_control_characters(rag, hostile_index: Path, output: str) -> None:
    result = rag("ask", "Does zanubrutinib improve response in relapsed lymphoma?", "--index", str(hostile_index), "--format", output)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stdout, "anubrutinib")
    if output == "json":
        assert json.loads(result.stdout)["question"].startswith("Does zanubrutinib")


@pytest.mark.parametrize("command", ["search", "ask"])
def test_rich_markup_in_a_query_is_printed_as_text(rag, hostile_index: Path, command: str) -> None:
    query = "[/] [bold]zzqx[/bold] [link=http://x]qqzx"
    result = rag(command, query, "--index", str(hostile_index), *(["--retriever", "bm25"] if command == "search" else []))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "[/]" in result.stdout  # the no-hit message shows the query as typed


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x1b[2Jb", "ab"),  # CSI
        ("a\x1b]0;title\x07b", "ab"),  # OSC ended by BEL
        ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # OSC 8 hyperlink ended by ST
        ("a\x9b31mb", "ab"),  # 8-bit CSI
        ("a\x07\x08\x7f\x00b", "ab"),  # bare C0, DEL
        ("line\nnext\ttab", "line\nnext\ttab"),  # newline and tab are kept
        ("Barré TNF-α ≥1 指南", "Barré TNF-α ≥1 指南"),  # letters of any script are not controls
    ],
)
def test_printable_table(raw: str, clean: str) -> None:
    assert printable(raw) == clean


def test_one_line_shows_line_breaks_and_json_escapes_c1() -> None:
    assert one_line("/tmp/bad\nname.md: \x1b[2Jbroken") == "/tmp/bad\\nname.md: broken"
    dumped = json_for_terminal(json.dumps({"t": "a\x9b31m\u2028b"}, ensure_ascii=False))
    assert not CONTROL.search(dumped) and json.loads(dumped) == {"t": "a\x9b31m\u2028b"}
