"""Related questions for an answer page: the lexicon's templates for the drugs the question names,
then its general questions that the asked question does not already cover."""

from __future__ import annotations

import re

from rag.answer.lexicon import Lexicon, Understood

MAX_RELATED = 5


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9\-]+", text.lower()) if len(w) > 3}


def related_questions(question: str, understood: Understood, lexicon: Lexicon) -> list[str]:
    """Up to five follow-up questions (deterministic)."""
    out = [template.format(drug=drug) for drug in understood.drugs[:2] for template in lexicon.related["per_drug"]]
    asked = _content_words(question)
    for general in lexicon.related["general"]:
        words = _content_words(general)
        if len(words & asked) < len(words) / 2:  # not a rewording of the question itself
            out.append(general)
    return list(dict.fromkeys(out))[:MAX_RELATED]
