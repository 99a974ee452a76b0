"""Evaluation rules as plain data and functions: scales, states, who may evaluate (no database)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

# Technology readiness levels, GB/T 22900-2022 appendix (abridged labels).
TRL = {
    1: "发现基本原理或看到基本原理的报道",
    2: "形成技术概念或开发方案",
    3: "关键功能分析和实验室验证",
    4: "研究室环境中关键部件 / 功能模块验证",
    5: "相关环境中关键部件 / 功能模块验证",
    6: "相关环境中系统 / 原型演示",
    7: "实际环境中系统 / 原型演示",
    8: "定型试验, 实际系统完成并通过测试",
    9: "实际系统通过使用验证 (规模应用)",
}
# Graded scales as in local standards such as DB3710/T 184-2022, best first.
INNOVATION_GRADES = {
    "international_first": "国际首创",
    "domestic_first": "国内首创",
    "regional_first": "省内首创",
    "improvement": "改进创新",
}
ADVANCEMENT_GRADES = {
    "international_leading": "国际领先",
    "international_advanced": "国际先进",
    "domestic_leading": "国内领先",
    "domestic_advanced": "国内先进",
}
# The scales' codes as request types (the report, the search filters); the same codes as the dicts above.
InnovationGrade = Literal["international_first", "domestic_first", "regional_first", "improvement"]
AdvancementGrade = Literal["international_leading", "international_advanced", "domestic_leading", "domestic_advanced"]
assert set(get_args(InnovationGrade)) == set(INNOVATION_GRADES)
assert set(get_args(AdvancementGrade)) == set(ADVANCEMENT_GRADES)

# State transitions: requested → assigned (evaluators named) → completed; requested / assigned → declined.
TRANSITIONS = {
    ("requested", "assign"): "assigned",
    ("assigned", "assign"): "assigned",
    ("assigned", "report"): "completed",
    ("requested", "decline"): "declined",
    ("assigned", "decline"): "declined",
}


def next_state(state: str, action: str) -> str | None:
    return TRANSITIONS.get((state, action))


def conflicted(evaluator_org_ids: dict[int, int], holder_org_id: int, declared: Iterable[int]) -> list[int]:
    """Evaluators who may not evaluate: from the holder's organisation, or declared conflicted."""
    declared = set(declared)
    return sorted(u for u, org in evaluator_org_ids.items() if org == holder_org_id or u in declared)
