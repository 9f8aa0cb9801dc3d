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


@pytest.mark.parametrize("service", ["enrollment", "credits", "funding", "reporting"])
def test_every_operation_declares_a_typed_2xx_body(service: str) -> None:
    """Issue 16 acceptance 3: 100% of operations declare a 2xx response model (or a file download)."""
    spec = importlib.import_module(f"services.{service}.main").app.openapi()
    untyped = {op["operationId"] for path in spec["paths"].values() for op in path.values() if not _typed(op)}
    assert untyped == set()


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


def _schema(spec: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


@pytest.mark.parametrize("service", ["enrollment", "credits", "funding", "reporting"])
def test_every_list_answers_the_one_cursor_page(service: str) -> None:
    """Issue 16: an operation taking `cursor` answers a page of shared/paging.py's shape — `items`
    and an opaque `next_cursor` — and lists 422 bad_cursor among its problems."""
    spec = importlib.import_module(f"services.{service}.main").app.openapi()
    lists = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not any(p["name"] == "cursor" for p in op.get("parameters", [])):
                continue
            lists += 1
            body = _schema(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
            assert body["properties"]["items"]["type"] == "array", f"{method} {path}"
            assert "next_cursor" in body["properties"] and "next_cursor" in body["required"], f"{method} {path}"
            assert "bad_cursor" in op["x-problem-codes"], f"{method} {path}"
    assert lists, "no list operations found"
