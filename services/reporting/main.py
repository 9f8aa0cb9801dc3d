"""ASGI entry point of the reporting service: `uvicorn services.reporting.main:app`.

Read-only: it records no events of its own (owns_events=False). Kernel projections follow the
enrollment, credits and funding streams into its own tables (services/reporting/projector); the API
answers from them as JSON, CSV and XLSX, and /dashboard draws them for people.
"""

from pathlib import Path

from services.reporting.api import admin, compliance, exports, hosts, rates
from services.reporting.dashboard import page, signin
from services.reporting.projector import PROJECTIONS
from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="reporting",
    title="Reporting 统计报表",
    migrations=Path(__file__).parent / "migrations",
    routers=[rates.router, exports.router, hosts.router, compliance.router, page.router, signin.router, admin.router],
    projections=PROJECTIONS,
    owns_events=False,
)
app = create_app(spec)
