"""Close-out materials (总结材料) a host delivers after a project, 004 §3.3 "培训结束30天内,各项目
承担单位要…报送优质课程资源、优秀论文(案例)、优质课件、优秀教学设计、学员作品、考核不合格学员名单等总结材料
和有特色的过程性资料…其中每个单位至少报送1个优秀工作案例,每一子项目需报送不少于1门高品质课程视频资源".

Enrollment records what was delivered and the day it arrived (`received_on`, the server's day:
like a bulletin's, a deadline is judged on receipt, never on a date the host states). Whether the
delivery was on time and enough is judged by reporting (services/reporting/domain/obligations.py)
against the host duties published with the enrollment policy (policy.HostDuties). A late
delivery is still recorded: it is a fact, and reporting judges it late. Stdlib only.
"""

from __future__ import annotations

from datetime import date

from shared.refusal import Refused

from .project import Events, ProjectState, plan_of

# The kinds of 004 §3.3, with the labels shown to users; "case" and "course_video" are the two
# the host duties count (close_out_min_cases, close_out_min_course_videos).
KINDS = {
    "summary": "总结材料",
    "case": "优秀工作案例",
    "course_video": "高品质课程视频资源",
    "course_resource": "优质课程资源",
    "paper": "优秀论文(案例)",
    "courseware": "优质课件",
    "teaching_design": "优秀教学设计",
    "learner_work": "学员作品",
    "failed_list": "考核不合格学员名单",
    "process_material": "过程性资料",
}
MAX_COUNT = 1000


def decide_deliver_close_out(state: ProjectState, material_id: str, kind: str, title: str, count: int,
                             reference: str | None, today: date) -> Events:
    """004 §3.3: the project's host (or the organizer's admins) records materials delivered for
    a started or closed project (the close-out follows the training); `count` items of one kind
    under one title (e.g. 3 course videos), `reference` where they are (the platform's id or URL)."""
    plan = plan_of(state)
    if state.status not in ("started", "closed"):
        raise Refused("project_not_started", "close-out materials are for started or closed projects")
    if kind not in KINDS:
        raise Refused("bad_material_kind", f"kind must be one of {', '.join(KINDS)}", 422)
    if not title.strip() or not 1 <= count <= MAX_COUNT:
        raise Refused("bad_material", f"title must be non-empty and count 1–{MAX_COUNT}", 422)
    ref = reference.strip() if reference else None
    return [("CloseOutMaterialDelivered", {
        "project_id": plan.project_id, "material_id": material_id, "kind": kind, "kind_label": KINDS[kind],
        "title": title.strip(), "count": count, "reference": ref or None, "received_on": today.isoformat()})]
