"""Issue 18, a person's first hour: `make run`, open the printed URL in Chromium, sign in (no header
set by hand), see a populated dashboard, drill down, export, be refused outside one's scope; the
charts each have a table, the page fits a phone and passes axe-core's WCAG 2 A/AA checks; and
`make demo` is idempotent, shows its progress, and loads exactly what the reporting API reports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import io
import json
import re

import asyncpg
import httpx

from bench.demo import Demo, parse
from tests.browser.conftest import AXE, DEMO_ARGS, Stack, run_demo

PROVINCE, NAME = "610000", "示范省"


def sign_in(page, url: str, role: str, org: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    assert "/signin" in page.url, "an unsigned browser is sent to the sign-in page"
    assert page.locator("form.dev h2").inner_text().startswith("开发模式登录")
    page.select_option("#role", role)
    page.select_option("#org", org)
    page.click("form.dev button")
    page.wait_for_url(re.compile(r"/dashboard"))


def charts(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.evaluate("""[...document.querySelectorAll('section')].map(s => ({
        id: s.id, title: s.querySelector('h2').textContent,
        bars: [...s.querySelectorAll('svg.chart rect.bar')]
              .filter(r => r.getBBox().width * r.getBBox().height > 0).length,
        charts: s.querySelectorAll('svg.chart').length,
        rows: s.querySelectorAll('table tbody tr').length,
        exports: [...s.querySelectorAll('.export a')].map(a => a.getAttribute('href'))}))""")


def counties(stack: Stack) -> list[tuple[str, str]]:
    demo = Demo(parse([*DEMO_ARGS, "--data-dir", str(stack.data_dir)]))
    return [(c.code, c.name) for c in demo.province.counties]


def test_the_printed_url_reaches_a_populated_dashboard_after_signing_in(page, stack):
    sign_in(page, stack.dashboard_url, "province_admin", PROVINCE)
    assert NAME in page.locator("h1").inner_text()
    drawn = charts(page)
    ids = [c["id"] for c in drawn]
    assert ids == ["by-region", "by-month", "by-school-year", "by-level", "short-of-hours", "funding",
                   "funding-ratios", "hosts"], ids
    for c in drawn:
        assert c["rows"] > 0, f"{c['id']}: an empty table"
        assert len(c["exports"]) == 2, f"{c['id']}: CSV and Excel buttons"
        if c["id"] != "funding-ratios":  # a table of verdicts, not a chart's alternative
            assert c["charts"] == 1 and c["bars"] > 0, f"{c['id']}: a chart with bars, then its table"
    # Labels are Chinese; rates over time cover three school years.
    school_years = page.locator("#by-school-year tbody th").all_inner_texts()
    assert school_years == ["2023学年", "2024学年", "2025学年"]
    assert page.errors == []


def test_axe_core_finds_no_wcag_a_or_aa_violation_and_every_chart_has_a_table(page, stack):
    sign_in(page, stack.dashboard_url, "province_admin", PROVINCE)
    page.add_script_tag(content=AXE.read_text())  # vendored by `make vendor` (npm registry), never fetched here
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target)}));
    }""")
    assert result == [], json.dumps(result, ensure_ascii=False, indent=1)
    # each chart sits in a section whose table holds its figures
    assert page.evaluate("[...document.querySelectorAll('svg.chart')].every(s => s.closest('section')"
                         ".querySelector('table caption'))")


def test_the_sign_in_page_passes_axe_core(page, stack):
    page.goto(stack.dashboard_url)
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa']}})).violations.map(v => v.id)""")
    assert result == []


def test_drill_down_from_province_to_school(page, stack):
    sign_in(page, stack.dashboard_url, "province_admin", PROVINCE)
    for level in ("city", "county", "school"):
        link = page.locator("#by-region tbody th a").first
        name = link.inner_text()
        link.click()
        page.wait_for_load_state()
        assert name in page.locator("h1").inner_text(), f"drilled into the {level} {name}"
        assert name in page.locator("nav[aria-label=地区层级]").inner_text()
    # at a school there is nothing further down, and the trail leads back to the province
    assert page.locator("#by-region tbody th a").count() == 0
    page.locator("nav[aria-label=地区层级] a").first.click()
    page.wait_for_load_state()
    assert NAME in page.locator("h1").inner_text()
    assert page.errors == []


