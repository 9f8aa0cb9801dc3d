"""The assessment reaction (issue 14: the owner of a rule publishes its verdicts): after a command
changed an account's figures or the policy judging it, funding records its verdict on each
account concerned as FundingAssessed on `assessment-<org_code>-<year>` — only when the verdict
differs from the last one recorded for that account (funding_assessments), so a redelivery, a
rebuild of the assessor or a change that judges the same publishes nothing.

Not an HTTP command: the assessor projection (projector/assessor.py) runs it in its consumer
transaction, beside its checkpoint, after the command committed. It judges the committed tables
as they are now, not as of the event: an event processed late assesses the current state, and
the later events that led there then find nothing new to publish. Each statement reads what was
committed when it ran; should a command commit between two of them, its own event reassesses
the account once it arrives.

One writer at a time: the kernel's Applier holds the projection's lock for the transaction, and
only the assessor appends to assessment streams, so the version read from funding_assessments
is the expected version of the append (a stale one would fail the append, and the batch retries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from services.funding.events import registry
from services.funding.handlers import STORE
from services.funding.judgement import assess, year_end
from shared.envelope import Envelope, Metadata, NewEvent
from shared.eventstore import NO_STREAM
from shared.inline import InlineProjection, new_events, project_and_append, take_inline_lock
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql

SERVICE_ACTOR = {"sub": "funding", "role": "service", "org": None}
Key = tuple[str, int]  # (org_code, year): one account, one assessment stream

# Every account, of every year, of the jurisdictions whose policy changed ($1 codes, $2 prefixes).
_SUBTREES = f"""
SELECT a.org_code, a.year, j.code AS jurisdiction
FROM unnest($1::text[], $2::text[]) AS j(code, prefix)
JOIN funding_accounts a ON {subtree_sql("a.org_code", "j.code", "j.prefix")}
"""
# The accounts to judge with their org's kind, and the last assessment recorded for each.
_FACTS = """
SELECT a.*, o.kind, s.version AS published_version, s.assessment AS published
FROM unnest($1::text[], $2::int[]) AS k(org_code, year)
JOIN funding_accounts a ON a.org_code = k.org_code AND a.year = k.year
LEFT JOIN orgs o ON o.code = a.org_code
LEFT JOIN funding_assessments s ON s.org_code = a.org_code AND s.year = a.year
ORDER BY a.org_code, a.year
"""


@dataclass(frozen=True)
class Cause:
    """The event an assessment reacts to, with the traceparent of the span applying it."""

    event: Envelope
    traceparent: str | None


def stream_of(key: Key) -> str:
    return f"assessment-{key[0]}-{key[1]}"


async def handle(conn: asyncpg.Connection, inline: Sequence[InlineProjection], accounts: Mapping[Key, Cause],
                 jurisdictions: Mapping[str, Cause]) -> None:
    """Reassess `accounts` (each with the event that touched it) and every account under
    `jurisdictions` (each with its policy publication); record the assessments that changed."""
    if not accounts and not jurisdictions:
        return
    # First, before reading anything: a rebuild of the inline tables (it holds this lock
    # exclusively) must neither run under us nor show us half-refilled accounts.
    await take_inline_lock(conn)
    causes = dict(accounts)
    if jurisdictions:
        roots = list(jurisdictions)
        for r in await conn.fetch(_SUBTREES, roots, [subtree_prefix(code) for code in roots]):
            causes.setdefault((r["org_code"], r["year"]), jurisdictions[r["jurisdiction"]])
    if not causes:
        return  # a policy for a jurisdiction without accounts
    keys = sorted(causes)
    rows = await conn.fetch(_FACTS, [k[0] for k in keys], [k[1] for k in keys])
    streams: list[tuple[str, int, list[NewEvent], Metadata]] = []
    for row, assessment in zip(rows, await assess(conn, rows), strict=True):
        key: Key = (row["org_code"], row["year"])
        data = {**assessment, "year": key[1], "judged_on": year_end(key[1]).isoformat()}
        if data == row["published"]:
            continue  # judged the same as last recorded: nothing to publish
        cause = causes[key]
        streams.append((stream_of(key), row["published_version"] or NO_STREAM,
                        new_events(registry, [("FundingAssessed", data)]),
                        Metadata.caused_by(cause.event, SERVICE_ACTOR, cause.traceparent)))
    if streams:
        await project_and_append(conn, STORE, inline, streams)
