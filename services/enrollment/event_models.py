"""The data of every event enrollment records, one pydantic model per type and version.

The registry (events.py) is the gate: each event a command decides is checked against the model of
its type's current version before it is recorded (shared/envelope.py EventRegistry.version_for);
the stored data stays the decider's plain dict. The committed JSON Schemas (docs/events/enrollment/,
`make event-schemas`) are generated from these models and are what other services read against.
Days are `Day` (ISO 8601 YYYY-MM-DD text naming a real day, published as format date), ids
strings; a field `X | None = None` may be null or absent.
"""

from __future__ import annotations

from shared.eventschemas import Day, EventData


class OrgRegisteredV1(EventData):
    """An organization (province, city, county, school) in the tree; `parent_code` null for a province."""

    code: str
    name: str
    kind: str
    parent_code: str | None = None


class HostRegisteredV1(EventData):
    host_id: str
    name: str
    province_code: str


class TeacherRegisteredV1(EventData):
    teacher_id: str
    school_code: str
    subject: str | None = None
    stage: str | None = None
    title: str | None = None
    hired_on: Day | None = None


class ModuleV1(EventData):
    name: str
    hours: float
    practical: bool = False
    kind: str = "general"  # "ethics" marks the 师德 module


class ProjectDraftedV1(EventData):
    project_id: str
    code: str
    name: str
    level: str
    category: str
    year: int
    host_id: str | None = None
    organizer_code: str
    hours: float
    hour_category: str | None = None
    starts_on: Day
    ends_on: Day
    cross_year: bool = False
    practical_ratio: float
    modules: list[ModuleV1] = []
    first_year_ends_on: Day | None = None
    policy: str | None = None


class ProjectMovedV1(EventData):
    """A project's status moved on `on`."""

    project_id: str
    on: Day


class ProjectPlanSubmittedV1(ProjectMovedV1):
    policy: str | None = None  # the enrollment policy version it was judged under ("default" or code@date)


class ProjectApprovedV1(ProjectMovedV1):
    pass


class ProjectOpenedV1(ProjectMovedV1):
    pass


class ProjectStartedV1(ProjectMovedV1):
    pass


class ProjectClosedV1(ProjectMovedV1):
    pass


class ProjectCancelledV1(ProjectMovedV1):
    reason: str


class QuotaAllocatedV1(EventData):
    project_id: str
    region_code: str
    places: int


class QuotaSplitV1(EventData):
    """A city's places split to one of its counties (004 §2.2)."""

    project_id: str
    city_code: str
    region_code: str
    places: int


class CloseOutMaterialDeliveredV1(EventData):
    project_id: str
    material_id: str
    kind: str
    kind_label: str
    title: str
    count: int
    reference: str | None = None
    received_on: Day


class BulletinSubmittedV1(EventData):
    project_id: str
    issue_no: int
    title: str
    published_on: Day
    received_on: Day | None = None  # bulletins recorded before it existed carry only published_on


class _Enrollment(EventData):
    enrollment_id: str
    project_id: str
    teacher_id: str


class TeacherNominatedV1(_Enrollment):
    region_code: str
    level: str
    category: str
    year: int
    nominated_on: Day
    policy: str | None = None
    cross_year: bool | None = None  # present (true) only for a cross-year project
    until_year: int | None = None  # the last year a cross-year project's place takes
    substitute_for: str | None = None  # the withdrawn enrollment whose place this nomination fills


class NomineeReplacedV1(_Enrollment):
    old_teacher_id: str
    region_code: str
    policy: str | None = None


class EnrollmentWithdrawnV1(_Enrollment):
    region_code: str
    reason: str | None = None


class TeacherCheckedInV1(_Enrollment):
    region_code: str
    host_id: str | None  # the project's host: null while a project has none
    checked_in_on: Day
    via: str | None = None  # "code": by a session's check-in code, with its date and nonce
    session_date: Day | None = None
    code_nonce: str | None = None


class AttendanceRecordedV1(_Enrollment):
    session_date: Day
    status: str
    hours: float | None = None


class AssessmentRecordedV1(_Enrollment):
    kind: str
    score: float | None = None
    passed: bool


