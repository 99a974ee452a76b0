"""Request and response shapes for organisations, users and credentials."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from market.accounts.roles import Role
from market.accounts.scopes import Scope
from market.core.identifiers import IdentifierError, check_credit_code, check_region_code
from market.core.types import LongText, Text
from market.core.vocab import FilingLevel, OrgKind, TechnicalField, is_known_entity_type


class OrganisationFields(BaseModel):
    name: Text = Field(min_length=2, max_length=200)
    kind: OrgKind
    credit_code: Text = Field(description="统一社会信用代码 (GB 32100-2015, 18 characters)")
    entity_type_code: Text = Field(description="法人性质 code, e.g. 022 高等院校, 150 有限责任公司")
    region_code: Text = Field(description="行政区划代码 (GB/T 2260), e.g. 330212")
    country: Text = Field("CN", min_length=2, max_length=2)
    filing_level: FilingLevel | None = Field(None, description="intermediaries: 备案级别")
    filing_date: dt.date | None = None
    contact_name: Text | None = None
    contact_phone: Text | None = None

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, v: str) -> str:
        return check_credit_code(v).value

    @field_validator("region_code")
    @classmethod
    def _region(cls, v: str) -> str:
        return check_region_code(v)

    @field_validator("entity_type_code")
    @classmethod
    def _entity_type(cls, v: str) -> str:
        if not is_known_entity_type(v):
            raise IdentifierError("invalid_entity_type", f"unknown 法人性质 code '{v}'")
        return v


class AdminAccount(BaseModel):
    username: Text = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1)
    display_name: Text = Field(min_length=1, max_length=100)


class OrganisationRegistration(OrganisationFields):
    admin: AdminAccount


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    credit_code: str | None = Field(description="the 统一社会信用代码 it holds (none while disputed or rejected)")
    claimed_credit_code: str | None = Field(None, description="the code it registered with")
    credit_code_check_ok: bool
    entity_type_code: str
    region_code: str
    country: str
    verification_status: str
    verified_at: dt.datetime | None
    rejection_reason: str | None
    filing_level: str | None
    filing_date: dt.date | None
    research_integrity_blacklisted: bool


class RegistrationOut(BaseModel):
    organisation: OrganisationOut
    admin_user_id: int
    warnings: list[str] = []


class VerificationIn(BaseModel):
    verified: bool
    reason: LongText | None = None


class UserIn(BaseModel):
    username: Text = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str | None = Field(None, description="omit for a machine-only user that uses API keys")
    display_name: Text = Field(min_length=1, max_length=100)
    role: Role = Role.member
    email: Text | None = None
    expert_fields: list[TechnicalField] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    username: str
    display_name: str
    role: str
    is_active: bool


class MeOut(BaseModel):
    user: UserOut
    organisation: OrganisationOut


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ApiKeyIn(BaseModel):
    name: Text = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.read],
        min_length=1,
        description="what the key may change (default: read only): read (nothing), listings, contracts, bids, "
        "calls, matching, subsidies, stats, accounts; every key reads what its user may read, and never exceeds "
        "the user's role",
    )
    expires_at: dt.datetime | None = Field(
        None, description="optional: the key stops working at this time (UTC when no offset is given)"
    )

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        return v.replace(tzinfo=dt.UTC) if v is not None and v.tzinfo is None else v


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    scopes: list[str] = []

    @field_validator("scopes", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        return v.split() if isinstance(v, str) else (v or [])


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once; send it as the X-API-Key header")


class SessionOut(BaseModel):
    """A login session (one bearer token), as its owner sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    current: bool = False


class RevokedOut(BaseModel):
    revoked: int


class PasswordChangeIn(BaseModel):
    old_password: str = Field(min_length=1)
    new_password: str = Field(min_length=1)


class PasswordResetIssued(BaseModel):
    user_id: int
    reset_token: str = Field(description="shown once; single use; hand it to the user over a trusted channel")
    expires_at: dt.datetime


class PasswordResetIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1)
