"""Organisation registration, verification and credit-code disputes; users, logins, sessions, passwords, API keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from market.accounts import scopes as api_scopes
from market.accounts import security
from market.accounts.models import Credential, Organisation, User
from market.accounts.roles import BUREAU_ROLES, ORG_ROLES, Role
from market.auth.actor import Actor
from market.core import audit
from market.core.config import get_settings
from market.core.db import utcnow
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, Unauthorized, ValidationFailed
from market.core.vocab import OrgKind


def check_password_strength(
    password: str, user_inputs: list[str] | tuple[str, ...] = (), field: str = "password"
) -> None:
    """Refuse a new password that is too long or easy to guess (zxcvbn, knowing the user's own names)."""
    problem = security.password_problem(password, list(user_inputs))
    if problem:
        raise ValidationFailed.field(field, *problem)


def get_org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} not found", code="organisation_not_found")
    return org


def org_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The names of the organisations `ids`, by id (ids with no organisation are left out)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted)))
    return {org_id: name for org_id, name in rows}


def register_organisation(
    session: Session, *, org_fields: dict, admin_username: str, admin_password: str, admin_display_name: str
) -> tuple[Organisation, User]:
    """Create a pending (or, when its credit code is already claimed, disputed) organisation and its first admin."""
    if org_fields.get("kind") == OrgKind.bureau:
        raise Forbidden("the bureau is created by the create-admin command", code="bureau_not_registrable")
    code = org_fields.get("credit_code")
    rivals = claimants(session, code)
    # A code someone already claims does not lock the rightful holder out: both become a dispute the
    # bureau resolves (a verified holder keeps its status and its code until then).
    status = "disputed" if rivals else "pending"
    fields = {**org_fields, "credit_code": None if rivals else code, "claimed_credit_code": code}
    org = Organisation(**fields, verification_status=status)
    session.add(org)
    session.flush()
    user = create_user(
        session,
        org=org,
        username=admin_username,
        password=admin_password,
        display_name=admin_display_name,
        role=Role.org_admin,
    )
    audit.record(
        session,
        entity_type="organisation",
        entity_id=org.id,
        action="register",
        to_state=status,
        detail={"disputes": [r.id for r in rivals]} if rivals else None,
    )
    for rival in rivals:
        if rival.verification_status == "pending":
            rival.verification_status = "disputed"
            audit.record(
                session,
                entity_type="organisation",
                entity_id=rival.id,
                action="dispute",
                from_state="pending",
                to_state="disputed",
                detail={"disputed_by": org.id},
            )
    return org, user


def claimants(session: Session, credit_code: str | None, *, other_than: int | None = None) -> list[Organisation]:
    """Organisations holding or claiming `credit_code`; a rejected registration has released it."""
    if not credit_code:
        return []
    stmt = sa.select(Organisation).where(
        sa.or_(Organisation.credit_code == credit_code, Organisation.claimed_credit_code == credit_code),
        Organisation.verification_status != "rejected",
    )
    if other_than is not None:
        stmt = stmt.where(Organisation.id != other_than)
    return list(session.scalars(stmt.order_by(Organisation.id)))


def may_see_review(actor: Actor | None, org: Organisation) -> bool:
    """Rejection reasons are for the organisation's own users and the bureau only."""
    return actor is not None and (actor.is_bureau or actor.org_id == org.id)


def set_verification(session: Session, org: Organisation, actor: Actor, *, verified: bool, reason: str | None) -> None:
    if not actor.is_bureau:
        raise Forbidden("only bureau staff verify organisations", code="role_required")
    if org.kind == OrgKind.bureau:
        raise InvalidState("the bureau needs no verification")
    before = org.verification_status
    if verified:
        # Verifying one claimant of a credit code resolves its dispute: the others are rejected, audited.
        code = org.claimed_credit_code or org.credit_code
        for rival in claimants(session, code, other_than=org.id):
            rival_before = rival.verification_status
            rival.verification_status, rival.verified_at, rival.credit_code = "rejected", None, None
            rival.rejection_reason = (
                f"统一社会信用代码已核实属于组织 {org.id} (credit code awarded to organisation {org.id})"
            )
            audit.record(
                session,
                entity_type="organisation",
                entity_id=rival.id,
                action="reject",
                actor=actor,
                from_state=rival_before,
                to_state="rejected",
                detail={"dispute_won_by": org.id},
            )
        session.flush()  # the rivals give the code up before this one takes it (one holder per code)
        org.verification_status, org.verified_at, org.rejection_reason = "verified", utcnow(), None
        org.credit_code = code
    else:
        if not reason:
            raise ValidationFailed.field("reason", "reason_required", "a rejection needs a reason")
        org.verification_status, org.verified_at, org.rejection_reason = "rejected", None, reason
        org.claimed_credit_code = org.claimed_credit_code or org.credit_code
        org.credit_code = None  # released: another applicant may register with it
    audit.record(
        session,
        entity_type="organisation",
        entity_id=org.id,
        action="verify" if verified else "reject",
        actor=actor,
        from_state=before,
        to_state=org.verification_status,
        detail={"reason": reason} if reason else None,
    )


