"""Human output for the terminal (rich). Everything printed from the corpus goes through `printable`:
corpus text can hold terminal escape sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from rag.search import SearchResult
from rag.text import printable

if TYPE_CHECKING:
    from rag.profile.model import FieldProfile


def print_search(result: SearchResult, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    if not result.hits:
        console.print(Text(f"No passage matches {printable(result.query)!r} ({result.retriever})."))
        return
    console.print(Text(f"{len(result.hits)} hits for {printable(result.query)!r} ({result.retriever})", style="bold"))
    for hit in result.hits:
        console.print()
        head = Text(f"{hit.rank:>2}. ", style="bold")
        head.append(printable(hit.title), style="bold cyan")
        if hit.section:
            head.append(f" › {printable(hit.section)}", style="cyan")
        head.append(f"  [{hit.score:.4f}]", style="dim")
        console.print(head)
        console.print(Text(f"    {printable(hit.source.citation)}   {printable(hit.passage_id)}", style="dim"))
        console.print(Text("    " + printable(hit.text)))


def print_profile(profile: FieldProfile, console: Console | None = None) -> None:
    """The field profile part of `rag index status`."""
    console = console or Console(highlight=False)

    def named(items, limit: int = 8) -> str:
        return ", ".join(f"{printable(i.name)} ({i.documents})" for i in items[:limit]) or "none found"

    origin = f"declared in {profile.field_file}" if profile.scope_declared else "written from the corpus"
    console.print(Text(f"scope     {printable(profile.scope)}  [{origin}]"))
    console.print(Text("kinds     " + ", ".join(f"{k} {n}" for k, n in sorted(profile.kinds.items()))))
    console.print(Text(f"bodies    {named(profile.bodies)}"))
    console.print(Text(f"conditions {named(profile.conditions)}"))
    console.print(Text(f"drugs     {named(profile.drugs)}  ({profile.counts.get('drugs', 0)} in all)"))
    console.print(Text(f"trials    {named(profile.trials)}"))
    if profile.declared.major_bodies:
        console.print(Text("major     " + ", ".join(profile.declared.major_bodies) + "  (gap statements when silent)"))
