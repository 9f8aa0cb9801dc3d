"""Guards: the facts that make the cross-stream selection rules race-free, written from the
events in the command's transaction (shared/inline.py) and read by the handlers under a lock.
They hold facts, never decisions: the rules are in domain/ (nomination.py, selection.py,
project_refs.py), and nothing here refuses.

| table              | fact                                              | read for (domain/)                   |
| project_quotas     | a region's places in a project and how many used; | nomination.check_places_left,        |
|                    | a city's places split to its counties (`split`),  | project_refs.decide_quota,           |
|                    | a county's city it was split from (`split_from`)  | quota_split.decide_split             |
| national_slots     | a teacher's national enrollment of a year (one    | selection.check_national_history     |
|                    | row per year a cross-year project spans)          |                                      |
| national_attended  | national categories a teacher checked in to, and  | selection.check_national_history     |
|                    | whether that project was cross-year               | (is_category_repeat)                 |
| national_bars      | a no-show's bar, years from..until                | selection.check_not_barred           |
| project_nominees   | who holds a live place in a project               | nomination.check_one_place_per_project |
| project_codes      | project codes taken                               | project_refs.decide_new_project      |
| vacancies_filled   | a no-show's place taken by a substitute           | nomination.check_vacancy             |
| check_in_codes_used| check-in codes an enrollment redeemed             | enrollment.decide_check_in           |

Locks, always taken in this order (a handler takes a prefix of it, never a later one first):
1. `project-code:<code>` (drafting), an advisory xact lock: drafts of one code queue here and
   the next one's facts query sees the first one's code in project_codes;
2. `teacher:<id>`, an advisory xact lock, by every command that adds to a teacher's rows above:
   nominate and replace (the nominee), check-in (national_attended), no-show (national_bars).
   Freeing takes none (a withdrawal; a replacement, for the teacher replaced): it only widens
   what others may do, and a nomination that read a row before it was freed is refused as if
   it came first;
3. the project_quotas row, FOR UPDATE inside the facts query of a quota allocation: it reads
   `used` as the last nomination committed it. A city's split (handlers/split_quota.py) locks the
   city's row, then, by a later statement, its county's. A nomination reads the row without a lock and
   writes `used + 1` in the COMMIT's own message (shared/inline.py `at_commit`), so nominations of
   one region hold the row only while that message runs: not across the round trip between the
   command's write and its COMMIT, where they queued before (docs/benchmarks.md).
Locks 1 and 2 are taken before the facts query, by a statement of their own or, when the route
names them up front, in the command's first statement (shared/unit_of_work.py): under READ
COMMITTED the query's snapshot then includes whatever the lock's previous holder committed.
Check-in and no-show read nothing the teacher's lock guards; they take it in their load query,
before their writes, which is all the lock must precede there. Lock 3 is taken by
the facts query itself, and FOR UPDATE returns the row as its previous holder committed it.
The primary keys and the CHECK on `used` (≤ places) are backstops: one firing means another
command committed the same fact first; the kernel runs the command again on the facts as they now
stand, where the domain decides (shared/unit_of_work.py).
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from services.enrollment.domain.selection import DEFAULT_RULES, NationalHistory
from shared.inline import InlineProjection, at_commit
from shared.unit_of_work import UnitOfWork

GUARDS = InlineProjection("enrollment_guards", ("project_quotas", "national_slots", "national_attended",
                                               "national_bars", "project_nominees", "project_codes",
                                               "vacancies_filled", "check_in_codes_used"))


def lock_name(kind: Literal["project-code", "teacher"], key: object) -> str:
    """The name of lock 1 or 2 of the order above: for `uow.lock`, or for a route to name it up
    front (`cmd.run(..., locks=[...])`) so the command's first statement takes it."""
    return f"{kind}:{key}"


async def lock(uow: UnitOfWork, kind: Literal["project-code", "teacher"], key: object) -> None:
    """Lock 1 or 2 of the order above, until the transaction ends (no round trip if held)."""
    await uow.lock(lock_name(kind, key))


# The candidate teacher's side of the selection facts, as columns of a handler's facts query
# whose $1 is the project and $2 the teacher; read after lock(conn, "teacher", ...).
CANDIDATE_FACTS = """
    EXISTS (SELECT 1 FROM project_nominees WHERE project_id = $1 AND teacher_id = $2) AS in_project,
    ARRAY(SELECT year FROM national_slots WHERE teacher_id = $2) AS slot_years,
    ARRAY(SELECT DISTINCT category FROM national_attended WHERE teacher_id = $2) AS categories,
    ARRAY(SELECT category FROM national_attended WHERE teacher_id = $2
          GROUP BY category HAVING bool_and(cross_year)) AS continuing,
    ARRAY(SELECT from_year FROM national_bars WHERE teacher_id = $2 ORDER BY from_year, until_year) AS bars_from,
    ARRAY(SELECT until_year FROM national_bars WHERE teacher_id = $2 ORDER BY from_year, until_year) AS bars_until
"""


def national_history(row: asyncpg.Record) -> NationalHistory:
    return NationalHistory(frozenset(row["slot_years"]), frozenset(row["categories"]),
                           tuple(zip(row["bars_from"], row["bars_until"], strict=True)),
                           continuing_categories=frozenset(row["continuing"]))


