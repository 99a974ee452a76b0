"""Pure broker rules: ID numbers, credential levels, employment on a day, link checks, performance value."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from market.core import transitions

# 初级 技术经纪人, 中级 / 高级 技术经理人 (the national credential ladder).
LEVELS = {
    "junior_broker": "初级技术经纪人",
    "intermediate_manager": "中级技术经理人",
    "senior_manager": "高级技术经理人",
}
STATUSES = ("active", "suspended", "removed")
# (status, action) -> new status; "removed" is final.
TRANSITIONS = {
    ("active", "suspend"): "suspended",
    ("active", "remove"): "removed",
    ("suspended", "reinstate"): "active",
    ("suspended", "remove"): "removed",
}

# 居民身份证 check digit (GB 11643-1999): weights per position, then the remainder's character.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# Default weights of the annual performance value (绩效分值): points per deal and per 万元.
# Listings brought in and matches turned into contracts weigh nothing until the bureau gives them points.
DEFAULT_WEIGHTS = {
    "deals": Decimal("10"),
    "total_amount_wan": Decimal("1"),
    "technical_amount_wan": Decimal("2"),
    "listings": Decimal("0"),
    "matches": Decimal("0"),
}
WAN = Decimal("10000")


class RuleViolation(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def normalise_id_number(raw: str) -> str:
    """An 18-character 居民身份证号码 with a valid check digit, upper-cased; else RuleViolation."""
    value = raw.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        raise RuleViolation("invalid_id_number", "id_number must be an 18-character resident ID number", "id_number")
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK[total % 11] != value[17]:
        raise RuleViolation("invalid_id_number", "id_number has a wrong check digit", "id_number")
    return value


def mask_id_number(value: str) -> str:
    """What anyone may see: region (6) and the last 4, e.g. 330203********123X."""
    return value[:6] + "*" * 8 + value[-4:]


def id_number_digest(value: str, pepper: str) -> str:
    """A keyed digest that tells two registrations of one person apart without keeping the number."""
    return hashlib.sha256(f"{pepper}:{value}".encode()).hexdigest()


def next_status(status: str, action: str) -> str:
    """The broker's status after `action`; TransitionError("invalid_state") if not allowed."""
    return transitions.next_status(TRANSITIONS, status, action, subject="a broker")


@dataclass(frozen=True)
class Stint:
    """One employment: an intermediary from start to end (inclusive; None = still employed)."""

    org_id: int
    start: dt.date
    end: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def employer_on(stints: Iterable[Stint], day: dt.date) -> int | None:
    for s in stints:
        if s.covers(day):
            return s.org_id
    return None


def check_move(current: Stint | None, new_org_id: int, start: dt.date) -> dt.date | None:
    """A move to `new_org_id` from `start`: the end date of the current stint (the day before), if any."""
    if current is None:
        return None
    if current.org_id == new_org_id:
        raise RuleViolation(
            "already_employed", "the broker is already employed by this intermediary", "intermediary_org_id"
        )
    if start <= current.start:
        raise RuleViolation(
            "move_before_current_start", "a move must start after the current employment began", "start_date"
        )
    return start - dt.timedelta(days=1)


def check_link(
    *, broker_status: str, intermediary_org_id: int | None, signing_date: dt.date | None, stints: Sequence[Stint]
) -> None:
    """A broker may be put on a contract only if active and employed by its intermediary on the signing date."""
    if broker_status != "active":
        raise RuleViolation("broker_not_active", f"the broker is {broker_status}")
    if intermediary_org_id is None:
        raise RuleViolation("contract_has_no_intermediary", "the contract names no intermediary (中介方)")
    if signing_date is None:
        raise RuleViolation("contract_not_signed", "the contract has no signing date")
    if employer_on(stints, signing_date) != intermediary_org_id:
        raise RuleViolation(
            "broker_not_employed_on_signing_date",
            "the broker was not employed by the contract's intermediary on its signing date",
        )


def check_weights(weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise RuleViolation("unknown_weight", f"unknown weight(s): {', '.join(sorted(unknown))}", "weights")
    if any(v < 0 for v in weights.values()):
        raise RuleViolation("negative_weight", "weights cannot be negative", "weights")
    return {**DEFAULT_WEIGHTS, **weights}


@dataclass(frozen=True)
class Tally:
    deals: int
    total_amount: Decimal  # 成交额 of the deals
    technical_amount: Decimal  # 技术交易额 of the registered ones
    listings: int = 0  # demands / achievements brought in (confirmed by their owner)
    matches: int = 0  # deals on a listing the broker brought in (matches turned into contracts)


def performance_value(t: Tally, weights: Mapping[str, Decimal]) -> tuple[Decimal, dict[str, str]]:
    """绩效分值 = Σ weight × item (amounts in 万元), to 2 places, with each item's points as working."""
    parts = {
        "deals": weights["deals"] * t.deals,
        "total_amount_wan": weights["total_amount_wan"] * t.total_amount / WAN,
        "technical_amount_wan": weights["technical_amount_wan"] * t.technical_amount / WAN,
        "listings": weights.get("listings", Decimal("0")) * t.listings,
        "matches": weights.get("matches", Decimal("0")) * t.matches,
    }
    q = Decimal("0.01")
    total = sum(parts.values(), Decimal("0")).quantize(q)
    return total, {k: str(v.quantize(q)) for k, v in parts.items()}


def rank(values: Sequence[tuple[object, Decimal]]) -> dict[object, int]:
    """Competition ranking (1, 2, 2, 4) by value, highest first."""
    ordered = sorted(values, key=lambda kv: kv[1], reverse=True)
    ranks: dict[object, int] = {}
    for i, (key, value) in enumerate(ordered):
        ranks[key] = ranks[ordered[i - 1][0]] if i and ordered[i - 1][1] == value else i + 1
    return ranks
