"""A synthetic province for bench/province.py: the org tree with GB/T 2260-shaped codes, its
teachers (valid GB 11643 numbers from bench/people.py), and a year's training projects.

Deterministic for a given size and seed, so two runs load the same province.

Codes follow GB/T 2260's layout: PP0000 the province, PPCC00 a prefecture-level city,
PPCCDD a county-level division (districts 02.., counties 21.., a county-level city 81), and a
school is its county's code plus three digits, as the services expect (org codes ≤ 12).
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from bench.people import national_id

NUMERALS = "一二三四五六七八九十"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅建国志文斌宇浩凯晨欣怡佳琪雨婷子涵思远博"
SUBJECTS = ("语文", "数学", "英语", "道德与法治", "科学", "物理", "化学", "生物", "历史", "地理", "音乐", "体育",
            "美术", "信息技术", "心理健康")
TITLES = ("", "三级教师", "二级教师", "一级教师", "一级教师", "高级教师", "正高级教师")
STAGES = ("小学", "小学", "小学", "初中", "初中", "高中")  # by school: primary schools are the most numerous
SCHOOL_KINDS = {"小学": "小学", "初中": "初级中学", "高中": "高级中学"}
# 国培 categories of the 2023 Shaanxi notice (seed 004 §1); provinces name theirs alike.
CATEGORIES = ("农村骨干教师分层分类培训", "自主学习模式试点研修", "市县教师培训团队研修", "骨干校园长提升研修",
              "中小学教师数字化能力提升培训")
# Hours per level (002 §3 has 90- and 180-hour programs; municipal and county ones are shorter)
# and days on site; from 90 hours a final assessment is required to complete (002 §4.1.3).
LEVELS = {"national": (90, 10), "provincial": (60, 7), "municipal": (30, 5), "county": (24, 3)}
ID_SPACE = 14_000_000  # bench.people.national_id is unique below this index
ID_STRIDE = 7_368_787  # coprime with ID_SPACE: spreads birthdays over 1965..2003, still unique


def numeral(n: int) -> str:
    """1..99 in Chinese numerals (十二, 三十五)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


@dataclass
class County:
    code: str
    name: str
    city: str
    teachers: range  # global teacher indexes
    schools: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, stage)


@dataclass
class Province:
    code: str
    name: str
    cities: list[tuple[str, str]]
    counties: list[County]

    @property
    def schools(self) -> int:
        return sum(len(c.schools) for c in self.counties)

    def county_of(self, teacher: int) -> County:
        # Counties hold contiguous index ranges of near-equal length.
        lo, hi = 0, len(self.counties) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.counties[mid].teachers.start <= teacher:
                lo = mid
            else:
                hi = mid - 1
        return self.counties[lo]


def build_province(prefix: str, teachers: int, cities: int, counties: int, school_size: int) -> Province:
    if len(prefix) != 2 or not prefix.isdigit():
        raise ValueError("province prefix: two GB/T 2260 digits, e.g. 43")
    counties = max(counties, cities)
    province = Province(f"{prefix}0000", "合成省", [], [])
    per_city = [counties // cities + (1 if i < counties % cities else 0) for i in range(cities)]
    start = 0
    for ci, n in enumerate(per_city, start=1):
        city_code, city_name = f"{prefix}{ci:02d}00", f"合成省{numeral(ci)}市"
        province.cities.append((city_code, city_name))
        # Two districts, then counties, and a county-level city when there are four or more.
        suffixes = [(2 + k, "区") for k in range(min(2, n))]
        rest = n - len(suffixes)
        suffixes += [(21 + k, "县") for k in range(rest - 1 if n >= 4 else rest)]
        if n >= 4:
            suffixes.append((81, "市"))
        for k, (dd, kind) in enumerate(suffixes, start=1):
            index = len(province.counties)
            size = teachers // counties + (1 if index < teachers % counties else 0)
            county = County(f"{prefix}{ci:02d}{dd:02d}", f"{city_name}{numeral(k)}{kind}", city_code,
                            range(start, start + size))
            start += size
            for s in range(1, min(999, max(1, math.ceil(size / school_size))) + 1):
                stage = STAGES[s % len(STAGES)]
                number = numeral(s) if s < 100 else str(s)
                county.schools.append((f"{county.code}{s:03d}", f"{county.name}第{number}{SCHOOL_KINDS[stage]}", stage))
            province.counties.append(county)
    return province


def teacher_id_number(i: int, county: str) -> str:
    return national_id((i * ID_STRIDE) % ID_SPACE, county)


def org_csv(rows: list[tuple[str, str, str, str | None]]) -> bytes:
    """A school list (or the province's cities and counties) as POST /v1/orgs/import reads it."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["code", "name", "kind", "parent_code"])
    w.writerows((code, name, kind, parent or "") for code, name, kind, parent in rows)
    return out.getvalue().encode()


def roster_csv(province: Province, county: County, indexes: range) -> bytes:
    """A county clerk's export: the columns the roster import reads, one row per teacher."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["name", "national_id", "school_code", "subject", "stage", "title", "hired_on"])
    for i in indexes:
        school, _, stage = county.schools[(i - county.teachers.start) % len(county.schools)]
        number = teacher_id_number(i, county.code)
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        hired = min(date(born.year + 22 + i % 6, 9, 1), date(2025, 9, 1))
        w.writerow([SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 13) % len(GIVEN)][: i % 2],
                    number, school, SUBJECTS[i % len(SUBJECTS)], stage, TITLES[i % len(TITLES)], hired.isoformat()])
    return out.getvalue().encode()


