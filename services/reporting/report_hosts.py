"""The host ranking and a project's obligations, as report documents (domain/ranking.py and
domain/obligations.py say how they are judged)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import asdict
from datetime import date
from fractions import Fraction
from typing import Any

import asyncpg

from services.reporting import queries, reads
from services.reporting.domain.obligations import (
    CASE,
    Delivery,
    bulletin_duty,
    close_out_duty,
    delivered_on_time,
    is_on_time,
    judged,
    on_time_count,
)
from services.reporting.domain.policy import Published, ReportingPolicy, policy_for
from services.reporting.domain.ranking import HostRecord, rank
from services.reporting.domain.rates import Figures, shown

# 004 §3.3: what the host hands in within 30 days of the end.
CLOSE_OUT_MATERIALS = ("优质课程资源", "优秀论文(案例)", "优质课件", "优秀教学设计", "学员作品", "考核不合格学员名单")
FORMULA = ("score = w_completion × completion_rate + w_satisfaction × satisfaction_rate + w_bulletins × "
           "bulletin_share + w_close_out × close_out_share; an undefined term adds 0; ties: completion, "
           "satisfaction, bulletin share, close-out share, host_id")


def policy_json(policy: ReportingPolicy) -> dict[str, Any]:
    doc = {k: (str(v) if not isinstance(v, int | str) else v) for k, v in asdict(policy).items()}
    doc.pop("effective_from")
    return doc


def host_cases(projects: list[asyncpg.Record], delivered: dict[uuid.UUID, list[Delivery]],
               book: list[Published]) -> dict[str, int]:
    """004 §3.3 "每个单位至少报送1个优秀工作案例": each host's excellent cases delivered on time,
    each judged against its own project's end and policy, summed over the projects given."""
    out: dict[str, int] = defaultdict(int)
    for p in projects:
        if p["host_id"] is not None:
            policy = policy_for(p["organizer_code"], p["ends_on"], book)
            out[str(p["host_id"])] += on_time_count(delivered.get(p["project_id"], []), CASE, p["ends_on"], policy)
    return out


async def ranking(conn: asyncpg.Connection, year: int, organizer: str | None, as_of: date,
                  only_host: str | None = None) -> dict[str, Any]:
    """Every host with a (non-cancelled) project of `year` organised in `organizer`'s subtree."""
    where = queries.Filter(year=year, organizer=organizer)
    book = await reads.published_policies(conn)
    policy = policy_for(organizer, date(year, 12, 31), book)
    figures = {r["key"]: Figures.of(r) for r in await queries.figures(conn, where, "host")}
    projects = [p for p in await reads.projects_of(conn, where) if p["host_id"] is not None]
    issued = await reads.bulletins(conn, [p["project_id"] for p in projects])
    delivered = await reads.deliveries(conn, [p["project_id"] for p in projects])
    cases = host_cases(projects, delivered, book)
    shares: dict[str, list[Fraction]] = defaultdict(list)
    close_shares: dict[str, list[Fraction]] = defaultdict(list)
    count: dict[str, int] = defaultdict(int)
    for p in projects:
        host = str(p["host_id"])
        count[host] += 1
        project_policy = policy_for(p["organizer_code"], p["ends_on"], book)
        duty = bulletin_duty(p["starts_on"], p["ends_on"], issued.get(p["project_id"], []), as_of, project_policy)
        if judged(duty, as_of):
            shares[host].append(duty.share)
        close = close_out_duty(p["ends_on"], delivered.get(p["project_id"], []), cases[host], as_of, project_policy)
        if judged(close, as_of):
            close_shares[host].append(close.share)
    records = [HostRecord(h, figures.get(h, Figures()), tuple(shares[h]), count[h], tuple(close_shares[h]))
               for h in count]
    names = await reads.host_names(conn)
    items = []
    for r in rank(records, policy):
        if only_host is not None and r.record.host_id != only_host:
            continue
        f = r.record.figures
        items.append({
            "rank": r.rank, "host_id": r.record.host_id, "name": names.get(r.record.host_id),
            "projects": r.record.projects, "checked_in": f.checked_in, "completed": f.completed,
            "completion_rate": shown(r.completion), "evaluations": f.evaluations, "satisfied": f.satisfied,
            "satisfaction_rate": shown(r.satisfaction),
            "satisfaction_target_met": None if r.satisfaction is None else r.satisfaction >= policy.satisfaction_target,
            "bulletin_projects": len(r.record.bulletin_shares), "bulletin_share": shown(r.bulletins),
            "close_out_projects": len(r.record.close_out_shares), "close_out_share": shown(r.close_out),
            "score": shown(r.score)})
    return {"year": year, "as_of": as_of, "organizer_code": organizer, "formula": FORMULA,
            "weights": {k: str(v) for k, v in policy.weights.items()}, "items": items, "next_cursor": None}


