"""Tokens (random, >= 128 bits, stored as sha256 hashes) and the bad-token rate limiter."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

#: ``secrets.token_urlsafe(24)``: 24 random bytes = 192 bits.
TOKEN_BYTES = 24


def new_token() -> str:
    """A fresh random token (192 bits, URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the store keeps of a token: its sha256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class RateLimiter:
    """Counts failed logins per client; a client with ``limit`` failures within ``window``
    seconds is refused (HTTP 429) until the oldest failure leaves the window.

    >>> now = [0.0]
    >>> r = RateLimiter(limit=2, window=60, clock=lambda: now[0])
    >>> r.fail("a"); r.blocked("a"), r.blocked("b")
    (False, False)
    >>> r.fail("a"); r.blocked("a")
    True
    >>> now[0] = 61.0; r.blocked("a")
    False
    """

    def __init__(self, limit: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, client: str) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        cutoff = self._clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._prune(client)) >= self.limit

    def retry_after(self, client: str) -> int:
        with self._lock:
            q = self._prune(client)
            return max(1, int(q[0] + self.window - self._clock()) + 1) if q else 1

    def fail(self, client: str) -> None:
        with self._lock:
            self._prune(client).append(self._clock())
            if len(self._failures) > 10_000:  # forget quiet clients so the table stays small
                for key in [k for k, q in self._failures.items() if not q][:5_000]:
                    del self._failures[key]
