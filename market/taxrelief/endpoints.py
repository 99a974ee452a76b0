"""HTTP endpoint of the seller's technology-transfer tax-relief estimate (技术转让所得减免)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from market.auth.dependencies import CurrentActor
from market.core.deps import SessionDep
from market.core.types import MONEY_MAX
from market.taxrelief import rules, service

router = APIRouter(prefix="/api/v1/tax-relief", tags=["tax-relief"])


@router.get("/{org_id}/{year}")
def seller_estimate(
    org_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    year: Annotated[int, Path(ge=1990, le=2100)],
    session: SessionDep,
    actor: CurrentActor,
    income: Annotated[
        Decimal | None,
        Query(ge=0, le=MONEY_MAX, decimal_places=2, description="技术转让收入 entered; default: derived from payments"),
    ] = None,
    costs: Annotated[
        Decimal, Query(ge=0, le=MONEY_MAX, decimal_places=2, description="成本费用 and related taxes")
    ] = Decimal(0),
    rate: Annotated[
        Decimal, Query(ge=0, le=1, decimal_places=4, description="企业所得税 rate, 0.25 or 0.15")
    ] = rules.STANDARD_RATE,
) -> dict[str, Any]:
    """A seller's tax-relief estimate for a year: qualifying 技术转让 / 技术许可 contracts, the first 5,000,000 of
    技术转让所得 exempt and the excess halved, with the working and the caveats. Sellers see their own; the bureau all."""
    return service.seller_estimate(session, actor, org_id, year, income=income, costs=costs, rate=rate)
