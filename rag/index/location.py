"""Where an index lives: a local folder (the default) or a Milvus server, named by a URI.

    milvus://HOST:PORT/NAME     a Milvus server (Milvus Lite's `milvus-lite server`, or a Milvus
                                Distributed cluster's proxy); NAME (default `rag`) prefixes its collections
    milvus:///ABS/PATH/FILE.db  a Milvus Lite database file (no server), optionally `.../FILE.db/NAME`

Kept free of pymilvus so that parsing a command line imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rag.errors import IndexStateError

SCHEME = "milvus://"
DEFAULT_NAME = "rag"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class MilvusLocation:
    text: str  # as the user wrote it
    client_uri: str  # what pymilvus.MilvusClient takes: http://HOST:PORT or a file path
    name: str  # prefix of the index's collections

    def __str__(self) -> str:
        return self.text


def is_milvus(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEME)


def parse_milvus(text: str) -> MilvusLocation:
    """`milvus://HOST:PORT/NAME`, `milvus:///PATH.db[/NAME]` or `http://HOST:PORT` (NAME `rag`)."""
    value = text.strip()
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        return _checked(value, f"{parts.scheme}://{parts.netloc}", parts.path.strip("/") or DEFAULT_NAME)
    if not value.startswith(SCHEME):
        raise IndexStateError(f"{value!r}: not a Milvus URI; write milvus://HOST:PORT/NAME (a server) or milvus:///PATH.db (a file)")
    parts = urlsplit(value)
    if parts.netloc:
        if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d+", parts.netloc):
            raise IndexStateError(f"{value}: no port in {parts.netloc!r}; write milvus://HOST:PORT/NAME (Milvus listens on 19530)")
        return _checked(value, f"http://{parts.netloc}", parts.path.strip("/") or DEFAULT_NAME)
    path = Path(parts.path)
    if path.suffix == ".db":
        return _checked(value, str(path), DEFAULT_NAME)
    if path.parent.suffix == ".db":
        return _checked(value, str(path.parent), path.name)
    raise IndexStateError(f"{value}: a Milvus Lite file URI names a .db file: milvus:///ABS/PATH/FILE.db[/NAME]")


def _checked(text: str, client_uri: str, name: str) -> MilvusLocation:
    if not _NAME.match(name):
        raise IndexStateError(
            f"{text}: index name {name!r} is not a Milvus collection name; use letters, digits and underscores, a letter first"
        )
    return MilvusLocation(text=text, client_uri=client_uri, name=name)
