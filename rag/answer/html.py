"""The answer page as one self-contained HTML file: bottom line first, the sections in the answer's
order, the evidence table, references, related questions. Each citation marker [n] opens the passage
it cites in place (a few lines of inline JS; without JS the `:target` rule still shows it).

Nothing is fetched: CSS and JS are inline and a Content-Security-Policy allows only those two blocks
(by hash), so the page makes no request even if opened online. Every string from the corpus or the
question is stripped of control characters and HTML-escaped; a source URL becomes a link only when it
is http(s)."""

from __future__ import annotations

import base64
import hashlib
from html import escape
from urllib.parse import urlsplit

from rag.answer.models import Answer, AnswerSection, EvidenceRow, Locator, Reference, Statement
from rag.answer.render import EMPTY, TITLES, _label, _tags
from rag.text import printable

CSS = """
:root { --ink: #1d2428; --muted: #5b6770; --line: #d9dee2; --accent: #0b5cad; --gap: #8a5a00; --quote: #f4f7fa; }
* { box-sizing: border-box; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0; background: #fff; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.45rem; line-height: 1.3; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.8rem 0 .5rem; padding-bottom: .2rem; border-bottom: 1px solid var(--line); }
.bottom-line { border-left: 4px solid #1f7a4d; background: #eef7f1; padding: .75rem 1rem; border-radius: 4px; }
.bottom-line strong.head { color: #1f7a4d; }
.abstained { border-left: 4px solid var(--gap); background: #fff6e5; padding: .75rem 1rem; border-radius: 4px; }
ul.statements, ol.statements { padding-left: 1.4rem; margin: .3rem 0; }
ul.statements > li, ol.statements > li { margin: .45rem 0; }
.body { font-weight: 600; color: #6b2f86; }
.tags { font-style: italic; color: var(--gap); }
.gap { font-style: italic; color: var(--gap); }
.empty { color: var(--muted); font-style: italic; }
a.cite { color: var(--accent); text-decoration: none; font-weight: 600; white-space: nowrap; }
a.cite + a.cite { margin-left: .2em; }
a.cite:hover, a.cite:focus { text-decoration: underline; }
a.cite[aria-expanded="true"] { background: #e3eefa; border-radius: 3px; }
.quote { display: block; margin: .4rem 0 .6rem; padding: .6rem .8rem; background: var(--quote); border: 1px solid var(--line);
         border-radius: 4px; font-size: .93rem; }
.quote[hidden] { display: none; }
.quote:target { display: block !important; }
tr.quote:target, tr.quote:not([hidden]) { display: table-row !important; }
.quote .where { color: var(--muted); font-size: .85rem; margin: 0 0 .3rem; }
.quote blockquote { margin: 0; white-space: pre-wrap; }
.quote .source { color: var(--muted); font-size: .85rem; margin: .35rem 0 0; }
code { font-size: .85em; color: var(--muted); }
table.evidence { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.evidence th, table.evidence td { border: 1px solid var(--line); padding: .3rem .45rem; text-align: left;
                                     vertical-align: top; }
table.evidence th { background: #f0f3f5; }
ol.references > li { margin: .5rem 0; }
ol.references .source { color: var(--muted); }
ol.references details { margin: .15rem 0 0 .2rem; font-size: .9rem; }
ol.references summary { cursor: pointer; color: var(--muted); }
.note, footer { color: var(--muted); font-size: .85rem; }
footer { margin-top: 2.5rem; border-top: 1px solid var(--line); padding-top: .5rem; }
@media print { .quote[hidden] { display: block; } a.cite { color: inherit; } }
""".strip()

# A marker toggles the quote it points at; a URL hash (#q3-1) opens that quote on load.
JS = """
document.addEventListener("click", function (e) {
  var a = e.target.closest("a.cite"); if (!a) return;
  var q = document.getElementById(a.getAttribute("href").slice(1)); if (!q) return;
  e.preventDefault(); q.hidden = !q.hidden; a.setAttribute("aria-expanded", String(!q.hidden));
});
function openHash() {
  var q = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (q && q.classList.contains("quote")) q.hidden = false;
}
window.addEventListener("hashchange", openHash); openHash();
""".strip()


