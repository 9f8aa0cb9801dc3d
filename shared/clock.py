"""`Today`: the Asia/Shanghai calendar day as a FastAPI dependency (shared/calendar.py says why).
One function for every service, so a test pins a service's calendar with
`app.dependency_overrides[shanghai_today] = lambda: date(2023, 12, 31)`.

In the dev profile only (Settings.dev_profile, DEV_PROFILE=1, which `make run` sets and no
deployment does), a request may name its day in an `X-Dev-Today: YYYY-MM-DD` header: `make demo`
loads three school years of history through the public API that way. Without the profile the
header is ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from .calendar import today_in_shanghai

DEV_TODAY_HEADER = "x-dev-today"


def dev_today(request: Request) -> date | None:
    """The day an `X-Dev-Today` header names, when the app runs in the dev profile; else None."""
    raw = request.headers.get(DEV_TODAY_HEADER)
    if not raw:
        return None
    settings = getattr(request.app.state, "settings", None)
    if not getattr(settings, "dev_profile", False):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


# async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
async def shanghai_today(request: Request) -> date:
    return dev_today(request) or today_in_shanghai()


Today = Annotated[date, Depends(shanghai_today)]
