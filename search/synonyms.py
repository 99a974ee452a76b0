"""The domain synonym dictionary: parsing the shipped data file and looking terms up in groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
# The shipped dictionary, in the order migrations loaded it: technical synonyms (0002), then how firms
# describe problems, mapped onto the technical concept (0008).
SHIPPED_FILES = ("synonyms.txt", "problems.txt")


def normalise(term: str) -> str:
    """Latin letters fold to lower case (VOCs = vocs); Chinese is kept as is."""
    return term.strip().lower()


def parse_groups(text: str) -> list[list[str]]:
    """One group per line, terms separated by commas (ASCII or Chinese); '#' starts a comment line."""
    groups: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        terms = [t.strip() for t in line.replace("，", ",").split(",")]
        terms = list(dict.fromkeys(t for t in terms if t))
        if len(terms) >= 2:
            groups.append(terms)
    return groups


@lru_cache
def shipped_groups(*files: str) -> tuple[tuple[str, ...], ...]:
    """The groups of the named shipped files (all of them by default), in file order."""
    return tuple(
        tuple(g) for name in files or SHIPPED_FILES for g in parse_groups((DATA_DIR / name).read_text(encoding="utf-8"))
    )


@dataclass(frozen=True)
class Thesaurus:
    """Groups of interchangeable terms; a term may sit in more than one group."""

    groups: tuple[tuple[str, ...], ...]
    _by_term: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)
    _keys: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, groups: Iterable[Iterable[str]]) -> Thesaurus:
        frozen = tuple(tuple(g) for g in groups)
        by_term: dict[str, list[int]] = {}
        for i, group in enumerate(frozen):
            for term in group:
                by_term.setdefault(normalise(term), []).append(i)
        keys = {t: frozenset(normalise(frozen[i][0]) for i in ids) for t, ids in by_term.items()}
        return cls(frozen, {k: tuple(v) for k, v in by_term.items()}, keys)

    def terms(self) -> set[str]:
        return set(self._by_term)

    def concept(self, term: str) -> str:
        """A stable key for the meaning of term: the name of its (first) group, or the term itself."""
        ids = self._by_term.get(normalise(term))
        return normalise(self.groups[ids[0]][0]) if ids else normalise(term)

    def keys(self, term: str) -> frozenset[str]:
        """Every group term belongs to (by group name): a term may mean more than one thing."""
        term = normalise(term)
        return self._keys.get(term) or frozenset({term})

    def expand(self, term: str) -> list[str]:
        """term and every term sharing a group with it, term first."""
        out = [normalise(term)]
        for i in self._by_term.get(normalise(term), ()):
            out.extend(normalise(t) for t in self.groups[i])
        return list(dict.fromkeys(out))


@lru_cache
def shipped_thesaurus() -> Thesaurus:
    return Thesaurus.of(shipped_groups())