def _hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


CSP = f"default-src 'none'; style-src '{_hash(CSS)}'; script-src '{_hash(JS)}'; base-uri 'none'; form-action 'none'"


def text(value: object) -> str:
    """Corpus or user text as HTML: control characters stripped, markup escaped (quotes too)."""
    return escape(printable(str(value)), quote=True)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for an href, or None (javascript:, data:, relative paths are never links)."""
    if not url:
        return None
    url = printable(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url


class _Page:
    """Builds the page; numbers each quote box so marker ids are unique."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.references = {ref.number: ref for ref in answer.references}
        self.boxes = 0

    # ----------------------------------------------------------------------- citations

    def _where(self, ref: Reference, loc: Locator) -> str:
        where = text(loc.section or "text")
        if loc.page:
            where += f", p.&nbsp;{loc.page}"
        return where

    def _source(self, ref: Reference) -> str:
        """The citation line; its URL (if http(s)) is a plain link to the source, the page's only link out."""
        line = text(ref.source or ref.kind)
        url = safe_url(ref.identifiers.get("url"))
        if url:
            shown = text(url)
            link = f'<a href="{shown}" rel="noreferrer noopener">{shown}</a>'
            line = line.replace(shown, link, 1) if shown in line else f"{line} · {link}"
        return line

    def _box(self, ref: Reference, passage_ids: list[str], *, row: int | None = None) -> tuple[str, str]:
        """(marker, hidden quote box) for reference `ref`, showing the passages of it cited here."""
        self.boxes += 1
        box_id = f"q{self.boxes}-{ref.number}"
        locators = [loc for loc in ref.locators if loc.passage_id in passage_ids] or ref.locators
        inner = "".join(
            f'<p class="where">[{ref.number}] <strong>{text(ref.title)}</strong> — {self._where(ref, loc)} '
            f"<code>{text(loc.passage_id)}</code></p><blockquote>{text(loc.quote)}</blockquote>"
            for loc in locators
        )
        inner += f'<p class="source">{self._source(ref)}</p>'
        marker = (f'<a class="cite" href="#{box_id}" aria-controls="{box_id}" aria-expanded="false" '
                  f'title="Show the cited passage">[{ref.number}]</a>')
        if row is not None:
            return marker, f'<tr class="quote" id="{box_id}" hidden><td colspan="{row}">{inner}</td></tr>'
        return marker, f'<div class="quote" id="{box_id}" hidden>{inner}</div>'

    def _cited(self, numbers: list[int], passage_ids: list[str], *, row: int | None = None) -> tuple[str, str]:
        markers, boxes = [], []
        for number in numbers:
            ref = self.references.get(number)
            if ref is None:  # a number the page does not list: shown, not linked
                markers.append(f"[{number}]")
                continue
            marker, box = self._box(ref, passage_ids, row=row)
            markers.append(marker)
            boxes.append(box)
        return "".join(markers), "".join(boxes)

    # ----------------------------------------------------------------------- statements

    def statement(self, statement: Statement) -> tuple[str, str]:
        """(inline HTML of the statement with its markers, the quote boxes that go under it)."""
        if statement.kind == "gap":
            return f'<span class="gap">{text(statement.text)}</span>', ""
        label = _label(statement)
        head = f'<span class="body">{text(label)}</span>' if label else ""
        tags = f'<span class="tags">{text(_tags(statement))}</span>' if _tags(statement) else ""
        markers, boxes = self._cited(statement.citations, statement.passages)
        return f"{head}{text(statement.text)}{tags} {markers}", boxes

    def section(self, section: AnswerSection) -> str:
        out = [f'<section id="{section.name}"><h2>{TITLES[section.name]}</h2>']
        if not section.statements:
            out.append(f'<p class="empty">{EMPTY}</p>')
        else:
            tag = "ol" if section.name == "algorithm" else "ul"
            items = []
            for statement in section.statements:
                line, boxes = self.statement(statement)
                items.append(f"<li>{line}{boxes}</li>")
            out.append(f'<{tag} class="statements">{"".join(items)}</{tag}>')
        out.append("</section>")
        return "".join(out)

    def bottom_line(self) -> str:
        bottom = self.answer.bottom_line
        if bottom is None:
            return ""
        lines, boxes = [], []
        for statement in bottom.statements:
            line, box = self.statement(statement)
            lines.append(line)
            boxes.append(box)
        if not bottom.statements:
            lines.append(text(bottom.text))
        head = '<strong class="head">Bottom line.</strong>'
        return f'<div class="bottom-line" id="bottom-line"><p>{head} {" ".join(lines)}</p>{"".join(boxes)}</div>'

    # ----------------------------------------------------------------------- table, references

    def evidence_table(self, rows: list[EvidenceRow]) -> str:
        columns = [("study", "Study"), ("design", "Design"), ("n", "N"), ("arms", "Arms"), ("endpoint", "Endpoint"),
                   ("median", "Median"), ("hazard_ratio", "HR"), ("p_value", "p")]
        columns = [(key, title) for key, title in columns if key == "study" or any(getattr(row, key) for row in rows)]
        head = "".join(f"<th>{title}</th>" for _, title in columns) + "<th>Ref.</th>"
        body = []
        for row in rows:
            cells = "".join(f"<td>{text(getattr(row, key) or '')}</td>" for key, _ in columns)
            marker, box = self._cited([row.reference], row.passages, row=len(columns) + 1)
            body.append(f"<tr>{cells}<td>{marker}</td></tr>{box}")
        return (f'<section id="evidence-table"><h2>Evidence table</h2><table class="evidence"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table></section>')

    def references_list(self) -> str:
        items = []
        for ref in self.answer.references:
            locators = "".join(
                f'<details><summary>{self._where(ref, loc)} <code>{text(loc.passage_id)}</code></summary>'
                f'<div class="quote"><blockquote>{text(loc.quote)}</blockquote></div></details>'
                for loc in ref.locators
            )
            items.append(f'<li id="ref-{ref.number}" value="{ref.number}"><strong>{text(ref.title.rstrip(". "))}</strong>. '
                         f'<span class="source">{self._source(ref)}</span>{locators}</li>')
        return f'<section id="references"><h2>References</h2><ol class="references">{"".join(items)}</ol></section>'

    # ----------------------------------------------------------------------- the page

    def render(self) -> str:
        answer = self.answer
        parts = [f"<h1>{text(answer.question)}</h1>"]
        if answer.abstained:
            parts.append(f'<div class="abstained"><p><strong>Not covered by the indexed corpus.</strong></p>'
                         f"<p>{text(answer.abstain_reason or '')}</p></div>")
        else:
            parts.append(self.bottom_line())
            parts += [self.section(section) for section in answer.sections]
            if answer.omitted:
                parts.append(f'<p class="note">{answer.omitted} more statement(s) left off for length; '
                             "<code>rag ask --full</code> shows them.</p>")
            if answer.evidence_table:
                parts.append(self.evidence_table(answer.evidence_table))
            parts.append(self.references_list())
        if answer.related_questions:
            items = "".join(f"<li>{text(q)}</li>" for q in answer.related_questions)
            parts.append(f'<section id="related"><h2>Related questions</h2><ul>{items}</ul></section>')
        stamp = f" · settings {text(answer.settings_hash)}" if answer.settings_hash else ""
        parts.append(f"<footer>Composed offline by <code>rag ask</code> from the indexed corpus; every statement is "
                     f"extracted from the passage it cites{stamp}.</footer>")
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>{text(answer.question)}</title><style>{CSS}</style></head>\n"
            f"<body><main>{''.join(parts)}</main><script>{JS}</script></body></html>\n"
        )


def to_html(answer: Answer) -> str:
    """The answer page as a self-contained HTML document (UTF-8 text)."""
    return _Page(answer).render()
