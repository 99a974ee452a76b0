"""`./dev serve --demo` only: the demo's console users get one known password, printed at start.

Demo organisations' administrators keep no password (nobody logs in as a firm); the bureau's and the experts'
demo users (usernames `demo-…` with a console role) can then open /console. `market demo-data` never does this.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts import security
from market.accounts import service as accounts
from market.accounts.models import User
from market.console.auth import CONSOLE_ROLES
from market.core import audit

DEMO_PASSWORD = "demo-console-2026"
ROLE_NAMES = {
    "bureau_admin": "科技局管理员",
    "registrar": "登记员",
    "programme_officer": "项目主管",
    "expert": "评审专家",
}


def enable_console_logins(session: Session) -> list[tuple[str, str, str]]:
    """Give every demo console user the demo password (once); returns (username, name, role) for the banner."""
    users = session.scalars(
        sa.select(User)
        .where(User.username.like("demo-%"), User.role.in_([r.value for r in CONSOLE_ROLES]))
        .order_by(User.role, User.username)
    ).all()
    for user in users:
        if user.password_hash and security.verify_password(user.password_hash, DEMO_PASSWORD):
            continue  # set at an earlier start: keep its sessions
        accounts._set_password(session, user, DEMO_PASSWORD, "password")
        audit.record(session, entity_type="user", entity_id=user.id, action="demo_password", actor=None)
    return [(u.username, u.display_name, ROLE_NAMES.get(u.role, u.role)) for u in users]


def banner(logins: list[tuple[str, str, str]]) -> str:
    if not logins:
        return "console: no demo console users"
    lines = [f"console (控制台): /console/ on the API's address below — demo users, password '{DEMO_PASSWORD}':"]
    lines += [f"  {username:<24} {name}（{role}）" for username, name, role in logins]
    return "\n".join(lines)
