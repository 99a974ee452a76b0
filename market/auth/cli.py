"""The actor of a command: `--as USERNAME`. What a command changes is checked and audited as that user's, exactly as
the same call through the API with their token."""

from __future__ import annotations

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.accounts.service import actor_for_user
from market.auth.actor import Actor

as_user = click.option(
    "--as",
    "username",
    required=True,
    metavar="USERNAME",
    help="the user who acts: their role decides what is allowed, and the audit log records them",
)


def actor_named(session: Session, username: str) -> Actor:
    """The actor of the user `username`; a usage error when there is none."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    if not user.is_active:
        raise click.ClickException(f"the user {username!r} is deactivated")
    return actor_for_user(session, user)
