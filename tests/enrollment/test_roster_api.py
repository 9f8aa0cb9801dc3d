"""GET /v1/orgs/{code}/teachers (.csv, .xlsx) on the real app: a region's roster read back, page by
page or as a spreadsheet, with names and masked ID numbers only, to those who administer it."""

from __future__ import annotations

import csv
import io
import zipfile

from tests.enrollment import seed_teachers
from tests.enrollment.seed_teachers import BODIES, EN, new_id, post

roster_world = seed_teachers.roster_world  # module-scoped, autouse: the org tree and log capture


async def _get(client, url, **kwargs):
    resp = await client.get(url, **kwargs)
    xlsx = resp.headers.get("content-type", "").startswith("application/vnd.openxmlformats")
    BODIES.append(_xlsx_text(resp.content) if xlsx else resp.content.decode("utf-8", "replace"))
    return resp


def _xlsx_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return " ".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))


async def _import(client, school: str, names: list[str]) -> dict[str, str]:
    """Registers one teacher per name at `school`; returns {national ID: teacher id}."""
    numbers = [new_id() for _ in names]
    lines = [EN] + [f"{n},{nid},{school},数学,初中,一级教师,2012-09-01" for n, nid in zip(names, numbers, strict=True)]
    resp = await post(client, "/v1/teachers/import", content="\n".join(lines).encode(),
                      headers={"content-type": "text/csv"})
    assert resp.status_code == 201, resp.text
    return dict(zip(numbers, resp.json()["teacher_ids"], strict=True))


async def test_a_county_reads_its_roster_back_page_by_page_school_by_school(as_role):
    async with as_role("county_admin", "610103") as c:
        mine = await _import(c, "610103001", [f"赵{i}" for i in range(7)])
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            resp = await _get(c, "/v1/orgs/610103/teachers", params=params)
            assert resp.status_code == 200, resp.text
            page = resp.json()
            assert page["org_code"] == "610103" and len(page["items"]) <= 3
            seen += page["items"]
            if not (cursor := page["next_cursor"]):
                break
    assert {t["id"] for t in seen} >= set(mine.values())
    assert [(t["school_code"], t["id"]) for t in seen] == sorted((t["school_code"], t["id"]) for t in seen)
    one = next(t for t in seen if t["id"] == mine[next(iter(mine))])
    number = next(iter(mine))
    assert one["national_id_masked"] == number[:6] + "*" * 8 + number[14:]
    assert one["school_name"] == "610103001" and one["name"].startswith("赵")


async def test_the_export_lists_the_subtree_with_chinese_headings_and_no_id_number_in_clear(as_role):
    async with as_role("county_admin", "610102") as county:
        mine = await _import(county, "610102002", ["钱一", "孙二"])
    async with as_role("city_admin", "610100") as city:
        as_csv = await _get(city, "/v1/orgs/610100/teachers.csv")
        as_xlsx = await _get(city, "/v1/orgs/610100/teachers.xlsx")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["教师编号", "姓名", "身份证号(脱敏)", "学校代码", "学校名称", "学科", "学段", "职称", "入职日期"]
    by_id = {r[0]: r for r in rows[1:]}
    for number, tid in mine.items():
        assert by_id[tid][1] in ("钱一", "孙二") and by_id[tid][2] == number[:6] + "*" * 8 + number[14:]
        assert by_id[tid][3:] == ["610102002", "610102002", "数学", "初中", "一级教师", "2012-09-01"]
        assert number not in as_csv.text and number not in _xlsx_text(as_xlsx.content)
    assert as_xlsx.status_code == 200 and all(tid in _xlsx_text(as_xlsx.content) for tid in mine.values())


async def test_who_may_read_a_roster(as_role):
    async with as_role("county_admin", "610103") as c:
        for url in ("/v1/orgs/610102/teachers", "/v1/orgs/610102/teachers.csv"):
            resp = await _get(c, url)
            assert (resp.status_code, resp.json()["code"]) == (403, "out_of_scope")
    async with as_role("teacher", sub="00000000-0000-0000-0000-000000000001") as c:
        assert (await _get(c, "/v1/orgs/610102/teachers")).json()["code"] == "forbidden_role"
    async with as_role("province_admin", "610000") as c:
        resp = await _get(c, "/v1/orgs/610199/teachers")
        assert (resp.status_code, resp.json()["code"]) == (404, "org_not_found")
        resp = await _get(c, "/v1/orgs/610102/teachers", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert (resp.status_code, resp.json()["code"]) == (422, "bad_cursor")


async def test_an_export_past_its_cap_is_refused_with_what_to_do_instead(as_role, monkeypatch):
    from services.enrollment.api import roster

    monkeypatch.setattr(roster, "MAX_EXPORT_ROWS", 1)
    async with as_role("county_admin", "610102") as c:
        await _import(c, "610102001", ["周一", "吴二"])
        resp = await _get(c, "/v1/orgs/610102/teachers.xlsx")
    assert (resp.status_code, resp.json()["code"]) == (422, "export_too_large")
    assert "one at a time" in resp.json()["detail"]
