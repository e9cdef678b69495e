"""What the engine knows besides the corpus: the package's field-independent vocabulary
(`vocabulary.yaml`) and a corpus's declared field profile (`field.yaml`), merged into one `Knowledge`.

Nothing here names one field's diseases, drugs or bodies in Python: the vocabulary is data a
clinician can review, the field file is the maintainer's, and what a corpus covers is learned from it
when it is indexed (`rag.profile`).
"""

from __future__ import annotations

import re
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.errors import CorpusError

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")
FIELD_FILE = "field.yaml"
SectionCue = Literal["caveats", "adverse", "dose", "result", "recommend", "negative", "subgroup", "secondary", "survival", "exclusion", "effect", "whole", "scope"]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{value[:60]!r} is not a valid regex ({error})") from error
    return value


class BodyInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[str] = Field(description="How questions and documents name the body (lowercase).")
    kind: Literal["guideline", "regulator", "review"] = "guideline"
    region: str | None = Field(default=None, description="For regulators: the region whose status they give.")


class IntentCues(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(description="Regex: the question asks for this.")
    answer: str = Field(description="Regex: a sentence gives it.")
    not_roles: list[str] = Field(
        default_factory=list, description="Roles (headings' roles) of sentences that never give it: a results row does not say who was enrolled."
    )

    @field_validator("question", "answer")
    @classmethod
    def _regex(cls, value: str) -> str:
        return _check_regex(value)


class HeadingRole(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    section: Literal["recommendation", "evidence", "algorithm", "safety", "caveats"]
    keys: list[str]


class ConditionWords(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heads: list[str]
    suffixes: list[str]
    names: list[str]
    exclude: list[str]
    generic: list[str]


class RelatedTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_drug: list[str] = Field(default_factory=list, description="Templates with {drug}.")
    general: list[str] = Field(default_factory=list)


class Vocabulary(BaseModel):
    """The package's field-independent knowledge (vocabulary.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    abbreviations: dict[str, str]
    cased_abbreviations: dict[str, str] = Field(
        default_factory=dict, description="Shorthand whose meaning depends on its case (EGFR, eGFR) -> its words: matched as written."
    )
    bodies: dict[str, BodyInfo]
    regions: dict[str, list[str]]
    classes: dict[str, list[str]]
    not_drugs: list[str]
    drug_generic_words: list[str]
    conditions: ConditionWords
    trial_pattern: str
    designs: dict[Literal["phase3", "phase2"], str]
    question_words: str
    intents: dict[str, IntentCues]
    answer_types: list[IntentCues]
    qualifiers: list[str] = Field(default_factory=list)
    populations: dict[str, list[str]] = Field(default_factory=dict)
    prior_therapy: str
    prior_suffix: str = ""
    prior_negation: str = ""
    clause_end: str
    line_words: dict[int, str]
    lines: dict[int, str]
    headings: dict[str, HeadingRole]
    cues: dict[SectionCue, str]
    dependent_openers: str
    exception_clause: str = Field(default="", description="A clause that sets a group apart ('except for EGFR-positive "
                                  "patients'); group 1 is the group.")
    grade_pattern: str
    related: RelatedTemplates


class FieldFile(BaseModel):
    """What a maintainer declares about a corpus (`field.yaml` at the corpus root). Every key optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str | None = Field(default=None, description="One line: what the corpus covers (shown when the engine abstains).")
    conditions: list[str] = Field(default_factory=list, description="Conditions the corpus covers, besides those its documents name.")
    major_bodies: list[str] = Field(default_factory=list, description="Bodies whose silence on a question deserves a gap statement.")
    synonyms: dict[str, list[str]] = Field(default_factory=dict, description="Corpus name -> other names (drugs, tests, trials).")
    abbreviations: dict[str, str] = Field(default_factory=dict, description="Shorthand of this field -> its words.")
    cased_abbreviations: dict[str, str] = Field(
        default_factory=dict, description="Shorthand whose meaning depends on its case (EGFR, eGFR) -> its words: matched as written."
    )
    classes: dict[str, list[str]] = Field(default_factory=dict, description="Extra drug classes: class name -> members.")
    supportive: list[str] = Field(default_factory=list, description="Drugs that treat toxicity here, not the disease.")
    cues: dict[SectionCue, str] = Field(default_factory=dict, description="Extra cue regexes, added to the package's.")
    related: RelatedTemplates = Field(default_factory=RelatedTemplates)

    @field_validator("cues")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _check_regex(pattern)
        return value

    @field_validator("synonyms", "classes")
    @classmethod
    def _lower_lists(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {str(k).lower(): [str(x).lower() for x in v] for k, v in value.items()}


@cache
def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    return Vocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def read_field_file(path: Path) -> FieldFile:
    """A field.yaml, or CorpusError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path}: cannot read the field profile ({error})") from error
    except (yaml.YAMLError, RecursionError) as error:
        raise CorpusError(f"{path}: the field profile is not valid YAML ({str(error).splitlines()[0]})") from error
    if raw is None:
        return FieldFile()
    if not isinstance(raw, dict):
        raise CorpusError(f"{path}: the field profile must be a YAML mapping (see docs/field-profile.md)")
    try:
        return FieldFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "field profile"
        raise CorpusError(f"{path}: field '{field}': {first['msg']}") from error


def find_field_file(sources: list[Path]) -> Path | None:
    """The field.yaml at the root of the first corpus folder that has one."""
    for source in sources:
        candidate = source / FIELD_FILE if source.is_dir() else None
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def word_pattern(names: list[str]) -> re.Pattern[str] | None:
    """One regex matching any of `names` as whole words (longest first). A lowercase name matches in
    any case; a name with capitals ("WHO", "NICE") only as written."""
    names = sorted({n for n in names if n}, key=len, reverse=True)
    if not names:
        return None
    alternatives = [re.escape(n) if n != n.lower() else f"(?i:{re.escape(n)})" for n in names]
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])")


class Knowledge:
    """The vocabulary merged with a field file's declarations, with compiled patterns (built once per
    opened index; cheap)."""

    def __init__(self, vocabulary: Vocabulary, field: FieldFile | None = None) -> None:
        self.vocabulary = vocabulary
        self.field = field or FieldFile()

    @cached_property
    def abbreviations(self) -> dict[str, str]:
        """Shorthand in any case (lowercase key) -> its words; shorthand of one case only is `cased_abbreviations`."""
        cased = {k.lower() for k in self.cased_abbreviations}
        merged = {**self.vocabulary.abbreviations, **{k.lower(): v for k, v in self.field.abbreviations.items()}}
        return {k: v for k, v in merged.items() if k not in cased}

    @cached_property
    def cased_abbreviations(self) -> dict[str, str]:
        """Shorthand as written (EGFR: epidermal growth factor receptor; eGFR: glomerular filtration rate) -> its words;
        the same letters in another case ("egfr") are left as they are."""
        return {**self.vocabulary.cased_abbreviations, **self.field.cased_abbreviations}

    @cached_property
    def classes(self) -> dict[str, list[str]]:
        merged = {k.lower(): list(v) for k, v in self.vocabulary.classes.items()}
        for name, members in self.field.classes.items():
            merged[name] = list(dict.fromkeys([*merged.get(name, []), *members]))
        return merged

    @cached_property
    def question_words(self) -> frozenset[str]:
        return frozenset(self.vocabulary.question_words.split())

    @cached_property
    def body_aliases(self) -> dict[str, str]:
        """lowercase name -> canonical body."""
        table: dict[str, str] = {}
        for canonical, info in self.vocabulary.bodies.items():
            table[canonical if len(canonical) <= 5 else canonical.lower()] = canonical
            for name in info.names:
                table[name] = canonical
        return table

    @cached_property
    def body_pattern(self) -> re.Pattern[str] | None:
        return word_pattern(list(self.body_aliases))

    def canonical_body(self, body: str | None) -> str | None:
        """The vocabulary's name for a document's body ('European Society for Medical Oncology' -> ESMO),
        else the body as written."""
        if not body:
            return None
        pattern = self.body_pattern
        match = pattern.search(body) if pattern else None
        return self.body_alias(match.group(0)) if match else body.strip()

    def body_alias(self, name: str) -> str | None:
        """The canonical body a matched name stands for."""
        return self.body_aliases.get(name) or self.body_aliases.get(name.lower())

    def body_kind(self, canonical: str) -> str | None:
        info = self.vocabulary.bodies.get(canonical)
        return info.kind if info else None

    def body_region(self, canonical: str) -> str | None:
        info = self.vocabulary.bodies.get(canonical)
        return info.region if info else None

    @cached_property
    def region_pattern(self) -> dict[str, re.Pattern[str]]:
        return {region: p for region, names in self.vocabulary.regions.items() if (p := word_pattern(names))}

    def cue(self, name: SectionCue) -> re.Pattern[str]:
        return self._cues[name]

    @cached_property
    def _cues(self) -> dict[str, re.Pattern[str]]:
        out = {}
        for name, pattern in self.vocabulary.cues.items():
            extra = self.field.cues.get(name)
            out[name] = re.compile(f"{pattern}|{extra}" if extra else pattern, re.IGNORECASE)
        return out

    @cached_property
    def intents(self) -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
        return {
            name: (re.compile(cues.question, re.IGNORECASE), re.compile(cues.answer, re.IGNORECASE))
            for name, cues in self.vocabulary.intents.items()
        }

    @cached_property
    def intent_not_roles(self) -> dict[str, frozenset[str]]:
        return {name: frozenset(cues.not_roles) for name, cues in self.vocabulary.intents.items()}

    @cached_property
    def answer_types(self) -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
        return [(re.compile(a.question, re.IGNORECASE), re.compile(a.answer, re.IGNORECASE)) for a in self.vocabulary.answer_types]

    @cached_property
    def population_pattern(self) -> dict[str, re.Pattern[str]]:
        """Population group -> the words that name it (rag.answer.qualifiers.populations)."""
        return {group: p for group, words in self.vocabulary.populations.items() if (p := word_pattern(words))}

    @cached_property
    def qualifier(self) -> re.Pattern[str] | None:
        """A qualifier word and its value(s): "grade 2", "grades 2-4", "stage IVB", "type 1 or 2"."""
        if not self.vocabulary.qualifiers:
            return None
        words = "|".join(sorted((re.escape(w) for w in self.vocabulary.qualifiers), key=len, reverse=True))
        value = r"(?:\d+|[IVX]{1,4}[A-C]?\d?)"
        return re.compile(rf"\b({words})\s*(≥|>=|>|of\s+)?({value}(?:\s*(?:-|–|to|or|and|,)\s*{value})*)\b", re.IGNORECASE)

    @cached_property
    def lines(self) -> dict[int, re.Pattern[str]]:
        return {line: re.compile(p, re.IGNORECASE) for line, p in sorted(self.vocabulary.lines.items())}

    @cached_property
    def prior_therapy(self) -> re.Pattern[str]:
        return re.compile(self.vocabulary.prior_therapy, re.IGNORECASE)

    @cached_property
    def prior_negation(self) -> re.Pattern[str] | None:
        return re.compile(self.vocabulary.prior_negation, re.IGNORECASE) if self.vocabulary.prior_negation else None

    @cached_property
    def prior_suffix(self) -> re.Pattern[str] | None:
        return re.compile(self.vocabulary.prior_suffix, re.IGNORECASE) if self.vocabulary.prior_suffix else None

    @cached_property
    def clause_end(self) -> re.Pattern[str]:
        return re.compile(self.vocabulary.clause_end, re.IGNORECASE)

    @cached_property
    def exception_clause(self) -> re.Pattern[str] | None:
        return re.compile(self.vocabulary.exception_clause, re.IGNORECASE) if self.vocabulary.exception_clause else None

    @cached_property
    def dependent_opener(self) -> re.Pattern[str]:
        return re.compile(self.vocabulary.dependent_openers, re.IGNORECASE)

    @cached_property
    def grade_pattern(self) -> re.Pattern[str]:
        return re.compile(self.vocabulary.grade_pattern, re.IGNORECASE)

    @cached_property
    def designs(self) -> dict[str, re.Pattern[str]]:
        return {name: re.compile(p, re.IGNORECASE) for name, p in self.vocabulary.designs.items()}

    @cached_property
    def trial_pattern(self) -> re.Pattern[str]:
        return re.compile(self.vocabulary.trial_pattern)

    @cached_property
    def heading_rules(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(role, section, keys) in the order they are tried."""
        return [(role, r.section, tuple(k.lower() for k in r.keys)) for role, r in self.vocabulary.headings.items()]

    @cached_property
    def condition_names(self) -> frozenset[str]:
        return frozenset(n.lower() for n in self.vocabulary.conditions.names)

    @cached_property
    def supportive(self) -> frozenset[str]:
        return frozenset(s.lower() for s in self.field.supportive)


@cache
def default_knowledge() -> Knowledge:
    return Knowledge(load_vocabulary())
