"""Roles a user can hold, and who counts as bureau staff."""

from enum import StrEnum


class Role(StrEnum):
    org_admin = "org_admin"  # manages its organisation's users and listings
    member = "member"  # acts for its organisation
    bureau_admin = "bureau_admin"  # 科技局 administrator
    registrar = "registrar"  # 登记员: decides contract registrations
    programme_officer = "programme_officer"  # runs open calls and subsidies
    expert = "expert"  # 评审专家: scores assigned bids only


BUREAU_ROLES = frozenset({Role.bureau_admin, Role.registrar, Role.programme_officer})
ORG_ROLES = frozenset({Role.org_admin, Role.member})
