"""Key-term extraction for Chinese listings: a dictionary segmenter (no NLP dependency) plus synonym expansion.

Meilisearch's jieba segmentation matches word prefixes only, and a demand rarely uses the
achievement's words. So both sides are reduced to dictionary terms (synonyms and technical
vocabulary), which the synonym groups then map onto shared concepts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from search.synonyms import Thesaurus, normalise

VOCABULARY_FILE = Path(__file__).parent / "data" / "vocabulary.txt"
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[0-9]+[A-Za-z]+")
# Generic words that match everywhere and carry no technical meaning.
STOPWORDS = frozenset({"技术", "系统", "方法", "装置", "设备", "研究", "应用", "开发", "产品", "企业", "项目", "需求"})
# Words that say how someone asks, not what about: out-of-dictionary text is cut at them (longest first).
_FILLER_WORDS = (
    "希望",
    "需要",
    "想要",
    "寻求",
    "寻找",
    "想找",
    "能够",
    "可以",
    "提供",
    "解决",
    "实现",
    "目前",
    "现有",
    "问题",
    "我们",
    "我厂",
    "公司",
    "客户",
    "进行",
    "通过",
    "以及",
    "或者",
    "一种",
    "相关",
    "方面",
    "主要",
    "存在",
    "要求",
    "提高",
    "提升",
    "降低",
    "减少",
    "改善",
    "优化",
    "生产",
    "制备",
    "反映",
    "方案",
    "用于",
    "采用",
    "基于",
    "利用",
    "的",
    "了",
    "和",
    "与",
    "及",
    "或",
    "等",
    "在",
    "对",
    "为",
    "是",
    "把",
    "被",
    "将",
    "从",
    "于",
    "其",
    "之",
    "我",
    "你",
    "他",
    "们",
    "这",
    "那",
    "个",
    "想",
    "找",
    "很",
    "较",
    "更",
    "也",
    "都",
    "又",
    "就",
    "但",
    "却",
    "后",
    "时",
)
_FILLER = re.compile("|".join(sorted(set(_FILLER_WORDS) | STOPWORDS, key=len, reverse=True)))
_CJK_RUN = re.compile("[\u4e00-\u9fff]+")
OOV_MAX_LEN = 8
OOV_TITLE_WEIGHT, OOV_BODY_WEIGHT = 1.5, 0.5


@lru_cache
def shipped_vocabulary() -> frozenset[str]:
    words = (w.strip() for w in VOCABULARY_FILE.read_text(encoding="utf-8").splitlines())
    return frozenset(normalise(w) for w in words if w and not w.startswith("#"))


class Segmenter:
    """Forward maximum matching over a term dictionary; Latin tokens (VOCs, BMS, 5G) are kept whole."""

    def __init__(self, words: set[str] | frozenset[str]) -> None:
        self.words = {normalise(w) for w in words if w} - STOPWORDS
        # For each first character, the lengths of the words starting with it, longest first: most characters
        # start no word, and the others only a few lengths, so a position costs a lookup or two.
        lengths: dict[str, set[int]] = {}
        for w in self.words:
            if len(w) > 1:
                lengths.setdefault(w[0], set()).add(len(w))
        self._lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}
        self._parsed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def terms(self, text: str) -> list[str]:
        return list(self.parse(text)[0])

    def gaps(self, text: str) -> list[str]:
        """The Chinese runs the dictionary does not cover, cut at punctuation, Latin tokens and dictionary terms."""
        return list(self.parse(text)[1])

    def parse(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(dictionary terms, uncovered Chinese runs) of text, in one walk, remembered: a listing's text is
        read for its terms, its out-of-dictionary pieces and their links, often more than once per request."""
        cached = self._parsed.get(text)
        if cached is not None:
            return cached
        terms: list[str] = []
        gaps: list[str] = []
        run: list[str] = []
        for token, known in self._walk(text):
            if known:
                terms.append(token)
            elif len(token) == 1 and _is_cjk(token):
                run.append(token)
                continue
            if run:
                gaps.append("".join(run))
                run = []
        if run:
            gaps.append("".join(run))
        parsed = (tuple(terms), tuple(gaps))
        _remember(self._parsed, text, parsed)
        return parsed

    def _walk(self, text: str) -> Iterator[tuple[str, bool]]:
        """(token, is_dictionary_term) over text: dictionary terms and Latin tokens, else single characters."""
        text = normalise(text)
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch.isascii() and ch.isalnum():
                m = _LATIN.match(text, i)
                token = m.group(0) if m else ch
                yield token, token in self.words
                i = max(i + len(token), i + 1)
                continue
            for size in self._lengths.get(ch, ()):
                if i + size <= n and text[i : i + size] in self.words:
                    yield text[i : i + size], True
                    i += size
                    break
            else:
                yield ch, False
                i += 1


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def oov_terms(gap: str) -> list[str]:
    """Key-term candidates in a run of out-of-dictionary text: cut at filler words, keep pieces of 2–8 characters.

    Meilisearch's jieba tokenizer splits each piece again at query time, so a piece need not be one word;
    longer pieces are halved so that a query stays within the words Meilisearch reads.
    """
    text = _FILLER.sub(" ", gap)
    out: list[str] = []
    for piece in text.split():
        while len(piece) > OOV_MAX_LEN:
            half = (len(piece) + 1) // 2
            out.append(piece[:half])
            piece = piece[half:]
        out.append(piece)
    return [p for p in out if len(p) >= 2 and p not in STOPWORDS]


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the Chinese runs in text (and Latin tokens whole): evidence for out-of-dictionary terms."""
    text = normalise(text)
    grams = {m.group(0) for m in _LATIN.finditer(text)}
    for run in _CJK_RUN.findall(text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def covers(term: str, text_grams: frozenset[str]) -> bool:
    """Does a text (by its bigrams) contain at least half of an out-of-dictionary term's bigrams?"""
    grams = bigrams_of_term(term)
    return bool(grams) and 2 * len(grams & text_grams) >= len(grams)


