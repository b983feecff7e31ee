"""Backoff for lookups: capped, jittered exponential, honouring Retry-After, bounded by a deadline.

Only lookups (and the refund check that follows an ambiguous refund) are retried: initiate has no
idempotency key at Khalti, so re-sending it could make a second payable link.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from khalti_cli.errors import GatewayError, GatewayRateLimited


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    base_ms: int = 250
    cap_ms: int = 8000
    max_retry_after_ms: int = 60_000

    def delay_ms(self, attempt: int, error: GatewayError, rng: random.Random) -> int:
        """Milliseconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        if isinstance(error, GatewayRateLimited) and error.retry_after is not None:
            return min(int(error.retry_after * 1000), self.max_retry_after_ms)
        ceiling = min(self.cap_ms, self.base_ms * 2 ** (attempt - 1))
        return rng.randint(ceiling // 2, ceiling)  # "equal jitter": never zero, never above the cap

    def next_wait(self, attempt: int, error: GatewayError, rng: random.Random, deadline: float | None) -> float | None:
        """Seconds to wait before trying again, or None to give up (attempts or deadline spent)."""
        if attempt >= self.attempts or not getattr(error, "retryable", True):
            return None
        wait = self.delay_ms(attempt, error, rng) / 1000
        if deadline is not None and time.monotonic() + wait > deadline:
            return None
        return wait


NO_RETRY = RetryPolicy(attempts=1)
