"""Password hashing (argon2) and opaque secrets for tokens and API keys."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(kind: str) -> str:
    """A bearer secret: 'mkt_t_…' for session tokens, 'mkt_k_…' for API keys."""
    return f"mkt_{kind[0]}_{secrets.token_urlsafe(32)}"


def secret_digest(secret: str) -> str:
    # Secrets are 256-bit random, so a fast digest is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()
