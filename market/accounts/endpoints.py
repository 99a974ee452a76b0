"""HTTP endpoints for organisations, users, logins and API keys."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, status
from fastapi.security import OAuth2PasswordRequestForm

from market.accounts import service
from market.accounts.models import Organisation, User
from market.accounts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    MeOut,
    OrganisationOut,
    OrganisationRegistration,
    RegistrationOut,
    TokenOut,
    UserIn,
    UserOut,
    VerificationIn,
)
from market.core.audit import history
from market.core.deps import BureauActor, CurrentActor, SessionDep
from market.core.errors import NotFound
from market.core.identifiers import check_credit_code
from market.core.pagination import Page, PageDep, paginate

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/organisations", response_model=RegistrationOut, status_code=status.HTTP_201_CREATED)
def register_organisation(body: OrganisationRegistration, session: SessionDep) -> RegistrationOut:
    """Register an organisation and its first admin; it stays pending until the bureau verifies it."""
    check = check_credit_code(body.credit_code)
    fields = body.model_dump(exclude={"admin"})
    fields["credit_code_check_ok"] = check.check_digit_ok
    org, user = service.register_organisation(
        session, org_fields=fields, admin_username=body.admin.username,
        admin_password=body.admin.password, admin_display_name=body.admin.display_name,
    )  # fmt: skip
    return RegistrationOut(
        organisation=OrganisationOut.model_validate(org), admin_user_id=user.id, warnings=check.warnings
    )


@router.get("/organisations", response_model=Page[OrganisationOut])
def list_organisations(
    session: SessionDep,
    page: PageDep,
    kind: str | None = None,
    verification_status: Annotated[str | None, Query(description="pending / verified / rejected")] = None,
    region_code: str | None = None,
) -> Page[OrganisationOut]:
    """Organisations are public directory entries (name, codes, verification)."""
    stmt = sa.select(Organisation).order_by(Organisation.id)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if verification_status:
        stmt = stmt.where(Organisation.verification_status == verification_status)
    if region_code:
        stmt = stmt.where(Organisation.region_code.startswith(region_code.rstrip("0") or region_code))
    items, total = paginate(session, stmt, page)
    return Page(items=[OrganisationOut.model_validate(o) for o in items], total=total, page=page.page, page_size=page.page_size)


@router.get("/organisations/{org_id}", response_model=OrganisationOut)
def get_organisation(org_id: int, session: SessionDep) -> Organisation:
    return service.get_org(session, org_id)


@router.post("/organisations/{org_id}/verification", response_model=OrganisationOut)
def verify_organisation(org_id: int, body: VerificationIn, session: SessionDep, actor: BureauActor) -> Organisation:
    """Bureau staff verify (or reject, with a reason) an organisation; only verified ones may publish."""
    org = service.get_org(session, org_id)
    service.set_verification(session, org, actor, verified=body.verified, reason=body.reason)
    session.flush()
    return org


@router.get("/organisations/{org_id}/history")
def organisation_history(org_id: int, session: SessionDep, actor: BureauActor) -> list[dict]:
    service.get_org(session, org_id)
    return [
        {"action": e.action, "from_state": e.from_state, "to_state": e.to_state, "actor_user_id": e.actor_user_id,
         "at": e.at, "detail": e.detail}
        for e in history(session, "organisation", org_id)
    ]  # fmt: skip


@router.post("/organisations/{org_id}/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def add_user(org_id: int, body: UserIn, session: SessionDep, actor: CurrentActor) -> User:
    org = service.get_org(session, org_id)
    return service.add_user(session, actor, org, **body.model_dump())


@router.get("/organisations/{org_id}/users", response_model=list[UserOut])
def list_users(org_id: int, session: SessionDep, actor: CurrentActor) -> list[User]:
    if not (actor.is_bureau or actor.org_id == org_id):
        raise NotFound(f"organisation {org_id} not found", code="organisation_not_found")
    return list(session.scalars(sa.select(User).where(User.org_id == org_id).order_by(User.id)))


@router.post("/auth/token", response_model=TokenOut)
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep) -> TokenOut:
    """OAuth2 password flow: username + password → bearer token."""
    return TokenOut(access_token=service.login(session, form.username, form.password))


@router.get("/auth/me", response_model=MeOut)
def me(session: SessionDep, actor: CurrentActor) -> MeOut:
    user = session.get(User, actor.user_id)
    org = service.get_org(session, actor.org_id)
    return MeOut(user=UserOut.model_validate(user), organisation=OrganisationOut.model_validate(org))


@router.post("/auth/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyIn, session: SessionDep, actor: CurrentActor) -> ApiKeyCreated:
    """An API key for a machine client acting as this user; the key is shown once."""
    cred, secret = service.create_api_key(session, actor, body.name)
    return ApiKeyCreated(id=cred.id, name=cred.name, prefix=cred.prefix, created_at=cred.created_at, key=secret)


@router.get("/auth/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(session: SessionDep, actor: CurrentActor) -> list:
    return service.list_api_keys(session, actor)


@router.delete("/auth/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: int, session: SessionDep, actor: CurrentActor) -> None:
    service.revoke_api_key(session, actor, key_id)
