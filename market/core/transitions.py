"""State machines: the one transition error (with a stable code) and the one table lookup the domains' rules use.

A domain's `rules.py` keeps its table, {(status, action): new status}, and asks `next_status`; its service turns a
`TransitionError` into the HTTP error it answers with (usually `InvalidState(exc.message, code=exc.code)`).
Pure: no database, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping


class TransitionError(ValueError):
    """An action the state machine does not allow: `code` is stable (API clients see it), `message` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def next_status(
    table: Mapping[tuple[str, str], str], status: str, action: str, *, subject: str, code: str = "invalid_state"
) -> str:
    """The status after `action` on `subject` (e.g. "a contract") in `status`; TransitionError(code) if not allowed."""
    try:
        return table[(status, action)]
    except KeyError:
        raise TransitionError(code, f"cannot {action} {subject} that is {status}") from None
