"""Route order is speed, and one thing more: where two routes can match one path (credits'
`/v1/certificates/keys` and `/v1/certificates/{certificate_no}`) the literal one must come first.
Services list their hottest routers first (shared/service.py); this holds every route reachable
by its own path whatever they reorder."""

from __future__ import annotations

import importlib
import re

import pytest
from starlette.routing import Match

SERVICES = ("enrollment", "credits", "funding", "reporting")
# A path parameter in a request (a UUID: never a literal segment of another route).
SAMPLE = "5b7c1d2e-0000-4000-8000-000000000001"


def _routes(app):
    """(methods, path) of every HTTP route, the included routers' ones too."""
    for route in app.router.routes:
        candidates = route.effective_candidates() if hasattr(route, "effective_candidates") else [route]
        for c in candidates:
            original = getattr(c, "original_route", c)
            path = getattr(original, "path", None)
            if path is not None and getattr(original, "methods", None):
                yield frozenset(original.methods), path


@pytest.mark.parametrize("service", SERVICES)
def test_the_router_finds_each_route_for_its_own_path(service):
    app = importlib.import_module(f"services.{service}.main").app
    for methods, template in set(_routes(app)):
        path = re.sub(r"\{[^}]+\}", SAMPLE, template)
        method = sorted(methods - {"HEAD"})[0]
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
        found = None
        for route in app.router.routes:
            match, child = route.matches(dict(scope))
            if match == Match.FULL:
                found = child
                break
        assert found is not None, (method, path)
        assert getattr(found.get("route"), "path", template) == template, (method, path, found.get("route"))
