"""Listing lifecycle as data: which action moves a listing from which states to which."""

from __future__ import annotations

from dataclasses import dataclass

from market.core.vocab import LISTING_PUBLIC_STATES

DRAFT, PUBLISHED, MATCHED, NEGOTIATING, CLOSED, WITHDRAWN = (
    "draft",
    "published",
    "matched",
    "negotiating",
    "closed",
    "withdrawn",
)
STATES = (DRAFT, PUBLISHED, MATCHED, NEGOTIATING, CLOSED, WITHDRAWN)
# Published, and still on the market: visible to everyone and searchable.
PUBLIC_STATES = LISTING_PUBLIC_STATES  # published, matched, negotiating: the one set, shared with search
# Editable without a re-open: a closed or withdrawn listing must be re-opened first.
EDITABLE_STATES = frozenset({DRAFT, PUBLISHED, MATCHED, NEGOTIATING})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    needs_verified_org: bool = False


TRANSITIONS = {
    t.action: t
    for t in (
        Transition("publish", frozenset({DRAFT}), PUBLISHED, needs_verified_org=True),
        Transition("mark_matched", frozenset({PUBLISHED}), MATCHED),
        Transition("mark_negotiating", frozenset({PUBLISHED, MATCHED}), NEGOTIATING),
        Transition("close", frozenset({PUBLISHED, MATCHED, NEGOTIATING}), CLOSED),
        Transition("withdraw", frozenset({DRAFT, PUBLISHED, MATCHED, NEGOTIATING}), WITHDRAWN),
        Transition("reopen", frozenset({CLOSED, WITHDRAWN}), DRAFT),
    )
}


class TransitionRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(message)


def next_state(current: str, action: str, *, org_verified: bool) -> str:
    """The state `action` leads to from `current`, or TransitionRefused."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise TransitionRefused("unknown_action", f"unknown action '{action}'; one of {', '.join(TRANSITIONS)}")
    if current not in t.sources:
        raise TransitionRefused(
            "invalid_state", f"cannot {action} a {current} listing (allowed from: {', '.join(sorted(t.sources))})"
        )
    if t.needs_verified_org and not org_verified:
        raise TransitionRefused("organisation_not_verified", "only verified organisations may publish listings")
    return t.target
