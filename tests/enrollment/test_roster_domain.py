"""Roster deciders without a database: Given events / When command / Then events (or a refusal).
Org codes (GB/T 2260 shapes and parents), hosts, teacher fields and the CSV reader."""

from __future__ import annotations

from datetime import date
from functools import reduce

import pytest

from services.enrollment.domain import roster
from services.enrollment.domain.orgs import (
    Host,
    Org,
    decide_register_host,
    decide_register_org,
    evolve_host,
    evolve_org,
    expected_parents,
)
from shared.refusal import Refused
from tests.enrollment.test_national_id import make_id

TODAY = date(2024, 6, 1)
SHAANXI = Org("610000", "陕西省", "province", None)
XIAN = Org("610100", "西安市", "city", "610000")
XINCHENG = Org("610102", "新城区", "county", "610100")
HENAN = Org("410000", "河南省", "province", None)


def given(evolve, *events):
    return reduce(lambda s, e: evolve(s, *e), events, None)


def org_event(org: Org):
    return ("OrgRegistered", {"code": org.code, "name": org.name, "kind": org.kind, "parent_code": org.parent_code})


def refused(fn, *args) -> Refused:
    with pytest.raises(Refused) as info:
        fn(*args)
    return info.value


@pytest.mark.parametrize(("code", "kind", "parents"), [
    ("610000", "province", ()),
    ("610100", "city", ("610000",)),
    ("610102", "county", ("610100",)),
    ("419001", "county", ("410000",)),          # 济源: 省直辖县级行政区划 (city digits 90)
    ("610102001", "school", ("610102",)),
    ("610102123456", "school", ("610102",)),
])
def test_gb2260_shapes_and_their_parents(code, kind, parents):
    assert expected_parents(code, kind) == parents


@pytest.mark.parametrize(("code", "kind"), [
    ("610100", "province"), ("610000", "city"), ("610102", "city"), ("610100", "county"), ("610000", "county"),
    ("419000", "city"), ("6101", "county"), ("61010a", "county"), ("990000", "province"), ("610102", "school"),
    ("61010201", "school"), ("6101021234567", "school"), ("610100001", "school"), ("６１００００", "province"),
])
def test_codes_of_the_wrong_shape_are_refused(code, kind):
    assert expected_parents(code, kind) is None
    parent = next(iter(expected_parents(code[:6], "county") or ()), None) if kind == "school" else None
    exc = refused(decide_register_org, None, Org(code, "x", kind, parent), None)
    assert (exc.code, exc.status) == ("invalid_org_code", 422)


def test_a_province_registers_without_a_parent():
    assert decide_register_org(None, SHAANXI, None) == [org_event(SHAANXI)]


def test_a_province_with_a_parent_is_refused():
    exc = refused(decide_register_org, None, Org("620000", "甘肃省", "province", "610000"), SHAANXI)
    assert (exc.code, exc.status) == ("invalid_parent", 422)


def test_a_county_must_sit_under_its_own_city():
    exc = refused(decide_register_org, None, Org("610202", "王益区", "county", "610100"), XIAN)
    assert exc.code == "invalid_parent"


def test_the_parent_must_be_registered_and_of_the_right_kind():
    assert refused(decide_register_org, None, XINCHENG, None).code == "parent_not_found"
    fake_city = Org("610100", "西安市", "county", "610000")  # what the table says is not a city
    assert refused(decide_register_org, None, XINCHENG, fake_city).code == "invalid_parent"


def test_a_county_directly_under_its_province():
    jiyuan = Org("419001", "济源市", "county", "410000")
    assert decide_register_org(None, jiyuan, HENAN) == [org_event(jiyuan)]


def test_a_school_sits_under_its_county():
    school = Org("610102001", "西安市第一中学", "school", "610102")
    assert decide_register_org(None, school, XINCHENG) == [org_event(school)]


def test_an_identical_registration_changes_nothing_and_a_new_name_is_recorded():
    state = given(evolve_org, org_event(XIAN))
    assert decide_register_org(state, XIAN, SHAANXI) == []
    renamed = Org("610100", "西安市（新）", "city", "610000")
    assert decide_register_org(state, renamed, SHAANXI) == [org_event(renamed)]


def test_kind_and_parent_never_change():
    # GB/T 2260 fixes kind and parent by the code's shape, so only a stream recorded under other
    # rules (here: a county without its parent) can disagree; it is refused rather than moved.
    state = given(evolve_org, org_event(Org("610102", "新城区", "county", None)))
    exc = refused(decide_register_org, state, XINCHENG, XIAN)
    assert (exc.code, exc.status) == ("org_immutable", 409)
    assert refused(decide_register_org, state, Org("419001", "济源市", "county", "419000"), None).code == \
        "invalid_parent"  # 4190 is not a city under GB/T 2260


def test_hosts_register_in_a_registered_province_and_stay_there():
    host = Host("h-1", "北京师范大学", "610000")
    assert decide_register_host(None, host, SHAANXI) == [("HostRegistered", {
        "host_id": "h-1", "name": "北京师范大学", "province_code": "610000"})]
    assert refused(decide_register_host, None, host, None).code == "province_not_found"
    assert refused(decide_register_host, None, host, XIAN).code == "province_not_found"
    state = given(evolve_host, ("HostRegistered", {"host_id": "h-1", "name": "北师大", "province_code": "610000"}))
    assert decide_register_host(state, Host("h-1", "北师大", "610000"), SHAANXI) == []
    exc = refused(decide_register_host, state, Host("h-1", "北师大", "410000"), HENAN)
    assert (exc.code, exc.status) == ("host_immutable", 409)


