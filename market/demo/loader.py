"""Load the demo organisations, their administrators and listings into the database, once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from market.accounts import service as accounts
from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.core.db import utcnow
from market.demo.console_calls import load_console_calls
from market.demo.console_contracts import load_console_contracts
from market.demo.generator import demo_listings
from market.demo.orgs import demo_orgs
from market.listings import service as listing_service
from market.listings.schemas import AchievementIn, DemandIn

SEED = 2024
# The transitions that take a fresh draft to each final state.
ACTIONS = {"draft": (), "published": ("publish",), "closed": ("publish", "close"), "withdrawn": ("publish", "withdraw")}
INPUT_SCHEMA: dict[str, type[BaseModel]] = {"achievement": AchievementIn, "demand": DemandIn}


def demo_username(org_key: str) -> str:
    return f"demo-{org_key}"


def load_demo(session: Session, *, listings: int = 320, today: dt.date | None = None) -> dict:
    """Create the demo organisations (verified), one password-less admin each, and `listings` listings.

    Demo admins have no password, so nobody can log in as them; the first usable account
    comes from `market create-admin`. Listings go through the listings service, so the audit
    log and the search outbox are written as for any other listing. Does nothing if the
    demo organisations already exist.
    """
    orgs = demo_orgs(SEED)
    specs = demo_listings(orgs, count=listings, seed=SEED, today=today)  # fails early if asked for too many
    codes = [o.credit_code for o in orgs]
    if session.scalar(sa.select(sa.func.count()).select_from(Organisation).where(Organisation.credit_code.in_(codes))):
        return {"skipped": True, "reason": "demo organisations already exist"}

    actors = {}
    now = utcnow()
    for spec in orgs:
        org = Organisation(
            name=spec.name,
            kind=spec.kind,
            credit_code=spec.credit_code,
            credit_code_check_ok=True,
            entity_type_code=spec.entity_type_code,
            region_code=spec.region_code,
            country="CN",
            verification_status="verified",
            verified_at=now,
            filing_level=spec.filing_level,
            filing_date=spec.filing_date,
        )
        session.add(org)
        session.flush()
        user = accounts.create_user(
            session,
            org=org,
            username=demo_username(spec.key),
            password=None,
            display_name=f"{spec.name}管理员",
            role=Role.org_admin,
        )
        actors[spec.key] = accounts.actor_for_user(session, user)

    # The console's registrar queue and the statistics dashboard: contracts registered and filed.
    console_contracts = load_console_contracts(session, today=today)

    counts = {"organisations": len(orgs), "users": len(orgs), "achievement": 0, "demand": 0}
    counts.update(dict.fromkeys(ACTIONS, 0))
    for listing_spec in specs:
        actor = actors[listing_spec.org_key]
        # Through the API's own input schema: demo data passes the same checks a client's would.
        data = INPUT_SCHEMA[listing_spec.kind].model_validate(listing_spec.data).model_dump()
        listing = listing_service.create_listing(session, actor, listing_spec.kind, data)
        for action in ACTIONS[listing_spec.final_state]:
            listing_service.transition(session, actor, listing, action)
        counts[listing_spec.kind] += 1
        counts[listing_spec.final_state] += 1
    load_console_calls(session, today=today)  # the console pages' open calls and a finished subsidy run
    return {
        "skipped": False,
        "organisations": counts["organisations"],
        "users": counts["users"],
        "achievements": counts["achievement"],
        "demands": counts["demand"],
        **{state: counts[state] for state in ACTIONS},
        **console_contracts,
    }
