"""Drug names at index time, from a well-kept dictionary: drug-named-entity-recognition (MIT; DrugBank-
and MeSH-derived names with brands and synonyms, offline). Its import costs ~3 s, so only index
builds use it; queries read what a build stored.

A dictionary entry maps a variant ("libtayo", "cemiplimab-rwlc", "cemiplimab") to canonical names.
Canonical names that differ only by an FDA biologic suffix or prefix ("cemiplimab-rwlc" and
"cemiplimab"; "fam-trastuzumab deruxtecan-nxki" and "trastuzumab deruxtecan") form one group. A
group is present in a corpus when any of its variants occurs in the corpus text; its corpus name is
the variant the corpus uses most (generic names before brands). Matching is exact, on whole words:
the package's fuzzy mode matches ordinary words to drugs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z0-9]")
_SUFFIX = re.compile(r"^(?P<base>[a-z][a-z\- ]{5,})-[a-z]{4}$")  # FDA biologic suffix: cemiplimab-rwlc
_PREFIX = re.compile(r"^(?:fam|ado)-")
MAX_WORDS = 3
_NOT_GIVEN = ("D08.811.913.", "D08.811.682.", "D08.244.", "D12.776.")  # MeSH: transferases, oxidoreductases, cytochromes, proteins
MIN_LENGTH = 4  # shorter dictionary variants ("tv", "apap") are too ambiguous to read as drugs


@dataclass(frozen=True)
class DrugDictionary:
    """variant -> group key, group key -> its variants, and which variants are brand names."""

    group_of: dict[str, str]
    variants: dict[str, list[str]]
    brands: frozenset[str]
    first_words: frozenset[str]


def group_key(canonical: str) -> str:
    name = _PREFIX.sub("", canonical.lower().strip())
    match = _SUFFIX.match(name)
    return match.group("base") if match else name


def _enzyme_class(data: dict) -> bool:
    """A MeSH heading that is only a transferase, oxidoreductase, cytochrome or protein ("Transaminases", "Protein
    Kinases", "Cytochrome P-450 CYP3A", "T-Cell Receptor") that DrugBank does not list: a laboratory value or a target,
    not something given. Hydrolases stay (asparaginase, collagenase are drugs)."""
    tree = data.get("mesh_tree") or []
    return bool(tree) and not data.get("drugbank_id") and all(t.startswith(_NOT_GIVEN) for t in tree)


def load_dictionary(not_drugs: Iterable[str]) -> DrugDictionary:
    """The package's dictionary, grouped (variants with commas, too short, or listed as not drugs are left out)."""
    from drug_named_entity_recognition import drugs_finder

    excluded = {w.lower() for w in not_drugs}
    group_of: dict[str, str] = {}
    variants: dict[str, list[str]] = defaultdict(list)
    brands: set[str] = set()
    for variant, canonicals in drugs_finder.drug_variant_to_canonical.items():
        name = variant.lower().strip()
        if len(name) < MIN_LENGTH or "," in name or name in excluded or len(name.split()) > MAX_WORDS or not canonicals:
            continue
        if _enzyme_class(drugs_finder.drug_canonical_to_data.get(canonicals[0], {})):
            continue
        key = group_key(canonicals[0])
        if key in excluded:
            continue
        group_of.setdefault(name, key)
        variants[key].append(name)
        if drugs_finder.drug_variant_to_variant_data.get(variant, {}).get("is_brand"):
            brands.add(name)
    for key in list(variants):
        if len(key) >= MIN_LENGTH and key not in group_of and key not in excluded:
            group_of[key] = key
            variants[key].append(key)
    return DrugDictionary(
        group_of=group_of,
        variants=dict(variants),
        brands=frozenset(brands),
        first_words=frozenset(v.split()[0] for v in group_of),
    )


def names_in(text: str, dictionary: DrugDictionary) -> set[str]:
    """Dictionary variants that occur in `text` as whole words."""
    words = _WORD.findall(text.lower())
    found: set[str] = set()
    for i, word in enumerate(words):
        if word not in dictionary.first_words:
            continue
        for n in range(1, MAX_WORDS + 1):
            candidate = " ".join(words[i : i + n])
            if candidate in dictionary.group_of:
                found.add(candidate)
    return found


@dataclass(frozen=True)
class CorpusDrugs:
    """The drugs a corpus mentions: alias -> corpus name, and the documents naming each."""

    aliases: dict[str, str]
    documents: dict[str, int]


def corpus_drugs(doc_texts: Iterable[tuple[str, str]], dictionary: DrugDictionary) -> CorpusDrugs:
    """Scan (doc id, text) pairs; every variant of a present group becomes an alias of its corpus name."""
    variant_docs: dict[str, set[str]] = defaultdict(set)
    for doc_id, text in doc_texts:
        for variant in names_in(text, dictionary):
            variant_docs[variant].add(doc_id)
    present: dict[str, Counter[str]] = defaultdict(Counter)
    for variant, docs in variant_docs.items():
        present[dictionary.group_of[variant]][variant] = len(docs)
    aliases: dict[str, str] = {}
    documents: dict[str, int] = {}
    for key, counts in present.items():
        generic = [(n, v) for v, n in counts.items() if v not in dictionary.brands]
        ranked = sorted(generic or [(n, v) for v, n in counts.items()], key=lambda nv: (-nv[0], -(nv[1] == key), len(nv[1]), nv[1]))
        name = ranked[0][1]
        docs = set().union(*(variant_docs[v] for v in counts))
        documents[name] = len(docs)
        for variant in dictionary.variants.get(key, []):
            aliases.setdefault(variant, name)
    return CorpusDrugs(aliases=aliases, documents=documents)
