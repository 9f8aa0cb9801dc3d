"""Read model: `funding_policies`, every published version of every jurisdiction's funding
policy, as the read side judges by it (api/readmodel.py). `version` is the policy stream's
version of the publication that wrote the row — the policy version a published verdict names.
A correction (same effective date) replaces the row's shares and its version."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from shared.inline import InlineProjection

POLICIES = InlineProjection("funding_policies", ("funding_policies",))


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@POLICIES.handles("FundingPolicyPublished")
async def policy_published(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO funding_policies (jurisdiction_code, effective_from, school_public_funds_share,
               school_share_basis, district_payroll_share_min, district_payroll_share_max, pass_down_min, sources,
               version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (jurisdiction_code, effective_from) DO UPDATE SET
               school_public_funds_share = EXCLUDED.school_public_funds_share,
               school_share_basis = EXCLUDED.school_share_basis,
               district_payroll_share_min = EXCLUDED.district_payroll_share_min,
               district_payroll_share_max = EXCLUDED.district_payroll_share_max,
               pass_down_min = EXCLUDED.pass_down_min, sources = EXCLUDED.sources, version = EXCLUDED.version""",
        d["jurisdiction_code"], date.fromisoformat(d["effective_from"]), _dec(d["school_public_funds_share"]),
        d["school_share_basis"], _dec(d["district_payroll_share_min"]), _dec(d["district_payroll_share_max"]),
        _dec(d["pass_down_min"]), d["sources"], version)
