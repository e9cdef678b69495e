"""Related questions for an answer page: the field file's templates for the drugs the question names,
then its general questions that the asked question does not already cover; without a field file, the
vocabulary's field-independent templates."""

from __future__ import annotations

import re

from rag.answer.question import Question
from rag.knowledge import Knowledge

MAX_RELATED = 5


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9\-]+", text.lower()) if len(w) > 3}


def related_questions(question: Question, knowledge: Knowledge) -> list[str]:
    """Up to five follow-up questions (deterministic)."""
    templates = knowledge.field.related if (knowledge.field.related.per_drug or knowledge.field.related.general) else knowledge.vocabulary.related
    asked_drugs = [d for d in question.drugs if d not in question.prior] or list(question.drugs)  # not what she already had
    out = [template.format(drug=drug) for drug in asked_drugs[:2] for template in templates.per_drug]
    asked = _content_words(question.text)
    for general in templates.general:
        words = _content_words(general)
        if len(words & asked) < len(words) / 2:  # not a rewording of the question itself
            out.append(general)
    return [q for q in dict.fromkeys(out) if _content_words(q) - asked][:MAX_RELATED]