class EnrollmentCompletedV1(_Enrollment):
    region_code: str
    host_id: str | None  # the project's host: null while a project has none
    level: str
    year: int
    hours: float
    hour_category: str | None = None
    completed_on: Day


class EnrollmentFailedV1(_Enrollment):
    region_code: str
    host_id: str | None  # the project's host: null while a project has none
    reason: str
    failed_on: Day


class NoShowRecordedV1(_Enrollment):
    region_code: str
    special_reason: bool
    barred_from_year: int | None = None
    barred_until_year: int | None = None
    policy: str | None = None


class NoShowExcusedV1(_Enrollment):
    region_code: str
    reason: str
    excused_on: Day


class EvaluationSubmittedV1(_Enrollment):
    host_id: str | None  # the project's host: null while a project has none
    satisfied: bool
    score: int
    comment: str | None = None


class LeaveRequestedV1(_Enrollment):
    region_code: str
    host_id: str | None  # the project's host: null while a project has none
    session_date: Day
    reason: str | None = None
    requested_by: str | None = None
    requested_on: Day


class LeaveDecidedV1(_Enrollment):
    session_date: Day
    reason: str | None = None
    decided_on: Day


class LeaveApprovedV1(LeaveDecidedV1):
    pass


class LeaveRejectedV1(LeaveDecidedV1):
    pass


class RankingWeightsV1(EventData):
    completion: str
    satisfaction: str
    bulletins: str
    close_out: str | None = None


class EnrollmentPolicyPublishedV1(EventData):
    jurisdiction_code: str | None = None
    effective_from: Day | None = None
    nomination_window_days: int | None = None
    nomination_window_levels: list[str] = []
    min_attendance_share: float | None = None
    plan_lead_days: int | None = None
    min_practical_ratio: float | None = None
    ethics_module_required: bool | None = None
    single_year_end: str | None = None
    cross_year_first_year_end: str | None = None
    cross_year_span_years: int | None = None
    max_project_hours: float | None = None
    calendar_levels: list[str] = []
    bar_years: int | None = None
    no_repeat_category: bool | None = None
    cross_year_exempt_from_repeat: bool | None = None
    national_projects_per_year: int | None = None
    bulletin_due_days: int | None = None
    short_project_max_days: int | None = None
    short_project_min_bulletins: int | None = None
    long_project_min_bulletins: int | None = None
    long_project_max_bulletins: int | None = None
    close_out_days: int | None = None
    close_out_min_cases: int | None = None
    close_out_min_course_videos: int | None = None
    ranking_weights: RankingWeightsV1 | None = None
    published_on: Day | None = None


MODELS: dict[str, type[EventData]] = {
    "OrgRegistered": OrgRegisteredV1, "HostRegistered": HostRegisteredV1, "TeacherRegistered": TeacherRegisteredV1,
    "ProjectDrafted": ProjectDraftedV1, "ProjectPlanSubmitted": ProjectPlanSubmittedV1,
    "ProjectApproved": ProjectApprovedV1, "ProjectOpened": ProjectOpenedV1, "ProjectStarted": ProjectStartedV1,
    "ProjectClosed": ProjectClosedV1, "ProjectCancelled": ProjectCancelledV1, "QuotaAllocated": QuotaAllocatedV1,
    "TeacherNominated": TeacherNominatedV1, "NomineeReplaced": NomineeReplacedV1,
    "EnrollmentWithdrawn": EnrollmentWithdrawnV1, "TeacherCheckedIn": TeacherCheckedInV1,
    "AttendanceRecorded": AttendanceRecordedV1, "AssessmentRecorded": AssessmentRecordedV1,
    "EnrollmentCompleted": EnrollmentCompletedV1, "EnrollmentFailed": EnrollmentFailedV1,
    "NoShowRecorded": NoShowRecordedV1, "EvaluationSubmitted": EvaluationSubmittedV1,
    "BulletinSubmitted": BulletinSubmittedV1, "EnrollmentPolicyPublished": EnrollmentPolicyPublishedV1,
    "NoShowExcused": NoShowExcusedV1, "LeaveRequested": LeaveRequestedV1, "LeaveApproved": LeaveApprovedV1,
    "LeaveRejected": LeaveRejectedV1, "QuotaSplit": QuotaSplitV1,
    "CloseOutMaterialDelivered": CloseOutMaterialDeliveredV1,
}
