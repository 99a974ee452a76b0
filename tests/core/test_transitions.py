"""One transition error with a stable code, one table lookup: every domain's state machine uses them."""

from __future__ import annotations

import pytest

from market.brokers import rules as brokers
from market.calls import rules as calls
from market.contracts import rules as contracts
from market.core.transitions import TransitionError, next_status
from market.filings import rules as filings
from market.subsidies import rules as subsidies

TABLE = {("draft", "submit"): "submitted", ("submitted", "register"): "registered"}


def test_next_status_follows_the_table():
    assert next_status(TABLE, "draft", "submit", subject="a thing") == "submitted"
    assert next_status(TABLE, "submitted", "register", subject="a thing") == "registered"


@pytest.mark.parametrize(("status", "action"), [("draft", "register"), ("registered", "submit"), ("gone", "x")])
def test_a_step_outside_the_table_is_refused_with_a_code(status, action):
    with pytest.raises(TransitionError) as exc:
        next_status(TABLE, status, action, subject="a thing", code="invalid_thing_transition")
    assert exc.value.code == "invalid_thing_transition"
    assert exc.value.message == f"cannot {action} a thing that is {status}"


@pytest.mark.parametrize(
    ("refuse", "code"),
    [
        (lambda: contracts.next_status("registered", "submit"), "invalid_state"),
        (lambda: filings.next_status("revoked", "record"), "invalid_filing_transition"),
        (lambda: brokers.next_status("removed", "reinstate"), "invalid_state"),
        (lambda: subsidies.next_status("approve", "draft", "computed"), "invalid_run_transition"),
        (lambda: calls.check_transition("award", "published", calls.Role.programme_officer), "invalid_state"),
    ],
    ids=["contracts", "filings", "brokers", "subsidies", "calls"],
)
def test_every_domain_refuses_with_the_one_type(refuse, code):
    with pytest.raises(TransitionError) as exc:
        refuse()
    assert exc.value.code == code
