"""The answer page for people: a terminal page (rich) and Markdown for pasting into a note. Both show
the bottom line first, the sections in the order the answer gives them, then one reference per
source document with the passages cited (their ids open with `rag show`). When the page cites studies,
an evidence table (one row per study, each cell quoted from its passages and marked [n]) precedes the references."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rag.answer.models import Answer, AnswerSection, EvidenceRow, Reference, Statement
from rag.text import printable

TITLES = {
    "recommendation": "Recommendation",
    "evidence": "Evidence",
    "algorithm": "Treatment algorithm",
    "safety": "Safety and dosing",
    "caveats": "Caveats",
}
EMPTY = "No passage in the indexed corpus addresses this."
TABLE_TITLE = "Evidence table"
TABLE_COLUMNS = (
    ("design", "Design"),
    ("n", "n"),
    ("arms", "Arms"),
    ("endpoint", "Endpoint"),
    ("median", "Median"),
    ("hazard_ratio", "HR (95% CI)"),
    ("p_value", "p"),
)
NO_CELL = "–"


def _label(statement: Statement) -> str:
    if statement.kind == "gap" or not statement.body:
        return ""
    return f"{statement.body} ({statement.grade}): " if statement.grade else f"{statement.body}: "


def _marks(statement: Statement) -> str:
    return "".join(f"[{n}]" for n in statement.citations)


def _tags(statement: Statement) -> str:
    shown = [t for t in statement.tags if t not in ("gap",)]
    return f" ({'; '.join(shown)})" if shown else ""


def _locators(reference: Reference) -> str:
    parts = []
    for loc in reference.locators:
        where = loc.section or "text"
        if loc.page:
            where += f", p. {loc.page}"
        parts.append(f"{where} `{loc.passage_id}`")
    return "; ".join(parts)


def _table_columns(rows: list[EvidenceRow]) -> list[tuple[str, str]]:
    """The columns some row fills (a column empty in every row is left out)."""
    return [(field, title) for field, title in TABLE_COLUMNS if any(getattr(row, field) for row in rows)]


def _cell(row: EvidenceRow, field: str) -> str:
    """A cell as the passage gives it, then its reference marker; `–` when no cited passage states it."""
    value = getattr(row, field)
    return f"{printable(' '.join(value.split()))} [{row.reference}]" if value else NO_CELL


def _markdown_table(rows: list[EvidenceRow]) -> list[str]:
    if not rows:
        return []
    columns = _table_columns(rows)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [f"## {TABLE_TITLE}", "", line(["Study", *(title for _, title in columns)]), line(["---"] * (len(columns) + 1))]
    out += [line([_cell(row, "study"), *(_cell(row, field) for field, _ in columns)]) for row in rows]
    return [*out, ""]


def _rich_table(rows: list[EvidenceRow]) -> Table:
    table = Table(title=TABLE_TITLE, title_justify="left", title_style="bold underline", show_lines=True, expand=False)
    columns = _table_columns(rows)
    table.add_column("Study", style="bold", overflow="fold")  # fold, never "…": a cut cell could hide a number
    for _, title in columns:
        table.add_column(title, overflow="fold")
    for row in rows:
        table.add_row(*(_rich_cell(row, field) for field in ["study", *(f for f, _ in columns)]))
    return table


def _rich_cell(row: EvidenceRow, field: str) -> Text:
    value = getattr(row, field)
    if not value:
        return Text(NO_CELL, style="dim")
    cell = Text(printable(" ".join(value.split())))
    cell.append(f" [{row.reference}]", style="cyan")
    return cell


def to_markdown(answer: Answer) -> str:
    lines = [f"# {printable(answer.question)}", ""]
    if answer.abstained:
        lines += ["**Not covered by the indexed corpus.**", "", printable(answer.abstain_reason or ""), ""]
    else:
        if answer.bottom_line:
            lines += ["**Bottom line.** " + " ".join(f"{printable(_label(st) + st.text)}{_tags(st)} {_marks(st)}".strip() for st in answer.bottom_line.statements), ""]
        for section in answer.sections:
            lines += [f"## {TITLES[section.name]}", ""]
            lines += _markdown_statements(section) or [f"_{EMPTY}_"]
            lines.append("")
        if answer.omitted:
            lines += [f"_{answer.omitted} more statement(s) left off for length; `rag ask --full` shows them._", ""]
        lines += _markdown_table(answer.evidence_table)
        lines += ["## References", ""]
        for ref in answer.references:
            head = ". ".join(printable(x).rstrip(". ") for x in (ref.title, ref.source) if x and x.strip(" ."))
            lines.append(f"{ref.number}. {head}. Cited: {printable(_locators(ref))}")
        lines.append("")
    if answer.related_questions:
        lines += ["## Related questions", ""] + [f"- {printable(q)}" for q in answer.related_questions] + [""]
    return "\n".join(lines)


def _markdown_statements(section: AnswerSection) -> list[str]:
    out = []
    for number, statement in enumerate(section.statements, start=1):
        bullet = f"{number}." if section.name == "algorithm" else "-"
        if statement.kind == "gap":
            out.append(f"{bullet} _{printable(statement.text)}_")
        else:
            out.append(f"{bullet} {printable(_label(statement) + statement.text)}{_tags(statement)} {_marks(statement)}")
    return out


def _row(console: Console, bullet: str, body: Text) -> None:
    """A bullet with a hanging indent: wrapped lines align under the text, not under the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, justify="right", no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(bullet, body)
    console.print(grid)


def _statement_text(statement: Statement) -> Text:
    line = Text()
    if statement.kind == "gap":
        line.append(printable(statement.text), style="yellow")
        return line
    if statement.body:
        line.append(printable(_label(statement)), style="bold magenta")
    line.append(printable(statement.text))
    if _tags(statement):
        line.append(_tags(statement), style="italic yellow")
    line.append(" ")
    line.append(_marks(statement), style="cyan")
    return line


def print_answer(answer: Answer, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    console.print(Text(printable(answer.question), style="bold"))
    console.print()
    if answer.abstained:
        console.print(Text("Not covered by the indexed corpus.", style="bold yellow"))
        console.print(Text(printable(answer.abstain_reason or "")))
    else:
        if answer.bottom_line:
            line = Text("Bottom line: ", style="bold green")
            for statement in answer.bottom_line.statements:
                line.append_text(_statement_text(statement))
                line.append(" ")
            console.print(line)
        for section in answer.sections:
            console.print()
            console.print(Text(TITLES[section.name], style="bold underline"))
            if not section.statements:
                _row(console, "", Text(EMPTY, style="dim"))
            for number, statement in enumerate(section.statements, start=1):
                _row(console, f"{number}." if section.name == "algorithm" else "•", _statement_text(statement))
        if answer.omitted:
            console.print()
            console.print(Text(f"{answer.omitted} more statement(s) left off for length; `rag ask --full` shows them.", style="dim"))
        if answer.evidence_table:
            console.print()
            console.print(_rich_table(answer.evidence_table))
        console.print()
        console.print(Text("References", style="bold underline"))
        for ref in answer.references:
            line = Text(printable(ref.title), style="bold")
            if ref.source and ref.source.strip(" ."):
                line.append(f" — {printable(ref.source)}")
            line.append(f"  ({printable(_locators(ref))})", style="dim")
            _row(console, f"[{ref.number}]", line)
    if answer.related_questions:
        console.print()
        console.print(Text("Related questions", style="bold underline"))
        for question in answer.related_questions:
            _row(console, "•", Text(printable(question)))
