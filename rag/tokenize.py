"""A lexical tokenizer fit for clinical text, for BM25.

Kept whole: hyphenated and slashed compounds ("pd-l1", "fam-trastuzumab", "r/m"), decimals ("0.69"),
comparators glued to their number ("≥1", "<0.001"), dose and schedule tokens ("350", "mg", "q3w").
A compound is also emitted as its parts, so "trastuzumab" matches "fam-trastuzumab". Optional
English stop-word removal and Porter/Snowball stemming (PyStemmer) of purely alphabetic tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

STOPWORDS: frozenset[str] = frozenset(
    """
    a an and are as at be but by for if in into is it its of on or such that the their then there these
    they this to was were will with what which who whom how when where why do does did has have had been
    being than so not no can could should would may might must shall our we you your i me my he she his
    her them those from about over under after before between during via per also any all each other
    """.split()
)

# [^\W_] is any Unicode letter or digit: "Barré", "TNF-α", "5 μg" keep their non-ASCII letters.
_TOKEN = re.compile(r"[≥≤<>=±~]?\d+(?:[.,]\d+)*%?(?![^\W\d_])|[^\W_]+(?:[\-/'.][^\W_]+)*", re.UNICODE | re.IGNORECASE)
_GLUE_COMPARATOR = re.compile(r"([≥≤<>])\s+(?=\d)")
_COMPARATORS = {"≥": "≥", "≤": "≤", ">=": "≥", "<=": "≤", "=>": "≥", "=<": "≤"}


class TokenizerSettings(BaseModel):
    """Recorded in the index manifest; a change forces a rebuild of the lexical index."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lowercase: bool = True
    stopwords: bool = True
    stemmer: str | None = Field(default="english", description="PyStemmer algorithm ('english', 'porter') or None.")
    split_compounds: bool = Field(default=True, description="Also emit the parts of 'pd-l1', 'r/m', 'fam-trastuzumab'.")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for raw, canonical in _COMPARATORS.items():
        text = text.replace(raw, canonical)
    text = text.replace("–", "-").replace("‑", "-").replace("—", " ")
    return _GLUE_COMPARATOR.sub(r"\1", text)


@lru_cache(maxsize=4)
def _stemmer(name: str) -> Callable[[str], str]:
    import Stemmer  # PyStemmer: C Snowball stemmers

    stem = Stemmer.Stemmer(name)
    stem.maxCacheSize = 100_000
    return stem.stemWord


def make_tokenizer(settings: TokenizerSettings) -> Callable[[str], list[str]]:
    """A function text -> tokens with the given settings."""
    stem = _stemmer(settings.stemmer) if settings.stemmer else None
    stop = STOPWORDS if settings.stopwords else frozenset()

    def tokenize(text: str) -> list[str]:
        text = _normalize(text)
        if settings.lowercase:
            text = text.lower()
        tokens: list[str] = []
        for raw in _TOKEN.findall(text):
            token = raw.rstrip(".'").removesuffix("'s")  # possessive: "Libtayo's" matches "libtayo"
            if not token or token in stop:
                continue
            if token.isalpha():
                tokens.append(stem(token) if stem else token)
                continue
            tokens.append(token)
            if settings.split_compounds:
                if token[0] in "≥≤<>=±~" and len(token) > 1:
                    tokens.append(token[1:])
                elif any(c in token for c in "-/"):
                    for part in re.split(r"[\-/]", token):
                        if part and part not in stop:
                            tokens.append(stem(part) if stem and part.isalpha() else part)
        return tokens

    return tokenize
