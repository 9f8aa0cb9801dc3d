"""Rule values for training projects, as policy data.

Provinces publish their own notices; the defaults below are Shaanxi's 2023 国培 notice (seed 004)
and the ethics rule of seed 000. A jurisdiction with other values passes its own `ProjectRules`;
nothing in the deciders hard-codes a number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectRules:
    # 004 §3.2: "在开班前10天将项目实施方案…报送至项目执行办公室审核备案".
    plan_lead_days: int = 10
    # 004 §2.3: "实践性课程比例原则上不少于50%".
    min_practical_ratio: float = 0.5
    # 004 §2.3 (思想政治和师德师风培训作为必修内容) and 000 §2.1 (师德 is the first lesson):
    # a plan must carry a module of this kind (None: a policy that does not require one).
    ethics_module_kind: str | None = "ethics"
    # 004 §3.2: "单年度项目要在今年12月20日前完成" — (month, day) in the project's year, inclusive.
    single_year_end: tuple[int, int] = (12, 20)
    # 004 §3.2: "跨年度项目需在11月30日前完成第一年度培训任务" — (month, day), inclusive.
    cross_year_first_year_end: tuple[int, int] = (11, 30)
    # 004 §3.2: "在两年内完成实施" — read as two training years (年度): the project's year and the
    # next, so a cross-year project ends by 31 December of year + 1.
    cross_year_span_years: int = 2
    # 004 is the 国培 notice: its calendar (plan lead days, the year-end dates, the two-year span)
    # binds the levels named here, national by default (issue 20: a school-based course runs
    # September to June, a county course may end on 28 December).
    calendar_levels: frozenset[str] = frozenset({"national"})
    # Not a seed rule: a sanity bound on credit hours. The longest programs in the seeds are
    # 180 hours (002 §3) and a whole 5-year cycle is 360 hours (003 §4.3).
    max_project_hours: float = 1000.0


DEFAULT_RULES = ProjectRules()
