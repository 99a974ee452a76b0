"""Test data builders: organisations with valid credit codes, users with ready-made auth headers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from market.accounts import service
from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.core.db import session_scope, utcnow
from market.core.identifiers import make_credit_code
from market.core.vocab import OrgKind

_seq = itertools.count(1)

ENTITY_TYPE_FOR_KIND = {
    OrgKind.enterprise: "150",
    OrgKind.university: "022",
    OrgKind.institute: "021",
    OrgKind.intermediary: "150",
    OrgKind.bureau: "010",
    OrgKind.other: "024",
}


def valid_credit_code(n: int | None = None, region: str = "330200") -> str:
    return make_credit_code(next(_seq) if n is None else n, region)


@dataclass
class Member:
    user_id: int
    org_id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class World:
    """Creates organisations and users straight through the services (no HTTP), in committed transactions."""

    def org(
        self,
        kind: OrgKind = OrgKind.enterprise,
        *,
        name: str | None = None,
        region_code: str = "330212",
        verified: bool = True,
        entity_type_code: str | None = None,
        **extra,
    ) -> int:
        with session_scope() as s:
            org = Organisation(
                name=name or f"{kind.value} {next(_seq)}",
                kind=kind,
                credit_code=valid_credit_code(region=region_code),
                entity_type_code=entity_type_code or ENTITY_TYPE_FOR_KIND[kind],
                region_code=region_code,
                verification_status="verified" if verified else "pending",
                verified_at=utcnow() if verified else None,
                **extra,
            )
            s.add(org)
            s.flush()
            return org.id

    def bureau_org(self) -> int:
        with session_scope() as s:
            return service.ensure_bureau(s, name="科技局", region_code="330200", credit_code=None).id

    def user(self, org_id: int, role: Role = Role.org_admin, *, expert_fields: list[str] | None = None) -> Member:
        with session_scope() as s:
            org = s.get(Organisation, org_id)
            username = f"u{next(_seq)}_{role.value}"
            user = service.create_user(
                # No password: tokens are issued directly, and argon2 would slow every test down.
                s,
                org=org,
                username=username,
                password=None,
                display_name=username,
                role=role,
                expert_fields=expert_fields,
            )
            _, token = service.issue_credential(s, user, kind="token")
            return Member(user_id=user.id, org_id=org_id, username=username, token=token)

    def member(self, kind: OrgKind = OrgKind.enterprise, role: Role = Role.org_admin, **org_kw) -> Member:
        return self.user(self.org(kind, **org_kw), role)

    def bureau(self, role: Role = Role.bureau_admin) -> Member:
        return self.user(self.bureau_org(), role)

    def expert(self, affiliation_org_id: int | None = None, fields: list[str] | None = None) -> Member:
        org_id = affiliation_org_id or self.org(OrgKind.university)
        return self.user(org_id, Role.expert, expert_fields=fields)

    def get_user(self, user_id: int) -> User:
        with session_scope() as s:
            return s.get(User, user_id)
