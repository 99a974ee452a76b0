"""Key-term extraction for Chinese listings: a dictionary segmenter (no NLP dependency) plus synonym expansion.

Meilisearch's jieba segmentation matches word prefixes only, and a demand rarely uses the
achievement's words. So both sides are reduced to dictionary terms (synonyms and technical
vocabulary), which the synonym groups then map onto shared concepts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from search.synonyms import Thesaurus, normalise

VOCABULARY_FILE = Path(__file__).parent / "data" / "vocabulary.txt"
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[0-9]+[A-Za-z]+")
# Generic words that match everywhere and carry no technical meaning.
STOPWORDS = frozenset({"技术", "系统", "方法", "装置", "设备", "研究", "应用", "开发", "产品", "企业", "项目", "需求"})


@lru_cache
def shipped_vocabulary() -> frozenset[str]:
    words = (w.strip() for w in VOCABULARY_FILE.read_text(encoding="utf-8").splitlines())
    return frozenset(normalise(w) for w in words if w and not w.startswith("#"))


class Segmenter:
    """Forward maximum matching over a term dictionary; Latin tokens (VOCs, BMS, 5G) are kept whole."""

    def __init__(self, words: set[str] | frozenset[str]) -> None:
        self.words = {normalise(w) for w in words if w} - STOPWORDS
        self.max_len = max((len(w) for w in self.words), default=1)

    def terms(self, text: str) -> list[str]:
        text = normalise(text)
        found: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch.isascii() and ch.isalnum():
                m = _LATIN.match(text, i)
                token = m.group(0) if m else ch
                end = i + len(token)
                if token in self.words:
                    found.append(token)
                i = max(end, i + 1)
                continue
            for size in range(min(self.max_len, n - i), 1, -1):
                if text[i : i + size] in self.words:
                    found.append(text[i : i + size])
                    i += size
                    break
            else:
                i += 1
        return found


@dataclass(frozen=True)
class Concept:
    """One meaning found in a listing: its key, the words used for it, its weight, and its variants."""

    key: str
    surface: tuple[str, ...]
    weight: float
    variants: tuple[str, ...]
    # Every synonym group the surface words belong to; a candidate sharing any of them has the concept.
    aliases: frozenset[str] = frozenset()


class TermExtractor:
    """Listing text → weighted concepts (title and keywords count more than the body)."""

    def __init__(self, thesaurus: Thesaurus, vocabulary: frozenset[str] | set[str] = frozenset()) -> None:
        self.thesaurus = thesaurus
        self.segmenter = Segmenter(thesaurus.terms() | set(vocabulary))

    def terms(self, *texts: str) -> list[str]:
        """Distinct dictionary terms in texts, in order of first appearance."""
        out: list[str] = []
        for text in texts:
            out.extend(self.segmenter.terms(text or ""))
        return list(dict.fromkeys(out))

    def concepts(self, title: str, keywords: list[str], body: str, limit: int = 10) -> list[Concept]:
        weights: Counter[str] = Counter()
        surface: dict[str, list[str]] = {}
        for text, weight in ((title, 3.0), (" ".join(keywords), 2.5), (body, 1.0)):
            for term in self.segmenter.terms(text or ""):
                key = self.thesaurus.concept(term)
                weights[key] += weight
                surface.setdefault(key, [])
                if term not in surface[key]:
                    surface[key].append(term)
        # Keywords the owner typed themselves count even when outside the dictionary.
        for kw in keywords:
            kw_n = normalise(kw)
            if kw_n and kw_n not in STOPWORDS and self.thesaurus.concept(kw_n) not in weights:
                key = self.thesaurus.concept(kw_n)
                weights[key] += 2.5
                surface[key] = [kw_n]
        ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [
            Concept(
                key, tuple(surface[key]), min(w, 6.0), tuple(self.variants(surface[key])),
                frozenset().union(*(self.thesaurus.keys(t) for t in surface[key])),
            )
            for key, w in ranked
        ]  # fmt: skip

    def variants(self, surface: list[str]) -> list[str]:
        out: list[str] = []
        for term in surface:
            out.extend(self.thesaurus.expand(term))
        return list(dict.fromkeys(out))

    def concept_keys(self, terms: list[str]) -> set[str]:
        """All group keys of terms (a term in two groups yields both)."""
        out: set[str] = set()
        for t in terms:
            out |= self.thesaurus.keys(t)
        return out

    @staticmethod
    def shared(concepts: list[Concept], candidate_keys: set[str] | frozenset[str]) -> frozenset[str]:
        """The source's concepts (by key) that a candidate with these group keys also has."""
        return frozenset(c.key for c in concepts if c.aliases & candidate_keys)
