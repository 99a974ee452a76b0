"""Pure commissioner rules: kinds, levels, award amounts of seed 004 §3(3) with their working."""

from __future__ import annotations

from decimal import Decimal

KINDS = {"individual": "个人科技特派员", "legal_entity": "法人科技特派员", "team": "科技特派员团队"}
LEVELS = {"provincial": "省派", "city": "市派", "county": "县派"}
HOST_KINDS = {"firm": "企业", "village": "村", "cooperative": "合作社"}
STATION_KINDS = {"workstation": "科技特派员工作站", "agri_station": "农科驿站", "star_maker_space": "星创天地"}
LOG_KINDS = {"visit": "走访", "training": "培训", "technology_introduced": "引进技术"}

# seed 004 §3(3): 每年评选…分别给予10万元、2万元和1万元; 星创天地 一次性20万元; 农科驿站 一次性10万元;
# 企业科技特派员 省级财政后补助 / 省级财政支持 按1∶1 配套.
FIXED_AWARDS = {
    "demonstration_base": (Decimal("100000"), "科技特派员工程示范基地(项目)", False),
    "outstanding_commissioner": (Decimal("20000"), "优秀科技特派员", False),
    "advanced_individual": (Decimal("10000"), "科技特派员工作先进个人", False),
    "star_maker_space": (Decimal("200000"), "省级以上星创天地(创办、领办并取得成效), 一次性", True),
    "agri_station": (Decimal("100000"), "省级备案农科驿站(取得成效), 一次性", True),
}
MATCHING_AWARDS = {"provincial_match": "企业科技特派员省级财政后补助/支持额 1∶1 配套"}
AWARD_KINDS = tuple(FIXED_AWARDS) + tuple(MATCHING_AWARDS)
SOURCE = "seed 004 三(三)"


class RuleViolation(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def award_amount(
    kind: str,
    *,
    provincial_amount: Decimal | None = None,
    one_off_already_paid: bool = False,
    commissioner_kind: str = "individual",
) -> tuple[Decimal, dict[str, str]]:
    """The award of one selection, with its working (the rule, the figures, the source)."""
    if kind in FIXED_AWARDS:
        amount, label, one_off = FIXED_AWARDS[kind]
        if kind == "advanced_individual" and commissioner_kind != "individual":
            raise RuleViolation("individuals_only", "先进个人 is awarded to individual commissioners only", "kind")
        if one_off and one_off_already_paid:
            raise RuleViolation("one_off_already_awarded", f"{label}: the one-off award was already made", "kind")
        return amount.quantize(Decimal("0.01")), {"rule": label, "amount": f"{amount:.2f}", "source": SOURCE}
    if kind in MATCHING_AWARDS:
        if provincial_amount is None or provincial_amount <= 0:
            raise RuleViolation(
                "provincial_amount_required", "a 1:1 match needs the provincial amount", "provincial_amount"
            )
        amount = provincial_amount.quantize(Decimal("0.01"))
        return amount, {
            "rule": MATCHING_AWARDS[kind],
            "provincial_amount": f"{amount:.2f}",
            "ratio": "1:1",
            "amount": f"{amount:.2f}",
            "source": SOURCE,
        }
    raise RuleViolation("invalid_award_kind", f"kind: one of {', '.join(AWARD_KINDS)}", "kind")


# Status changes the bureau makes: a suspended commissioner gets no new dispatches or awards until reinstated.
STATUS_CHANGES = {"suspend": ("active", "suspended"), "reinstate": ("suspended", "active")}


def next_status(current: str, action: str) -> str:
    """The status after `action`, or RuleViolation when the commissioner is not in the status it starts from."""
    start, end = STATUS_CHANGES[action]
    if current != start:
        raise RuleViolation("invalid_state", f"a {current} commissioner cannot be {end}", "action")
    return end
