"""Pure rules of a subsidy run's approval: draft → reviewed → approved → frozen, and who may act."""

from __future__ import annotations

from market.accounts.roles import Role
from market.core.transitions import TransitionError
from market.subsidies.models import ComputeState, RunStatus

# action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "review": (frozenset({RunStatus.draft}), RunStatus.reviewed),
    "reopen": (frozenset({RunStatus.reviewed, RunStatus.approved}), RunStatus.draft),
    "approve": (frozenset({RunStatus.reviewed}), RunStatus.approved),
    "freeze": (frozenset({RunStatus.approved}), RunStatus.frozen),
}

# Who may take each action; preparing a run is the programme officer's, deciding it the admin's.
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "create": frozenset({Role.programme_officer, Role.bureau_admin}),
    "compute": frozenset({Role.programme_officer, Role.bureau_admin}),
    "review": frozenset({Role.programme_officer, Role.bureau_admin}),
    "reopen": frozenset({Role.bureau_admin}),
    "approve": frozenset({Role.bureau_admin}),
    "freeze": frozenset({Role.bureau_admin}),
    "edit_policy": frozenset({Role.programme_officer, Role.bureau_admin}),
    "record_recognition": frozenset({Role.programme_officer, Role.bureau_admin}),
}

# Beneficiaries see their own results only once the bureau has approved them.
VISIBLE_TO_BENEFICIARIES = frozenset({RunStatus.approved, RunStatus.frozen})


def next_status(action: str, status: str, compute_state: str) -> str:
    """The status after `action`, or TransitionError with a stable code."""
    if action not in TRANSITIONS:
        raise TransitionError("unknown_action", f"unknown action {action!r}")
    allowed, to = TRANSITIONS[action]
    if status not in allowed:
        raise TransitionError("invalid_run_transition", f"cannot {action} a run that is {status}")
    if action in ("review", "approve", "freeze") and compute_state != ComputeState.computed:
        raise TransitionError("run_not_computed", "the run has not finished computing")
    return to


def can_recompute(status: str) -> bool:
    """Only drafts are recomputed; a reviewed run must be reopened, a frozen one never changes."""
    return status == RunStatus.draft


def four_eyes(reviewer_id: int | None, approver_id: int) -> bool:
    """The approver is not the reviewer."""
    return reviewer_id is None or reviewer_id != approver_id
