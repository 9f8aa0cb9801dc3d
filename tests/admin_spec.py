"""A ServiceSpec for the ttadmin tests (`--spec tests.admin_spec:spec`): the kernel tests' Tally
read model over the enrollment stream, and a "fussy" one that refuses `Poison` events until a
fix is recorded in the `admin_fixes` table (standing in for a deployed handler fix)."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from shared.envelope import Envelope
from shared.service import ServiceSpec
from tests.tally import PoisonError, Tally

TALLY, FUSSY = "admin_tally", "admin_fussy"
FIXES_DDL = "CREATE TABLE IF NOT EXISTS admin_fixes (event_type text PRIMARY KEY)"


class Fussy(Tally):
    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        if event.type == "Poison":
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM admin_fixes WHERE event_type = $1)", event.type):
                raise PoisonError(f"cannot apply {event.id}")
            event = replace(event, type="Counted")  # the fixed handler counts it
        await super().apply(conn, event)


spec = ServiceSpec(name="enrollment", title="ttadmin test", projections=[Tally(TALLY), Fussy(FUSSY)])
