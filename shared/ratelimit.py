"""A token bucket per client kept in PostgreSQL, so that every replica of a service draws on one
budget (issue 19: an in-process bucket gave a client N × the rate behind N replicas).

One statement per request: the row is refilled by the time since it was last touched, capped at
the burst, and a token is taken if there is one — under the row's lock, so concurrent requests on
any replica see each other. Time is the database's clock (one clock for all replicas) unless a
test injects one. Full buckets carry no information: every `prune_every` takes, rows idle long
enough to have refilled completely are deleted, which bounds the table by recent clients.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

_NOW = "extract(epoch FROM clock_timestamp())"
_TAKE = f"""
WITH t(now) AS (SELECT coalesce($5::double precision, {_NOW}))
INSERT INTO rate_buckets AS b (name, key, tokens, at, allowed)
SELECT $1, $2, $4 - 1, t.now, true FROM t
ON CONFLICT (name, key) DO UPDATE SET
    tokens = least($4, b.tokens + greatest(0, EXCLUDED.at - b.at) * $3)
             - CASE WHEN least($4, b.tokens + greatest(0, EXCLUDED.at - b.at) * $3) >= 1 THEN 1 ELSE 0 END,
    allowed = least($4, b.tokens + greatest(0, EXCLUDED.at - b.at) * $3) >= 1,
    at = greatest(b.at, EXCLUDED.at)
RETURNING allowed, tokens
"""
_PRUNE = f"DELETE FROM rate_buckets WHERE name = $1 AND at < coalesce($3::double precision, {_NOW}) - $2"


class PgTokenBucket:
    def __init__(self, pool: asyncpg.Pool, name: str, rate: float, burst: int,
                 clock: Callable[[], float] | None = None, prune_every: int = 1000) -> None:
        self.pool = pool
        self.name = name
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.prune_every = prune_every
        self._takes = 0

    async def take(self, key: str) -> float:
        """0.0 if allowed (one token taken), else the seconds until a token is available."""
        now = self.clock() if self.clock else None
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_TAKE, self.name, key, self.rate, float(self.burst), now)
            self._takes += 1
            if self._takes % self.prune_every == 0 and self.rate > 0:
                await conn.execute(_PRUNE, self.name, self.burst / self.rate, now)
        if row["allowed"]:
            return 0.0
        return (1.0 - row["tokens"]) / self.rate if self.rate > 0 else 60.0