def create_user(
    session: Session,
    *,
    org: Organisation,
    username: str,
    password: str | None,
    display_name: str,
    role: Role,
    email: str | None = None,
    expert_fields: list[str] | None = None,
) -> User:
    if password is not None:
        check_password_strength(password, (username, display_name, org.name, email or ""))
    if session.scalar(sa.select(User.id).where(User.username == username)):
        raise Conflict(f"username '{username}' is taken", code="username_taken")
    user = User(
        org_id=org.id,
        username=username,
        display_name=display_name,
        email=email,
        role=role,
        password_hash=security.hash_password(password) if password else None,
        expert_fields=",".join(expert_fields) if expert_fields else None,
    )
    session.add(user)
    session.flush()
    return user


def add_user(session: Session, actor: Actor, org: Organisation, **fields) -> User:
    """An org admin adds members; bureau admins add bureau staff, experts and anyone else."""
    role = Role(fields["role"])
    if actor.role == Role.bureau_admin:
        if org.kind == OrgKind.bureau and role not in BUREAU_ROLES:
            raise ValidationFailed.field("role", "invalid_role", "bureau users hold bureau roles")
        if org.kind != OrgKind.bureau and role in BUREAU_ROLES:
            raise ValidationFailed.field("role", "invalid_role", "bureau roles belong to the bureau organisation")
    elif actor.role == Role.org_admin and actor.org_id == org.id:
        if role not in ORG_ROLES:
            raise Forbidden("an organisation admin adds admins and members only", code="role_required")
    else:
        raise Forbidden("only the organisation's admin or a bureau admin adds users", code="role_required")
    user = create_user(session, org=org, **fields)
    audit.record(session, entity_type="user", entity_id=user.id, action="create", actor=actor, to_state=role)
    return user


