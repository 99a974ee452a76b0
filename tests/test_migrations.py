"""Schema only through Alembic: one linear history, and models that match the migrations."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import market.models  # noqa: F401
from market.core.config import PROJECT_ROOT
from market.core.db import Base
from market.core.migrations import alembic_config


def test_history_has_one_head_and_no_forks():
    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    assert len(script.get_heads()) == 1, f"migration history forked: heads {script.get_heads()}"
    for rev in script.walk_revisions():
        assert not isinstance(rev.down_revision, tuple | list), f"{rev.revision} merges branches; keep it linear"


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations drift: {diff}"


def test_downgrade_to_base_and_up_again(sqlite_engine):
    with sqlite_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
        command.upgrade(alembic_config(conn), "head")


def test_problem_phrases_arrive_with_a_reindex_of_public_listings(engine, world):
    # 0008 on a database in use: the phrase groups join the editable dictionary, and every public listing
    # is queued for the search index again (its indexed terms depend on the dictionary); drafts are not.
    import sqlalchemy as sa

    from market.core.db import session_scope
    from market.core.outbox import OutboxEvent
    from market.listings.models import Achievement, Demand
    from market.matching.models import SynonymGroup
    from search.synonyms import shipped_groups

    from market.core.vocab import OrgKind

    member = world.member(OrgKind.university)
    with session_scope() as s:
        s.execute(sa.delete(OutboxEvent))
        common = dict(org_id=member.org_id, keywords=[], technical_field="new_energy", region_code="330203", version=1)
        public = Achievement(title="公开成果", summary="x", maturity="pilot", ip_type="other", patent_numbers=[],
                             transfer_modes=[], price_negotiable=True, inventors=[], recognitions=[],
                             status="published", **common)  # fmt: skip
        draft = Demand(title="草稿需求", description="x", cooperation_modes=[], budget_negotiable=True, status="draft",
                       **common)  # fmt: skip
        s.add_all([public, draft])
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
        assert conn.scalar(sa.select(sa.func.count()).select_from(SynonymGroup)) == len(shipped_groups("synonyms.txt"))
        command.upgrade(alembic_config(conn), "head")
        assert conn.scalar(sa.select(sa.func.count()).select_from(SynonymGroup)) == len(shipped_groups())
        queued = conn.execute(
            sa.select(OutboxEvent.entity_type, OutboxEvent.entity_id).where(OutboxEvent.topic == "search.index")
        ).all()
    assert queued == [("achievement", public.id)]


def test_embeddings_arrive_with_every_public_listing_queued_for_its_vector(engine, world):
    # 0013 on a database in use: the vector store is added empty and every public listing (not a draft) is
    # queued for the embedding pass, which gives it its first vector.
    import sqlalchemy as sa

    from market.core.db import session_scope
    from market.core.outbox import OutboxEvent
    from market.core.vocab import OrgKind
    from market.listings.models import Achievement, Demand

    member = world.member(OrgKind.university)
    with session_scope() as s:
        s.execute(sa.delete(OutboxEvent))
        common = dict(org_id=member.org_id, keywords=[], technical_field="new_energy", region_code="330203", version=1)
        public = Demand(title="公开需求", description="x", cooperation_modes=[], budget_negotiable=True,
                        status="published", **common)  # fmt: skip
        draft = Achievement(title="草稿成果", summary="x", maturity="pilot", ip_type="other", patent_numbers=[],
                            transfer_modes=[], price_negotiable=True, inventors=[], recognitions=[], status="draft",
                            **common)  # fmt: skip
        s.add_all([public, draft])
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        assert not sa.inspect(conn).has_table("listing_embeddings")
        command.upgrade(alembic_config(conn), "head")
        assert sa.inspect(conn).has_table("listing_embeddings")
        queued = conn.execute(
            sa.select(OutboxEvent.entity_type, OutboxEvent.entity_id).where(OutboxEvent.topic == "search.embed")
        ).all()
    assert queued == [("demand", public.id)]
