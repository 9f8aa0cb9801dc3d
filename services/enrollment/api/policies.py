"""HTTP routes: enrollment policy (选派与项目实施规则) per jurisdiction, versioned by effective date
(domain/policy.py), shaped like credits' and funding's `/v1/policies`.

PUT publishes a version (201 for a new `effective_from`, 200 for a correction of one, 200 and no
event for an identical repeat); province, city and county admins publish for their own
jurisdiction or one inside it. GET returns the version in force on `as_of` (default today) for a
project organized by that code: its own, its city's or its province's, else the national default
(`policy: "default"`). Any authenticated caller reads: policies are public rules.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from services.enrollment.domain.policy import (
    DEFAULT_HOST_DUTIES,
    DEFAULT_WINDOW_DAYS,
    EnrollmentPolicy,
    HostDuties,
    policy_in_force,
    policy_to_data,
    versions_of,
)
from services.enrollment.domain.rules import DEFAULT_RULES, ProjectRules
from services.enrollment.domain.selection import SelectionRules
from services.enrollment.handlers import publish_policy
from services.enrollment.projector.models import Level
from services.enrollment.projector.policies import province_rows
from shared.auth import Authenticated, require_role, require_within
from shared.clock import Today
from shared.inputs import IsoDate
from shared.unit_of_work import Command

router = APIRouter(tags=["policies"])
Code = Annotated[str, Path(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")]
MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


Weight = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, allow_inf_nan=False)]
DueDays = Annotated[StrictInt, Field(ge=1, le=365)]


class RankingWeights(BaseModel):
    """004 §4.2 综合排名: completion, satisfaction, bulletin and close-out weights, summing to 1."""

    model_config = ConfigDict(extra="forbid")
    completion: Weight = DEFAULT_HOST_DUTIES.ranking_weights[0]
    satisfaction: Weight = DEFAULT_HOST_DUTIES.ranking_weights[1]
    bulletins: Weight = DEFAULT_HOST_DUTIES.ranking_weights[2]
    close_out: Weight = DEFAULT_HOST_DUTIES.close_out_weight


class PolicyIn(BaseModel):
    """A version; every field has the national default (seed 004) when left out."""

    model_config = ConfigDict(extra="forbid")
    effective_from: IsoDate
    nomination_window_days: StrictInt | None = Field(DEFAULT_WINDOW_DAYS, ge=1, le=366,
                                               description="004 三(一): days after the notice; null: none")
    nomination_window_levels: list[Level] = Field(["national"], max_length=5,
                                                  description="the project levels the window binds "
                                                              "(default: national, DEFAULT_WINDOW_LEVELS)")
    plan_lead_days: StrictInt = Field(DEFAULT_RULES.plan_lead_days, ge=0, le=180, description="004 三(二)")
    min_practical_ratio: StrictFloat = Field(DEFAULT_RULES.min_practical_ratio, ge=0, le=1, description="004 二(三)")
    ethics_module_required: StrictBool = Field(True, description="004 二(三), 000 §2.1")
    single_year_end: MonthDay = "12-20"
    cross_year_first_year_end: MonthDay = "11-30"
    cross_year_span_years: StrictInt = Field(DEFAULT_RULES.cross_year_span_years, ge=1, le=5)
    max_project_hours: StrictFloat = Field(DEFAULT_RULES.max_project_hours, gt=0, le=2000)
    calendar_levels: list[Level] = Field(["national"], max_length=5,
                                         description="004 三(二): the levels its calendar binds (plan lead days, "
                                                     "year-end dates, two-year span)")
    bar_years: StrictInt = Field(3, ge=0, le=10, description="004 四.1: years barred after a no-show")
    no_repeat_category: StrictBool = Field(True, description="004 三(一)")
    cross_year_exempt_from_repeat: StrictBool = Field(
        True, description="004 三(一): a cross-year project continuing cross-year training of its category is no "
                          "repeat (a single-year one of the category attended makes it one)")
    bulletin_due_days: DueDays = Field(DEFAULT_HOST_DUTIES.bulletin_due_days, description="004 三(三)")
    short_project_max_days: DueDays = DEFAULT_HOST_DUTIES.short_project_max_days
    short_project_min_bulletins: DueDays = DEFAULT_HOST_DUTIES.short_project_min_bulletins
    long_project_min_bulletins: DueDays = DEFAULT_HOST_DUTIES.long_project_min_bulletins
    long_project_max_bulletins: DueDays = DEFAULT_HOST_DUTIES.long_project_max_bulletins
    close_out_days: DueDays = Field(DEFAULT_HOST_DUTIES.close_out_days, description="004 三(三)")
    close_out_min_cases: DueDays = Field(DEFAULT_HOST_DUTIES.close_out_min_cases,
                                         description="004 三(三): 优秀工作案例 per host")
    close_out_min_course_videos: DueDays = Field(DEFAULT_HOST_DUTIES.close_out_min_course_videos,
                                                 description="004 三(三): 课程视频资源 per sub-project")
    ranking_weights: RankingWeights = Field(default_factory=RankingWeights)
    min_attendance_share: StrictFloat | None = Field(0.8, ge=0, le=1, description="002 §4.1.3 三严: share of "
                                                     "recorded sessions present for completion; null: not judged")

    def to_policy(self, code: str) -> EnrollmentPolicy:
        def pair(text: str) -> tuple[int, int]:
            month, day = (int(x) for x in text.split("-"))
            return month, day

        projects = ProjectRules(
            plan_lead_days=self.plan_lead_days, min_practical_ratio=self.min_practical_ratio,
            ethics_module_kind=DEFAULT_RULES.ethics_module_kind if self.ethics_module_required else None,
            single_year_end=pair(self.single_year_end), cross_year_first_year_end=pair(self.cross_year_first_year_end),
            cross_year_span_years=self.cross_year_span_years, max_project_hours=self.max_project_hours,
            calendar_levels=frozenset(self.calendar_levels))
        selection = SelectionRules(bar_years=self.bar_years, no_repeat_category=self.no_repeat_category,
                                   cross_year_exempt_from_repeat=self.cross_year_exempt_from_repeat)
        hosts = HostDuties(
            bulletin_due_days=self.bulletin_due_days, short_project_max_days=self.short_project_max_days,
            short_project_min_bulletins=self.short_project_min_bulletins,
            long_project_min_bulletins=self.long_project_min_bulletins,
            long_project_max_bulletins=self.long_project_max_bulletins, close_out_days=self.close_out_days,
            close_out_min_cases=self.close_out_min_cases, close_out_min_course_videos=self.close_out_min_course_videos,
            ranking_weights=(self.ranking_weights.completion, self.ranking_weights.satisfaction,
                             self.ranking_weights.bulletins),
            close_out_weight=self.ranking_weights.close_out)
        return EnrollmentPolicy(projects=projects, selection=selection, hosts=hosts,
                                min_attendance_share=self.min_attendance_share,
                                nomination_window_days=self.nomination_window_days,
                                nomination_window_levels=frozenset(self.nomination_window_levels),
                                jurisdiction_code=code, effective_from=self.effective_from)


class WeightsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    completion: str
    satisfaction: str
    bulletins: str
    close_out: str


class PolicyOut(BaseModel):
    """A published version (or the national default, `policy: "default"`), as the rules read it."""

    model_config = ConfigDict(extra="forbid")
    jurisdiction_code: str | None
    effective_from: date | None
    nomination_window_days: int | None
    nomination_window_levels: list[str]
    min_attendance_share: float | None
    plan_lead_days: int
    min_practical_ratio: float
    ethics_module_required: bool
    single_year_end: str
    cross_year_first_year_end: str
    cross_year_span_years: int
    max_project_hours: float
    calendar_levels: list[str]
    bar_years: int
    no_repeat_category: bool
    cross_year_exempt_from_repeat: bool
    national_projects_per_year: int
    bulletin_due_days: int
    short_project_max_days: int
    short_project_min_bulletins: int
    long_project_min_bulletins: int
    long_project_max_bulletins: int
    close_out_days: int
    close_out_min_cases: int
    close_out_min_course_videos: int
    ranking_weights: WeightsOut
    published_on: date | None
    policy: str = Field(description='the version\'s label, e.g. "610000@2023-09-01", or "default"')
    version: int = Field(description="the jurisdiction's policy stream version (0: the default)")
    requested_code: str | None = None
    as_of: date | None = None


@router.put("/v1/policies/{jurisdiction_code}", status_code=201,
            summary="Publish an enrollment policy version (选派规则)", response_model=PolicyOut,
            responses={200: {"description": "an existing version corrected, or an identical repeat (no event)",
                             "model": PolicyOut}})
async def put_policy(jurisdiction_code: Code, body: PolicyIn, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "province_admin", "city_admin", "county_admin")
    require_within(cmd.principal, jurisdiction_code)
    wanted = body.to_policy(jurisdiction_code)
    return await cmd.run(lambda uow: publish_policy.handle(uow, wanted, today))


@router.get("/v1/policies/{jurisdiction_code}", summary="The enrollment policy in force on a date",
            response_model=PolicyOut)
async def get_policy(jurisdiction_code: Code, request: Request, principal: Authenticated, today: Today,
                     as_of: IsoDate | None = Query(None, description="default: today (Asia/Shanghai)")) -> JSONResponse:
    on = as_of or today
    async with request.app.state.pool.acquire() as conn:
        versions = versions_of(await province_rows(conn, jurisdiction_code))
    p = policy_in_force(versions, jurisdiction_code, on)
    return JSONResponse({**policy_to_data(p), "policy": p.label, "requested_code": jurisdiction_code,
                         "as_of": on.isoformat(), "version": p.version})