@lru_cache(maxsize=4096)
def bigrams_of_term(term: str) -> frozenset[str]:
    """`bigrams` of a concept key: the same few terms are checked against every candidate of every match."""
    return bigrams(term)


@lru_cache(maxsize=4096)
def _split_grams(term: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A term's bigrams as (Chinese pairs, Latin tokens): a pair is in a text's bigrams iff it is a substring."""
    grams = bigrams_of_term(term)
    return tuple(g for g in grams if _is_cjk(g[0])), frozenset(g for g in grams if not _is_cjk(g[0]))


@dataclass(frozen=True)
class Concept:
    """One meaning found in a listing: its key, the words used for it, its weight, and its variants."""

    key: str
    surface: tuple[str, ...]
    weight: float
    variants: tuple[str, ...]
    # Every synonym group the surface words belong to; a candidate sharing any of them has the concept.
    aliases: frozenset[str] = frozenset()
    # Out of the dictionary: a candidate has it when its text covers the term's character bigrams.
    oov: bool = False


class TermExtractor:
    """Listing text → weighted concepts (title and keywords count more than the body)."""

    def __init__(self, thesaurus: Thesaurus, vocabulary: frozenset[str] | set[str] = frozenset()) -> None:
        self.thesaurus = thesaurus
        self.segmenter = Segmenter(thesaurus.terms() | set(vocabulary))
        self._parts = _unambiguous_parts(thesaurus)
        self._part_finder = Segmenter(set(self._parts))  # the same longest-first walk, over phrase parts
        # Per-extractor (so per dictionary version) caches: the same listings are matched and found again and again.
        self._concepts_cache: dict[tuple[Any, ...], tuple[Concept, ...]] = {}
        self._keys_cache: dict[tuple[str, ...], frozenset[str]] = {}

    def terms(self, *texts: str) -> list[str]:
        """Distinct dictionary terms in texts, in order of first appearance (those linked by a part included)."""
        out: list[str] = []
        for text in texts:
            out.extend(self._terms_of(text or ""))
        return list(dict.fromkeys(out))

    def _terms_of(self, text: str) -> list[str]:
        return self.segmenter.terms(text) + self.linked_terms(text)

    def linked_terms(self, text: str) -> list[str]:
        """Dictionary phrases that text says only in part: 犯困 for 司机犯困, 打瞌睡 for 开车打瞌睡.

        Firms word the same complaint many ways, and a phrase dictionary lists only some. A piece of
        out-of-dictionary text (filler words cut off) links to a phrase when it is the phrase's end, at least
        half of it, and every phrase ending so means the same concept (see `_unambiguous_parts`).
        """
        return [
            self._parts[part]
            for gap in self.segmenter.gaps(text)
            for piece in oov_terms(gap)
            for part in self._part_finder.terms(piece)
        ]

    def concepts(
        self, title: str, keywords: list[str], body: str, limit: int = 10, oov_limit: int = 6
    ) -> list[Concept]:
        """Dictionary concepts (at most `limit`), then out-of-dictionary ones (at most `oov_limit`)."""
        key = (title, tuple(keywords), body, limit, oov_limit)
        cached = self._concepts_cache.get(key)
        if cached is None:
            cached = tuple(self._concepts(title, keywords, body, limit, oov_limit))
            _remember(self._concepts_cache, key, cached)
        return list(cached)

    def _concepts(self, title: str, keywords: list[str], body: str, limit: int, oov_limit: int) -> list[Concept]:
        weights: defaultdict[str, float] = defaultdict(float)
        surface: dict[str, list[str]] = {}
        for text, weight in ((title, 3.0), (" ".join(keywords), 2.5), (body, 1.0)):
            for term in self._terms_of(text or ""):
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
        known = [
            Concept(
                key,
                tuple(surface[key]),
                min(w, 6.0),
                tuple(self.variants(surface[key])),
                frozenset().union(*(self.thesaurus.keys(t) for t in surface[key])),
                # an owner's keyword outside the dictionary is never in a candidate's terms: look in its text
                oov=not any(t in self.segmenter.words for t in surface[key]),
            )
            for key, w in ranked
        ]
        return _without_echoes(known + self.oov_concepts(title, body, {c.key for c in known}, limit=oov_limit))

    def oov_concepts(self, title: str, body: str, known: set[str], limit: int = 6) -> list[Concept]:
        """Concepts from text the dictionary does not know, weighted below dictionary terms (they are guesses)."""
        weights: defaultdict[str, float] = defaultdict(float)
        for text, weight in ((title, OOV_TITLE_WEIGHT), (body, OOV_BODY_WEIGHT)):
            for gap in self.segmenter.gaps(text or ""):
                for term in oov_terms(gap):
                    if term not in known:
                        weights[term] += weight
        ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [Concept(t, (t,), min(w, 3.0), (t,), frozenset({t}), oov=True) for t, w in ranked]

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

    def candidate_keys(self, terms: list[str]) -> frozenset[str]:
        """`concept_keys`, remembered: a candidate's indexed terms come back in many matches."""
        key = tuple(terms)
        cached = self._keys_cache.get(key)
        if cached is None:
            cached = frozenset(self.concept_keys(terms))
            _remember(self._keys_cache, key, cached)
        return cached

    @staticmethod
    def shared(
        concepts: list[Concept], candidate_keys: set[str] | frozenset[str], candidate_text: str = ""
    ) -> frozenset[str]:
        """The source's concepts (by key) that a candidate with these group keys (and this text) also has."""
        return ConceptMatcher(concepts).shared(candidate_keys, candidate_text)


class ConceptMatcher:
    """`TermExtractor.shared` for one source's concepts, prepared once and applied to each of its candidates."""

    def __init__(self, concepts: list[Concept]) -> None:
        self.known = [(c.key, c.aliases) for c in concepts if not c.oov]
        self.oov = [(c.key, *_split_grams(c.key)) for c in concepts if c.oov]
        self.reads_text = bool(self.oov)  # only out-of-dictionary concepts look at a candidate's text

    def shared(self, candidate_keys: set[str] | frozenset[str], candidate_text: str = "") -> frozenset[str]:
        found = [key for key, aliases in self.known if not aliases.isdisjoint(candidate_keys)]
        text = normalise(candidate_text) if self.oov and candidate_text else ""
        if text:
            latin: frozenset[str] | None = None  # the text's Latin tokens, computed only if a term has one
            for key, cjk, latin_grams in self.oov:
                total = len(cjk) + len(latin_grams)
                if not total:
                    continue
                # two adjacent Chinese characters are one of the text's bigrams exactly when they occur in it
                hits = sum(1 for g in cjk if g in text)
                if latin_grams:
                    if latin is None:
                        latin = frozenset(m.group(0) for m in _LATIN.finditer(text))
                    hits += len(latin_grams & latin)
                if 2 * hits >= total:
                    found.append(key)
        return frozenset(found)


def _unambiguous_parts(thesaurus: Thesaurus) -> dict[str, str]:
    """The end of a dictionary phrase (at least half of it, two characters or more, not itself a dictionary term)
    → the shortest phrase ending so, when every phrase ending so names the same concept."""
    terms = thesaurus.terms()
    found: dict[str, set[str]] = {}
    for term in terms:
        n = len(term)
        for size in range(max(2, (n + 1) // 2), n):
            part = term[n - size :]  # the end: 犯困 of 司机犯困 says what is wrong; 司机 only who
            if part not in terms and _is_cjk(part[0]) and part not in STOPWORDS:
                found.setdefault(part, set()).add(term)
    out: dict[str, str] = {}
    for part, phrases in found.items():
        if len({thesaurus.concept(p) for p in phrases}) == 1 and not _FILLER.fullmatch(part):
            out[part] = min(phrases, key=lambda p: (len(p), p))
    return out


def _without_echoes(concepts: list[Concept]) -> list[Concept]:
    """Drop out-of-dictionary concepts that merely extend another concept's word (体检拍 beside 体检, COD超标 beside
    COD, 导尿管插进去太涩 beside 导尿管): a candidate with the word would count the same meaning twice."""
    words = [(w, c) for c in concepts for w in c.surface]
    kept = []
    for concept in concepts:
        echo = concept.oov and any(
            other is not concept
            and w != concept.key
            and w in concept.key
            and (not other.oov or other.weight >= concept.weight)
            for w, other in words
        )
        if not echo:
            kept.append(concept)
    return kept


CACHE_ENTRIES = 20_000


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= CACHE_ENTRIES:  # bounded: start over rather than track recency
        cache.clear()
    cache[key] = value
