"""Which answer section a corpus sentence belongs to, the role its heading gives it, and the grade it
states. The heading comes first (source structure: NGC major recommendations, PubMed CONCLUSIONS and
RESULTS, ClinicalTrials.gov results, label warnings and dosage), then the kind of document and the
sentence's own cue words — all from the vocabulary and field file, so the rules hold for every loader
and every field."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rag.answer.models import SectionName
from rag.knowledge import Knowledge

GUIDANCE_ROLES = ("recommendation", "conclusion")


@dataclass(frozen=True)
class Placement:
    section: SectionName
    role: str | None  # the heading's role: result, design, conclusion, recommendation, background, dosing, ...


class Classifier:
    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.cue = knowledge.cue

    @cached_property
    def _rules(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return self.knowledge.heading_rules

    def heading_role(self, path: tuple[str, ...]) -> tuple[str, SectionName] | None:
        """(role, section) of the innermost heading that has one."""
        for heading in reversed(path):
            lowered = heading.lower()
            for role, section, keys in self._rules:
                if any(key in lowered for key in keys):
                    return role, section  # type: ignore[return-value]
        return None

    def roles(self, path: tuple[str, ...]) -> set[str]:
        """Every role any heading of the path has."""
        found = set()
        for heading in path:
            lowered = heading.lower()
            for role, _, keys in self._rules:
                if any(key in lowered for key in keys):
                    found.add(role)
                    break
        return found

    def is_safety(self, sentence: str) -> bool:
        return bool(self.cue("adverse").search(sentence) or self.cue("dose").search(sentence))

    def place(self, sentence: str, path: tuple[str, ...], kind: str) -> Placement:
        """One section per sentence. Caveat wording wins, then the heading, then document kind + cues."""
        found = self.heading_role(path)
        role, by_heading = found if found else (None, None)
        result = bool(self.cue("result").search(sentence))
        if self.cue("scope").search(sentence):  # "Recommendations in this section refer to …": what the text covers, not guidance
            return Placement("evidence", "background")
        if self.cue("caveats").search(sentence) or by_heading == "caveats":
            return Placement("caveats", role)
        if by_heading == "safety":
            return Placement("safety", role)
        if kind == "guideline":
            guidance = bool(self.roles(path) & set(GUIDANCE_ROLES)) or role is None
            if by_heading == "algorithm" or (self.line_of(sentence) and not guidance):
                return Placement("algorithm", role)
            if self.is_safety(sentence) and not self.cue("recommend").search(sentence):
                return Placement("safety", role)
            if role in ("background", "design") and not guidance:
                return Placement("evidence", role)
            return Placement("recommendation", role if role else "recommendation")
        if kind == "label":
            if by_heading in ("recommendation", None) and not self.is_safety(sentence):
                return Placement("recommendation", role or "recommendation")
            if by_heading == "evidence" and role != "background" or (result and not self.is_safety(sentence)):
                return Placement("evidence", role)
            return Placement("safety", role)
        if by_heading in ("evidence", "recommendation", "algorithm"):  # study design and results: dosing stays here
            section: SectionName = "safety" if self.cue("adverse").search(sentence) and not result else "evidence"
            return Placement(section, role)
        if self.is_safety(sentence) and not result:
            return Placement("safety", role)
        return Placement("evidence", role)

    def grade_of(self, sentence: str) -> str | None:
        """The category / level of evidence as the sentence states it ('category 2A', '[I, A]', 'LE:1')."""
        found = [m.group(0).strip() for m in self.knowledge.grade_pattern.finditer(sentence)]
        return "; ".join(dict.fromkeys(found)) if found else None

    def line_of(self, text: str) -> int | None:
        """The line of therapy a sentence is about (1 first, 2 second, 3 later), if it says."""
        return next((n for n, pattern in self.knowledge.lines.items() if pattern.search(text)), None)
