"""matching: the problem-phrase dictionary (how firms describe problems → the technical concept); listings re-indexed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 22:20:00
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

groups = sa.table(
    "synonym_groups",
    sa.column("id", market.core.db.BigIntPK),
    sa.column("terms", market.core.db.JSONType),
    sa.column("created_at", market.core.db.UTCDateTime),
    sa.column("updated_at", market.core.db.UTCDateTime),
)
outbox = sa.table(
    "outbox",
    sa.column("topic", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", market.core.db.BigIntPK),
    sa.column("created_at", market.core.db.UTCDateTime),
    sa.column("available_at", market.core.db.UTCDateTime),
    sa.column("attempts", sa.Integer),
)
# Frozen here: what this revision added and what it re-indexes, whatever later code says.
PUBLIC_STATES = ("published", "matched", "negotiating")
LISTING_TABLES = {"achievement": "achievements", "demand": "demands"}


def upgrade() -> None:
    from market.core.db import utcnow
    from search.synonyms import shipped_groups

    now = utcnow()
    op.bulk_insert(
        groups, [{"terms": list(g), "created_at": now, "updated_at": now} for g in shipped_groups("problems.txt")]
    )
    # Indexed documents carry the dictionary terms found in them: project every public listing again (drained
    # by the search worker like any other change; the app reloads the dictionary from this table by itself).
    bind = op.get_bind()
    for kind, table in LISTING_TABLES.items():
        listing = sa.table(table, sa.column("id"), sa.column("status"))
        ids = bind.execute(sa.select(listing.c.id).where(listing.c.status.in_(PUBLIC_STATES))).scalars().all()
        rows = [
            {
                "topic": "search.index",
                "entity_type": kind,
                "entity_id": i,
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
            for i in ids
        ]
        for start in range(0, len(rows), 5000):
            op.bulk_insert(outbox, rows[start : start + 5000])


def downgrade() -> None:
    from search.synonyms import shipped_groups

    added = {tuple(g) for g in shipped_groups("problems.txt")}
    bind = op.get_bind()
    doomed = [gid for gid, terms in bind.execute(sa.select(groups.c.id, groups.c.terms)) if tuple(terms) in added]
    for start in range(0, len(doomed), 500):
        bind.execute(groups.delete().where(groups.c.id.in_(doomed[start : start + 500])))
