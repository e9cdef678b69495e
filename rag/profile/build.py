"""Build the field profile of a corpus at index time (see rag.profile.model).

Sources of each part, for every loader:
- bodies: each document's `body` (Markdown front matter, NGC developer, PubMed journal, SPL labeler,
  ClinicalTrials.gov sponsor), mapped to the vocabulary's canonical names where one matches;
- conditions: the field file's `conditions`, document facets (NGC disease/condition fields, CT.gov
  conditions and MeSH, PubMed MeSH descriptors that name a condition) and condition phrases in titles;
- drugs: names of the drug dictionary found in the text, facet synonyms (CT.gov intervention other
  names, SPL brand/generic) and the field file's synonyms;
- topic terms: tokens of titles, conditions and the declared scope, with their document counts (how
  abstention tells a corpus's topic from a passing mention);
- trials: trial-shaped names (acronym + number, NCT ids) in titles, facets and text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.knowledge import FieldFile, Knowledge
from rag.models import Document, Passage
from rag.profile.conditions import condition_phrases
from rag.profile.drugs import corpus_drugs, load_dictionary
from rag.profile.model import PROFILE_DB, PROFILE_JSON, PROFILE_SCHEMA as _SCHEMA, TOP, FieldProfile, Named


_ORDINARY_WORD = re.compile(r"(?<![\w-])[A-Za-z][a-z]+(?![\w-])")  # a word written in lower case or capitalised, not in capitals


def _name_word(name: str) -> str:
    """The word of a trial-shaped name, lower case ("CONTRAINDICATIONS 4" -> "contraindications"); "" when it has several."""
    word = re.sub(r"[- ]?\d[\dA-Z]*$", "", name).lower()
    return word if word.isalpha() else ""


def _synonym_lists(documents: Sequence[Document], declared: FieldFile) -> list[list[str]]:
    """Synonym groups, corpus name first: the field file's, then the sources' own (CT.gov other names,
    SPL generic | brand)."""
    groups = [[name, *aliases] for name, aliases in declared.synonyms.items()]
    for document in documents:
        for line in document.facets.get("synonyms", []):
            names = [n.strip().lower() for n in line.split("|") if n.strip()]
            if len(names) > 1:
                groups.append(names)
    return groups


def build_profile(
    folder: Path,
    documents: Sequence[Document],
    passages: Sequence[Passage],
    *,
    knowledge: Knowledge,
    tokenize: Callable[[str], list[str]],
    field_file: Path | None = None,
) -> FieldProfile:
    """Write profile.json and profile.sqlite into `folder`; return the summary."""
    declared = knowledge.field
    vocabulary = knowledge.vocabulary
    by_doc: dict[str, list[str]] = defaultdict(list)
    for passage in passages:
        by_doc[passage.doc_id].append(passage.text)

    # bodies
    body_docs: Counter[str] = Counter()
    body_kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for document in documents:
        canonical = knowledge.canonical_body(document.body)
        if canonical:
            body_docs[canonical] += 1
            body_kinds[canonical][document.kind] += 1

    # conditions
    condition_docs: dict[str, set[str]] = defaultdict(set)
    for name in declared.conditions:
        condition_docs[name.lower()].add("(field file)")
    for document in documents:
        named = [*document.facets.get("conditions", [])]
        named += [m for m in document.facets.get("mesh", []) if condition_phrases(m, knowledge)]
        named += condition_phrases(document.title, knowledge)
        for name in named:
            condition_docs[name.lower().strip()].add(document.id)

    # drugs
    dictionary = load_dictionary(vocabulary.not_drugs)
    texts = ((d.id, " ".join([d.title, *d.facets.get("interventions", []), *by_doc.get(d.id, [])])) for d in documents)
    found = corpus_drugs(texts, dictionary)
    aliases: dict[str, tuple[str, str]] = {alias: (name, "drug") for alias, name in found.aliases.items()}
    for group in _synonym_lists(documents, declared):
        name = found.aliases.get(group[0], group[0])
        for alias in group:
            aliases[alias] = (name, "drug" if name in found.documents or alias in found.aliases else "synonym")
        found.documents.setdefault(name, 0)

    # topic terms
    topic: Counter[str] = Counter()
    scope_tokens = set(tokenize(" ".join([declared.scope or "", *declared.conditions])))
    for document in documents:
        text = " ".join([document.title, *document.facets.get("conditions", []), *document.facets.get("mesh", [])])
        topic.update(set(tokenize(text)))
    for token in scope_tokens:
        topic[token] += 1

    # trials
    trial_docs: dict[str, set[str]] = defaultdict(set)
    ordinary: set[str] = set()  # words the corpus also writes as words: "CONTRAINDICATIONS 4" is a heading, not a trial
    for document in documents:
        text = " ".join([document.title, *document.facets.get("acronym", []), *by_doc.get(document.id, [])[:50]])
        ordinary.update(w.lower() for passage in by_doc.get(document.id, []) for w in _ORDINARY_WORD.findall(passage))
        for match in knowledge.trial_pattern.finditer(text):
            trial_docs[match.group(0)].add(document.id)
        if document.kind == "trial" and re.fullmatch(r"NCT\d{8}", document.id):
            trial_docs[document.id].add(document.id)
    for name in [n for n in trial_docs if _name_word(n) in ordinary and not re.fullmatch(r"NCT\d{8}", n)]:
        del trial_docs[name]

    kinds = Counter(d.kind for d in documents)
    conditions = sorted(((n, len(d - {"(field file)"}) ) for n, d in condition_docs.items()), key=lambda x: (-x[1], x[0]))
    drugs = sorted(found.documents.items(), key=lambda x: (-x[1], x[0]))
    trials = sorted(((n, len(d)) for n, d in trial_docs.items()), key=lambda x: (-x[1], x[0]))
    bodies = sorted(body_docs.items(), key=lambda x: (-x[1], x[0]))
    path = folder / PROFILE_DB
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany("INSERT INTO aliases VALUES (?, ?, ?)", ((a, n, k) for a, (n, k) in aliases.items()))
        connection.executemany("INSERT INTO drug_names VALUES (?)", ((v,) for v in dictionary.group_of))
        connection.executemany("INSERT INTO topic VALUES (?, ?)", topic.items())
        connection.executemany(
            "INSERT INTO bodies VALUES (?, ?, ?)", ((b, n, json.dumps(dict(body_kinds[b]))) for b, n in bodies)
        )
        connection.executemany("INSERT OR REPLACE INTO conditions VALUES (?, ?)", conditions)
        connection.executemany("INSERT OR REPLACE INTO trials VALUES (?, ?)", ((n.lower(), c) for n, c in trials))
        connection.commit()
    finally:
        connection.close()
    profile = FieldProfile(
        scope=declared.scope or _written_scope(len(documents), kinds, conditions, bodies),
        scope_declared=bool(declared.scope),
        field_file=str(field_file) if field_file else None,
        declared=declared,
        documents=len(documents),
        kinds=dict(kinds),
        bodies=[Named(name=b, documents=n) for b, n in bodies[:TOP]],
        conditions=[Named(name=c, documents=n) for c, n in conditions[:TOP]],
        drugs=[Named(name=d, documents=n) for d, n in drugs[:TOP]],
        trials=[Named(name=t, documents=n) for t, n in trials[:TOP]],
        counts={
            "aliases": len(aliases), "drug_names": len(dictionary.group_of), "topic": len(topic), "bodies": len(bodies),
            "conditions": len(conditions), "trials": len(trials), "drugs": len(drugs),
        },
    )
    (folder / PROFILE_JSON).write_text(profile.model_dump_json(indent=2), encoding="utf-8")
    return profile


def _written_scope(n: int, kinds: Counter[str], conditions: list[tuple[str, int]], bodies: list[tuple[str, int]]) -> str:
    """'128 documents (guideline 100, trial 28) on diabetes mellitus, hypertension, … from ADA, …'."""
    kind_text = ", ".join(f"{k} {c}" for k, c in kinds.most_common())
    topics = [c for c, count in conditions if count > 0][:6]
    sources = [b for b, _ in bodies[:4]]
    text = f"{n} documents ({kind_text})"
    if topics:
        text += " on " + ", ".join(topics)
    if sources:
        text += " from " + ", ".join(sources) + (" and others" if len(bodies) > 4 else "")
    return text