def teacher(**over):
    fields = {"name": "王芳", "national_id": make_id(), "school_code": "610102001", "subject": "数学",
              "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01"}
    return {**fields, **over}


def test_a_valid_teacher_is_registered_with_work_facts_only():
    row, issues = roster.check_teacher(teacher(hired_on="2010/9/1", title=""), TODAY)
    assert issues == [] and row.title is None and row.hired_on == date(2010, 9, 1)
    events = roster.decide_register_teacher(None, "t-1", row, Org("610102001", "一中", "school", "610102"))
    assert events == [("TeacherRegistered", {"teacher_id": "t-1", "school_code": "610102001", "subject": "数学",
                                              "stage": "初中", "title": None, "hired_on": "2010-09-01"})]
    assert make_id() not in repr(events) and "王芳" not in repr(events)


def test_every_bad_field_is_reported_at_once():
    row, issues = roster.check_teacher(teacher(name=" ", subject="", national_id="123", hired_on="2010-13-01"), TODAY)
    assert row is None
    assert [f for f, _ in issues] == ["name", "subject", "national_id", "hired_on"]


def test_hiring_dates_in_the_future_or_before_sixteen_are_refused():
    assert roster.check_teacher(teacher(hired_on="2024-06-02"), TODAY)[1][0][0] == "hired_on"
    assert roster.check_teacher(teacher(hired_on="2001-03-11"), TODAY)[1][0][0] == "hired_on"  # born 1985-03-12
    assert roster.check_teacher(teacher(hired_on="2001-03-12"), TODAY)[1] == []


def test_registering_into_an_unknown_school_or_an_existing_stream_is_refused():
    row, _ = roster.check_teacher(teacher(), TODAY)
    assert refused(roster.decide_register_teacher, None, "t", row, None).code == "school_not_found"
    assert refused(roster.decide_register_teacher, None, "t", row, XINCHENG).code == "school_not_found"
    state = given(roster.evolve_teacher, ("TeacherRegistered", {"teacher_id": "t"}))
    assert refused(roster.decide_register_teacher, state, "t", row, XINCHENG).code == "teacher_exists"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode()


def test_the_csv_reader_takes_chinese_headings_a_bom_and_numbers_lines_like_a_spreadsheet():
    data = csv_bytes("序号,姓名,身份证号,学校代码,学科,学段,职称,入职日期", "1,王芳,X,610102001,数学,初中,,2010-09-01",
                     ",,,,,,,", '2,"李\n雷",Y,610102001,语文,小学,二级教师,2012-09-01', bom=True)
    headings, rows = roster.read_roster_csv(data, 10)
    assert headings["national_id"] == "身份证号"
    assert [(r.line, r.values["name"]) for r in rows] == [(2, "王芳"), (4, "李\n雷")]


@pytest.mark.parametrize(("data", "code", "status"), [
    ("姓名,身份证号\n王芳,1\n".encode("gbk"), "csv_not_utf8", 422),
    (b"", "csv_empty", 422),
    (csv_bytes("name,national_id,school_code,subject,stage,hired_on"), "csv_empty", 422),
    (csv_bytes("name,school_code,subject,stage,hired_on", "a,b,c,d,e"), "csv_bad_header", 422),
    (csv_bytes("name,姓名,national_id,school_code,subject,stage,hired_on"), "csv_bad_header", 422),
    (csv_bytes("name,national_id,school_code,subject,stage,hired_on", *["a,b,c,d,e,f"] * 3), "csv_too_many_rows", 413),
])
def test_file_level_faults(data, code, status):
    exc = refused(roster.read_roster_csv, data, 2)
    assert (exc.code, exc.status) == (code, status)


def test_a_files_clean_columns_change_no_rows_verdict():
    """check_rows screens each text column of a file once (clean_columns); a row's verdict with the
    screen is its verdict alone, whatever the other rows hold."""
    good = {"name": "张三", "national_id": make_id("610102", "19850312", "123"), "school_code": "610102001",
            "subject": "数学", "stage": "初中", "title": "", "hired_on": "2010-09-01"}
    odd = ["李四\u202e", "备注 " + make_id("610102", "19850312", "124"), "１１０１０５１９４９１２３１００２Ｘ",
           "\u0301王五", "王六\x1f", "a\u3000b", "x" * 60, "", "赵七"]
    rows = [good] + [good | {col: value} for col in roster.TEXT_COLUMNS for value in odd]
    clean = roster.clean_columns(rows)
    assert clean == frozenset()  # every column got an odd cell
    assert roster.clean_columns([good, good | {"name": "孙八"}]) == frozenset(roster.TEXT_COLUMNS)
    for raw in rows:
        assert roster.check_teacher(raw, TODAY, clean=clean) == roster.check_teacher(raw, TODAY)
    for col in roster.TEXT_COLUMNS:  # one odd cell in one column leaves the others screened
        some = [good, good | {col: odd[1]}]
        screened = roster.clean_columns(some)
        assert screened == frozenset(roster.TEXT_COLUMNS) - {col}
        for raw in some:
            assert roster.check_teacher(raw, TODAY, clean=screened) == roster.check_teacher(raw, TODAY)
