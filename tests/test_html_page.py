"""`rag ask --format html`: one self-contained page (items 5 and 6 of "The answer page a clinician
trusts"). Hand-built answers test its structure and that hostile corpus text stays text; a real
headless chromium checks what a reader sees: clicking a marker [n] shows the cited passage in place,
a URL hash opens one, hostile markup never runs, and the page requests nothing."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag.answer.html import safe_url, to_html
from rag.answer.models import Answer, AnswerSection, BottomLine, EvidenceRow, Locator, Reference, Statement

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE_TITLE = 'Evil </title><script>window.owned = 1</script> "trial" \x1b[2J\x9b31m'
HOSTILE_QUOTE = "Median OS 12.0 months <img src=x onerror=\"window.owned=2\"> & HR 0.69 \x07<b>bold</b>"
QUOTE_A = "Median overall survival was 12.0 months with cemiplimab versus 8.5 months with chemotherapy."
QUOTE_B = "Grade 3 or higher adverse events occurred in 45% of patients on cemiplimab."
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "div", "p", "strong", "span", "a", "ul",
    "ol", "li", "section", "blockquote", "code", "details", "summary", "table", "thead", "tbody", "tr", "th", "td",
    "footer", "script",
}


def _answer(*, order: tuple[str, ...] = ("safety", "recommendation", "evidence", "algorithm", "caveats"), table: bool = True) -> Answer:
    """Two references: [1] a trial with two passages (the page cites each once), [2] a hostile one."""
    trial = Reference(
        number=1, doc_id="empower", title="EMPOWER-Cervical 1", kind="trial", body="NEJM", source="NEJM 2022 · NCT 03257267",
        year=2022, identifiers={"nct": "03257267", "url": "https://clinicaltrials.gov/study/NCT03257267"},
        locators=[Locator(passage_id="empower#aaaaaaaaaaaa", section="Efficacy > Overall survival", page=4, quote=QUOTE_A),
                  Locator(passage_id="empower#bbbbbbbbbbbb", section="Safety", quote=QUOTE_B)],
    )
    hostile = Reference(
        number=2, doc_id="evil", title=HOSTILE_TITLE, kind="review", body=None, source="Evil <i>Society</i> 2024",
        year=2024, identifiers={"url": "javascript:window.owned=3"},
        locators=[Locator(passage_id="evil#cccccccccccc", section="Results <hr>", quote=HOSTILE_QUOTE)],
    )
    statements = {
        "recommendation": [Statement(text="Cemiplimab is an option after platinum.", citations=[1], passages=["empower#aaaaaaaaaaaa"],
                                     body="ESGO", grade="[I, A]")],
        "evidence": [Statement(text=QUOTE_A, citations=[1, 2], passages=["empower#aaaaaaaaaaaa", "evil#cccccccccccc"]),
                     Statement(text="Median OS 12.0 months <img src=x onerror=alert(1)>", citations=[2], passages=["evil#cccccccccccc"],
                               tags=["exploratory"])],
        "algorithm": [],
        "safety": [Statement(text=QUOTE_B, citations=[1], passages=["empower#bbbbbbbbbbbb"])],
        "caveats": [Statement(text="No NCCN recommendation on cemiplimab was found in the indexed corpus.", kind="gap", tags=["gap"])],
    }
    bottom = Statement(text="Cemiplimab improved overall survival.", citations=[1], passages=["empower#aaaaaaaaaaaa"])
    rows = [EvidenceRow(reference=1, study="EMPOWER-Cervical 1", design="phase 3", n="608", median="12.0 vs 8.5", hazard_ratio="0.69",
                        passages=["empower#aaaaaaaaaaaa"])] if table else []
    return Answer(
        question="Cemiplimab <after> platinum?\x1b]0;t\x07", abstained=False,
        bottom_line=BottomLine(text=bottom.text, citations=[1], statements=[bottom]),
        sections=[AnswerSection(name=name, statements=statements[name]) for name in order],  # type: ignore[arg-type]
        evidence_table=rows, references=[trial, hostile],
        related_questions=["What is the dose of cemiplimab?", 'Is <script>x</script> "ok"?'], settings_hash="abc123",
    )


class _Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _box(page: str, box_id: str) -> str:
    """The HTML of one quote box (div or table row)."""
    match = re.search(rf'<(div|tr) class="quote" id="{re.escape(box_id)}" hidden>(.*?)</\1>', page, flags=re.DOTALL)
    assert match, box_id
    return match.group(2)


# ----------------------------------------------------------------------------- structure


def test_page_order_bottom_line_sections_table_references_related() -> None:
    answer = _answer()
    page = to_html(answer)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    anchors = ['id="bottom-line"', *(f'<section id="{s.name}">' for s in answer.sections), 'id="evidence-table"', 'id="references"', 'id="related"']
    positions = [page.index(anchor) for anchor in anchors]
    assert positions == sorted(positions)  # bottom line first, sections in the answer's (non-default) order, then the rest
    assert "No passage in the indexed corpus addresses this." in page  # the empty algorithm section says so
    assert "<ol class=\"statements\">" not in page.split('id="algorithm"')[0]  # only the algorithm is numbered
    assert 'id="evidence-table"' not in to_html(_answer(table=False))
    table = page.split('id="evidence-table"')[1].split("</table>")[0]
    assert "<th>HR</th>" in table and "<th>Arms</th>" not in table  # a column no row fills is left out


def test_every_marker_opens_the_passage_it_cites() -> None:
    page = to_html(_answer())
    markers = re.findall(r'<a class="cite" href="#([^"]+)" aria-controls="\1" aria-expanded="false" title="[^"]*">\[(\d+)\]</a>', page)
    # bottom line 1 + recommendation 1 + evidence 2+1 + safety 1 + table 1 = 7 markers, one box each, ids unique
    assert len(markers) == 7 and len({box for box, _ in markers}) == 7
    for box_id, number in markers:
        box = _box(page, box_id)
        assert f"[{number}]" in box
    bottom_box = _box(page, markers[0][0])
    assert QUOTE_A in bottom_box and QUOTE_B not in bottom_box  # only the passage of [1] this statement cites
    assert "Efficacy &gt; Overall survival, p.&nbsp;4" in bottom_box and "empower#aaaaaaaaaaaa" in bottom_box
    assert "NEJM 2022 · NCT 03257267" in bottom_box  # the source line
    safety_box = _box(page, next(box for box, _ in markers if QUOTE_B in _box(page, box)))
    assert QUOTE_A not in safety_box


def test_references_list_each_document_once_with_its_locators() -> None:
    page = to_html(_answer())
    references = page.split('id="references"')[1].split("</section>")[0]
    assert references.count("<li ") == 2
    for passage_id in ("empower#aaaaaaaaaaaa", "empower#bbbbbbbbbbbb", "evil#cccccccccccc"):
        assert passage_id in references
    assert '<a href="https://clinicaltrials.gov/study/NCT03257267" rel="noreferrer noopener">' in references


def test_an_abstention_says_so_and_lists_no_references() -> None:
    answer = Answer(question="metformin dose?", abstained=True, abstain_reason="The corpus does not mention metformin.",
                    sections=[AnswerSection(name="recommendation")], references=[], related_questions=["What is cemiplimab?"])
    page = to_html(answer)
    assert "Not covered by the indexed corpus." in page and "The corpus does not mention metformin." in page
    assert 'id="references"' not in page and 'id="related"' in page


# ----------------------------------------------------------------------------- hostile text stays text


def test_hostile_corpus_text_is_escaped_and_stripped() -> None:
    page = to_html(_answer())
    assert not CONTROL.findall(page)
    tags = _tags(page)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS, {tag for tag, _ in tags} - ALLOWED_TAGS
    assert [tag for tag, _ in tags].count("script") == 1 and [tag for tag, _ in tags].count("title") == 1
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)  # no event handler attribute
        assert "src" not in attrs  # nothing is loaded
        href = attrs.get("href")
        if href is not None:
            assert href.startswith("#") or (tag == "a" and href.startswith("https://")), href
    assert "javascript:" not in page.split("<script>")[0]  # the hostile URL is shown as text, never a link
    assert "Evil &lt;/title&gt;&lt;script&gt;window.owned = 1&lt;/script&gt; &quot;trial&quot;" in page
    assert "&lt;img src=x onerror=&quot;window.owned=2&quot;&gt; &amp; HR 0.69 &lt;b&gt;bold&lt;/b&gt;" in page
    assert "Is &lt;script&gt;x&lt;/script&gt; &quot;ok&quot;?" in page


@pytest.mark.parametrize(("url", "linked"), [
    ("https://www.nccn.org/guidelines.pdf", True), ("http://example.org/a?b=1&c=2", True),
    ("javascript:alert(1)", False), ("JAVASCRIPT:alert(1)", False), ("data:text/html,<b>", False), ("//evil.example/x", False),
    ("/etc/passwd", False), ("https://", False), ("https://a.example/x y", False), ("", False), (None, False),
])
def test_only_http_urls_become_links(url: str | None, linked: bool) -> None:
    assert (safe_url(url) is not None) is linked


def test_the_page_fetches_nothing() -> None:
    page = to_html(_answer())
    head = page.split("</head>")[0]
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', head)
    assert meta and "default-src 'none'" in meta.group(1) and "unsafe-inline" not in meta.group(1)
    assert not re.search(r"<(link|img|iframe|object|embed|source|video|audio|base)\b", page, flags=re.IGNORECASE)
    assert not re.search(r"@import|url\(", page)
    remote = re.findall(r'(?:src|href|action)="(https?:[^"]*)"', page)
    assert set(remote) == {"https://clinicaltrials.gov/study/NCT03257267"}  # only the source's own link (quote boxes, References)


# ----------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def html_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real page from the fixture corpus (BM25 only: `rag ask` reads the same index either way)."""
    from conftest import FIXTURE_CORPUS

    from rag.index.build import BuildSettings, build_index

    root = tmp_path_factory.mktemp("html-index") / "index"
    build_index([FIXTURE_CORPUS], root, BuildSettings(dense=False))
    return root


