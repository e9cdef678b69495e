"""Condition phrases in free text, from the vocabulary's general rules (no disease list of one field):
a phrase ending in a head word ("cervical cancer", "heart failure"), a word with a condition suffix
("colitis", "anaemia"), or a known name ("diabetes", "asthma"). The phrase keeps up to two words
before its head and an "of the <organ>" after it; phrases with nothing specific in them ("advanced
cancer") are left out."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.knowledge import Knowledge

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_BREAK = frozenset("of with and or in for on to the a an by at from as vs versus after before during without than who which that is are was were has have had not no".split())
_PUNCT = re.compile(r"[.,;:()\[\]|!?–—]")
MAX_MODIFIERS = 2


@lru_cache(maxsize=8)
def _rules(knowledge: Knowledge) -> tuple[frozenset[str], tuple[str, ...], frozenset[str], frozenset[str], frozenset[str], re.Pattern[str] | None]:
    words = knowledge.vocabulary.conditions
    multi = [n.lower() for n in words.names if " " in n]
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in sorted(multi, key=len, reverse=True)) + r")(?![\w-])") if multi else None
    return (
        frozenset(h.lower() for h in words.heads),
        tuple(s.lower() for s in words.suffixes),
        frozenset(n.lower() for n in words.names if " " not in n),
        frozenset(g.lower() for g in words.generic),
        frozenset(e.lower() for e in words.exclude),
        pattern,
    )


def specific_words(phrase: str, knowledge: Knowledge) -> list[str]:
    """The words of a condition phrase that say which condition it is ("breast" of "metastatic breast cancer")."""
    generic = _rules(knowledge)[3]
    return [w for w in _WORD.findall(phrase.lower()) if w not in generic and w not in _BREAK]


def condition_phrases(text: str, knowledge: Knowledge, *, diseases_only: bool = False) -> list[str]:
    """Condition phrases of `text`, lowercase, in order of appearance, without repeats. With
    `diseases_only`, words found only by their suffix ("colitis", "neutropenia", "adenocarcinoma":
    mostly complications, toxicities and histologies within a field) are left out."""
    heads, suffixes, names, generic, exclude, multi = _rules(knowledge)
    lowered = text.lower()
    found: list[str] = []
    covered: set[int] = set()
    if multi is not None:
        for match in multi.finditer(lowered):
            found.append(match.group(0))
            covered.update(range(match.start(), match.end()))
    words = [(m.group(0).strip("'-"), m.start()) for m in _WORD.finditer(lowered)]
    stops = {m.start() for m in _PUNCT.finditer(lowered)}  # a modifier never reaches across punctuation
    boundary = [any(s < start for s in stops if s >= (words[i - 1][1] if i else 0)) for i, (_, start) in enumerate(words)]
    for i, (word, start) in enumerate(words):
        if start in covered or not word or word in exclude:
            continue
        if word in heads:
            before: list[str] = []
            j = i - 1
            while j >= 0 and not boundary[j + 1] and len(before) < MAX_MODIFIERS and words[j][0] not in _BREAK and not words[j][0][:1].isdigit():
                before.insert(0, words[j][0])
                j -= 1
            after: list[str] = []
            if i + 2 < len(words) and words[i + 1][0] == "of":
                k = i + 2 + (words[i + 2][0] == "the")
                if k < len(words) and words[k][0] not in _BREAK:
                    after = ["of", words[k][0]]
            phrase = " ".join([*before, word, *after])
            if specific_words(phrase, knowledge):
                found.append(phrase)
        elif word in names:  # a named condition keeps a compound modifier: "community-acquired pneumonia"
            modifier = words[i - 1][0] if i and not boundary[i] else ""
            found.append(f"{modifier} {word}" if "-" in modifier.strip("-") and specific_words(modifier, knowledge) else word)
        elif not diseases_only and len(word) >= 6 and word.endswith(suffixes) and word not in generic:
            found.append(word)
    return list(dict.fromkeys(found))
