"""POST /v1/reminders/short-of-hours: publish a TeacherShortOfHours for each teacher of an org's
subtree short of a target in a school year, once per (org, year, teacher) — a retry or a later
run publishes nothing for a teacher that org already reminded for that year. Decided by
domain/shortfall.py (shortfalls, decide_reminders) on the facts of queries/shortfall.py.

Runs for the same org and year queue on one advisory lock (the route names it), so a second
run sees the first's reminders instead of racing it to the same streams."""

from __future__ import annotations

from datetime import date

from services.credits.domain.policy import school_year_under
from services.credits.domain.shortfall import decide_reminders, reminder_stream
from services.credits.queries.policies import chain_and_book
from services.credits.queries.shortfall import short_teachers, targets
from services.credits.titles import problem
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork

_KNOWN_ORG = "SELECT EXISTS (SELECT 1 FROM org_tree WHERE code = $1)"
_REMINDED = "SELECT DISTINCT stream_id FROM events WHERE stream_id = ANY($1::text[])"


def lock_name(org_code: str, year: int) -> str:
    return f"credits-reminders-{org_code}-{year}"


async def handle(uow: UnitOfWork, org_code: str, year: int, today: date) -> Reply:
    if not await uow.conn.fetchval(_KNOWN_ORG, org_code):
        raise problem("org_not_found", f"no org {org_code} is known to the credits service", 404)
    chain, book = await chain_and_book(uow.conn, org_code)
    current_year = school_year_under(book.for_chain(chain, today), today)
    short = await short_teachers(uow.conn, await targets(uow.conn, org_code, year, today), year)
    reminded = {r["stream_id"] for r in await uow.conn.fetch(
        _REMINDED, [reminder_stream(org_code, year, t.teacher_id) for t in short])}
    decided = decide_reminders(short, org_code=org_code, year=year, current_year=current_year, today=today,
                               reminded=reminded)
    uow.record_many([(stream, NO_STREAM, events) for stream, events in decided])
    published = [events[0][1]["teacher_id"] for _, events in decided]
    return Reply(201 if published else 200, {
        "org_code": org_code, "year": year, "judged_on": today.isoformat(), "short": len(short),
        "published": len(published), "already_reminded": len(short) - len(published), "teacher_ids": published})
