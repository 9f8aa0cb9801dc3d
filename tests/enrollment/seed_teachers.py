"""Shared by the teacher API tests (registration; roster import): valid national ID numbers, request
bodies and CSV rows, and the org tree as given events.

Every national ID number issued here is remembered in ISSUED, and every response body and log
record of these modules in BODIES and LOGS (process-wide, across the modules): the PII test, the
last of test_teachers_register_api.py, scans them, with its database, for numbers in clear.
A test module takes `roster_world` (module-scoped, autouse) by binding it at its top.
"""

from __future__ import annotations

import itertools
import logging
import random
from datetime import date, timedelta

import pytest

from tests.enrollment.given import given
from tests.enrollment.test_national_id import make_id

PROBLEM = "application/problem+json"
EN = "name,national_id,school_code,subject,stage,title,hired_on"
ZH = "序号,姓名,身份证号,学校代码,学科,学段,职称,入职日期"
ISSUED: set[str] = set()
BODIES: list[str] = []  # every response body of this module, for the PII scan
LOGS: list[str] = []  # every log record of this module, formatted with its extras
_serial = itertools.count(random.randrange(0, 10_000) * 100)


def new_id() -> str:
    n = next(_serial)
    born = (date(1960, 1, 1) + timedelta(days=n // 900)).strftime("%Y%m%d")
    number = make_id("610102", born, f"{n % 900 + 100:03d}")
    ISSUED.add(number)
    return number


def bad_check_digit() -> str:
    """A well-formed number whose GB 11643 check digit is wrong (a fixed "0" is right 1 time in 11)."""
    good = new_id()
    return good[:17] + ("1" if good[17] != "1" else "2")


def teacher(**over) -> dict:
    return {"name": "王芳", "national_id": new_id(), "school_code": "610102001", "subject": "数学",
            "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01", **over}


def row(school="610102001", nid=None, name="李雷", hired="2012-09-01") -> str:
    return f"{name},{nid or new_id()},{school},语文,小学,二级教师,{hired}"


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOGS.append(f"{record.getMessage()} {record.exc_text or ''} {record.__dict__!r}")


@pytest.fixture(scope="module", autouse=True)
async def roster_world(enrollment_app, epool):
    assert enrollment_app.state.settings.pii_key, "tests/enrollment/conftest.py configures a PII key"
    for org in ("610000 province", "610100 city 610000", "610102 county 610100", "610102001 school 610102",
                "610102002 school 610102", "610103 county 610100", "610103001 school 610103"):
        code, kind, parent = (*org.split(), None)[:3]
        await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": code, "kind": kind,
                                                             "parent_code": parent}))
    root, handler, level = logging.getLogger(), _Collect(logging.DEBUG), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)


async def post(client, url, **kwargs):
    resp = await client.post(url, **kwargs)
    BODIES.append(resp.text)
    return resp


async def written(pool) -> tuple[int, int, int]:
    return (await pool.fetchval("SELECT count(*) FROM events"), await pool.fetchval("SELECT count(*) FROM teachers"),
            await pool.fetchval("SELECT count(*) FROM teacher_identities"))
