"""GET /dashboard: the reader's own scope as server-side SVG charts, each with its figures in a
table and each table exportable (GET /dashboard/export/{table}.csv|.xlsx, the same rows):

- rates (选送率, 报到率, 结业率) per child region, with a link per region to drill down
  province → city → county → school, and a trail back up (never above the reader's own org);
- the rates by month of project start within the school year, and across school years;
- the rates per project level; teachers short of hours (学时) per child region, as credits judges
  them; funding ratios against their thresholds, as funding judges them; the host ranking.

A browser signs in at /signin (services/reporting/dashboard/signin.py) and carries the verified
JWT in a session cookie (shared/session.py); an `Authorization: Bearer` header works as before.
No script; nothing loaded from anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from html import escape
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.reporting import queries, reads, report, report_credits, report_funding
from services.reporting.api.common import Scope, problem, scope_of
from services.reporting.api.rates import Code
from services.reporting.dashboard.signin import ROLE_LABELS, signin_redirect
from services.reporting.dashboard.svg import grouped_bars, horizontal_bars, percent
from services.reporting.report_hosts import ranking
from shared.auth import Principal
from shared.calendar import school_year_bounds, school_year_of
from shared.clock import Today
from shared.exports import CSV, XLSX, attachment, csv_bytes, xlsx_bytes
from shared.problems import Problem
from shared.session import session_principal

router = APIRouter(tags=["dashboard"])
SERIES = (("选送率", "selection_rate"), ("报到率", "check_in_rate"), ("结业率", "completion_rate"))
KINDS = {"province": "省", "city": "市", "county": "区县", "school": "学校"}
RULES = {"school_public_funds_share": "学校培训经费占公用经费", "district_payroll_share": "区县培训经费占工资总额",
         "pass_down_share": "区县下拨比例"}
CSS = """*{box-sizing:border-box}body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;
margin:0;color:#1f1f1f;background:#fff}main{max-width:1100px;margin:0 auto;padding:12px 16px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:0 0 6px}section{margin:28px 0}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;justify-content:space-between}
nav a,.export a{color:#1f5fa8}nav ol{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px}
nav li+li:before{content:"›";padding-right:4px;color:#4a4a4a}.years a[aria-current]{font-weight:bold;color:#1f1f1f}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:13px;margin-top:8px}
caption{text-align:left;font-weight:bold;padding:4px 0}td,th{border:1px solid #b8bec7;padding:4px 8px;text-align:right}
th{background:#eef1f5}td:first-child,th:first-child{text-align:left}
svg.chart{max-width:100%;height:auto;display:block}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin:8px 0}
.card{border:1px solid #b8bec7;border-radius:6px;padding:6px 12px}
.card b{display:block;font-size:20px}.note{color:#4a4a4a;font-size:13px}
.export{display:flex;gap:12px;font-size:14px;margin-top:6px}
button{font:inherit;background:#fff;border:1px solid #1f5fa8;color:#1f5fa8;border-radius:6px;padding:4px 10px}
@media (max-width:600px){main{padding:8px}h1{font-size:18px}.card b{font-size:16px}}"""
RATE_HEADERS = ["", "指标名额", "报送", "报到", "结业", "不予结业", "未报到", "选送率", "报到率", "结业率"]


@dataclass
class Table:
    id: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    chart: str = ""
    note: str = ""
    links: list[str | None] = field(default_factory=list)  # per row: the first cell's drill-down link


@dataclass
class Dashboard:
    year: int
    school_year: int
    where: str
    region: str | None
    scope: Scope
    trail: list[tuple[str, str]]  # (code, name) from the reader's own org down to `region`
    years: list[int]
    school_years: list[int]
    cards: list[tuple[str, Any]]
    tables: list[Table]
    lag: str
    today: date


def _rates_rows(items: list[dict[str, Any]], label: str = "label") -> list[list[Any]]:
    return [[i[label], i["quota"], i["nominated"], i["checked_in"], i["completed"], i["failed"], i["no_show"],
             *(percent(i[k]) for _, k in SERIES)] for i in items]


def _series(items: list[dict[str, Any]]) -> list[tuple[str, list[str | None]]]:
    return [(n, [i[k] for i in items]) for n, k in SERIES]


def _months(school_year: int) -> list[str]:
    return [f"{school_year + (m < 9)}-{m:02d}" for m in (*range(9, 13), *range(1, 9))]


async def _trail(conn: Any, scope: Scope, region: str | None) -> list[tuple[str, str]]:
    """Ancestors of `region` down from the reader's own org (never above it), `region` last."""
    out: list[tuple[str, str]] = []
    code = region
    while code is not None:
        row = await queries.org(conn, code)
        out.append((code, row["name"] if row else code))
        if code == scope.region or row is None:
            break
        code = row["parent_code"]
    return out[::-1]


async def build(request: Request, principal: Principal, today: date, year: int | None,
                region_code: str | None, school_year: int | None = None) -> Dashboard:
    scope = scope_of(principal)
    region = scope.region_or_own(region_code)
    app = request.app
    async with app.state.pool.acquire() as conn:
        year = year or await reads.latest_year(conn) or today.year
        if region_code is not None and await queries.org(conn, region_code) is None:
            raise problem("region_not_found", f"no org {region_code}", 404)
        years = [r["year"] for r in await conn.fetch(
            "SELECT DISTINCT year FROM projects WHERE status <> 'cancelled' ORDER BY year")]
        school_years = [int(r["key"]) for r in await queries.figures(conn, queries.Filter(), "school_year")]
        # 学年 sections (months, credits): the one asked for, else the latest with projects
        school_year = school_year or (school_years[-1] if school_years else school_year_of(today))
        trail = await _trail(conn, scope, region)
        by_level = await report.rates(conn, report.RatesQuery(year=year, region_code=region, group_by="level",
                                                              host_id=scope.host))
        f = queries.Filter(year=year, region=region, host_id=scope.host)
        regions = await report.regions(conn, f, None, 1000)
        first, last = school_year_bounds(school_year)
        by_month = {r["key"]: r for r in await queries.figures(conn, queries.Filter(
            region=region, host_id=scope.host, starts_from=first, starts_to=last), "month")}
        by_school_year = await queries.figures(conn, queries.Filter(region=region, host_id=scope.host), "school_year")
        ranked = await ranking(conn, year, scope.region, today, only_host=scope.host)
        funds = [] if scope.host else await report_funding.judged_orgs(conn, year, region)
        credits: dict[str, Any] | None = None
        credits_error = ""
        if not scope.host:
            try:
                credits = await report_credits.credits(app, conn, school_year, region, today)
            except Problem as exc:
                credits_error = exc.detail or exc.title
    lags = [c.lag for c in app.state.consumers]
    parent = regions["parent"]
    where = (parent["name"] or parent["region_code"]) if parent else "全部地区"
    total = by_level["total"]
    cards: list[tuple[str, Any]] = [
        ("指标名额", total["quota"]), ("报送", total["nominated"]), ("报到", total["checked_in"]),
        ("结业", total["completed"]), *((name, percent(total[k])) for name, k in SERIES),
        ("满意率", percent(total["satisfaction_rate"]))]
    tables: list[Table] = []

    kids = regions["items"]
    base = {"year": year, "school_year": school_year}
    tables.append(Table(
        "by-region", f"{year}年 {where}下辖地区", RATE_HEADERS, _rates_rows(kids, "name"),
        grouped_bars(f"{year}年 {where}下辖地区", [i["name"] for i in kids], _series(kids)),
        "点击地区名称查看下一级。" if kids and kids[0]["kind"] != "school" else "",
        [f"/dashboard?{urlencode({**base, 'region_code': i['region_code']})}" for i in kids]))

    months = _months(school_year)
    month_items = [{"label": m, **_figures(by_month.get(m))} for m in months]
    tables.append(Table(
        "by-month", f"{school_year}学年 按开班月份", ["月份", *RATE_HEADERS[1:]], _rates_rows(month_items),
        grouped_bars(f"{school_year}学年 按开班月份", [m[2:] for m in months], _series(month_items)),
        f"{school_year}学年:{first.isoformat()} 至 {last.isoformat()};按项目开班日期所在月份汇总。"))

    sy_items = [{"label": f"{r['key']}学年", **_figures(r)} for r in by_school_year]
    tables.append(Table(
        "by-school-year", "历年趋势(按学年)", ["学年", *RATE_HEADERS[1:]], _rates_rows(sy_items),
        grouped_bars("历年趋势(按学年)", [i["label"] for i in sy_items], _series(sy_items))))

    tables.append(Table(
        "by-level", f"{year}年 按项目级别", ["项目级别", *RATE_HEADERS[1:]], _rates_rows(by_level["items"]),
        grouped_bars(f"{year}年 按项目级别", [i["label"] for i in by_level["items"]], _series(by_level["items"]))))

    if credits is not None:
        rows = [[i["name"], i["teachers"], i["meeting"], i["teachers"] - i["meeting"], percent(i["share"])]
                for i in credits["items"]]
        t = credits["total"]
        rows.append(["合计", t["teachers"], t["meeting"], t["teachers"] - t["meeting"], percent(t["share"])])
        tables.append(Table(
            "short-of-hours", f"{school_year}学年 学时达标(学时不足教师)",
            ["地区", "教师数", "达到年度学时", "学时不足", "达标率"], rows,
            horizontal_bars(f"{school_year}学年 学时达标率", [i["name"] for i in credits["items"]],
                            [i["share"] for i in credits["items"]]),
            "学时不足 = 教师数 − 达到年度学时要求的教师数;按学分政策判定(学时登记服务)。"))
    elif credits_error:
        tables.append(Table("short-of-hours", f"{school_year}学年 学时达标(学时不足教师)", ["说明"],
                            [[f"学时数据暂不可用:{credits_error}"]]))

    if not scope.host:
        sums = [(i["name"], report_funding.summary(funds, i["region_code"])) for i in kids]
        tables.append(Table(
            "funding", f"{year}年 经费合规(达标率)",
            ["地区", "学校达标/已评", "区县达标/已评", "学校未申报", "区县未申报"],
            [[name, *(f'{sm[k]["compliant"]}/{sm[k]["compliant"] + sm[k]["not_compliant"]}'
                      for k in ("school", "county")), *(sm[k]["undeclared"] for k in ("school", "county"))]
             for name, sm in sums],
            grouped_bars(f"{year}年 经费合规(达标率)", [name for name, _ in sums],
                         [(label, [sm[kind]["compliance_rate"] for _, sm in sums])
                          for label, kind in (("学校达标率", "school"), ("区县达标率", "county"))]),
            "学校:安排的培训经费预算 ÷ 公用经费预算(支出另列,不作判定);"
            "区县:培训经费预算 ÷ 工资总额(不低于下限;指导上限仅作提示)、下拨 ÷ 培训经费预算;"
            "各按本级或上级最近发布的经费政策判定,未申报预算的单位列为“未申报”,基数为0的不评。"))
        high = (parent or {}).get("kind") in (None, "province", "city")
        shown = [o for o in funds if o["kind"] == "county"] if high else funds
        verdict = {True: "达标", False: "未达标"}
        ratio_rows = [[o["name"] or o["org_code"], KINDS.get(o["kind"] or "", o["kind"]),
                       RULES.get(r["rule"], r["rule"]), percent(r["ratio"]), _threshold(r),
                       verdict.get(r["compliant"], "未评")] for o in shown for r in o["rules"]]
        tables.append(Table("funding-ratios", f"{year}年 经费比例与标准",
                            ["单位", "类别", "指标", "比例", "标准", "判定"], ratio_rows,
                            note="比例与标准均由经费服务按政策计算;“—”表示基数为0或未申报。"))

    host_rows = [[i["rank"], i["name"] or i["host_id"], i["score"], percent(i["completion_rate"]),
                  percent(i["satisfaction_rate"]), percent(i["bulletin_share"]), percent(i["close_out_share"])]
                 for i in ranked["items"]]
    w = ranked["weights"]
    tables.append(Table(
        "hosts", f"{year}年 承办单位综合得分",
        ["名次", "承办单位", "得分", "结业率", "满意率", "简报按时", "总结材料按时"], host_rows,
        horizontal_bars(f"{year}年 承办单位综合得分", [i["name"] or i["host_id"][:8] for i in ranked["items"]],
                        [i["score"] for i in ranked["items"]]),
        f"综合得分 = 结业率 × {w['completion']} + 满意率 × {w['satisfaction']} + 简报按时率 × {w['bulletins']}"
        f" + 总结材料按时率 × {w['close_out']};无数据的项计0分。"))
    lag = "未知" if any(x is None for x in lags) else str(sum(lags))
    return Dashboard(year, school_year, where, region, scope, trail, years, school_years, cards, tables, lag,
                     today)


def _figures(row: dict[str, Any] | None) -> dict[str, Any]:
    from services.reporting.domain.rates import Figures

    return (Figures.of(row) if row else Figures()).as_json()


def _threshold(rule: dict[str, Any]) -> str:
    lo, hi = rule.get("threshold_min"), rule.get("threshold_max")
    if lo is not None and hi is not None:
        return f"{percent(lo)}–{percent(hi)}"
    if lo is not None:
        return f"≥ {percent(lo)}"
    if hi is not None:
        return f"≤ {percent(hi)}"
    return "—"


def _table_html(t: Table, query: dict[str, Any]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in t.headers)
    body = []
    for n, row in enumerate(t.rows):
        cells = []
        for k, c in enumerate(row):
            text = escape(str(c))
            if k == 0 and n < len(t.links) and t.links[n]:
                text = f'<a href="{escape(t.links[n] or "")}">{text}</a>'
            cells.append(f'<th scope="row">{text}</th>' if k == 0 else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not t.rows:
        body.append(f'<tr><td colspan="{len(t.headers)}">暂无数据</td></tr>')
    q = urlencode({k: v for k, v in query.items() if v is not None})
    exports = (f'<div class="export">导出本表:<a href="/dashboard/export/{t.id}.csv?{q}" download>CSV</a>'
               f'<a href="/dashboard/export/{t.id}.xlsx?{q}" download>Excel</a></div>')
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return (f'<section id="{t.id}" aria-labelledby="{t.id}-h"><h2 id="{t.id}-h">{escape(t.title)}</h2>'
            f'<div class="scroll">{t.chart}</div>'
            f'<div class="scroll"><table><caption>{escape(t.title)}(数据表)</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{exports}{note}</section>')


def render(d: Dashboard, principal: Principal) -> str:
    query = {"year": d.year, "school_year": d.school_year, "region_code": d.region}
    region_q = {"region_code": d.region} if d.region else {}
    years = "".join(f'<a href="/dashboard?{urlencode({"year": y, "school_year": d.school_year, **region_q})}"'
                    f'{" aria-current=page" if y == d.year else ""}>{y}</a> ' for y in d.years)
    school_years = "".join(f'<a href="/dashboard?{urlencode({"year": d.year, "school_year": y, **region_q})}"'
                           f'{" aria-current=page" if y == d.school_year else ""}>{y}学年</a> '
                           for y in d.school_years)
    here = {"year": d.year, "school_year": d.school_year}
    crumbs = "".join(f'<li><a href="/dashboard?{urlencode({**here, "region_code": c})}"'
                     f'{" aria-current=page" if c == d.region else ""}>{escape(n)}</a></li>' for c, n in d.trail)
    cards = "".join(f'<div class="card">{label}<b>{escape(str(value))}</b></div>' for label, value in d.cards)
    who = f"{ROLE_LABELS.get(principal.role, escape(principal.role))} · {escape(principal.org or '')}"
    empty = "" if d.years else ('<p class="note" role="status">尚无培训项目数据。本地开发时,在另一个终端运行 '
                                "<code>make demo</code> 载入演示省份(三个学年),然后刷新本页。</p>")
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<title>教师培训统计看板 {d.year}</title><style>{CSS}</style></head><body><main>
<header><h1>教师培训统计看板 · {d.year}年 · {escape(d.where)}</h1>
<form method="post" action="/signout"><span class="note">{who}</span>
<button type="submit">退出登录</button></form></header>
<nav aria-label="地区层级"><ol>{crumbs}</ol></nav>
<nav class="years" aria-label="项目年度">项目年度:{years}</nav>
<nav class="years" aria-label="学年">学年(月度趋势、学时):{school_years}</nav>
<p class="note">数据截至 {d.today.isoformat()};待处理事件 {d.lag} 条。比率分母为0时显示“—”。
每个图表下方有对应数据表。</p>
{empty}<div class="cards">{cards}</div>
{"".join(_table_html(t, query) for t in d.tables)}
</main></body></html>"""


Year = Annotated[int | None, Query(ge=2000, le=2100)]


def _reader(request: Request) -> Principal | None:
    return session_principal(request)


def _missing() -> Problem:
    """As the API answers without a token (shared/auth.py), naming the browser's way in too."""
    return Problem(401, "missing_token", "缺少身份凭证 Missing token",
                   detail="send Authorization: Bearer <JWT>, or sign in at /signin",
                   headers={"WWW-Authenticate": "Bearer"})


@router.get("/dashboard", response_class=HTMLResponse, summary="Charts for people (no script, no CDN)")
async def dashboard(request: Request, today: Today, year: Year = None, region_code: Code = None,
                    school_year: Year = None) -> Response:
    principal = _reader(request)
    if principal is None:
        if "text/html" in request.headers.get("accept", ""):  # a browser: to the sign-in page
            return signin_redirect(request)
        raise _missing()
    d = await build(request, principal, today, year, region_code, school_year)
    return HTMLResponse(render(d, principal), headers={"Cache-Control": "no-store"})


@router.get("/dashboard/export/{table}.{ext}", summary="One of the dashboard's tables as CSV or XLSX",
            response_class=Response, responses={200: {"description": "the table as the page shows it",
                                                       "content": {"text/csv": {}, XLSX: {}}}})
async def export(request: Request, today: Today, table: str, ext: Literal["csv", "xlsx"], year: Year = None,
                 region_code: Code = None, school_year: Year = None) -> Response:
    principal = _reader(request)
    if principal is None:
        raise _missing()
    d = await build(request, principal, today, year, region_code, school_year)
    found = next((t for t in d.tables if t.id == table), None)
    if found is None:
        raise Problem(404, "not_found", "Not Found", detail=f"no table {table}")
    columns = [(h or "名称", f"c{k}") for k, h in enumerate(found.headers)]
    rows = [{f"c{k}": _cell(v, ext) for k, v in enumerate(r)} for r in found.rows]
    name = f"{found.id}-{d.year}-{d.region or 'all'}.{ext}"
    if ext == "csv":
        return Response(csv_bytes(columns, rows), media_type=CSV, headers=attachment(name, found.title))
    notes: list[list[Any]] = [["地区", d.where], ["年度", d.year], *([[found.note]] if found.note else [])]
    return Response(xlsx_bytes(found.title[:31], columns, rows, notes=notes), media_type=XLSX,
                    headers=attachment(name, found.title))


def _cell(value: Any, ext: str) -> Any:
    if ext == "xlsx" and isinstance(value, str) and value.endswith("%"):
        try:
            return Decimal(value[:-1]) / 100
        except ArithmeticError:
            return value
    return value
