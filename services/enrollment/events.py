"""Every event the enrollment service publishes (API.md), with its current schema version.

Each type's data is modelled in event_models.py (the registry refuses data that does not fit).
Events carry internal ids only — never a national ID number or a phone number.
"""

from shared.envelope import EventRegistry

from .event_models import MODELS

registry = EventRegistry()

for _type in (
    "OrgRegistered", "HostRegistered", "TeacherRegistered",
    "ProjectDrafted", "ProjectPlanSubmitted", "ProjectApproved", "ProjectOpened", "ProjectStarted",
    "ProjectClosed", "ProjectCancelled", "QuotaAllocated",
    "TeacherNominated", "NomineeReplaced", "EnrollmentWithdrawn", "TeacherCheckedIn", "AttendanceRecorded",
    "AssessmentRecorded", "EnrollmentCompleted", "EnrollmentFailed", "NoShowRecorded", "EvaluationSubmitted",
    "BulletinSubmitted", "EnrollmentPolicyPublished", "NoShowExcused",
    "LeaveRequested", "LeaveApproved", "LeaveRejected",  # 请假 (002 §4.1.3), issue 20
):
    registry.register(_type, 1, model=MODELS[_type])

# Issue 20: a city's split of its places to a county (004 §2.2); close-out materials delivered (004 §3.3).
for _type in ("QuotaSplit", "CloseOutMaterialDelivered"):
    registry.register(_type, 1, model=MODELS[_type])
