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


def _typed(op: dict) -> bool:
    """A 2xx answer with a schema a generator can type: a model ($ref) or a file download."""
    for code, answer in op["responses"].items():
        if code.startswith("2"):
            for media, content in answer.get("content", {}).items():
                if media != "application/json" or "$ref" in str(content.get("schema", {})):
                    return True
    return False


# Operations whose 2xx body is still an untyped object: issue 16 shrinks this list to nothing. A
# new operation must come typed, and one typed since must leave the list (both fail here).
NOT_YET_TYPED = {
    "enrollment": set(),
    "credits": set(),
    "funding": set(),
    "reporting": {
        "reports-get_funding"},
}


@pytest.mark.parametrize("service", sorted(NOT_YET_TYPED))
def test_every_operation_declares_a_typed_2xx_body(service: str) -> None:
    spec = importlib.import_module(f"services.{service}.main").app.openapi()
    untyped = {op["operationId"] for path in spec["paths"].values() for op in path.values() if not _typed(op)}
    assert untyped - NOT_YET_TYPED[service] == set(), "new operations without a typed 2xx body"
    assert NOT_YET_TYPED[service] - untyped == set(), "typed now: take them off NOT_YET_TYPED"


@pytest.mark.parametrize("service", ["enrollment", "credits", "funding", "reporting"])
def test_every_operation_lists_the_problem_codes_it_can_answer(service: str) -> None:
    """x-problem-codes, read off the code (shared/problem_codes.py); the fuzz holds every problem it
    meets to its operation's list (tests/fuzz/test_schemathesis.py)."""
    spec = importlib.import_module(f"services.{service}.main").app.openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = op.get("x-problem-codes")
            assert codes and "validation_error" in codes, f"{method} {path}"
            assert codes == sorted(set(codes))
            if method in ("post", "put") and path != "/v1/admin/rebuild":
                assert "bad_request" in codes, f"{method} {path}"


def test_a_command_lists_its_own_refusals_and_the_kernels() -> None:
    spec = importlib.import_module("services.enrollment.main").app.openapi()
    nominate = spec["paths"]["/v1/projects/{project_id}/nominations"]["post"]["x-problem-codes"]
    assert {"barred", "category_repeat", "national_limit", "window_closed", "forbidden_role", "missing_token",
            "concurrency_conflict", "idempotency_key_reused"} <= set(nominate)
    listing = spec["paths"]["/v1/projects"]["get"]["x-problem-codes"]
    assert "barred" not in listing and "concurrency_conflict" not in listing
