"""HTTP endpoints of intermediary filings: apply, list, record, reject, revoke."""

from __future__ import annotations

from fastapi import APIRouter, status

from market.auth.dependencies import BureauActor, CurrentActor
from market.core.deps import SessionDep
from market.core.pagination import Page, PageDep, paginate
from market.filings import service
from market.filings.schemas import ApplicationIn, FilingOut, RecordIn, RejectIn, RevokeIn

router = APIRouter(prefix="/api/v1/filings", tags=["filings 技术转移机构备案"])


@router.post("", response_model=FilingOut, status_code=status.HTTP_201_CREATED)
def apply(data: ApplicationIn, session: SessionDep, actor: CurrentActor) -> FilingOut:
    """An intermediary applies for a filing (national / provincial / city)."""
    return FilingOut.model_validate(service.apply(session, actor, data))


@router.get("", response_model=Page[FilingOut])
def list_filings(
    session: SessionDep, actor: CurrentActor, page: PageDep, status: str | None = None, org_id: int | None = None
) -> Page[FilingOut]:
    """The bureau sees every filing; an organisation its own."""
    rows, total = paginate(session, service.visible(actor, status=status, org_id=org_id), page)
    return Page(
        items=[FilingOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/{filing_id}", response_model=FilingOut)
def get_filing(filing_id: int, session: SessionDep, actor: CurrentActor) -> FilingOut:
    return FilingOut.model_validate(service.get_visible(session, actor, filing_id))


@router.post("/{filing_id}/record", response_model=FilingOut)
def record(filing_id: int, data: RecordIn, session: SessionDep, actor: BureauActor) -> FilingOut:
    """备案: bureau staff record the filing with number, level, date and validity."""
    return FilingOut.model_validate(service.record(session, actor, filing_id, data))


@router.post("/{filing_id}/reject", response_model=FilingOut)
def reject(filing_id: int, data: RejectIn, session: SessionDep, actor: BureauActor) -> FilingOut:
    return FilingOut.model_validate(service.reject(session, actor, filing_id, data.note))


@router.post("/{filing_id}/revoke", response_model=FilingOut)
def revoke(filing_id: int, data: RevokeIn, session: SessionDep, actor: BureauActor) -> FilingOut:
    return FilingOut.model_validate(service.revoke(session, actor, filing_id, data))
