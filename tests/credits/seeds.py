"""The two real policies of the acceptance tests, as the seeds state them, and a mid-cycle change.

- Jiangxi 360000 (seed 001 §2.3, issued 2018-02-06 "自下发之日起施行"): a 5-year cycle of full
  training from 2018, 60 hours a year, 20 hours = 1 credit (cycle 300 hours).
- Jiyuan 419001 (seed 003 §4.3, plan 2021–2025 issued 2021-12-17): 360 hours per 5-year cycle,
  120 hours of induction for newly hired teachers; no credit conversion, no annual figure.
- JIANGXI_2021: a hypothetical correction from the 2021学年 (mid-cycle): 72 hours a year,
  24 hours per credit, 336 hours for the cycle.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.credits.domain.policy import Policy

JIANGXI, JIYUAN = "360000", "419001"

JIANGXI_2018 = Policy(jurisdiction_code=JIANGXI, effective_from=date(2018, 2, 6), cycle_years=5,
                      cycle_start_year=2018, hours_per_credit=Decimal(20), annual_hours=Decimal(60),
                      cycle_hours=Decimal(300), published_on=date(2018, 2, 6))
JIANGXI_2021 = Policy(jurisdiction_code=JIANGXI, effective_from=date(2021, 9, 1), cycle_years=5,
                      cycle_start_year=2018, hours_per_credit=Decimal(24), annual_hours=Decimal(72),
                      cycle_hours=Decimal(336), published_on=date(2021, 7, 1))
JIYUAN_2021 = Policy(jurisdiction_code=JIYUAN, effective_from=date(2021, 12, 17), cycle_years=5,
                     cycle_start_year=2021, cycle_hours=Decimal(360), induction_hours=Decimal(120),
                     published_on=date(2021, 12, 17))


def body(p: Policy) -> dict:
    """The PUT /v1/policies body for a policy."""
    out = {"effective_from": p.effective_from.isoformat(), "cycle_years": p.cycle_years,
           "cycle_start_year": p.cycle_start_year}
    for name in ("hours_per_credit", "annual_hours", "cycle_hours", "induction_hours"):
        if getattr(p, name) is not None:
            out[name] = int(getattr(p, name))
    return out
