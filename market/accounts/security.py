"""Password hashing (argon2), the password policy (zxcvbn) and opaque secrets for tokens and API keys."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Checked when the user is unknown, disabled or has no password, so that a login costs one argon2
# verification whether or not the username exists (no timing oracle for usernames).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))

MIN_PASSWORD_LENGTH = 10
# Longer passwords are refused outright: no one types them, and they only cost hashing time.
MAX_PASSWORD_LENGTH = 1024
# zxcvbn's score (0-4) a new password must reach: 3 is "safely unguessable" against an offline slow-hash attack.
MIN_PASSWORD_SCORE = 3
# zxcvbn's own input limit; a longer password is judged by its first characters (never stronger than the whole).
_ZXCVBN_MAX = 72


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Does `password` match? Always one argon2 verification, even without a hash to check against."""
    try:
        ok = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and password_hash is not None


def password_problem(password: str, user_inputs: list[str]) -> tuple[str, str] | None:
    """Why a new password is refused, as (code, message), or None when it is acceptable."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return "password_too_long", f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if len(password) < MIN_PASSWORD_LENGTH:
        return "weak_password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_PASSWORD_SCORE:
        feedback = result["feedback"]
        hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or []) or "it is easy to guess"
        return "weak_password", f"password is too easy to guess: {hint}"
    return None


API_KEY_PREFIX = "mkt_a_"


def new_secret(kind: str) -> str:
    """A bearer secret: 'mkt_t_…' for session tokens, 'mkt_a_…' for API keys, 'mkt_r_…' for password resets."""
    return f"mkt_{kind[0]}_{secrets.token_urlsafe(32)}"


def secret_digest(secret: str) -> str:
    # Secrets are 256-bit random, so a fast digest is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()
