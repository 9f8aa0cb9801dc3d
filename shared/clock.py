"""`Today`: the Asia/Shanghai calendar day as a FastAPI dependency (shared/calendar.py says why).
One function for every service, so a test pins a service's calendar with
`app.dependency_overrides[shanghai_today] = lambda: date(2023, 12, 31)`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends

from .calendar import today_in_shanghai


# async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
async def shanghai_today() -> date:
    return today_in_shanghai()


Today = Annotated[date, Depends(shanghai_today)]
