"""The answer page for people: a terminal page (rich) and Markdown for pasting into a note."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rag.answer.classify import NEGATIVE
from rag.answer.models import Answer, AnswerSection, Statement

TITLES = {
    "recommendation": "Recommendation",
    "evidence": "Evidence",
    "algorithm": "Treatment algorithm",
    "safety": "Safety",
    "caveats": "Caveats",
}
EMPTY = "No passage in the indexed corpus addresses this."


def _label(statement: Statement) -> str:
    if statement.kind == "gap" or not statement.body:
        return ""
    return f"{statement.body} ({statement.grade}): " if statement.grade else f"{statement.body}: "


def _marks(statement: Statement) -> str:
    return "".join(f"[{n}]" for n in statement.citations)


def bottom_line(answer: Answer) -> Statement | None:
    """The first recommendation that says what to do (not that a source is silent), else the first
    evidence statement."""
    for name in ("recommendation", "evidence"):
        statements = [s for s in answer.section(name).statements if s.kind == "fact" and not NEGATIVE.search(s.text)]
        if statements:
            return statements[0]
    return None


def to_markdown(answer: Answer) -> str:
    lines = [f"# {answer.question}", ""]
    if answer.abstained:
        lines += ["**Not covered by the indexed corpus.**", "", answer.abstain_reason or "", ""]
    else:
        top = bottom_line(answer)
        if top:
            lines += [f"**Bottom line.** {_label(top)}{top.text} {_marks(top)}", ""]
        for section in answer.sections:
            lines += [f"## {TITLES[section.name]}", ""]
            lines += _markdown_statements(section) or [f"_{EMPTY}_"]
            lines.append("")
        lines += ["## References", ""]
        for ref in answer.references:
            ids = ", ".join(f"{k.upper()} {v}" for k, v in ref.identifiers.items())
            lines.append(f"{ref.number}. {ref.title}. {ref.source}. {ids} (passage `{ref.passage_id}`)")
        lines.append("")
    if answer.related_questions:
        lines += ["## Related questions", ""] + [f"- {q}" for q in answer.related_questions] + [""]
    return "\n".join(lines)


def _markdown_statements(section: AnswerSection) -> list[str]:
    out = []
    for number, statement in enumerate(section.statements, start=1):
        bullet = f"{number}." if section.name == "algorithm" else "-"
        if statement.kind == "gap":
            out.append(f"{bullet} _{statement.text}_")
        else:
            out.append(f"{bullet} {_label(statement)}{statement.text} {_marks(statement)}")
    return out


def _row(console: Console, bullet: str, body: Text) -> None:
    """A bullet with a hanging indent: wrapped lines align under the text, not under the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, justify="right", no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(bullet, body)
    console.print(grid)


def print_answer(answer: Answer, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    console.print(Text(answer.question, style="bold"))
    console.print()
    if answer.abstained:
        console.print(Text("Not covered by the indexed corpus.", style="bold yellow"))
        console.print(answer.abstain_reason or "")
    else:
        top = bottom_line(answer)
        if top:
            line = Text("Bottom line: ", style="bold green")
            line.append(f"{_label(top)}{top.text} ")
            line.append(_marks(top), style="cyan")
            console.print(line)
        for section in answer.sections:
            console.print()
            console.print(Text(TITLES[section.name], style="bold underline"))
            if not section.statements:
                _row(console, "", Text(EMPTY, style="dim"))
            for number, statement in enumerate(section.statements, start=1):
                bullet = f"{number}." if section.name == "algorithm" else "•"
                if statement.kind == "gap":
                    _row(console, bullet, Text(statement.text, style="yellow"))
                    continue
                line = Text()
                if statement.body:
                    line.append(_label(statement), style="bold magenta")
                line.append(f"{statement.text} ")
                line.append(_marks(statement), style="cyan")
                _row(console, bullet, line)
        console.print()
        console.print(Text("References", style="bold underline"))
        for ref in answer.references:
            line = Text(ref.title, style="bold")
            line.append(f" — {ref.source}")
            line.append(f"  ({ref.passage_id})", style="dim")
            _row(console, f"[{ref.number}]", line)
    if answer.related_questions:
        console.print()
        console.print(Text("Related questions", style="bold underline"))
        for question in answer.related_questions:
            _row(console, "•", Text(question))