@GUARDS.handles("ProjectDrafted")
async def _code_taken(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO project_codes (code, project_id) VALUES ($1, $2)", d["code"], d["project_id"])


@GUARDS.handles("QuotaAllocated")
async def _places(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO project_quotas (project_id, region_code, places) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, region_code) DO UPDATE
           SET places = CASE WHEN project_quotas.split_from IS NULL THEN EXCLUDED.places ELSE -1 END""",
        # -1, a backstop (both append to the project's stream): a county's row its city split
        # meanwhile; the CHECK fires and the command runs again on the facts as they then stand.
        d["project_id"], d["region_code"], d["places"])


@GUARDS.handles("QuotaSplit")
async def _split(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # 004 §2.2: the county's places come out of its city's; the city's row keeps the total given.
    await conn.execute(
        """WITH before AS (SELECT places FROM project_quotas WHERE project_id = $1 AND region_code = $3),
                city AS (UPDATE project_quotas SET split = split - coalesce((SELECT places FROM before), 0) + $4
                         WHERE project_id = $1 AND region_code = $2)
           INSERT INTO project_quotas (project_id, region_code, places, split_from) VALUES ($1, $3, $4, $2)
           ON CONFLICT (project_id, region_code) DO UPDATE
           SET places = CASE WHEN project_quotas.split_from = $2 THEN EXCLUDED.places ELSE -1 END""",
        # -1, a backstop as above: the organizer allocated the county meanwhile.
        d["project_id"], d["city_code"], d["region_code"], d["places"])


# A nomination holds its region's quota row only in its COMMIT's message (at_commit); each guard
# writes its other rows in one statement, one round trip.

@GUARDS.handles("TeacherNominated")
async def _nominated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # A substitute (substitute_for) takes the no-show's place: no place of the quota of its own.
    # A national place holds one slot a year from `year` to `until_year` (a cross-year project's
    # every year, selection.national_years; events without it: the one year).
    substitute_for = d.get("substitute_for")
    await conn.execute(
        """WITH place AS (INSERT INTO project_nominees (project_id, teacher_id, enrollment_id) VALUES ($1, $2, $3)),
                vacancy AS (INSERT INTO vacancies_filled (enrollment_id, substitute_id)
                            SELECT $7::uuid, $3 WHERE $7::uuid IS NOT NULL)
           INSERT INTO national_slots (teacher_id, year, enrollment_id, category, cross_year)
           SELECT $2, y, $3, $5, $9 FROM generate_series($4::int, greatest($4::int, $8::int)) AS y
           WHERE $6::boolean""",
        d["project_id"], d["teacher_id"], d["enrollment_id"], d["year"], d["category"],
        DEFAULT_RULES.is_national(d["level"]), substitute_for, d.get("until_year", d["year"]),
        bool(d.get("cross_year", False)))
    if substitute_for is None:
        # The region's row, which every nomination of the region writes: in COMMIT's own message.
        await at_commit(conn, "UPDATE project_quotas SET used = used + 1 WHERE project_id = $1::uuid "
                              "AND region_code = $2", d["project_id"], d["region_code"])


@GUARDS.handles("NomineeReplaced")
async def _replaced(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # 换人: the place, and with it the national slots of every year it spans, pass to the new teacher.
    await conn.execute(
        """WITH place AS (UPDATE project_nominees SET teacher_id = $2 WHERE enrollment_id = $1)
           UPDATE national_slots SET teacher_id = $2 WHERE enrollment_id = $1""",
        d["enrollment_id"], d["teacher_id"])


@GUARDS.handles("EnrollmentWithdrawn")
async def _withdrawn(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # The place goes back to the region, and the teacher may be nominated elsewhere in its years.
    await conn.execute(
        """WITH place AS (DELETE FROM project_nominees WHERE enrollment_id = $1),
                slot AS (DELETE FROM national_slots WHERE enrollment_id = $1)
           UPDATE project_quotas SET used = used - 1 WHERE project_id = $2 AND region_code = $3""",
        d["enrollment_id"], d["project_id"], d["region_code"])


@GUARDS.handles("TeacherCheckedIn")
async def _attended(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # A national enrollment holds its slot until checked in and after (only a withdrawal, before
    # check-in, frees it), so the slot names the category attended; others have no slot.
    # A check-in by code (扫码报到) also keeps the code's nonce, for `code_replayed`.
    await conn.execute(
        """WITH code AS (INSERT INTO check_in_codes_used (nonce, enrollment_id)
                         SELECT $3, $1 WHERE $3::text IS NOT NULL ON CONFLICT DO NOTHING)
           INSERT INTO national_attended (teacher_id, category, project_id, cross_year)
           SELECT DISTINCT teacher_id, category, $2::uuid, cross_year FROM national_slots WHERE enrollment_id = $1
           ON CONFLICT DO NOTHING""", d["enrollment_id"], d["project_id"], d.get("code_nonce"))


@GUARDS.handles("NoShowRecorded")
async def _barred(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # The slot stays taken (the year's 国培 place was used). The bar's first year is in the event;
    # events recorded before it was (issue 15) barred from the slot's own year.
    if d.get("barred_until_year") is not None:
        await conn.execute(
            """INSERT INTO national_bars (teacher_id, from_year, until_year, enrollment_id)
               SELECT teacher_id, coalesce($3, min(year)), $2, enrollment_id FROM national_slots
               WHERE enrollment_id = $1 GROUP BY teacher_id, enrollment_id""",
            d["enrollment_id"], d["barred_until_year"], d.get("barred_from_year"))


@GUARDS.handles("NoShowExcused")
async def _excused(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # A special reason attached later lifts the bar (004 四.1); it only widens what others may do.
    await conn.execute("DELETE FROM national_bars WHERE enrollment_id = $1", d["enrollment_id"])
