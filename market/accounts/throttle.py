"""Login and registration throttling (the `limits` library), counted in the stack's Redis.

Where Redis is configured (`MARKET_REDIS_URL`: production, and `./dev serve`, which sets it to its own
Redis) every API process shares the counts; where none is configured the counts live in this process's
memory. If Redis fails mid-run the process falls back to memory too, rather than letting logins 500.
"""

from __future__ import annotations

import logging
import math
import time
from typing import cast

from fastapi import Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from market.core.config import get_settings
from market.core.errors import TooManyRequests

log = logging.getLogger(__name__)


def storage_uri(redis_url: str) -> str:
    """The limits storage URI for a Redis URL; kombu's unix-socket spelling `redis+socket://` becomes `redis+unix://`."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("redis+socket://"):
        return "redis+unix://" + redis_url.removeprefix("redis+socket://")
    return redis_url


class Throttle:
    """Moving-window counters for login failures (per username and per client address) and registrations."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.uri = storage_uri(redis_url)
        storage: Storage = (
            cast(Storage, storage_from_string(self.uri, key_prefix=prefix, wrap_exceptions=True))  # a sync URI
            if self.uri != "memory://"
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.prefix = prefix
        settings = get_settings()
        self.per_username = parse(settings.login_failures_per_username)
        self.per_address = parse(settings.login_failures_per_address)
        self.registrations = parse(settings.registrations_per_address)

    @property
    def backend(self) -> str:
        return type(self.limiter.storage).__name__

    def _fall_back(self, exc: Exception) -> None:
        log.warning("throttle storage %s failed (%s); counting in memory from now on", self.uri, exc)
        self.uri, self.limiter = "memory://", MovingWindowRateLimiter(MemoryStorage())

    def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        reset = self.limiter.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _refuse_if_spent(self, checks: list[tuple[RateLimitItem, tuple[str, ...]]], message: str) -> None:
        for attempt in range(2):
            try:
                waits = [self._retry_after(item, *ids) for item, ids in checks if not self.limiter.test(item, *ids)]
                break
            except StorageError as exc:
                if attempt:
                    raise
                self._fall_back(exc)
        if waits:
            raise TooManyRequests(message, retry_after=max(waits))

    def _hit(self, checks: list[tuple[RateLimitItem, tuple[str, ...]]]) -> None:
        try:
            for item, ids in checks:
                self.limiter.hit(item, *ids)
        except StorageError as exc:
            self._fall_back(exc)
            for item, ids in checks:
                self.limiter.hit(item, *ids)

    def _login_checks(self, username: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        return [
            (self.per_username, ("login-user", username.strip().lower())),
            (self.per_address, ("login-addr", address)),
        ]

    def check_login(self, username: str, address: str) -> None:
        """Refuse (429 with Retry-After) while the username or the address has spent its failures."""
        self._refuse_if_spent(self._login_checks(username, address), "too many failed logins; try again later")

    def login_failed(self, username: str, address: str) -> None:
        self._hit(self._login_checks(username, address))

    def registration(self, address: str) -> None:
        """Count a registration attempt from `address`; refuse it (429) once the address has spent its quota."""
        checks: list[tuple[RateLimitItem, tuple[str, ...]]] = [(self.registrations, ("register-addr", address))]
        self._refuse_if_spent(checks, "too many registrations from this address; try again later")
        self._hit(checks)


def client_address(request: Request) -> str:
    # The peer address; behind a reverse proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips
    # so that this is the client's and not the proxy's.
    return request.client.host if request.client else "unknown"


def get_throttle(request: Request) -> Throttle:
    """The application's throttle, made on first use for the settings in force."""
    settings = get_settings()
    key = (
        settings.redis_url,
        settings.rate_limit_prefix,
        settings.login_failures_per_username,
        settings.login_failures_per_address,
        settings.registrations_per_address,
    )
    throttle = getattr(request.app.state, "throttle", None)
    if throttle is None or getattr(request.app.state, "throttle_key", None) != key:
        throttle = Throttle(settings.redis_url, settings.rate_limit_prefix)
        request.app.state.throttle, request.app.state.throttle_key = throttle, key
    return throttle
