"""Signing a browser in to the dashboard (issue 18): a verified JWT becomes an HttpOnly, Secure,
SameSite=Strict cookie; the dev profile's role-and-org form and its X-Dev-Today clock exist only
when the profile is on."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.devkeys import mint_token
from shared.session import SESSION_COOKIE

PAGE = {"Accept": "text/html"}


@pytest.fixture(scope="module")
async def dev_app(db_url, launch):
    async with launch("reporting", database_url=db_url, dev_profile=True) as app:
        yield app


def browser(app) -> httpx.AsyncClient:
    # https: the cookie is Secure, and httpx (unlike Chromium) keeps those for https only
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://reporting")


async def test_without_the_dev_profile_there_is_no_dev_sign_in_and_no_dev_clock(reporting_app, keys_dir):
    async with browser(reporting_app) as c:
        page = await c.get("/signin")
        assert page.status_code == 200 and "开发模式" not in page.text and 'name="token"' in page.text
        r = await c.post("/signin/dev", data={"role": "province_admin", "org": "610000"})
        assert r.status_code == 404 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
        token = mint_token(keys_dir, "province_admin", org="610000")
        r = await c.get("/dashboard", headers={"Authorization": f"Bearer {token}", "X-Dev-Today": "2001-01-02"})
        assert r.status_code == 200 and "数据截至 2001-01-02" not in r.text


async def test_a_verified_token_becomes_a_strict_secure_httponly_cookie(reporting_app, keys_dir):
    async with browser(reporting_app) as c:
        assert (await c.get("/dashboard", headers=PAGE)).headers["location"] == "/signin?next=/dashboard"
        token = mint_token(keys_dir, "county_admin", org="610102")
        r = await c.post("/signin", data={"token": token, "next": "/dashboard?year=2023"})
        assert r.status_code == 303 and r.headers["location"] == "/dashboard?year=2023"
        cookie = r.headers["set-cookie"].lower()
        assert all(flag in cookie for flag in ("httponly", "secure", "samesite=strict", "path=/", "max-age="))
        r = await c.get("/dashboard", headers=PAGE)
        assert r.status_code == 200 and "教师培训统计看板" in r.text and "区县管理员 · 610102" in r.text
        assert (await c.get("/dashboard", params={"region_code": "610103"})).status_code == 403  # scope holds
        r = await c.post("/signout")
        assert r.status_code == 303 and 'max-age=0' in r.headers["set-cookie"].lower()
        assert (await c.get("/dashboard", headers=PAGE)).status_code == 303


async def test_a_bad_or_expired_token_sets_no_cookie_and_next_stays_on_the_site(reporting_app, keys_dir):
    expired = mint_token(keys_dir, "province_admin", org="610000", extra={"exp": int(time.time()) - 3600})
    async with browser(reporting_app) as c:
        for token in ("not-a-jwt", expired):
            r = await c.post("/signin", data={"token": token, "next": "//evil.example/x"})
            assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=/dashboard&error=")
            assert "set-cookie" not in r.headers
        c.cookies.set(SESSION_COOKIE, expired, domain="reporting")
        assert (await c.get("/dashboard", headers=PAGE)).status_code == 303, "an expired session signs in again"


async def test_the_dev_profile_signs_in_by_role_and_org_and_honours_x_dev_today(dev_app):
    async with browser(dev_app) as c:
        page = await c.get("/signin")
        assert "开发模式登录(仅限本地开发)" in page.text
        r = await c.post("/signin/dev", data={"role": "auditor", "org": "610100", "next": "/dashboard"})
        assert r.status_code == 303 and SESSION_COOKIE in r.headers["set-cookie"]
        r = await c.get("/dashboard", headers={**PAGE, "X-Dev-Today": "2001-01-02"})
        assert r.status_code == 200 and "数据截至 2001-01-02" in r.text and "审核员 · 610100" in r.text
        r = await c.post("/signin/dev", data={"role": "service", "org": "610100"})
        assert "error=" in r.headers["location"], "the form offers the dashboard's readers only"
