"""HTTP endpoints for organisations, users, logins and API keys."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, status
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
    PasswordChangeIn,
    PasswordResetIn,
    PasswordResetIssued,
    RegistrationOut,
    RevokedOut,
    SessionOut,
    TokenOut,
    UserIn,
    UserOut,
    VerificationIn,
)
from market.accounts.throttle import client_address, get_throttle
from market.auth.dependencies import BureauActor, CurrentActor, OptionalActor
from market.core import regions
from market.core.audit import history
from market.core.deps import SessionDep
from market.core.errors import NotFound, Unauthorized
from market.core.identifiers import check_credit_code
from market.core.pagination import Page, PageDep, paginate

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/organisations", response_model=RegistrationOut, status_code=status.HTTP_201_CREATED)
def register_organisation(body: OrganisationRegistration, session: SessionDep, request: Request) -> RegistrationOut:
    """Register an organisation and its first admin; it stays pending until the bureau verifies it.

    A credit code another organisation already claims makes this registration (and a pending rival's)
    `disputed`: the bureau resolves it by verifying the rightful holder, which rejects the others.
    """
    get_throttle(request).registration(client_address(request))
    check = check_credit_code(body.credit_code)
    fields = body.model_dump(exclude={"admin"})
    fields["credit_code_check_ok"] = check.check_digit_ok
    org, user = service.register_organisation(
        session,
        org_fields=fields,
        admin_username=body.admin.username,
        admin_password=body.admin.password,
        admin_display_name=body.admin.display_name,
    )
    return RegistrationOut(
        organisation=OrganisationOut.model_validate(org), admin_user_id=user.id, warnings=check.warnings
    )


def organisation_out(org: Organisation, actor) -> OrganisationOut:
    """An organisation as `actor` may see it: the rejection reason only for its own users and the bureau."""
    out = OrganisationOut.model_validate(org)
    if not service.may_see_review(actor, org):
        out.rejection_reason = None
    return out


@router.get("/organisations", response_model=Page[OrganisationOut])
def list_organisations(
    session: SessionDep,
    page: PageDep,
    actor: OptionalActor,
    kind: str | None = None,
    verification_status: Annotated[str | None, Query(description="pending / verified / rejected / disputed")] = None,
    region_code: str | None = None,
) -> Page[OrganisationOut]:
    """Organisations are public directory entries (name, codes, verification)."""
    stmt = sa.select(Organisation).order_by(Organisation.id)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if verification_status:
        stmt = stmt.where(Organisation.verification_status == verification_status)
    if region_code:
        stmt = stmt.where(Organisation.region_code.startswith(regions.region_prefix(region_code)))
    items, total = paginate(session, stmt, page)
    items = [organisation_out(o, actor) for o in items]
    return Page(items=items, total=total, page=page.page, page_size=page.page_size)


@router.get("/organisations/{org_id}", response_model=OrganisationOut)
def get_organisation(org_id: int, session: SessionDep, actor: OptionalActor) -> OrganisationOut:
    return organisation_out(service.get_org(session, org_id), actor)


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
        {
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "actor_user_id": e.actor_user_id,
            "at": e.at,
            "detail": e.detail,
        }
        for e in history(session, "organisation", org_id)
    ]


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
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, request: Request) -> TokenOut:
    """OAuth2 password flow: username + password → bearer token.

    Failed logins are throttled per username and per client address (429 with Retry-After).
    """
    throttle, address = get_throttle(request), client_address(request)
    throttle.check_login(form.username, address)
    try:
        return TokenOut(access_token=service.login(session, form.username, form.password))
    except Unauthorized:
        throttle.login_failed(form.username, address)
        raise


@router.get("/auth/me", response_model=MeOut)
def me(session: SessionDep, actor: CurrentActor) -> MeOut:
    user = session.get(User, actor.user_id)
    org = service.get_org(session, actor.org_id)
    return MeOut(user=UserOut.model_validate(user), organisation=OrganisationOut.model_validate(org))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, actor: CurrentActor) -> None:
    """Revoke the token this request was made with."""
    service.logout(session, actor)


@router.get("/auth/sessions", response_model=list[SessionOut])
def list_sessions(session: SessionDep, actor: CurrentActor) -> list[SessionOut]:
    """My live login sessions; `current` marks the one making this request."""
    return [
        SessionOut(
            id=c.id,
            prefix=c.prefix,
            created_at=c.created_at,
            expires_at=c.expires_at,
            current=c.id == actor.credential_id,
        )
        for c in service.list_sessions(session, actor)
    ]


@router.delete("/auth/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_session(session_id: int, session: SessionDep, actor: CurrentActor) -> None:
    service.revoke_session(session, actor, session_id)


@router.post("/auth/sessions/revoke-all", response_model=RevokedOut)
def revoke_all_sessions(session: SessionDep, actor: CurrentActor) -> RevokedOut:
    """Log out everywhere, this session included."""
    return RevokedOut(revoked=service.revoke_all_sessions(session, actor))


@router.post("/auth/password", response_model=TokenOut)
def change_password(body: PasswordChangeIn, session: SessionDep, actor: CurrentActor, request: Request) -> TokenOut:
    """Change my password (old + new): every session is logged out; the response carries a new token."""
    throttle, address = get_throttle(request), client_address(request)
    throttle.check_login(actor.username, address)
    try:
        return TokenOut(access_token=service.change_password(session, actor, body.old_password, body.new_password))
    except Unauthorized:
        throttle.login_failed(actor.username, address)
        raise


@router.post("/auth/password-reset", status_code=status.HTTP_204_NO_CONTENT)
def reset_password(body: PasswordResetIn, session: SessionDep) -> None:
    """Set a new password with a one-time reset token from an organisation admin or the bureau."""
    service.reset_password(session, body.token, body.new_password)


@router.post("/users/{user_id}/password-reset", response_model=PasswordResetIssued, status_code=status.HTTP_201_CREATED)
def issue_password_reset(user_id: int, session: SessionDep, actor: CurrentActor) -> PasswordResetIssued:
    """A single-use, expiring reset token for a member (its org admin) or anyone (a bureau admin)."""
    cred, secret = service.issue_password_reset(session, actor, user_id)
    return PasswordResetIssued(user_id=user_id, reset_token=secret, expires_at=cred.expires_at)


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: int, session: SessionDep, actor: CurrentActor) -> User:
    """Disable a user: every session, API key and reset token of theirs stops working."""
    return service.set_user_active(session, actor, user_id, active=False)


@router.post("/users/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: int, session: SessionDep, actor: CurrentActor) -> User:
    """Re-enable a user; they log in again (their old credentials stay revoked)."""
    return service.set_user_active(session, actor, user_id, active=True)


@router.post("/auth/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyIn, session: SessionDep, actor: CurrentActor) -> ApiKeyCreated:
    """An API key for a machine client acting as this user, within its scopes; the key is shown once."""
    cred, secret = service.create_api_key(
        session, actor, name=body.name, scopes={s.value for s in body.scopes}, expires_at=body.expires_at
    )
    return ApiKeyCreated(
        id=cred.id,
        name=cred.name,
        prefix=cred.prefix,
        created_at=cred.created_at,
        expires_at=cred.expires_at,
        scopes=cred.scopes,
        key=secret,
    )


@router.get("/auth/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(session: SessionDep, actor: CurrentActor) -> list:
    return service.list_api_keys(session, actor)


@router.delete("/auth/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: int, session: SessionDep, actor: CurrentActor) -> None:
    service.revoke_api_key(session, actor, key_id)
