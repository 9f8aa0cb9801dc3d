"""Read model: `funding_assessments`, the last FundingAssessed of each org and year with its
stream's version — what the assessor (handlers/assess.py) compares a fresh judgement with, and
the expected version of its next append on `assessment-<org_code>-<year>`.

Set-based: a policy publication can reassess every account of a province at once, so a run of
FundingAssessed is written in one statement (the same effect as one upsert per event, in order:
of several events for one account, the highest version wins).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shared.inline import InlineProjection, Pending

ASSESSMENTS = InlineProjection("funding_assessments", ("funding_assessments",))

_UPSERT = """
INSERT INTO funding_assessments (org_code, year, version, assessment)
SELECT DISTINCT ON (org_code, year) org_code, year, version, assessment
FROM unnest($1::text[], $2::int[], $3::int[], $4::jsonb[]) AS t(org_code, year, version, assessment)
ORDER BY org_code, year, version DESC
ON CONFLICT (org_code, year) DO UPDATE SET version = EXCLUDED.version, assessment = EXCLUDED.assessment
"""


@ASSESSMENTS.handles_many("FundingAssessed")
async def funding_assessed(conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
    await conn.execute(_UPSERT, [e.data["org_code"] for e in events], [e.data["year"] for e in events],
                       [e.version for e in events], [e.data for e in events])
