"""Human output for the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from rag.search import SearchResult


def print_search(result: SearchResult, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    if not result.hits:
        console.print(f"No passage matches {result.query!r} ({result.retriever}).")
        return
    console.print(Text(f"{len(result.hits)} hits for {result.query!r} ({result.retriever})", style="bold"))
    for hit in result.hits:
        console.print()
        head = Text(f"{hit.rank:>2}. ", style="bold")
        head.append(hit.title, style="bold cyan")
        if hit.section:
            head.append(f" › {hit.section}", style="cyan")
        head.append(f"  [{hit.score:.4f}]", style="dim")
        console.print(head)
        console.print(Text(f"    {hit.source.citation}   {hit.passage_id}", style="dim"))
        console.print(Text("    " + hit.text))