def test_export_a_table_as_csv_from_the_page(page, stack):
    sign_in(page, stack.dashboard_url, "province_admin", PROVINCE)
    with page.expect_download() as info:
        page.locator("#by-region .export a", has_text="CSV").click()
    body = open(info.value.path(), "rb").read()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark, so Excel reads Chinese"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["名称", "指标名额", "报送"]
    shown = page.locator("#by-region tbody tr").all_inner_texts()
    assert [r[0] for r in rows[1:]] == [s.split("\t")[0] for s in shown]
    with page.expect_download() as info:
        page.locator("#hosts .export a", has_text="Excel").click()
    assert open(info.value.path(), "rb").read(2) == b"PK"


def test_a_county_official_sees_only_its_county_in_the_page_and_its_exports(page, stack):
    (mine, my_name), (other, other_name) = counties(stack)[:2]
    sign_in(page, stack.dashboard_url, "county_admin", mine)
    html = page.content()
    assert my_name in page.locator("h1").inner_text()
    assert other_name not in html
    # the trail starts at the official's own county: nothing above it to click
    assert page.locator("nav[aria-label=地区层级] a").all_inner_texts() == [my_name]
    refused = page.goto(f"{stack.dashboard_url}?region_code={other}")
    assert refused.status == 403 and other_name not in page.content()
    for table in ("by-region", "funding-ratios"):
        r = page.request.get(f"{stack.urls['reporting']}/dashboard/export/{table}.csv?region_code={other}")
        assert r.status == 403
        r = page.request.get(f"{stack.urls['reporting']}/dashboard/export/{table}.csv")
        assert r.status == 200 and other_name not in r.text()
    r = page.request.get(f"{stack.urls['reporting']}/dashboard/export/by-region.csv?region_code={PROVINCE}")
    assert r.status == 403, "not the province either"


def test_the_dashboard_fits_a_phone(page, stack):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, stack.dashboard_url, "province_admin", PROVINCE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    assert page.evaluate("[...document.querySelectorAll('svg.chart')]"
                         ".every(s => s.getBoundingClientRect().width <= 390)")


def test_without_a_session_the_dashboard_and_its_exports_refuse(stack, demo):
    r = httpx.get(stack.dashboard_url, follow_redirects=False, headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"].startswith("/signin"), "a browser goes to sign in"
    r = httpx.get(stack.dashboard_url, follow_redirects=False)
    assert r.status_code == 401 and r.json()["code"] == "missing_token", "an API client gets the API's answer"
    r = httpx.get(f"{stack.urls['reporting']}/dashboard/export/by-region.csv")
    assert r.status_code == 401
    r = httpx.post(f"{stack.urls['reporting']}/signin", data={"token": "not-a-jwt"}, follow_redirects=False)
    assert r.status_code == 303 and "error=" in r.headers["location"] and "set-cookie" not in r.headers


def test_the_session_cookie_is_httponly_secure_and_strict(stack, demo):
    r = httpx.post(f"{stack.urls['reporting']}/signin/dev", data={"role": "province_admin", "org": PROVINCE},
                   follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def _events(stack: Stack) -> dict[str, int]:
    async def count() -> dict[str, int]:
        out = {}
        for service in ("enrollment", "credits", "funding"):
            url = stack.db_url.replace("/postgres?", f"/tt_{service}?")
            conn = await asyncpg.connect(url)
            try:
                out[service] = await conn.fetchval("SELECT count(*) FROM events")
            finally:
                await conn.close()
        return out

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        return pool.submit(asyncio.run, count()).result()


def test_the_demo_shows_progress_and_matches_the_reporting_api(stack, demo):
    assert "报送 nominations" in demo.stderr and "100.0%" in demo.stderr and "█" in demo.stderr
    expected = Demo(parse([*DEMO_ARGS, "--data-dir", str(stack.data_dir)])).expected()
    r = httpx.get(f"{stack.urls['reporting']}/v1/reports/rates", params={"group_by": "year"},
                  headers={"Authorization": "Bearer " + _token(stack, "province_admin", PROVINCE)})
    got = {int(i["key"]): {k: i[k] for k in next(iter(expected.values()))} for i in r.json()["items"]}
    assert got == expected
    assert sum(y["completed"] for y in expected.values()) > 0 and len(expected) >= 3


def test_a_second_demo_run_adds_nothing(stack, demo):
    before = _events(stack)
    again = run_demo(stack)
    assert again.returncode == 0 and "nothing to add" in again.stderr, again.stderr[-2000:]
    replayed = run_demo(stack, "--force")  # every call again: each answers from its Idempotency-Key / upsert
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert _events(stack) == before


def _token(stack: Stack, role: str, org: str) -> str:
    from shared.devkeys import mint_token

    return mint_token(stack.data_dir / "keys", role, org=org)
