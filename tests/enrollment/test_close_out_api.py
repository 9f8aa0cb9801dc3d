"""Close-out materials (总结材料, 004 §3.3) over HTTP on the real app: the project's host or an admin
over its organizer records what it delivered, with the server's day of receipt; every signed-in
role reads the list, a host only its own project's. Refusals are problem+json and write nothing."""

from __future__ import annotations

import uuid

from tests.enrollment import seed_projects
from tests.enrollment.seed_projects import CITY_ADMIN, HOST, OTHER_HOST, TODAY, advance, count, draft, problem

world, api = seed_projects.world, seed_projects.api  # module-scoped fixtures, one per test module


def material(kind: str = "case", **changes) -> dict:
    return {"kind": kind, "title": "“送教下乡”工作案例", "count": 1, **changes}


async def materials(epool, pid: str) -> list[tuple]:
    rows = await epool.fetch("SELECT kind, title, count, reference, received_on FROM close_out_materials"
                             " WHERE project_id = $1 ORDER BY version", uuid.UUID(pid))
    return [tuple(r) for r in rows]


async def test_the_host_and_the_organizer_record_close_out_materials_on_the_day_received(api, epool):
    pid = await draft(api)
    await advance(api, pid, 5)  # closed: the training is over
    url = f"/v1/projects/{pid}/close-out-materials"
    first = await api(("host", HOST), "POST", url, json=material("course_video", title="课堂实录", count=3,
                                                                  reference="https://jspx.example/v/1"))
    assert first.status_code == 201 and first.headers["ETag"] == '"7"', first.text
    assert first.json()["received_on"] == TODAY.isoformat() and uuid.UUID(first.json()["material_id"])
    failed = material("failed_list", title="考核不合格学员名单")
    assert (await api(CITY_ADMIN, "POST", url, json=failed)).status_code == 201
    assert await materials(epool, pid) == [("course_video", "课堂实录", 3, "https://jspx.example/v/1", TODAY),
                                           ("failed_list", "考核不合格学员名单", 1, None, TODAY)]
    for who in (("teacher", None), ("auditor", "610102"), ("host", HOST), CITY_ADMIN):
        resp = await api(who, "GET", url)
        assert resp.status_code == 200 and resp.headers["ETag"] == '"8"', who
    items = resp.json()["items"]
    assert [(i["kind"], i["kind_label"], i["count"], i["received_on"]) for i in items] == [
        ("course_video", "高品质课程视频资源", 3, "2026-03-02"), ("failed_list", "考核不合格学员名单", 1, "2026-03-02")]
    problem(await api(("host", OTHER_HOST), "GET", url), 404, "project_not_found")
    problem(await api(("teacher", None), "GET", f"/v1/projects/{uuid.uuid4()}/close-out-materials"), 404,
            "project_not_found")


async def test_bad_or_out_of_scope_deliveries_write_nothing(api, epool):
    pid, drafted = await draft(api), await draft(api)
    await advance(api, pid, 4)
    url = f"/v1/projects/{pid}/close-out-materials"
    before = await count(epool)
    problem(await api(("host", OTHER_HOST), "POST", url, json=material()), 403, "out_of_scope")
    problem(await api(("county_admin", "610102"), "POST", url, json=material()), 403, "out_of_scope")
    problem(await api(("city_admin", "610200"), "POST", url, json=material()), 403, "out_of_scope")
    problem(await api(("teacher", None), "POST", url, json=material()), 403, "forbidden_role")
    problem(await api(("auditor", "610100"), "POST", url, json=material()), 403, "forbidden_role")
    problem(await api(("host", HOST), "POST", url, json=material("poem")), 422, "validation_error")
    problem(await api(("host", HOST), "POST", url, json=material(count=0)), 422, "validation_error")
    problem(await api(("host", HOST), "POST", url, json=material(title="")), 422, "validation_error")
    problem(await api(("host", HOST), "POST", url, json=material(title="   ")), 422, "bad_material")
    problem(await api(("host", HOST), "POST", url, json=material(received_on="2026-01-01")), 422, "validation_error")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{drafted}/close-out-materials", json=material()), 409,
            "project_not_started")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{uuid.uuid4()}/close-out-materials",
                      json=material()), 404, "project_not_found")
    assert await count(epool) == before and await materials(epool, pid) == []