QUESTION = "Is cemiplimab an option for recurrent cervical cancer after platinum?"


def test_rag_ask_writes_an_html_page_to_stdout_or_a_file(rag, html_page: Path, tmp_path: Path) -> None:
    shown = rag("ask", QUESTION, "--index", str(html_page), "--format", "html")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("<!DOCTYPE html>") and 'id="bottom-line"' in shown.stdout
    data = json.loads(rag("ask", QUESTION, "--index", str(html_page), "--format", "json").stdout)
    for ref in data["references"]:
        for loc in ref["locators"]:
            assert html.escape(loc["quote"]) in shown.stdout  # every cited passage is on the page, in full
    out = tmp_path / "page.html"
    written = rag("ask", QUESTION, "--index", str(html_page), "--format", "html", "--out", str(out))
    assert written.returncode == 0 and written.stdout == "" and str(out) in written.stderr
    assert out.read_text(encoding="utf-8") == shown.stdout
    refused = rag("ask", QUESTION, "--index", str(html_page), "--out", str(tmp_path / "page.txt"))
    assert refused.returncode == 2 and "--format html" in refused.stderr and not (tmp_path / "page.txt").exists()


# ----------------------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium; .ci/run does)")

# Runs after the page's own script: acts like a reader, then writes what the reader sees into the DOM.
PROBE = """
(function () {
  var action = document.documentElement.dataset.action || "";
  var a = document.querySelector("a.cite"), id = a.getAttribute("href").slice(1);
  if (action.indexOf("click") === 0) a.click();
  if (action === "click2") a.click();
  var target = location.hash ? document.getElementById(location.hash.slice(1)) : document.getElementById(id);
  var shown = Array.prototype.filter.call(document.querySelectorAll(".quote[id]"), function (q) { return q.checkVisibility(); });
  var out = document.createElement("pre"); out.id = "probe";
  out.textContent = JSON.stringify({
    id: target.id, visible: target.checkVisibility(), text: target.innerText, expanded: a.getAttribute("aria-expanded"),
    shown: shown.map(function (q) { return q.id; }), owned: window.owned === undefined ? null : window.owned,
    resources: performance.getEntriesByType("resource").length, title: document.title, h1: document.querySelector("h1").innerText
  });
  document.body.appendChild(out);
})();
"""


