"""The sentence vectors behind the "closest sentence" reason: only those of the text shown, remembered per text."""

from __future__ import annotations

import sqlalchemy as sa

from market.core.db import session_scope
from market.matching import embedding
from market.matching.models import ListingEmbedding
from search import explain, vectors

MODEL = "test-model"


def _store(listing_id: int, text: str, sentences: list[str]) -> None:
    with session_scope() as s:
        vecs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]][: len(sentences)]
        embedding.store(s, "achievement", {listing_id: (vectors.text_hash(text), [1.0, 0.0], sentences, vecs)}, MODEL)


def test_only_the_shown_texts_sentences_and_remembered_until_the_text_changes(engine):
    embedding._sentences.clear()
    _store(101, "旧文本", ["旧的一句。", "另一句。"])
    old, new = vectors.text_hash("旧文本"), vectors.text_hash("新文本")
    with session_scope() as s:
        # the caller shows the new text (an edit) while the stored vectors read the old one: nothing shown
        assert embedding.sentence_vectors(s, "achievement", [101], MODEL, {101: new}) == {}
        found = embedding.sentence_vectors(s, "achievement", [101], MODEL, {101: old})
    assert found[101][0] == ["旧的一句。", "另一句。"]
    assert explain.closest_each([0.0, 1.0], found) == {101: ("另一句。", 1.0)}

    with session_scope() as s:  # gone from the database: the old text is still answered from memory …
        s.execute(sa.delete(ListingEmbedding))
    with session_scope() as s:
        assert embedding.sentence_vectors(s, "achievement", [101], MODEL, {101: old})[101][0] == [
            "旧的一句。",
            "另一句。",
        ]
        # … but a listing whose new vectors landed is read afresh, never from the entry of its old text
        assert embedding.sentence_vectors(s, "achievement", [101], MODEL, {101: new}) == {}
    _store(101, "新文本", ["新的一句。"])
    with session_scope() as s:
        assert embedding.sentence_vectors(s, "achievement", [101], MODEL, {101: new})[101][0] == ["新的一句。"]
        # without hashes (the old call): whatever is stored, not remembered
        assert embedding.sentence_vectors(s, "achievement", [101], MODEL)[101][0] == ["新的一句。"]
