"""The curated lexicon (lexicon.yaml): brand <-> generic names, abbreviations, guideline bodies, and
fuzzy matching of misspelled drug names."""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")
_WORD = re.compile(r"[a-z0-9][a-z0-9\-/+]*")


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    drugs: dict[str, list[str]]
    supportive: list[str]
    abbreviations: dict[str, str]
    bodies: dict[str, list[str]]
    major_bodies: list[str]
    scope: str
    question_words: str
    scope_terms: list[str]
    classes: dict[str, list[str]]
    related: dict[str, list[str]]
    out_of_scope_conditions: list[str]

    def outside_scope(self, question: str) -> str | None:
        """The other disease a question is about, when it names one and nothing of the field."""
        text = question.lower()

        def named(term: str) -> bool:
            return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None

        if any(named(t) for t in self.scope_terms):
            return None
        return next((c for c in self.out_of_scope_conditions if named(c)), None)

    @property
    def question_word_set(self) -> frozenset[str]:
        return frozenset(self.question_words.split())

    def alias_to_drug(self) -> dict[str, str]:
        table = {generic: generic for generic in self.drugs}
        for generic, aliases in self.drugs.items():
            table.update({alias: generic for alias in aliases})
        return table


@cache
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    return Lexicon.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class Understood(BaseModel):
    """What the question names, in the corpus's own words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drugs: tuple[str, ...]
    bodies: tuple[str, ...]
    expansions: tuple[str, ...]
    corrections: tuple[tuple[str, str], ...]
    consumed: tuple[str, ...] = ()  # words of the question the lexicon rewrote (brands, abbreviations, misspellings)

    def normalized_question(self, question: str) -> str:
        """The question with rewritten words replaced by what they mean (for coverage scoring)."""
        text = question
        for word in sorted(self.consumed, key=len, reverse=True):
            text = re.sub(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", " ", text, flags=re.IGNORECASE)
        return " ".join([text, *self.drugs, *self.expansions])

    def expanded_query(self, question: str) -> str:
        extra = [*self.drugs, *self.expansions]
        return question if not extra else f"{question} ({'; '.join(extra)})"


def understand(question: str, lexicon: Lexicon | None = None) -> Understood:
    """Drugs (by generic name, brand or a close misspelling), guideline bodies and abbreviations named
    in the question."""
    lexicon = lexicon or load_lexicon()
    text = question.lower()
    aliases = lexicon.alias_to_drug()
    drugs: list[str] = []
    corrections: list[tuple[str, str]] = []
    consumed: list[str] = []
    for alias, generic in sorted(aliases.items(), key=lambda kv: -len(kv[0])):
        if " " in alias or "-" in alias:
            if re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", text):
                consumed.append(alias)
                if generic not in drugs:
                    drugs.append(generic)
    words = _WORD.findall(text)
    long_aliases = [a for a in aliases if len(a) >= 6 and " " not in a]
    for word in words:
        if word in aliases:
            consumed.append(word)
            if aliases[word] not in drugs:
                drugs.append(aliases[word])
        elif word in lexicon.abbreviations:
            consumed.append(word)
        elif "/" in word:  # "carboplatin/paclitaxel/bev": understand each part
            for part in word.split("/"):
                if part in aliases and aliases[part] not in drugs:
                    drugs.append(aliases[part])
                if part in aliases or part in lexicon.abbreviations:
                    consumed.append(part)
        elif len(word) >= 7:
            close = difflib.get_close_matches(word, long_aliases, n=1, cutoff=0.84)
            if close:
                consumed.append(word)
                if aliases[close[0]] not in drugs:
                    drugs.append(aliases[close[0]])
                corrections.append((word, aliases[close[0]]))
    bodies: list[str] = []
    for body, names in lexicon.bodies.items():
        named = [n for n in names if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", text)]
        if named:
            bodies.append(body)
            consumed.extend(named)  # "ESMO (European Society for Medical Oncology)" says who, not what
    expansions = list(dict.fromkeys(lexicon.abbreviations[w] for w in words if w in lexicon.abbreviations))
    for word in words:
        if "/" in word and word not in lexicon.abbreviations:
            expansions.extend(lexicon.abbreviations[p] for p in word.split("/") if p in lexicon.abbreviations)
    return Understood(
        drugs=tuple(drugs),
        bodies=tuple(bodies),
        expansions=tuple(dict.fromkeys(expansions)),
        corrections=tuple(corrections),
        consumed=tuple(dict.fromkeys(consumed)),
    )