@dataclass
class ProjectPlan:
    level: str
    organizer: str  # org code
    approver: str  # org code of the reviewing administration (a proper ancestor, or the province itself)
    host: int  # index into the hosts
    category: str
    name: str
    hours: int
    days: int
    regions: list[str]  # counties that receive places
    id: str = ""
    starts_on: date | None = None
    ends_on: date | None = None
    places: dict[str, int] = field(default_factory=dict)


def project_dates(today: date, days: int) -> tuple[date, date]:
    # Plans go in ≥ 10 days before start (004 §3.2); a single-year project ends by 20 December.
    start = today + timedelta(days=12)
    if start + timedelta(days=days - 1) > date(start.year, 12, 20):
        start = date(start.year + 1, 3, 1)
    return start, start + timedelta(days=days - 1)


def plan_projects(province: Province, hosts: int, national: int = 2, provincial: int = 3) -> list[ProjectPlan]:
    """国培 and 省培 organized by the province for every county, a 市培 per city for its counties,
    a 县培 per county for itself."""
    all_counties = [c.code for c in province.counties]
    plans = []
    for i in range(national):
        plans.append(ProjectPlan("national", province.code, province.code, i % hosts, CATEGORIES[i % len(CATEGORIES)],
                                 f"国培计划·{CATEGORIES[i % len(CATEGORIES)]}", *LEVELS["national"], all_counties))
    for i in range(provincial):
        plans.append(ProjectPlan("provincial", province.code, province.code, (national + i) % hosts,
                                 "学科骨干教师培训", f"省培计划·{SUBJECTS[i]}学科骨干教师培训", *LEVELS["provincial"],
                                 all_counties))
    for k, (city, name) in enumerate(province.cities):
        plans.append(ProjectPlan("municipal", city, province.code, k % hosts, "市级骨干教师培训",
                                 f"{name}骨干教师培训", *LEVELS["municipal"],
                                 [c.code for c in province.counties if c.city == city]))
    for k, county in enumerate(province.counties):
        plans.append(ProjectPlan("county", county.code, county.city, k % hosts, "县级全员培训",
                                 f"{county.name}教师全员培训", *LEVELS["county"], [county.code]))
    return plans


# Which level a nominee's project has: most training is local (003 §4.3 "市培抓骨干、校培促全员").
LEVEL_WEIGHTS = (("national", 0.05), ("provincial", 0.15), ("municipal", 0.3), ("county", 0.5))


def pick_enrollments(province: Province, plans: list[ProjectPlan], count: int,
                     rng: random.Random) -> list[tuple[int, ProjectPlan, str]]:
    """`count` distinct teachers, each with one project open to their county: (teacher, plan, county)."""
    by_level: dict[str, list[ProjectPlan]] = {}
    for p in plans:
        by_level.setdefault(p.level, []).append(p)
    chosen = rng.sample(range(province.counties[-1].teachers.stop), count)
    levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
    out = []
    for t in chosen:
        county = province.county_of(t)
        level = rng.choices(levels, weights)[0]
        plan = rng.choice([p for p in by_level[level] if county.code in p.regions])
        plan.places[county.code] = plan.places.get(county.code, 0) + 1
        out.append((t, plan, county.code))
    return out


def attendance_csv(rows: list[tuple[str, date, str, float]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["enrollment_id", "session_date", "status", "hours"])
    for enrollment_id, on, status, hours in rows:
        w.writerow([enrollment_id, on.isoformat(), status, f"{hours:g}"])
    return out.getvalue().encode()
