"""Signing in a browser to the dashboard (shared/session.py has the cookie's rules).

- GET /signin: a form to paste the bearer JWT the identity provider issued (production; an SSO
  gateway may instead POST it, or add the Authorization header to every request). In the dev
  profile only (DEV_PROFILE=1, which `make run` sets), a second, clearly marked form picks a role
  and an org and signs in with a token minted from the local dev key (.data/keys).
- POST /signin (token), POST /signin/dev (role, org), POST /signout.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.api.common import ADMIN_READERS
from shared.problems import Problem
from shared.session import end_session, session_principal, start_session

router = APIRouter(tags=["dashboard"])
ROLE_LABELS = {"province_admin": "省级管理员", "city_admin": "市级管理员", "county_admin": "区县管理员",
               "school_admin": "学校管理员", "auditor": "审核员", "host": "承办单位", "service": "系统服务"}
KIND_LABELS = {"province": "省", "city": "市", "county": "区县", "school": "学校"}
CSS = """body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:0;color:#1f1f1f;
background:#f6f7f9}main{max-width:560px;margin:0 auto;padding:16px}h1{font-size:22px}
form{background:#fff;border:1px solid #c9ced6;border-radius:8px;padding:16px;margin:16px 0}
label{display:block;margin:10px 0 4px;font-weight:bold}select,textarea,button{font:inherit;width:100%;
box-sizing:border-box;padding:8px}button{background:#1f5fa8;color:#fff;border:0;border-radius:6px;margin-top:14px;
cursor:pointer}.dev{border:2px dashed #a4262c}.dev h2{color:#a4262c}.note{color:#4a4a4a;font-size:14px}
.error{color:#a4262c;font-weight:bold}"""


def _next(raw: str | None) -> str:
    """Only a path on this site: never `//host` or `https://…` (no open redirect)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/dashboard"


def dev_keys_dir(request: Request) -> Path | None:
    """The dev signing key's folder, in the dev profile and when the key is there; else None."""
    settings = request.app.state.settings
    if not settings.dev_profile:
        return None
    keys = Path(settings.jwt_public_keys).parent
    return keys if (keys / "dev-private.pem").exists() else None


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def _orgs(request: Request) -> list[tuple[str, str, str]]:
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch("SELECT code, name, kind FROM orgs ORDER BY length(code), code LIMIT 2000")
    return [(r["code"], r["name"], r["kind"]) for r in rows]


def _page(body: str) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<title>登录 · 教师培训统计看板</title><style>{CSS}</style></head><body><main>{body}</main></body></html>""",
                        headers={"Cache-Control": "no-store"})


@router.get("/signin", response_class=HTMLResponse, summary="Sign in to the dashboard (a browser's session)")
async def signin_page(request: Request, next: str | None = None, error: str | None = None) -> HTMLResponse:
    target = escape(_next(next))
    parts = ["<h1>教师培训统计看板 · 登录</h1>"]
    if error:
        parts.append(f'<p class="error" role="alert">登录失败:{escape(error)}</p>')
    if dev_keys_dir(request) is not None:
        orgs = await _orgs(request)
        groups = []
        for kind, label in KIND_LABELS.items():
            opts = "".join(f'<option value="{escape(c)}">{escape(n)}({escape(c)})</option>'
                           for c, n, k in orgs if k == kind)
            if opts:
                groups.append(f'<optgroup label="{label}">{opts}</optgroup>')
        roles = "".join(f'<option value="{r}">{ROLE_LABELS[r]}({r})</option>' for r in ADMIN_READERS)
        hint = "" if orgs else '<p class="note">尚无机构数据:先运行 <code>make demo</code> 载入演示省份。</p>'
        parts.append(f"""<form class="dev" method="post" action="/signin/dev" aria-labelledby="dev-title">
<h2 id="dev-title">开发模式登录(仅限本地开发)</h2>
<p class="note">使用本机生成的开发密钥签发令牌;生产环境不提供此入口(DEV_PROFILE 未开启时不显示)。</p>{hint}
<label for="role">角色</label><select id="role" name="role">{roles}</select>
<label for="org">机构</label><select id="org" name="org">{"".join(groups)}</select>
<input type="hidden" name="next" value="{target}"><button type="submit">以开发身份登录</button></form>""")
    parts.append(f"""<form method="post" action="/signin" aria-labelledby="jwt-title">
<h2 id="jwt-title">使用身份令牌登录</h2>
<p class="note">粘贴统一身份认证签发的令牌(与 API 的 Authorization: Bearer 相同)。
验证通过后保存为仅限本站的会话 Cookie。</p>
<label for="token">令牌 (JWT)</label><textarea id="token" name="token" rows="5" required></textarea>
<input type="hidden" name="next" value="{target}"><button type="submit">登录</button></form>""")
    return _page("".join(parts))


def _back(error: str, target: str) -> RedirectResponse:
    return RedirectResponse(f"/signin?next={quote(target)}&error={quote(error)}", status_code=303)


# The form posts are a browser's, not an API for generated clients: left out of /openapi.json.
@router.post("/signin", summary="Verify a JWT and keep it as the session cookie", include_in_schema=False)
async def signin(request: Request) -> Response:
    form = await _form(request)
    target = _next(form.get("next"))
    response = RedirectResponse(target, status_code=303)
    try:
        start_session(response, request.app.state.verifier, form.get("token", "").strip())
    except Problem as exc:
        return _back(exc.detail or exc.title, target)
    return response


@router.post("/signin/dev", summary="Dev profile only: sign in as a role and org with the dev key",
             include_in_schema=False)
async def signin_dev(request: Request) -> Response:
    keys = dev_keys_dir(request)
    if keys is None:  # no such page outside the dev profile
        raise Problem(404, "not_found", "Not Found")
    from shared.devkeys import mint_token

    form = await _form(request)
    target = _next(form.get("next"))
    role, org = form.get("role", ""), form.get("org", "")
    if role not in ADMIN_READERS or not org.isdigit():
        return _back("请选择角色和机构", target)
    token = mint_token(keys, role, org=org, sub=f"dev-{role}-{org}")
    response = RedirectResponse(target, status_code=303)
    start_session(response, request.app.state.verifier, token)
    return response


@router.post("/signout", summary="End the browser's session", include_in_schema=False)
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    end_session(response)
    return response


def signin_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(here)}", status_code=303)


__all__ = ["router", "session_principal", "signin_redirect"]
