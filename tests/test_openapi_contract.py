"""The HTTP door as generated clients see it (issue 16): every operation of the four services has
a readable, unique operationId, `<tag>-<function>`, from which a generator names its methods."""

from __future__ import annotations

import importlib
import re

import pytest

OPERATION_ID = re.compile(r"^[a-z][a-z0-9_]*-[a-z][a-z0-9_]*$")


@pytest.mark.parametrize("service", ["enrollment", "credits", "funding", "reporting"])
def test_every_operation_has_a_readable_unique_id(service: str) -> None:
    app = importlib.import_module(f"services.{service}.main").app
    spec = app.openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert ids and all(OPERATION_ID.match(i) for i in ids), [i for i in ids if not OPERATION_ID.match(i)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
