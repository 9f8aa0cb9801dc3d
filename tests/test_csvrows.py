"""shared/csvrows.py: the imports' one CSV row reader (pure)."""

from __future__ import annotations

import pytest

from shared.csvrows import csv_rows
from shared.refusal import Refused

HEADINGS = {"code": "code", "机构代码": "code", "name": "name", "名称": "name"}


def test_rows_keep_their_line_across_blank_lines_and_quoted_line_breaks():
    # A row whose quoted cell spans lines 2–3 is line 3: where the csv module finished reading it.
    text = '\ufeff 机构代码 ,NAME,备注\n1,"a\nb",x\n\n  ,  \n2,c\n'
    columns, rows = csv_rows(text, HEADINGS, 10)
    assert columns == {"code", "name"}
    assert rows == [(3, {"code": "1", "name": "a\nb"}), (6, {"code": "2", "name": "c"})]


@pytest.mark.parametrize(("text", "why"), [
    ("code,机构代码\n1,2\n", "a column is named twice"),
    ("code,name\n1,a\n2,b\n3,c\n", "at most 2 rows per import"),
    ("code,name\n1," + "x" * 200_000 + "\n", "malformed CSV near line 2"),
])
def test_a_file_that_cannot_be_read_whole_is_refused_bad_csv(text, why):
    with pytest.raises(Refused) as e:
        csv_rows(text, HEADINGS, 2)
    assert (e.value.code, e.value.status) == ("bad_csv", 422) and why in e.value.message