def _sha256(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def _in_browser(page: str, folder: Path, *, action: str = "", fragment: str = "") -> dict:
    """Open `page` in headless chromium with the probe appended (and allowed by the page's own CSP,
    which stays in force), and return what the probe saw."""
    probed = page.replace("script-src '", f"script-src '{_sha256(PROBE)}' '", 1)
    probed = probed.replace("<html ", f'<html data-action="{action}" ', 1).replace("</body>", f"<script>{PROBE}</script></body>", 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "page.html"
    path.write_text(probed, encoding="utf-8")
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={folder / 'profile'}",
         "--dump-dom", path.as_uri() + fragment],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert match, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(html.unescape(match.group(1)))


@browser
def test_clicking_a_marker_shows_the_cited_passage_in_place(rag, html_page: Path, tmp_path: Path) -> None:
    page = rag("ask", QUESTION, "--index", str(html_page), "--format", "html").stdout
    data = json.loads(rag("ask", QUESTION, "--index", str(html_page), "--format", "json").stdout)
    first = data["bottom_line"]["statements"][0]
    reference = next(r for r in data["references"] if r["number"] == first["citations"][0])
    quote = next(loc["quote"] for loc in reference["locators"] if loc["passage_id"] == first["passages"][0])

    before = _in_browser(page, tmp_path / "before")
    assert before["shown"] == [] and before["visible"] is False and before["resources"] == 0
    clicked = _in_browser(page, tmp_path / "click", action="click")
    assert clicked["visible"] is True and clicked["shown"] == [clicked["id"]] and clicked["expanded"] == "true"
    assert quote in clicked["text"] and reference["title"] in clicked["text"] and first["passages"][0] in clicked["text"]
    assert clicked["resources"] == 0  # no request of any kind
    again = _in_browser(page, tmp_path / "click2", action="click2")
    assert again["visible"] is False and again["shown"] == [] and again["expanded"] == "false"


@browser
def test_a_url_hash_opens_that_passage(tmp_path: Path) -> None:
    page = to_html(_answer())
    opened = _in_browser(page, tmp_path, fragment="#q2-1")  # safety comes first here; its [1] cites the trial's other passage
    assert opened["visible"] is True and opened["shown"] == ["q2-1"] and QUOTE_B in opened["text"] and QUOTE_A not in opened["text"]
    row = _in_browser(page, tmp_path / "row", fragment="#q7-1")  # the evidence table's [1]: a full-width row under the study
    assert row["visible"] is True and row["shown"] == ["q7-1"] and QUOTE_A in row["text"]


@browser
def test_hostile_markup_shows_as_text_and_never_runs(tmp_path: Path) -> None:
    page = to_html(_answer())
    opened = _in_browser(page, tmp_path, fragment="#q5-2")  # the first evidence statement's [2]: the hostile passage
    assert opened["owned"] is None  # no injected script or handler ran
    assert opened["visible"] is True and "<img src=x onerror=\"window.owned=2\"> & HR 0.69 <b>bold</b>" in opened["text"]
    assert "</title><script>window.owned = 1</script>" in opened["text"]
    assert opened["title"] == "Cemiplimab <after> platinum?" == opened["h1"]  # escape sequence stripped
