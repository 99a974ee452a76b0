"""Organisation registration and verification, users, logins and API keys."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts import security
from market.accounts.models import Credential, Organisation, User
from market.accounts.roles import BUREAU_ROLES, ORG_ROLES, Role
from market.core import audit
from market.core.config import get_settings
from market.core.db import utcnow
from market.core.deps import Actor
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, Unauthorized, ValidationFailed
from market.core.vocab import OrgKind

MIN_PASSWORD_LENGTH = 10


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.field(
            "password", "weak_password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        )


def get_org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} not found", code="organisation_not_found")
    return org


def register_organisation(
    session: Session, *, org_fields: dict, admin_username: str, admin_password: str, admin_display_name: str
) -> tuple[Organisation, User]:
    """Create a pending organisation and its first administrator."""
    if org_fields.get("kind") == OrgKind.bureau:
        raise Forbidden("the bureau is created by the create-admin command", code="bureau_not_registrable")
    if org_fields.get("credit_code") and session.scalar(
        sa.select(Organisation.id).where(Organisation.credit_code == org_fields["credit_code"])
    ):
        raise Conflict("an organisation with this credit code is already registered", code="credit_code_taken")
    org = Organisation(**org_fields, verification_status="pending")
    session.add(org)
    session.flush()
    user = create_user(
        session, org=org, username=admin_username, password=admin_password,
        display_name=admin_display_name, role=Role.org_admin,
    )  # fmt: skip
    audit.record(session, entity_type="organisation", entity_id=org.id, action="register", to_state="pending")
    return org, user


def set_verification(session: Session, org: Organisation, actor: Actor, *, verified: bool, reason: str | None) -> None:
    if not actor.is_bureau:
        raise Forbidden("only bureau staff verify organisations", code="role_required")
    if org.kind == OrgKind.bureau:
        raise InvalidState("the bureau needs no verification")
    before = org.verification_status
    if verified:
        org.verification_status, org.verified_at, org.rejection_reason = "verified", utcnow(), None
    else:
        if not reason:
            raise ValidationFailed.field("reason", "reason_required", "a rejection needs a reason")
        org.verification_status, org.verified_at, org.rejection_reason = "rejected", None, reason
    audit.record(
        session, entity_type="organisation", entity_id=org.id, action="verify" if verified else "reject",
        actor=actor, from_state=before, to_state=org.verification_status, detail={"reason": reason} if reason else None,
    )  # fmt: skip


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
        check_password_strength(password)
    if session.scalar(sa.select(User.id).where(User.username == username)):
        raise Conflict(f"username '{username}' is taken", code="username_taken")
    user = User(
        org_id=org.id, username=username, display_name=display_name, email=email, role=role,
        password_hash=security.hash_password(password) if password else None,
        expert_fields=",".join(expert_fields) if expert_fields else None,
    )  # fmt: skip
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


def issue_credential(session: Session, user: User, *, kind: str, name: str | None = None) -> tuple[Credential, str]:
    secret = security.new_secret(kind)
    now = utcnow()
    expires = now + dt.timedelta(minutes=get_settings().access_token_minutes) if kind == "token" else None
    cred = Credential(
        user_id=user.id, kind=kind, name=name, prefix=secret[:12], secret_hash=security.secret_digest(secret),
        created_at=now, expires_at=expires,
    )  # fmt: skip
    session.add(cred)
    session.flush()
    return cred, secret


def login(session: Session, username: str, password: str) -> str:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.is_active or not security.verify_password(user.password_hash, password):
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    _, secret = issue_credential(session, user, kind="token")
    return secret


def actor_for_user(session: Session, user: User, org: Organisation | None = None) -> Actor:
    org = org or get_org(session, user.org_id)
    return Actor(
        user_id=user.id, org_id=org.id, role=Role(user.role), org_kind=org.kind,
        org_verified=org.is_verified or org.kind == OrgKind.bureau, username=user.username,
    )  # fmt: skip


def actor_from_secret(session: Session, secret: str) -> Actor:
    # One query per authenticated request: the credential, its user and the user's organisation.
    row = session.execute(
        sa.select(Credential, User, Organisation)
        .join(User, User.id == Credential.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .where(Credential.secret_hash == security.secret_digest(secret))
    ).first()
    now = utcnow()
    if row is None:
        raise Unauthorized("invalid or expired credentials", code="invalid_token")
    cred, user, org = row
    if cred.revoked_at is not None or (cred.expires_at is not None and cred.expires_at < now) or not user.is_active:
        raise Unauthorized("invalid or expired credentials", code="invalid_token")
    return actor_for_user(session, user, org)


def create_api_key(session: Session, actor: Actor, name: str | None) -> tuple[Credential, str]:
    """An API key for a machine client acting as this user (audited; the secret itself never is)."""
    user = session.get(User, actor.user_id)
    cred, secret = issue_credential(session, user, kind="api_key", name=name)
    audit.record(session, entity_type="api_key", entity_id=cred.id, action="create", actor=actor, to_state="active",
                 detail={"name": name, "prefix": cred.prefix})  # fmt: skip
    return cred, secret


def revoke_api_key(session: Session, actor: Actor, key_id: int) -> None:
    cred = session.get(Credential, key_id)
    if cred is None or cred.kind != "api_key" or cred.user_id != actor.user_id:
        raise NotFound("API key not found", code="api_key_not_found")
    if cred.revoked_at is None:
        cred.revoked_at = utcnow()
        audit.record(session, entity_type="api_key", entity_id=cred.id, action="revoke", actor=actor,
                     from_state="active", to_state="revoked", detail={"prefix": cred.prefix})  # fmt: skip


def list_api_keys(session: Session, actor: Actor) -> list[Credential]:
    stmt = sa.select(Credential).where(
        Credential.user_id == actor.user_id, Credential.kind == "api_key", Credential.revoked_at.is_(None)
    )
    return list(session.scalars(stmt.order_by(Credential.id)))


def ensure_bureau(session: Session, *, name: str, region_code: str, credit_code: str | None) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.kind == OrgKind.bureau))
    if org is None:
        org = Organisation(
            name=name, kind=OrgKind.bureau, credit_code=credit_code, entity_type_code="010",
            region_code=region_code, verification_status="verified", verified_at=utcnow(),
        )  # fmt: skip
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
    audit.record(session, entity_type="user", entity_id=user.id, action="create", to_state=Role.bureau_admin,
                 detail={"via": "create-admin", "username": username})  # fmt: skip
    return user
