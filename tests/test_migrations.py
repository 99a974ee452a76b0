"""Schema only through Alembic: one linear history, and models that match the migrations."""

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import market.models  # noqa: F401
from alembic import command
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
    from market.core.vocab import OrgKind
    from market.listings.models import Achievement, Demand
    from market.matching.models import SynonymGroup
    from search.synonyms import shipped_groups

    member = world.member(OrgKind.university)
    with session_scope() as s:
        s.execute(sa.delete(OutboxEvent))
        common = dict(org_id=member.org_id, keywords=[], technical_field="new_energy", region_code="330203", version=1)
        public = Achievement(
            title="公开成果",
            summary="x",
            maturity="pilot",
            ip_type="other",
            patent_numbers=[],
            transfer_modes=[],
            price_negotiable=True,
            inventors=[],
            recognitions=[],
            status="published",
            **common,
        )
        draft = Demand(
            title="草稿需求", description="x", cooperation_modes=[], budget_negotiable=True, status="draft", **common
        )
        s.add_all([public, draft])
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
        assert conn.scalar(sa.select(sa.func.count()).select_from(SynonymGroup)) == len(shipped_groups("synonyms.txt"))
        command.upgrade(alembic_config(conn), "head")
        assert conn.scalar(sa.select(sa.func.count()).select_from(SynonymGroup)) == len(shipped_groups())
        queued = conn.execute(sa.select(OutboxEvent.topic, OutboxEvent.entity_type, OutboxEvent.entity_id)).all()
    # 0008 queues the reindex; 0013 (embeddings) queues a first embedding of each public listing too; no draft.
    assert [(t, k, i) for t, k, i in queued if t == "search.index"] == [("search.index", "achievement", public.id)]
    assert {(k, i) for _, k, i in queued} == {("achievement", public.id)}


def test_0011_on_a_database_in_use(engine, world):
    # Keys from before scopes existed could do everything, and keep doing it; a rejected registration releases
    # its code (kept as its claim); nothing referencing organisations or saved searches is lost down and up.
    import sqlalchemy as sa

    from market.accounts import service
    from market.accounts.models import Credential, Organisation, User
    from market.accounts.scopes import ALL_SCOPES
    from market.core.db import session_scope
    from market.core.vocab import OrgKind
    from market.matching.models import Notification, SavedSearch

    member = world.member(OrgKind.enterprise)
    rejected = world.org(OrgKind.enterprise, verified=False)
    with session_scope() as s:
        org = s.get(Organisation, rejected)
        org.verification_status, code = "rejected", org.credit_code
        service.issue_credential(s, s.get(User, member.user_id), kind="api_key", name="old", scopes={"read"})
        saved = SavedSearch(
            user_id=member.user_id, name="x", target="achievement", query="锂电", filters={}, min_score=50
        )
        s.add(saved)
        s.flush()
        s.add(
            Notification(
                user_id=member.user_id, saved_search_id=saved.id, listing_type="achievement", listing_id=1, title="t"
            )
        )
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        command.upgrade(alembic_config(conn), "head")
    with session_scope() as s:
        assert set(s.scalar(sa.select(Credential.scopes).where(Credential.kind == "api_key")).split()) == set(
            ALL_SCOPES
        )
        org = s.get(Organisation, rejected)
        assert (org.credit_code, org.claimed_credit_code) == (None, code)
        assert s.get(Organisation, member.org_id).claimed_credit_code == s.get(Organisation, member.org_id).credit_code
        assert s.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1


def test_money_integrity_carries_existing_data_forward(engine, world):
    # 0010 on a database in use: profile filing levels become claims awaiting review (never paid on), and
    # frozen results become settlements that paid what they paid, in their run's year.
    import datetime as dt
    from decimal import Decimal

    import sqlalchemy as sa

    from market.contracts.models import ContractParty, ContractPayment
    from market.core.db import session_scope
    from market.core.vocab import OrgKind
    from market.filings.models import IntermediaryFiling
    from market.subsidies.models import SubsidyPolicy, SubsidyPolicyVersion, SubsidyResult, SubsidyRun
    from tests.subsidies.ledger import add_contract

    claimed = world.org(OrgKind.intermediary, filing_level="provincial", filing_date=dt.date(2022, 4, 1))
    world.org(OrgKind.intermediary)
    add_contract(
        world.org(OrgKind.university), world.org(OrgKind.enterprise), 100_000, intermediary=claimed, paid=50_000
    )
    with session_scope() as s:
        policy = SubsidyPolicy(code="p", name="p", current_version=1)
        s.add(policy)
        s.flush()
        version = SubsidyPolicyVersion(policy_id=policy.id, version=1, spec={})
        run = SubsidyRun(
            name="2023", period_start=dt.date(2023, 1, 1), period_end=dt.date(2023, 12, 31), status="frozen"
        )
        s.add_all([version, run])
        s.flush()
        s.add(
            SubsidyResult(
                run_id=run.id,
                policy_version_id=version.id,
                policy_code="p",
                beneficiary_key="org:1",
                beneficiary_name="x",
                basis_total=0,
                before_caps=0,
                contract_cap_cut=0,
                year_cap_cut=0,
                awards=0,
                total=Decimal("1234.50"),
                contract_count=1,
                excluded_count=0,
                working={},
            )
        )
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        command.upgrade(alembic_config(conn), "head")
    with session_scope() as s:
        filings = s.scalars(sa.select(IntermediaryFiling)).all()
        assert [(f.org_id, f.level, f.status, f.migrated_claim, f.claimed_on, f.filed_on) for f in filings] == [
            (claimed, "provincial", "applied", True, dt.date(2022, 4, 1), None)
        ]
        # Nothing cascades away on SQLite: the contract keeps its parties and payments, the run its results.
        assert s.scalar(sa.select(sa.func.count()).select_from(ContractParty)) == 3
        assert s.scalar(sa.select(sa.func.count()).select_from(ContractPayment)) == 1
        r = s.scalars(sa.select(SubsidyResult)).one()
        assert (r.year, r.due_total, r.paid_before, r.difference, r.to_recover, r.total) == (
            2023,
            Decimal("1234.50"),
            0,
            Decimal("1234.50"),
            0,
            Decimal("1234.50"),
        )


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
        public = Demand(
            title="公开需求",
            description="x",
            cooperation_modes=[],
            budget_negotiable=True,
            status="published",
            **common,
        )
        draft = Achievement(
            title="草稿成果",
            summary="x",
            maturity="pilot",
            ip_type="other",
            patent_numbers=[],
            transfer_modes=[],
            price_negotiable=True,
            inventors=[],
            recognitions=[],
            status="draft",
            **common,
        )
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
