"""`make demo`: a synthetic but realistic province loaded into a running `make run` stack through the
public HTTP API, so the dashboard has something to show.

    python -m bench.demo                       # 20,000 teachers, ~200 schools, 2023–2025学年
    python -m bench.demo --teachers 2000       # smaller (the browser test uses ~600)

What it loads: the org tree (province → 4 cities → 20 counties → ~200 schools), every county's roster
as CSV (roster import), six host institutions, the credits and funding policies, and for each of
three school years (2023学年 = 2023-09-01…2024-08-31, …) the projects at four levels (国培, 省培,
a 市培 per city, a 县培 per county) with quotas; nominations by county admins, a few withdrawals,
check-ins by the teachers, no-shows, attendance sheets uploaded by hosts (attendance import), final
assessments for 90-hour projects, failures and completions, evaluations, bulletins; school-based
hours claimed and approved; budgets, allocations, disbursements and settlements per county.

Past school years through the public API: the stack runs in the dev profile (DEV_PROFILE=1, set by
`make run`), where commands honour an `X-Dev-Today` header as the calendar day (shared/clock.py);
each call names the day it would have happened on. Without the dev profile the header is ignored
and the load is refused up front.

Idempotent: every POST carries an Idempotency-Key derived from what it does (uuid5), every PUT is
an upsert of the same body, ids are derived the same way; and before loading, the expected figures
are compared with the reporting API's, so a second run adds nothing and says so. A run that was
interrupted resumes (within the services' idempotency retention, a week by default).

At the end it waits until reporting has applied every event and checks its figures per project
year against what it loaded (`--no-verify` skips that).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.province_data import CATEGORIES, SUBJECTS, County, Province, build_province, roster_csv
from shared.devkeys import ensure_dev_keys, mint_token
from shared.settings import DEFAULT_DATA_DIR

NS = uuid.UUID("6c1f4f0e-5d0b-4a53-9a55-6d656d6f0001")  # the demo's uuid5 namespace
HOSTS = ("示范师范大学", "示范省教育学院", "示范省教师发展中心", "示范省电化教育馆", "第一师范学院",
         "师范大学附属实验中学")
# (level, hours, days)
LEVELS = {"national": (90, 10), "provincial": (60, 7), "municipal": (30, 5), "county": (24, 3)}
LEVEL_WEIGHTS = (("national", 0.06), ("provincial", 0.16), ("municipal", 0.3), ("county", 0.48))
MONTHS = (9, 10, 11, 3, 4, 5, 6, 7)  # term time: no projects over the winter and summer holidays
FIRST_SCHOOL_YEAR = 2023
# What reporting's rates per project year must show once everything is loaded (the last phase
# records the evaluations, so these match only after a complete load).
FIELDS = ("quota", "nominated", "checked_in", "completed", "failed", "no_show", "withdrawn", "evaluations",
          "satisfied")
SCHOOL_YEARS = 3


CITIES = ("东川市", "西岭市", "南江市", "北原市", "清河市", "安平市", "长丰市", "临海市", "云州市", "白石市")
PLACES = ("城关", "新城", "河东", "山阳", "石泉", "柳林", "白水", "青川", "龙门", "桃源", "云台", "松溪", "平湖",
          "金川", "长宁", "安定", "永和", "丰泽", "东坡", "西峡", "临江", "梅山", "兴隆", "宝塔", "黄龙", "洛南")


def _rename(province: Province) -> None:
    """Place names a reader can tell apart (the bench's are 合成省一市一区…)."""
    names = {}
    for i, (code, old) in enumerate(province.cities):
        names[old] = CITIES[i] if i < len(CITIES) else old.replace("合成省", "")
        province.cities[i] = (code, names[old])
    for k, county in enumerate(province.counties):
        old = county.name
        place = PLACES[k] if k < len(PLACES) else f"{PLACES[k % len(PLACES)]}{k // len(PLACES) + 1}"
        county.name = place + old[-1]  # 区, 县 or 市 as the code says
        county.schools = [(code, county.name + name[len(old):], stage) for code, name, stage in county.schools]


def _hired_by(roster: bytes, latest: str) -> bytes:
    """The bench roster with every hiring date on or before `latest` (the roster is loaded as of then)."""
    rows = list(csv.reader(io.StringIO(roster.decode())))
    col = rows[0].index("hired_on")
    for row in rows[1:]:
        row[col] = min(row[col], latest)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def _shape(error: str) -> tuple[str, str]:
    """"POST /v1/enrollments/<id>/complete → 409 …" → ("POST /v1/enrollments/{id}/complete", "409")."""
    call, _, rest = error.partition(" → ")
    path = "/".join("{id}" if len(part) >= 9 and any(ch.isdigit() for ch in part) else part
                    for part in call.split("/"))
    return path, rest[:3]


def key(*parts: object) -> str:
    return str(uuid.uuid5(NS, ":".join(map(str, parts))))


class Progress:
    """One line per phase: a bar redrawn in place on a terminal, every 10 % otherwise."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()
        self.name, self.total, self.done, self.shown, self.t0 = "", 0, 0, -1, 0.0

    def start(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.shown, self.t0 = name, max(total, 1), 0, -1, time.monotonic()
        self._draw()

    def step(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def _draw(self) -> None:
        share = min(self.done / self.total, 1.0)
        tenth = int(share * 4)  # off a terminal: at 0, 25, 50, 75 and 100 %
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        took = time.monotonic() - self.t0
        line = f"{self.name:<28} {bar} {share * 100:5.1f}% {self.done:>6}/{self.total:<6} {took:5.1f}s"
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=self.stream, flush=True)

    def finish(self) -> None:
        self.done = self.total
        self._draw()
        if self.tty:
            print(file=self.stream, flush=True)


@dataclass
class Plan:
    school_year: int
    index: int
    level: str
    organizer: str
    approver: str
    host: int
    name: str
    category: str
    hours: int
    days: int
    regions: list[str]
    starts_on: date
    id: str = ""
    places: dict[str, int] = field(default_factory=dict)
    quota: dict[str, int] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return f"DEMO-{self.school_year}-{self.index:03d}"

    @property
    def ends_on(self) -> date:
        return self.starts_on + timedelta(days=self.days - 1)

    @property
    def year(self) -> int:
        return self.starts_on.year


@dataclass
class Pick:
    teacher: int
    plan: Plan
    county: str
    outcome: str  # W withdrawn, N no-show, F failed, C completed
    evaluates: bool
    satisfied: bool
    enrollment_id: str = ""


def plans_for(province: Province, school_year: int, hosts: int, rng: random.Random) -> list[Plan]:
    counties = [c.code for c in province.counties]
    out: list[Plan] = []

    def when(k: int, days: int) -> date:
        month = MONTHS[(k * 3 + school_year) % len(MONTHS)]
        year = school_year + (month < 9)
        return date(year, month, 3 + (k * 7 + school_year) % 10)

    def add(level: str, organizer: str, approver: str, name: str, category: str, regions: list[str]) -> None:
        hours, days = LEVELS[level]
        k = len(out)
        out.append(Plan(school_year, k, level, organizer, approver, k % hosts, name, category, hours, days, regions,
                        when(k, days)))

    for i in range(2):
        add("national", province.code, province.code, f"{school_year}学年国培计划·{CATEGORIES[i]}", CATEGORIES[i],
            counties)
    for i in range(3):
        subject = SUBJECTS[(school_year + i) % len(SUBJECTS)]
        add("provincial", province.code, province.code, f"{school_year}学年省培计划·{subject}学科骨干教师培训",
            "学科骨干教师培训", counties)
    for city, name in province.cities:
        add("municipal", city, province.code, f"{name}{school_year}学年骨干教师培训", "市级骨干教师培训",
            [c.code for c in province.counties if c.city == city])
    for county in province.counties:
        add("county", county.code, county.city, f"{county.name}{school_year}学年教师全员培训", "县级全员培训",
            [county.code])
    return out


def picks_for(province: Province, plans: list[Plan], teachers: list[int], count: int, rng: random.Random,
              county_bias: dict[str, float]) -> list[Pick]:
    """`count` of `teachers` (each once in the year), each in one project open to their county."""
    by_level: dict[str, list[Plan]] = {}
    for p in plans:
        by_level.setdefault(p.level, []).append(p)
    levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
    out = []
    for t in rng.sample(teachers, min(count, len(teachers))):
        county = province.county_of(t)
        plan = rng.choice([p for p in by_level[rng.choices(levels, weights)[0]] if county.code in p.regions])
        plan.places[county.code] = plan.places.get(county.code, 0) + 1
        bias = county_bias[county.code]  # some counties do better than others
        roll = rng.random()
        outcome = ("W" if roll < 0.02 else "N" if roll < 0.02 + 0.06 * bias else
                   "F" if roll < 0.04 + 0.06 * bias + 0.02 else "C")
        evaluates = outcome == "C" and rng.random() < 0.4
        out.append(Pick(t, plan, county.code, outcome, evaluates, rng.random() < 0.97 - 0.1 * bias))
    for p in plans:  # places as nominated plus some spare: the selection rates vary by county
        for region in p.regions:
            n = p.places.get(region, 0)
            p.quota[region] = n + int(n * (0.05 + 0.3 * county_bias[region])) + 1
    return out


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.province = build_province(args.province, args.teachers, args.cities, args.counties, args.school_size)
        self.province.name = args.province_name
        _rename(self.province)
        self.keys = ensure_dev_keys(args.data_dir / "keys").parent
        self.urls = {"enrollment": args.enrollment_url, "credits": args.credits_url, "funding": args.funding_url,
                     "reporting": args.reporting_url}
        self.tokens: dict[tuple[str, str | None, str | None], str] = {}
        self.hosts = [key("host", i) for i in range(len(HOSTS))]
        self.bias = {c.code: self.rng.random() for c in self.province.counties}
        self.teacher_ids: list[str] = [""] * args.teachers
        self.progress = Progress()
        self.errors: list[str] = []
        self.http: httpx.AsyncClient
        years = list(range(args.first_school_year, args.first_school_year + args.school_years))
        everyone = list(range(args.teachers))
        self.rng.shuffle(everyone)
        self.plans: list[Plan] = []
        self.picks: list[Pick] = []
        per_year = max(1, round(args.teachers * args.enroll_fraction))
        for n, sy in enumerate(years):
            plans = plans_for(self.province, sy, len(self.hosts), self.rng)
            # Each school year draws from its own third of the teachers: no one meets the 国培 limits
            # (one a year, the three-year bar after a no-show) by accident.
            pool = everyone[n::len(years)]
            self.picks += picks_for(self.province, plans, pool, per_year, self.rng, self.bias)
            self.plans += plans

    # ---- plumbing -------------------------------------------------------------------------------

    def token(self, role: str, org: str | None = None, sub: str | None = None) -> str:
        k = (role, org, sub)
        if k not in self.tokens:
            self.tokens[k] = mint_token(self.keys, role, org=org, sub=sub, ttl_s=6 * 3600)
        return self.tokens[k]

    async def call(self, method: str, service: str, path: str, token: str, *, body: Any = None,
                   csv_body: bytes | None = None, on: date | None = None, idem: str | None = None,
                   ok: Iterable[int] = ()) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {token}"}
        if on is not None:
            headers["X-Dev-Today"] = on.isoformat()
        if method == "POST":
            headers["Idempotency-Key"] = idem or key(method, path, body)
        content = csv_body
        if csv_body is not None:
            headers["Content-Type"] = "text/csv"
        for attempt in range(8):
            try:
                r = await self.http.request(method, self.urls[service] + path, headers=headers, json=body,
                                            content=content)
            except httpx.TransportError as exc:
                if attempt == 7:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
                self.last = str(exc)
                continue
            if r.status_code in (409, 503) and b"concurrency_conflict" in r.content or r.status_code == 503:
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            break
        if r.status_code < 300 or r.status_code in ok:
            return r.json() if r.content and r.headers.get("content-type", "").endswith("json") else None
        self.errors.append(f"{method} {path} → {r.status_code} {r.text[:300]}")
        if len(self.errors) <= 3 or self.args.verbose:
            print(f"\n[demo] {self.errors[-1]}", file=sys.stderr, flush=True)
        return None

    async def each(self, name: str, items: list[Any], work: Callable[[Any], Awaitable[None]],
                   concurrency: int | None = None) -> None:
        self.progress.start(name, len(items))
        it = iter(items)

        async def worker() -> None:
            for item in it:
                await work(item)
                self.progress.step()

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency or self.args.concurrency, len(items))))))
        self.progress.finish()

    # ---- what a province does -------------------------------------------------------------------

    async def orgs(self) -> None:
        pv, prov = self.province, self.token("province_admin", self.province.code)
        top = [(pv.code, pv.name, "province", None)] + [(c, n, "city", pv.code) for c, n in pv.cities]
        top += [(c.code, c.name, "county", c.city) for c in pv.counties]
        schools = [(code, name, "school", c.code) for c in pv.counties for code, name, _ in c.schools]

        async def put(row: tuple[str, str, str, str | None]) -> None:
            code, name, kind, parent = row
            await self.call("PUT", "enrollment", f"/v1/orgs/{code}", prov,
                            body={"name": name, "kind": kind, "parent_code": parent})

        await self.each("机构 orgs (上级)", top, put, 1)
        await self.each("机构 orgs (学校)", schools, put)
        await self.each("承办单位 hosts", list(zip(self.hosts, HOSTS, strict=True)), lambda h: self.call(
            "PUT", "enrollment", f"/v1/hosts/{h[0]}", prov, body={"name": h[1], "province_code": pv.code}))

    async def roster(self) -> None:
        chunks: list[tuple[County, range]] = []
        for county in self.province.counties:
            r = county.teachers
            for lo in range(r.start, r.stop, 2500):
                chunks.append((county, range(lo, min(r.stop, lo + 2500))))

        async def upload(chunk: tuple[County, range]) -> None:
            county, rows = chunk
            body = _hired_by(roster_csv(self.province, county, rows), f"{FIRST_SCHOOL_YEAR}-08-01")
            doc = await self.call("POST", "enrollment", "/v1/teachers/import", self.token("county_admin", county.code),
                                  csv_body=body, idem=key("roster", county.code, rows.start, rows.stop),
                                  on=date(FIRST_SCHOOL_YEAR, 8, 20))
            if doc is not None:
                self.teacher_ids[rows.start:rows.stop] = doc["teacher_ids"]

        await self.each("教师名册 roster import", chunks, upload, 2)

    async def policies(self) -> None:
        code = self.province.code
        prov = self.token("province_admin", code)
        await self.call("PUT", "credits", f"/v1/policies/{code}", prov, body={
            "effective_from": f"{FIRST_SCHOOL_YEAR - 2}-01-01", "cycle_years": 5,
            "cycle_start_year": FIRST_SCHOOL_YEAR - 2, "cycle_hours": 360, "annual_hours": 72,
            "hours_per_credit": 20, "induction_hours": 120})
        await self.call("PUT", "funding", f"/v1/policies/{code}", prov, body={
            "effective_from": f"{FIRST_SCHOOL_YEAR - 1}-01-01", "school_public_funds_share": "0.05",
            "district_payroll_share_min": "0.015", "pass_down_min": "0.7"})

    async def projects(self) -> None:
        async def create(plan: Plan) -> None:
            org = self.token(self._admin(plan.organizer), plan.organizer)
            d0 = plan.starts_on - timedelta(days=20)
            practical = plan.hours - 3
            doc = await self.call("POST", "enrollment", "/v1/projects", org, on=d0, idem=key("project", plan.code),
                                  body={"code": plan.code, "name": plan.name, "level": plan.level,
                                        "category": plan.category, "year": plan.year,
                                        "host_id": self.hosts[plan.host], "organizer_code": plan.organizer,
                                        "hours": plan.hours, "hour_category": "centralized",
                                        "starts_on": plan.starts_on.isoformat(), "ends_on": plan.ends_on.isoformat(),
                                        "cross_year": False, "practical_ratio": 0.6,
                                        "modules": [{"name": "师德第一课", "hours": 3, "kind": "ethics"},
                                                    {"name": "课堂实践与研讨", "hours": practical, "practical": True}]})
            if doc is None:
                return
            plan.id = doc["id"]
            approver = self.token(self._admin(plan.approver), plan.approver)
            for step, token in (("submit-plan", org), ("approve", approver), ("open", org)):
                await self.call("POST", "enrollment", f"/v1/projects/{plan.id}/{step}", token, on=d0,
                                idem=key(step, plan.code))
            # A PUT of the same places would record the allocation again: existence check first.
            r = await self.http.get(self.urls["enrollment"] + f"/v1/projects/{plan.id}",
                                    headers={"Authorization": f"Bearer {org}"})
            have = {q["region_code"]: q["places"] for q in r.json().get("quotas", [])} if r.status_code == 200 else {}
            for region, places in plan.quota.items():
                if have.get(region) == places:
                    continue
                await self.call("PUT", "enrollment", f"/v1/projects/{plan.id}/quotas/{region}", org, on=d0,
                                body={"places": places})

        await self.each("培训项目 projects", self.plans, create, 8)

    @staticmethod
    def _admin(code: str) -> str:
        if len(code) > 6:
            return "school_admin"
        return "province_admin" if code.endswith("0000") else "city_admin" if code.endswith("00") else "county_admin"

    async def nominations(self) -> None:
        async def nominate(p: Pick) -> None:
            if not p.plan.id:
                return
            doc = await self.call("POST", "enrollment", f"/v1/projects/{p.plan.id}/nominations",
                                  self.token("county_admin", p.county), on=p.plan.starts_on - timedelta(days=12),
                                  idem=key("nominate", p.plan.code, p.teacher),
                                  body={"teacher_id": self.teacher_ids[p.teacher], "region_code": p.county})
            if doc is not None:
                p.enrollment_id = doc["enrollment_id"]

        await self.each("报送 nominations", self.picks, nominate)

    def live(self, outcomes: str) -> list[Pick]:
        return [p for p in self.picks if p.enrollment_id and p.outcome in outcomes]

    async def before_start(self) -> None:
        async def withdraw(p: Pick) -> None:
            await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/withdraw",
                            self.token("county_admin", p.county), on=p.plan.starts_on - timedelta(days=5),
                            body={"reason": "工作调动"})

        await self.each("退出 withdrawals", self.live("W"), withdraw)

        async def check_in(p: Pick) -> None:
            await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/check-in",
                            self.token("teacher", sub=self.teacher_ids[p.teacher]), on=p.plan.starts_on)

        await self.each("报到 check-ins", self.live("FC"), check_in)

        async def start(plan: Plan) -> None:
            await self.call("POST", "enrollment", f"/v1/projects/{plan.id}/start",
                            self.token(self._admin(plan.organizer), plan.organizer), on=plan.starts_on,
                            idem=key("start", plan.code))

        await self.each("开班 starts", [p for p in self.plans if p.id], start)

        async def no_show(p: Pick) -> None:
            await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/no-show",
                            self.token("host", self.hosts[p.plan.host]), on=p.plan.starts_on + timedelta(days=1),
                            body={"special_reason": True})

        await self.each("未报到 no-shows", self.live("N"), no_show)

    async def attendance(self) -> None:
        by_plan: dict[str, list[Pick]] = {}
        for p in self.live("FC"):
            by_plan.setdefault(p.plan.id, []).append(p)
        sheets: list[tuple[Plan, bytes, int]] = []
        for picks in by_plan.values():
            plan = picks[0].plan
            hours = round(plan.hours / plan.days, 1)
            out = io.StringIO()
            w = csv.writer(out)
            w.writerow(["enrollment_id", "session_date", "status", "hours"])
            for day in range(plan.days):
                on = plan.starts_on + timedelta(days=day)
                for p in picks:
                    present = p.outcome == "C" or day % 2 == 0
                    w.writerow([p.enrollment_id, on.isoformat(), "present" if present else "absent",
                                f"{hours if present else 0:g}"])
            sheets.append((plan, out.getvalue().encode(), len(picks) * plan.days))

        async def upload(sheet: tuple[Plan, bytes, int]) -> None:
            plan, body, _ = sheet
            await self.call("POST", "enrollment", f"/v1/projects/{plan.id}/attendance/import",
                            self.token("host", self.hosts[plan.host]), csv_body=body, on=plan.ends_on,
                            idem=key("attendance", plan.code))

        await self.each("考勤 attendance import", sheets, upload, 2)

    async def bulletins(self) -> None:
        async def bulletins(plan: Plan) -> None:
            host = self.token("host", self.hosts[plan.host])
            for n in range(1, 1 + (plan.index % 3 != 2) + (plan.level == "national")):
                on = plan.starts_on + timedelta(days=n + (plan.index % 5) * 3)
                await self.call("POST", "enrollment", f"/v1/projects/{plan.id}/bulletins", host, on=on,
                                body={"issue_no": n, "title": f"{plan.name} 第{n}期简报",
                                      "published_on": on.isoformat()})

        await self.each("简报 bulletins", [p for p in self.plans if p.id], bulletins)

    async def finish(self) -> None:
        finals = [p for p in self.live("C") if p.plan.hours >= 90]

        async def final(p: Pick) -> None:
            await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/assessment",
                            self.token("host", self.hosts[p.plan.host]), on=p.plan.ends_on,
                            body={"kind": "final", "score": 70 + p.teacher % 30, "passed": True})

        await self.each("结业考核 final assessments", finals, final)

        async def complete(p: Pick) -> None:
            host = self.token("host", self.hosts[p.plan.host])
            if p.outcome == "F":
                await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/fail", host,
                                on=p.plan.ends_on, body={"reason": "出勤不足,结业考核不合格"})
            else:
                await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/complete", host,
                                on=p.plan.ends_on)

        await self.each("结业 completions / failures", self.live("FC"), complete)

        async def evaluate(p: Pick) -> None:
            await self.call("POST", "enrollment", f"/v1/enrollments/{p.enrollment_id}/evaluation",
                            self.token("teacher", sub=self.teacher_ids[p.teacher]), on=p.plan.ends_on,
                            body={"satisfied": p.satisfied, "score": 5 if p.satisfied else 2})

        await self.each("评价 evaluations", [p for p in self.live("C") if p.evaluates], evaluate)

    async def claims(self) -> None:
        """School-based hours (校本研修) claimed by school admins and approved by the county's auditor."""
        rng = random.Random(self.args.seed + 1)
        picks = []
        for sy in range(self.args.first_school_year, self.args.first_school_year + self.args.school_years):
            for t in rng.sample(range(self.args.teachers), min(self.args.teachers, self.args.claims_per_year)):
                picks.append((sy, t))

        async def claim(item: tuple[int, int]) -> None:
            sy, t = item
            county = self.province.county_of(t)
            school = county.schools[(t - county.teachers.start) % len(county.schools)][0]
            on = date(sy + 1, 6, 20)
            doc = await self.call("POST", "credits", "/v1/claims", self.token("school_admin", school), on=on,
                                  idem=key("claim", sy, t),
                                  body={"teacher_id": self.teacher_ids[t], "hours": 24 + t % 5 * 12,
                                        "category": "school_based", "source": "school_based",
                                        "earned_on": on.isoformat(), "evidence": f"校本研修档案 {school}-{sy}-{t}"})
            if doc is not None and doc.get("status") == "pending":
                await self.call("POST", "credits", f"/v1/claims/{doc['claim_id']}/approve",
                                self.token("auditor", county.code), on=on, idem=key("approve", sy, t), body={})

        await self.each("校本学时 claims", picks, claim)

    async def funding(self) -> None:
        years = sorted({p.year for p in self.plans})
        rng = random.Random(self.args.seed + 2)
        budgets, allocations, spends = [], [], []
        for y in years:
            for c in self.province.counties:
                payroll = len(c.teachers) * 9_000_000  # 9万元 a teacher a year, in fen
                training = int(payroll * (0.012 + 0.012 * rng.random()))
                budgets.append((c.code, c.code, y, {"public_funds_budget_fen": payroll // 5, "payroll_fen": payroll,
                                                    "training_budget_fen": training}))
                share = 0.55 + 0.25 * rng.random()  # passed down to schools (the rule asks ≥ 70 %)
                per_school = int(training * share / len(c.schools))
                for code, _, _ in c.schools:
                    public = len(c.teachers) // len(c.schools) * 1_200_000
                    own = int(public * 0.04)
                    budgets.append((c.code, code, y, {"public_funds_budget_fen": public, "payroll_fen": 0,
                                                      "training_budget_fen": own}))
                    allocations.append((c.code, code, y, per_school))
                    # spent: 3–7 % of public funds (the rule asks ≥ 5 %), never more than the school has
                    spends.append((c.code, code, y, min(own + per_school, int(public * (0.03 + 0.04 * rng.random())))))

        async def budget(item: tuple[str, str, int, dict[str, int]]) -> None:
            county, code, y, body = item
            admin = self.token(self._admin(code), code)  # each org declares its own budget
            await self.call("PUT", "funding", f"/v1/orgs/{code}/budgets/{y}", admin, body=body, on=date(y, 1, 15))

        await self.each("预算 budgets", budgets, budget)

        async def allocate(item: tuple[str, str, int, int]) -> None:
            county, school, y, amount = item
            await self.call("POST", "funding", "/v1/allocations", self.token("county_admin", county), on=date(y, 3, 1),
                            body={"from_code": county, "to_code": school, "year": y, "amount_fen": amount})

        await self.each("下拨 allocations", allocations, allocate)

        async def spend(item: tuple[str, str, int, int]) -> None:
            county, school, y, amount = item
            await self.call("POST", "funding", "/v1/disbursements", self.token("school_admin", school),
                            on=date(y, 11, 10), body={"org_code": school, "year": y, "amount_fen": amount,
                                                      "purpose": "校本研修培训经费"})

        await self.each("支出 disbursements", spends, spend)
        settle = sorted({(p.plan.id, p.county, p.plan.ends_on) for p in self.live("FC")})

        async def settlement(item: tuple[str, str, date]) -> None:
            pid, county, ends = item
            await self.call("POST", "funding", "/v1/settlements", self.token("county_admin", county),
                            on=ends + timedelta(days=10), idem=key("settle", pid, county),
                            body={"project_id": pid, "county_code": county, "fee_per_participant_fen": 80_000})

        await self.each("结算 settlements", settle, settlement)

    # ---- figures --------------------------------------------------------------------------------

    def expected(self) -> dict[int, dict[str, int]]:
        """Per project year: FIELDS as reporting counts them."""
        out: dict[int, Counter[str]] = {}
        for plan in self.plans:
            out.setdefault(plan.year, Counter())["quota"] += sum(plan.quota.values())
        for p in self.picks:
            c = out[p.plan.year]
            c["nominated"] += p.outcome != "W"
            c["checked_in"] += p.outcome in "FC"
            c["completed"] += p.outcome == "C"
            c["failed"] += p.outcome == "F"
            c["no_show"] += p.outcome == "N"
            c["withdrawn"] += p.outcome == "W"
            c["evaluations"] += p.outcome == "C" and p.evaluates
            c["satisfied"] += p.outcome == "C" and p.evaluates and p.satisfied
        fields = FIELDS
        return {y: {f: c[f] for f in fields} for y, c in sorted(out.items())}

    async def reported(self) -> dict[int, dict[str, int]]:
        r = await self.http.get(self.urls["reporting"] + "/v1/reports/rates",
                                params={"group_by": "year", "region_code": self.province.code},
                                headers={"Authorization": f"Bearer {self.token('province_admin', self.province.code)}"})
        r.raise_for_status()
        return {int(i["key"]): {f: i[f] for f in FIELDS} for i in r.json()["items"]}

    async def wait_for_reporting(self, timeout: float) -> bool:
        want = self.expected()
        deadline = time.monotonic() + timeout
        self.progress.start("统计同步 reporting catch-up", 1)
        while time.monotonic() < deadline:
            if await self.reported() == want:
                self.progress.finish()
                return True
            await asyncio.sleep(0.5)
        print(file=sys.stderr)
        return False

    async def _probe(self) -> bool:
        """Whether enrollment honours X-Dev-Today: the policy read answers `as_of`, by default today."""
        prov = self.token("province_admin", self.province.code)
        r = await self.http.get(self.urls["enrollment"] + f"/v1/policies/{self.province.code}",
                                headers={"Authorization": f"Bearer {prov}", "X-Dev-Today": "2001-01-02"})
        return "2001-01-02" in r.text

    async def run(self) -> int:
        a = self.args
        t0 = time.monotonic()
        limits = httpx.Limits(max_connections=a.concurrency + 8, max_keepalive_connections=a.concurrency + 8)
        async with httpx.AsyncClient(timeout=300, limits=limits) as self.http:
            try:
                have = await self.reported()
            except httpx.HTTPError as exc:
                print(f"demo: the services do not answer ({exc!r}); start them with `make run` first.",
                      file=sys.stderr)
                return 1
            want = self.expected()
            print(f"demo: {self.province.name} ({self.province.code}): {len(self.province.cities)} cities, "
                  f"{len(self.province.counties)} counties, {self.province.schools} schools, {a.teachers:,} teachers; "
                  f"{len(self.plans)} projects in {a.school_years} school years from {a.first_school_year}学年, "
                  f"{len(self.picks):,} nominations", file=sys.stderr, flush=True)
            if have == want and not a.force:
                print("demo: already loaded: the reporting API shows every figure; nothing to add.", file=sys.stderr)
                return 0
            if not await self._probe():
                print("demo: the services are not in the dev profile (DEV_PROFILE=1, as `make run` sets): past "
                      "school years cannot be loaded through the API.", file=sys.stderr)
                return 1
            await self.orgs()
            await self.roster()
            if not all(self.teacher_ids):
                print("demo: the roster import failed; stopping.", file=sys.stderr)
                return 1
            await self.policies()
            await self.projects()
            await self.nominations()
            await self.before_start()
            await self.attendance()
            await self.bulletins()
            # Completions and evaluations last: the figures the quick "already loaded" check
            # compares are complete only when every earlier phase is.
            await self.claims()
            await self.funding()
            await self.finish()
            loaded = time.monotonic() - t0
            ok = a.no_verify or await self.wait_for_reporting(a.catchup_timeout)
            total = time.monotonic() - t0
        for (where, status), n in Counter(_shape(e) for e in self.errors).most_common(8):
            print(f"demo:   {n} × {where} → {status}", file=sys.stderr)
        print(f"demo: loaded in {loaded:.1f}s, reporting caught up at {total:.1f}s; {len(self.errors)} errors",
              file=sys.stderr)
        if not ok:
            print(f"demo: reporting's figures differ from what was loaded:\n  loaded   {self.expected()}\n"
                  f"  reported {await self._reported_once()}", file=sys.stderr)
        print(f"demo: open {a.reporting_url}/dashboard and sign in (dev profile: pick 省级管理员 and "
              f"{self.province.name})", file=sys.stderr)
        return 0 if ok and not self.errors else 1

    async def _reported_once(self) -> dict[int, dict[str, int]]:
        async with httpx.AsyncClient(timeout=30) as self.http:
            return await self.reported()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--teachers", type=int, default=int(os.environ.get("DEMO_TEACHERS", 20_000)))
    p.add_argument("--enroll-fraction", type=float, default=0.05, help="share of teachers nominated each year")
    p.add_argument("--claims-per-year", type=int, default=150)
    p.add_argument("--cities", type=int, default=4)
    p.add_argument("--counties", type=int, default=20)
    p.add_argument("--school-size", type=int, default=100, help="teachers per school (20,000 → 200 schools)")
    p.add_argument("--province", default="61", help="two GB/T 2260 digits")
    p.add_argument("--province-name", default="示范省")
    p.add_argument("--first-school-year", type=int, default=FIRST_SCHOOL_YEAR)
    p.add_argument("--school-years", type=int, default=SCHOOL_YEARS)
    p.add_argument("--seed", type=int, default=2023)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--catchup-timeout", type=float, default=180)
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--verbose", action="store_true", help="print every refused call")
    p.add_argument("--force", action="store_true", help="replay every call even when the figures are there")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    for name, port in (("enrollment", 8001), ("credits", 8002), ("funding", 8003), ("reporting", 8004)):
        env_port = os.environ.get(f"{name.upper()}_PORT", port)
        p.add_argument(f"--{name}-url", default=os.environ.get(f"{name.upper()}_URL", f"http://127.0.0.1:{env_port}"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(Demo(parse(argv)).run())


if __name__ == "__main__":
    sys.exit(main())
