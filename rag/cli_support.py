"""What every `rag` command shares: library errors become one line on stderr and a non-zero exit, and
option values are checked. Kept apart from cli.py so sub-apps (rag eval) use it without importing
their parent."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import typer

from rag.errors import RagError, describe
from rag.text import one_line

F = TypeVar("F", bound=Callable[..., object])


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def unexpected(error: Exception) -> str:
    """The line for an error the library did not turn into a RagError: the file it names, if any."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {describe(error)}; check the path, its permissions and the free disk space"
    return f"{describe(error)} (set RAG_DEBUG=1 for a traceback)"


def guarded(function: F) -> F:
    """Turn library errors into one line on stderr and a non-zero exit; never a traceback."""

    @wraps(function)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return function(*args, **kwargs)
        except RagError as error:
            fail(str(error) or type(error).__name__)  # one line by contract; a file name's newline is shown as \\n
        except KeyboardInterrupt:
            fail("interrupted; nothing was changed (the previous index, if any, is still in use)", 130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - last resort: one line, traceback only on request
            if os.environ.get("RAG_DEBUG"):
                raise
            fail(unexpected(error), 1)
        return None

    return wrapper  # type: ignore[return-value]


def check_format(value: str, allowed: tuple[str, ...] = ("text", "json")) -> str:
    if value not in allowed:
        fail(f"unknown --format {value!r}; choose one of {', '.join(allowed)}")
    return value
