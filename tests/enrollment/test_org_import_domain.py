"""domain/org_import.py: reading a school list and judging it, without a database."""

from __future__ import annotations

import pytest

from services.enrollment.domain.org_import import OrgRow, decide_org_import, read_org_csv
from services.enrollment.domain.orgs import Org
from shared.refusal import Refused

COUNTY = Org("420102", "江岸区", "county", "420100")


def test_headings_kinds_and_parents_are_read_as_a_spreadsheet_spells_them():
    sheet = "\ufeff机构代码, 机构名称 ,类型,上级代码\n420102001,一中,学校,\n\n420103,江汉区,区县,420100\n"
    rows, errors = read_org_csv(sheet, 100)
    assert errors == []
    assert rows == [OrgRow(2, Org("420102001", "一中", "school", "420102")),
                    OrgRow(4, Org("420103", "江汉区", "county", "420100"))]


def test_a_row_that_cannot_be_an_org_is_reported_by_line():
    rows, errors = read_org_csv("code,name,kind\n42010200a,x,school\n420102002,y,村\n420102003,z,\n", 100)
    assert [r.line for r in rows] == [4] and [e["line"] for e in errors] == [2, 3]


@pytest.mark.parametrize("text", ["code,kind\n1,school\n", "名称,name\n", "code,name,机构代码\n1,a,1\n"])
def test_a_file_without_its_columns_is_refused_whole(text):
    with pytest.raises(Refused) as e:
        read_org_csv(text, 100)
    assert e.value.code == "bad_csv"


def test_too_many_rows_is_refused_whole():
    with pytest.raises(Refused):
        read_org_csv("code,name\n" + "420102001,x\n" * 3, 2)


def test_children_are_judged_after_parents_and_a_refused_parent_refuses_them():
    rows = [OrgRow(2, Org("420104001", "一中", "school", "420104")),
            OrgRow(3, Org("420104", "硚口区", "county", "420100")),
            OrgRow(4, Org("420105001", "二中", "school", "420105")),
            OrgRow(5, Org("420105", "汉阳区", "city", "420100"))]  # a county code registered as a city
    decided, refused = decide_org_import(rows, {"420100": Org("420100", "武汉市", "city", "420000")}, lambda c: True)
    assert [code for code, _ in decided] == ["420104", "420104001"]
    assert [(e["line"], e["code"]) for e in refused] == [(4, "parent_not_found"), (5, "invalid_org_code")]


def test_repeats_rename_and_scope():
    registered = {"420102": COUNTY, "420102001": Org("420102001", "一中", "school", "420102")}
    rows = [OrgRow(2, Org("420102001", "一中", "school", "420102")),
            OrgRow(3, Org("420102002", "二中", "school", "420102")),
            OrgRow(4, Org("420102002", "二中", "school", "420102")),
            OrgRow(5, Org("420103001", "外区", "school", "420103"))]
    decided, refused = decide_org_import(rows, registered, lambda code: code.startswith("420102"))
    assert decided == [("420102002", [("OrgRegistered", {"code": "420102002", "name": "二中", "kind": "school",
                                                         "parent_code": "420102"})])]
    assert [(e["line"], e["code"]) for e in refused] == [(4, "duplicate_row"), (5, "out_of_scope")]