async def obligations(conn: asyncpg.Connection, p: asyncpg.Record, as_of: date, region: str | None) -> dict[str, Any]:
    """`region`: limit the figures and the failed list to this subtree (a reader from one region)."""
    pid: uuid.UUID = p["project_id"]
    policy = policy_for(p["organizer_code"], p["ends_on"], await reads.published_policies(conn))
    issues = (await reads.bulletins(conn, [pid])).get(pid, [])
    duty = bulletin_duty(p["starts_on"], p["ends_on"], issues, as_of, policy, cancelled=p["status"] == "cancelled")
    rows = await queries.figures(conn, queries.Filter(project_id=pid, region=region), "total")
    close = await _close_out(conn, p, as_of, policy)
    return {
        "project_id": str(pid), "code": p["code"], "name": p["name"], "level": p["level"], "category": p["category"],
        "year": p["year"], "host_id": None if p["host_id"] is None else str(p["host_id"]), "host_name": p["host_name"],
        "organizer_code": p["organizer_code"], "status": p["status"], "starts_on": p["starts_on"],
        "ends_on": p["ends_on"], "duration_days": duty.duration_days, "as_of": as_of, "region_code": region,
        "bulletins": {
            "required_min": duty.required_min, "required_max": duty.required_max, "due_by": duty.due_by,
            "delivered": duty.delivered, "on_time": duty.on_time, "status": duty.status,
            "issues": [{"issue_no": b.issue_no, "title": b.title, "published_on": b.published_on,
                        "received_on": b.received_on,
                        "on_time": is_on_time(b, p["ends_on"], policy)} for b in issues]},
        "close_out": close,
        "failed_learners": await reads.failed_learners(conn, pid, region),
        "figures": (Figures.of(rows[0]) if rows else Figures()).as_json(),
        "policy": policy_json(policy),
    }


async def _close_out(conn: asyncpg.Connection, p: asyncpg.Record, as_of: date, policy: ReportingPolicy
                     ) -> dict[str, Any]:
    """The project's close-out (004 §3.3): what was delivered, on time or not, and its two counts:
    course videos (this project's) and excellent cases (its host's, over the host's projects of
    the year)."""
    pid: uuid.UUID = p["project_id"]
    host = None if p["host_id"] is None else str(p["host_id"])
    year_projects = await reads.projects_of(conn, queries.Filter(year=p["year"], host_id=host)) if host else []
    delivered = await reads.deliveries(conn, list({pid, *(q["project_id"] for q in year_projects)}))
    cases = host_cases(year_projects, delivered, await reads.published_policies(conn)).get(host or "", 0)
    mine = delivered.get(pid, [])
    duty = close_out_duty(p["ends_on"], mine, cases, as_of, policy, cancelled=p["status"] == "cancelled")
    return {
        "due_by": duty.due_by, "passed": as_of > duty.due_by, "materials": list(CLOSE_OUT_MATERIALS),
        "min_cases": policy.close_out_min_cases, "min_course_videos": policy.close_out_min_course_videos,
        "status": duty.status, "delivered": duty.delivered,
        "course_videos": {"label": "每一子项目高品质课程视频资源", "required": duty.course_videos.required,
                          "on_time": duty.course_videos.on_time, "status": duty.course_videos.status},
        "cases": {"label": "每个单位优秀工作案例(本年度全部项目)", "required": duty.cases.required,
                  "on_time": duty.cases.on_time, "status": duty.cases.status},
        "items": [{"kind": d.kind, "kind_label": d.kind_label, "title": d.title, "count": d.count,
                   "reference": d.reference, "received_on": d.received_on,
                   "on_time": delivered_on_time(d, p["ends_on"], policy)} for d in mine],
    }
