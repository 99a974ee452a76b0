"""Reasons a broker can show a firm: the shared words (real words only) and the candidate's sentence closest in meaning.

Out-of-dictionary concepts are guesses cut out of text (检效率低 from 质检效率低, 以上 from 50%以上): they help
retrieval but are not words, so they are never shown unless an owner typed the very term as a keyword. A
dictionary concept is shown only when the source says one of its words itself (a concept reached through a
phrase-end link or another group's alias, like 家电降噪 on a food-preservation demand, is not) and the
candidate says one of the group's words too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from search.synonyms import normalise
from search.terms import Concept

_SENTENCE_END = re.compile(r"(?<=[。！？；;!?\n])")
MIN_SENTENCE = 6
MAX_SENTENCE = 120
MAX_SENTENCES = 6


def shown_terms(
    concepts: Sequence[Concept],
    matched: Iterable[str],
    source_text: str,
    candidate_text: str,
    keywords: Iterable[str],
    variants_of: dict[str, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """The matched concepts that both sides say in words: dictionary concepts whose words both texts contain
    verbatim (shown by the group's name), or out-of-dictionary terms an owner typed as a keyword.

    `keywords` are both listings' keywords; `variants_of` maps a concept key to every word of its groups."""
    src, cand = normalise(source_text), normalise(candidate_text)
    typed = {normalise(k) for k in keywords if k}
    by_key = {c.key: c for c in concepts}
    out: list[str] = []
    for key in matched:
        concept = by_key.get(key)
        if concept is None:
            continue
        if concept.oov:
            word = normalise(concept.key)
            if word in typed and word in src and word in cand:
                out.append(concept.key)
            continue
        said = any(w and normalise(w) in src for w in concept.surface)
        group = (variants_of or {}).get(key) or concept.variants
        if said and any(normalise(w) in cand for w in group if w):
            out.append(concept.key)  # the group's name: a dictionary word the bureau chose
    return tuple(dict.fromkeys(out))


def sentences(text: str) -> list[str]:
    """A listing's sentences worth showing (long enough to say something, cut when very long)."""
    out = []
    for piece in _SENTENCE_END.split(text or ""):
        s = piece.strip().rstrip("。；;")
        if len(s) >= MIN_SENTENCE:
            out.append(s[:MAX_SENTENCE])
    return out[:MAX_SENTENCES]


def closest(
    query: Sequence[float], candidates: Sequence[str], vectors: Sequence[Sequence[float]]
) -> tuple[str, float] | None:
    """The sentence whose vector is most similar to the query's (vectors are normalised: a dot product)."""
    if not candidates:
        return None
    import numpy as np

    sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    best = int(sims.argmax())
    return candidates[best], float(sims[best])


def closest_each(
    query: Sequence[float], by_id: Mapping[int, tuple[Sequence[str], Any]]
) -> dict[int, tuple[str, float]]:
    """`closest` for several listings' sentences at once (the query converted once)."""
    import numpy as np

    q = np.asarray(query, dtype=np.float32)
    out = {}
    for i, (candidates, vectors) in by_id.items():
        if len(candidates):
            sims = np.asarray(vectors, dtype=np.float32) @ q
            best = int(sims.argmax())
            out[i] = (candidates[best], float(sims[best]))
    return out
