"""GET /dashboard: rates by region and by project level, the host ranking, funding compliance by
region and the read models' freshness, as server-side SVG charts with their figures in tables.

The page takes the same bearer token as the API (in a deployment the SSO gateway in front of it
adds the header) and shows the reader's own scope: an admin's subtree, a host's own projects.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting import queries, reads, report, report_funding
from services.reporting.api.common import problem, scope_of
from services.reporting.api.rates import Code
from services.reporting.dashboard.svg import grouped_bars, horizontal_bars, percent
from services.reporting.report_hosts import ranking
from shared.auth import Authenticated
from shared.clock import Today

router = APIRouter(tags=["dashboard"])
SERIES = (("选送率", "selection_rate"), ("报到率", "check_in_rate"), ("结业率", "completion_rate"))
CSS = """body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px;color:#222}
h1{font-size:22px}section{margin:24px 0}table{border-collapse:collapse;font-size:13px;margin-top:8px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f5f8}
td:first-child,#hosts td:nth-child(2){text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ccd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}.note{color:#666;font-size:12px}"""


HOST_HEADERS = ["名次", "承办单位", "得分", "结业率", "满意率", "简报按时", "总结材料按时"]


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _rates_rows(items: list[dict]) -> list[list[object]]:
    return [[i["label"], i["quota"], i["nominated"], i["checked_in"], i["completed"],
             *(percent(i[k]) for _, k in SERIES)] for i in items]


RATE_HEADERS = ["", "指标", "报送", "报到", "结业", "选送率", "报到率", "结业率"]


@router.get("/dashboard", response_class=HTMLResponse, summary="Charts for people (no script, no CDN)")
async def dashboard(request: Request, principal: Authenticated, today: Today,
                    year: Annotated[int | None, Query(ge=2000, le=2100)] = None, region_code: Code = None
                    ) -> HTMLResponse:
    scope = scope_of(principal)
    region = scope.region_or_own(region_code)
    async with request.app.state.pool.acquire() as conn:
        year = year or await reads.latest_year(conn) or today.year
        if region_code is not None and await queries.org(conn, region_code) is None:
            raise problem("region_not_found", f"no org {region_code}", 404)
        by_level = await report.rates(conn, report.RatesQuery(year=year, region_code=region, group_by="level",
                                                              host_id=scope.host))
        f = queries.Filter(year=year, region=region, host_id=scope.host)
        regions = await report.regions(conn, f, None, 60)
        ranked = await ranking(conn, year, scope.region, today, only_host=scope.host)
        funds = [] if scope.host else await report_funding.judged_orgs(conn, year, region)
    lags = [c.lag for c in request.app.state.consumers]
    parent = regions["parent"]
    total, where = by_level["total"], ((parent["name"] or parent["region_code"]) if parent else "全部地区")
    cards = "".join(f'<div class="card">{label}<b>{value}</b></div>' for label, value in (
        ("指标名额", total["quota"]), ("报送", total["nominated"]), ("报到", total["checked_in"]),
        ("结业", total["completed"]), *((name, percent(total[k])) for name, k in SERIES),
        ("满意率", percent(total["satisfaction_rate"]))))
    level_chart = grouped_bars(f"{year}年 按项目级别", [i["label"] for i in by_level["items"]],
                               [(n, [i[k] for i in by_level["items"]]) for n, k in SERIES])
    region_chart = grouped_bars(f"{year}年 {where}下辖地区", [i["name"] for i in regions["items"]],
                                [(n, [i[k] for i in regions["items"]]) for n, k in SERIES])
    host_chart = horizontal_bars(f"{year}年 承办单位综合得分", [i["name"] or i["host_id"][:8] for i in ranked["items"]],
                                 [i["score"] for i in ranked["items"]])
    host_rows = [[i["rank"], i["name"] or i["host_id"], i["score"], percent(i["completion_rate"]),
                  percent(i["satisfaction_rate"]), percent(i["bulletin_share"]), percent(i["close_out_share"])]
                 for i in ranked["items"]]
    kids = [(i["name"], report_funding.summary(funds, i["region_code"])) for i in regions["items"]]
    funding_chart = grouped_bars(f"{year}年 经费合规(达标率)", [name for name, _ in kids],
                                 [(label, [sm[kind]["compliance_rate"] for _, sm in kids])
                                  for label, kind in (("学校达标率", "school"), ("区县达标率", "county"))])
    funding_rows = [[name, *(f'{sm[k]["compliant"]}/{sm[k]["compliant"] + sm[k]["not_compliant"]}'
                             for k in ("school", "county")), *(sm[k]["undeclared"] for k in ("school", "county"))]
                    for name, sm in kids]
    w = {k: escape(v) for k, v in ranked["weights"].items()}
    lag = "未知" if any(x is None for x in lags) else str(sum(lags))
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>教师培训统计看板 {year}</title><style>{CSS}</style></head><body>
<h1>教师培训统计看板 · {year}年 · {escape(where)}</h1>
<p class="note">数据截至 {today.isoformat()};待处理事件 {lag} 条。比率分母为0时显示“—”。</p>
<div class="cards">{cards}</div>
<section id="by-region">{region_chart}{_table(RATE_HEADERS, _rates_rows(
        [{**i, "label": i["name"]} for i in regions["items"]]))}</section>
<section id="by-level">{level_chart}{_table(RATE_HEADERS, _rates_rows(by_level["items"]))}</section>
<section id="hosts">{host_chart}{_table(HOST_HEADERS, host_rows)}
<p class="note">综合得分 = 结业率 × {w["completion"]} + 满意率 × {w["satisfaction"]} + 简报按时率 × {w["bulletins"]}
+ 总结材料按时率 × {w["close_out"]};无数据的项计0分;
同分依次比较结业率、满意率、简报按时率、总结材料按时率、单位编号。</p></section>
<section id="funding">{funding_chart}{_table(["", "学校达标/已评", "区县达标/已评", "学校未申报", "区县未申报"],
                                             funding_rows)}
<p class="note">学校:安排的培训经费预算 ÷ 公用经费预算(支出另列,不作判定);
区县:培训经费预算 ÷ 工资总额(不低于下限;指导上限仅作提示)、下拨 ÷ 培训经费预算;
各按本级或上级最近发布的经费政策判定,未申报预算的单位列为“未申报”,基数为0的不评。</p></section>
</body></html>"""
    return HTMLResponse(html)
