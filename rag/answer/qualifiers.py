"""Qualifier values: what a text pins a qualifier word to ("grade 2", "grades 2-4", "stage IVB", "grade ≥3").
A sentence that names the question's qualifier only with other values answers another question (a grade 3
rule for a grade 2 question). Pure functions over the vocabulary's qualifier pattern."""

from __future__ import annotations

import re

OPEN_RANGE = 5  # "grade ≥3" stands for 3 and the next few values
_NUMBER = re.compile(r"\d+|[IVX]{1,4}[A-C]?\d?", re.IGNORECASE)


def qualifier_values(text: str, pattern: re.Pattern[str] | None) -> dict[str, frozenset[str]]:
    """Qualifier word (singular, lowercase) -> the values the text gives it."""
    if pattern is None:
        return {}
    found: dict[str, set[str]] = {}
    for match in pattern.finditer(text):
        word = match.group(1).lower()
        word = word[:-1] if word.endswith("s") and not word.endswith("ss") else word  # "grades" is "grade"; "class" stays
        values = found.setdefault(word, set())
        numbers = _NUMBER.findall(match.group(3))
        if match.group(2) and match.group(2).strip() in ("≥", ">=", ">") and numbers and numbers[0].isdigit():
            start = int(numbers[0]) + (match.group(2).strip() == ">")
            values.update(str(n) for n in range(start, start + OPEN_RANGE))
            continue
        if len(numbers) == 2 and all(n.isdigit() for n in numbers) and re.search(r"-|–|to", match.group(3)):
            low, high = sorted(int(n) for n in numbers)
            values.update(str(n) for n in range(low, high + 1))
            continue
        values.update(n.upper() for n in numbers)
    return {w: frozenset(v) for w, v in found.items()}


def conflicts(asked: dict[str, frozenset[str]], given: dict[str, frozenset[str]]) -> bool:
    """Does `given` name a qualifier of the question only with values the question did not ask for?"""
    return any(word in given and not (values & given[word]) for word, values in asked.items())


def populations(text: str, patterns: dict[str, re.Pattern[str]]) -> frozenset[str]:
    """The population groups (adults, children, pregnancy…) a text names."""
    return frozenset(group for group, pattern in patterns.items() if pattern.search(text))


def population_conflict(asked: frozenset[str], given: frozenset[str]) -> bool:
    """Does `given` name only population groups the question did not pin ("children" for an adult)?"""
    return bool(asked) and bool(given) and not (asked & given)
