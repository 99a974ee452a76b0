"""Two drains racing on one listing: an older state (a deletion included) never overwrites a newer one."""

from __future__ import annotations

from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.matching import service
from search import indexer, runtime
from search.settings import index_uid
from tests.search.conftest import drain, post, transition


def _indexed_ids(kind: str = "achievement") -> set[int]:
    hits = runtime.get_client().search(index_uid(kind), {"q": "", "limit": 1000, "attributesToRetrieve": ["id"]})
    return {h["id"] for h in hits["hits"]}


def _extractor():
    with session_scope() as s:
        return service.current_extractor(s)


def test_a_deletion_read_while_draft_never_lands_after_the_published_document(pg_client, pg_world, meili):
    inst = pg_world.member(OrgKind.institute)
    client, extractor = runtime.get_client(), _extractor()
    listing = post(pg_client, inst, "achievement", publish=False)
    slow = indexer.prepare(extractor)  # claims "created": reads a draft, so it will send a deletion
    assert slow is not None and slow.docs["achievement"][listing] is None
    transition(pg_client, inst, "achievement", listing, "publish")
    fast = indexer.prepare(extractor)  # claims "published": reads the public document
    assert fast is not None and fast.docs["achievement"][listing] is not None
    result = indexer.DrainResult()
    indexer.send(client, fast)
    indexer.finish(client, fast, result)
    indexer.send(client, slow)  # the slow drain's deletion reaches Meilisearch last
    indexer.finish(client, slow, result)
    assert result.retried == 1  # the deletion was read at an older version: its row is due again
    drain()
    assert listing in _indexed_ids()


def test_a_document_read_before_closing_never_lands_after_the_deletion(pg_client, pg_world, meili):
    inst = pg_world.member(OrgKind.institute)
    client, extractor = runtime.get_client(), _extractor()
    listing = post(pg_client, inst, "achievement")
    slow = indexer.prepare(extractor)  # reads the published document
    transition(pg_client, inst, "achievement", listing, "close")
    fast = indexer.prepare(extractor)
    result = indexer.DrainResult()
    indexer.send(client, fast)
    indexer.finish(client, fast, result)
    indexer.send(client, slow)
    indexer.finish(client, slow, result)
    drain()
    assert listing not in _indexed_ids()