def issue_credential(
    session: Session,
    user: User,
    *,
    kind: str,
    name: str | None = None,
    scopes: set[str] | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[Credential, str]:
    """A new secret for `user`: a login token (expires), an API key (scoped, optional expiry) or a reset token."""
    secret = security.new_secret(kind)
    now = utcnow()
    settings = get_settings()
    if kind == "token":
        expires_at = now + dt.timedelta(minutes=settings.access_token_minutes)
    elif kind == "reset":
        expires_at = now + dt.timedelta(minutes=settings.password_reset_minutes)
    cred = Credential(
        user_id=user.id,
        kind=kind,
        name=name,
        prefix=secret[:12],
        secret_hash=security.secret_digest(secret),
        created_at=now,
        expires_at=expires_at,
        scopes=api_scopes.serialise(api_scopes.ALL_SCOPES if scopes is None else scopes) if kind == "api_key" else None,
    )
    session.add(cred)
    session.flush()
    return cred, secret


def login(session: Session, username: str, password: str) -> str:
    """A session token for the right username and password; one message for every failure.

    The password is verified (argon2) whether or not the user exists, is disabled or has no password,
    so neither the answer nor its timing says which usernames exist.
    """
    user = session.scalar(sa.select(User).where(User.username == username))
    password_ok = security.verify_password(user.password_hash if user else None, password)
    if user is None or not user.is_active or not password_ok:
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    _, secret = issue_credential(session, user, kind="token")
    audit.record(session, entity_type="user", entity_id=user.id, action="login", actor=actor_for_user(session, user))
    return secret


def actor_for_user(
    session: Session, user: User, org: Organisation | None = None, cred: Credential | None = None
) -> Actor:
    org = org or get_org(session, user.org_id)
    return Actor(
        user_id=user.id,
        org_id=org.id,
        role=Role(user.role),
        org_kind=org.kind,
        org_verified=org.is_verified or org.kind == OrgKind.bureau,
        username=user.username,
        credential_id=cred.id if cred else None,
        scopes=api_scopes.parse(cred.scopes) if cred else None,
    )


def _is_live(cred: Credential, now: dt.datetime) -> bool:
    return cred.revoked_at is None and (cred.expires_at is None or cred.expires_at > now)


def actor_from_secret(session: Session, secret: str) -> Actor:
    """The actor behind a bearer secret (session token or API key)."""
    # One query per authenticated request: the credential, its user and the user's organisation.
    row = session.execute(
        sa.select(Credential, User, Organisation)
        .join(User, User.id == Credential.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .where(Credential.secret_hash == security.secret_digest(secret))
    ).first()
    if row is None:
        raise Unauthorized("invalid or expired credentials", code="invalid_token")
    cred, user, org = row
    # A reset token only ever sets a password (once); it is not a way in.
    if cred.kind == "reset" or not _is_live(cred, utcnow()) or not user.is_active:
        raise Unauthorized("invalid or expired credentials", code="invalid_token")
    return actor_for_user(session, user, org, cred)


def _actor_user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None:  # authenticated in this very request: gone only if deleted meanwhile
        raise Unauthorized("invalid or expired credentials", code="invalid_token")
    return user


def create_api_key(
    session: Session, actor: Actor, *, name: str, scopes: set[str], expires_at: dt.datetime | None
) -> tuple[Credential, str]:
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed.field("expires_at", "expiry_in_past", "an API key's expiry must be in the future")
    user = _actor_user(session, actor)
    cred, secret = issue_credential(session, user, kind="api_key", name=name, scopes=scopes, expires_at=expires_at)
    audit.record(
        session,
        entity_type="user",
        entity_id=user.id,
        action="api_key_create",
        actor=actor,
        detail={
            "credential_id": cred.id,
            "scopes": cred.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return cred, secret


def revoke_api_key(session: Session, actor: Actor, key_id: int) -> None:
    cred = session.get(Credential, key_id)
    if cred is None or cred.kind != "api_key" or cred.user_id != actor.user_id:
        raise NotFound("API key not found", code="api_key_not_found")
    if cred.revoked_at is None:
        cred.revoked_at = utcnow()
        audit.record(
            session,
            entity_type="user",
            entity_id=actor.user_id,
            action="api_key_revoke",
            actor=actor,
            detail={"credential_id": cred.id},
        )


def list_api_keys(session: Session, actor: Actor) -> list[Credential]:
    stmt = sa.select(Credential).where(
        Credential.user_id == actor.user_id, Credential.kind == "api_key", Credential.revoked_at.is_(None)
    )
    return list(session.scalars(stmt.order_by(Credential.id)))


# -- sessions (login tokens) -----------------------------------------------------------------------


def list_sessions(session: Session, actor: Actor) -> list[Credential]:
    """The actor's live login sessions, oldest first."""
    now = utcnow()
    stmt = sa.select(Credential).where(
        Credential.user_id == actor.user_id, Credential.kind == "token", Credential.revoked_at.is_(None)
    )
    return [c for c in session.scalars(stmt.order_by(Credential.id)) if _is_live(c, now)]


def _revoke_all(session: Session, user_id: int, kinds: tuple[str, ...]) -> int:
    """Revoke every live credential of these kinds the user holds; how many."""
    result = session.execute(
        sa.update(Credential)
        .where(Credential.user_id == user_id, Credential.kind.in_(kinds), Credential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount or 0  # an UPDATE's result is a CursorResult


def revoke_session(session: Session, actor: Actor, session_id: int) -> None:
    """Log one of my sessions out (this one, or another device's)."""
    cred = session.get(Credential, session_id)
    if cred is None or cred.kind != "token" or cred.user_id != actor.user_id:
        raise NotFound("session not found", code="session_not_found")
    if cred.revoked_at is None:
        cred.revoked_at = utcnow()
        audit.record(
            session,
            entity_type="user",
            entity_id=actor.user_id,
            action="session_revoke",
            actor=actor,
            detail={"credential_id": cred.id},
        )


def logout(session: Session, actor: Actor) -> None:
    if actor.credential_id is None:
        raise InvalidState("no session to log out", code="no_session")
    revoke_session(session, actor, actor.credential_id)


def revoke_all_sessions(session: Session, actor: Actor) -> int:
    count = _revoke_all(session, actor.user_id, ("token",))
    audit.record(
        session,
        entity_type="user",
        entity_id=actor.user_id,
        action="sessions_revoke_all",
        actor=actor,
        detail={"revoked": count},
    )
    return count


# -- passwords and disabling users ------------------------------------------------------------------


def _set_password(session: Session, user: User, password: str, field: str) -> None:
    org = get_org(session, user.org_id)
    check_password_strength(password, (user.username, user.display_name, org.name, user.email or ""), field)
    user.password_hash = security.hash_password(password)
    # Every session dies with the old password (and any reset token still outstanding); API keys are
    # machine credentials, revoked on their own.
    _revoke_all(session, user.id, ("token", "reset"))


def change_password(session: Session, actor: Actor, old_password: str, new_password: str) -> str:
    """Old + new password; every session is logged out and a fresh token for this one is returned."""
    user = _actor_user(session, actor)
    if not security.verify_password(user.password_hash, old_password):
        raise Unauthorized("the current password is wrong", code="invalid_credentials")
    _set_password(session, user, new_password, "new_password")
    audit.record(session, entity_type="user", entity_id=user.id, action="password_change", actor=actor)
    _, secret = issue_credential(session, user, kind="token")
    return secret


def _manageable_user(session: Session, actor: Actor, user_id: int) -> User:
    """A user the actor administers: a bureau admin any user, an org admin its organisation's admins and members."""
    user = session.get(User, user_id)
    if user is None or not (actor.is_bureau or actor.org_id == user.org_id):
        raise NotFound(f"user {user_id} not found", code="user_not_found")
    if actor.role == Role.bureau_admin:
        return user
    if actor.role == Role.org_admin and actor.org_id == user.org_id and Role(user.role) in ORG_ROLES:
        return user
    raise Forbidden("only the organisation's admin or a bureau admin manages this user", code="role_required")


def issue_password_reset(session: Session, actor: Actor, user_id: int) -> tuple[Credential, str]:
    """A one-time reset token for a user who lost their password, handed over by their admin or the bureau."""
    user = _manageable_user(session, actor, user_id)
    _revoke_all(session, user.id, ("reset",))  # only the newest reset token works
    cred, secret = issue_credential(session, user, kind="reset")
    audit.record(
        session,
        entity_type="user",
        entity_id=user.id,
        action="password_reset_issue",
        actor=actor,
        detail={"credential_id": cred.id, "expires_at": cred.expires_at.isoformat() if cred.expires_at else None},
    )
    return cred, secret


def reset_password(session: Session, token: str, new_password: str) -> None:
    """Set a new password with a reset token: once, before it expires; every session is logged out."""
    cred = session.scalar(sa.select(Credential).where(Credential.secret_hash == security.secret_digest(token)))
    user = session.get(User, cred.user_id) if cred is not None and cred.kind == "reset" else None
    if cred is None or user is None or not _is_live(cred, utcnow()) or not user.is_active:
        raise Unauthorized("invalid or expired reset token", code="invalid_reset_token")
    _set_password(session, user, new_password, "new_password")  # also consumes this token
    audit.record(
        session, entity_type="user", entity_id=user.id, action="password_reset", detail={"credential_id": cred.id}
    )


def set_user_active(session: Session, actor: Actor, user_id: int, *, active: bool) -> User:
    """Disable (every credential revoked) or re-enable a user; org admins for their members, the bureau for anyone."""
    user = _manageable_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise InvalidState("you cannot disable or re-enable yourself", code="cannot_change_self")
    if user.is_active == active:
        return user
    user.is_active = active
    revoked = 0 if active else _revoke_all(session, user.id, ("token", "api_key", "reset"))
    audit.record(
        session,
        entity_type="user",
        entity_id=user.id,
        action="enable" if active else "disable",
        actor=actor,
        from_state="disabled" if active else "active",
        to_state="active" if active else "disabled",
        detail=None if active else {"credentials_revoked": revoked},
    )
    session.flush()
    return user


def ensure_bureau(session: Session, *, name: str, region_code: str, credit_code: str | None) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.kind == OrgKind.bureau))
    if org is None:
        org = Organisation(
            name=name,
            kind=OrgKind.bureau,
            credit_code=credit_code,
            entity_type_code="010",
            region_code=region_code,
            verification_status="verified",
            verified_at=utcnow(),
        )
        session.add(org)
        session.flush()
    return org


def create_bureau_admin(session: Session, *, username: str, password: str, display_name: str) -> User:
    settings = get_settings()
    bureau = ensure_bureau(session, name="科技局", region_code=settings.region_code, credit_code=None)
    user = create_user(
        session, org=bureau, username=username, password=password, display_name=display_name, role=Role.bureau_admin
    )
    # no actor: made from the command line (`market create-admin`) by whoever runs the server
    audit.record(
        session,
        entity_type="user",
        entity_id=user.id,
        action="create",
        to_state=Role.bureau_admin,
        detail={"via": "create-admin", "username": username},
    )
    return user
