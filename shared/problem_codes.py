"""Which problem codes an operation can answer, read off the code (issue 16: "each operation lists
the problem `code`s it can return"), so the list in /openapi.json cannot drift from what the
handlers do.

From the route's endpoint and its dependencies, every function of ours it can reach (called,
passed on — a handler in a lambda, a decider in a dispatch table — or a class's methods) is read
as source, and every string in it that is a known code counts. Known codes are the service's
refusal titles plus those the kernel raises itself. It over-approximates on purpose: a code a
helper is handed as a literal (`_project_in(..., "project_not_started")`) counts for every route
that reaches that call, and a route made per action by a loop lists the codes of all of them. A
client must be ready for every code listed; none it meets is missing (tests/test_openapi_contract.py
holds the list to what the tests observe).
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import fastapi.routing
from fastapi.routing import APIRoute

OURS = ("services.", "shared.")
# Raised by the kernel where no route's code names them: the request's shape and body size, and a
# backing service down (shared/problems.py, shared/limits.py, shared/db.py).
ALWAYS = frozenset({"validation_error", "unavailable", "payload_too_large", "invalid_text", "value_out_of_range"})
# Answered by create_app's handler for ConcurrencyError to any command (shared/service.py).
COMMANDS = frozenset({"concurrency_conflict", "precondition_failed"})


@functools.cache
def _functions(module_name: str) -> dict[tuple[str, int], ast.AST]:
    """The module's functions and lambdas by (name, each line their def or a decorator is on)."""
    module = sys.modules.get(module_name)
    try:
        tree = ast.parse(inspect.getsource(module)) if module else None
    except (OSError, TypeError):
        tree = None
    out: dict[tuple[str, int], ast.AST] = {}
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            name = getattr(node, "name", "<lambda>")
            for line in (node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))):
                out.setdefault((name, line), node)
    return out


def _node(fn: types.FunctionType) -> ast.AST | None:
    return _functions(fn.__module__).get((fn.__name__, fn.__code__.co_firstlineno))


def _resolve(expr: ast.expr, scope: dict[str, Any]) -> Any:
    """The object a Name or a dotted Attribute chain names in `scope`, or None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in scope:
        return None
    obj = scope[expr.id]
    for part in reversed(parts):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _ours(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith(OURS)


class _Reader:
    def __init__(self, known: frozenset[str]) -> None:
        self.known = known
        self.codes: set[str] = set()
        self.seen: set[int] = set()

    def visit(self, obj: Any) -> None:
        obj = inspect.unwrap(obj) if callable(obj) else obj
        if isinstance(obj, functools.partial):
            obj = obj.func
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if id(obj) in self.seen or not _ours(obj):
            return
        self.seen.add(id(obj))
        if inspect.isclass(obj):
            for member in vars(obj).values():
                self.visit(member.__func__ if isinstance(member, staticmethod | classmethod) else member)
            return
        if not isinstance(obj, types.FunctionType):
            return
        strings, refs = _facts(obj)
        self.codes |= strings & self.known
        for target in refs:
            self.visit(target)


_FACTS: dict[types.FunctionType, tuple[frozenset[str], tuple[Any, ...]]] = {}


def _facts(fn: types.FunctionType) -> tuple[frozenset[str], tuple[Any, ...]]:
    """The strings in a function's source and the functions and classes of ours it names, once."""
    if fn in _FACTS:
        return _FACTS[fn]
    node = _node(fn)
    strings: set[str] = set()
    refs: list[Any] = []
    if node is not None:
        scope = dict(fn.__globals__)
        if fn.__closure__:
            scope.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ if _filled(c)),
                             strict=False))
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                strings.add(sub.value)
            elif isinstance(sub, ast.Name | ast.Attribute) and isinstance(getattr(sub, "ctx", None), ast.Load):
                target = _resolve(sub, scope)
                if target is not None and (inspect.isfunction(target) or inspect.isclass(target)
                                           or isinstance(target, functools.partial | types.MethodType)):
                    refs.append(target)
            elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name | ast.Attribute):
                table = _resolve(sub.value, scope)  # a code looked up in a table: NOT_FOUND[kind]
                if isinstance(table, dict):
                    strings.update(v for v in table.values() if isinstance(v, str))
    _FACTS[fn] = (frozenset(strings), tuple(refs))
    return _FACTS[fn]


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _dependencies(route: APIRoute) -> Iterable[Callable[..., Any]]:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            yield dep.call
        stack.extend(dep.dependencies)


def api_routes(app: Any) -> list[APIRoute]:
    """The app's operations, through included routers (FastAPI 0.12x wraps them; older ones don't)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c.original_route for c in contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def route_codes(route: APIRoute, known: frozenset[str]) -> list[str]:
    reader = _Reader(known)
    reader.visit(route.endpoint)
    calls = list(_dependencies(route))
    for call in calls:
        reader.visit(call)
    codes = set(reader.codes) | ALWAYS
    if (route.methods or set()) - {"GET", "HEAD"}:
        codes.add("bad_request")  # a body that is no JSON at all (shared/problems.py _STATUS_CODES)
    if any(getattr(c, "__name__", "") == "command_context" for c in calls):
        codes |= COMMANDS
    return sorted(codes & (known | ALWAYS | COMMANDS | {"bad_request"}))


@functools.cache
def literal_codes(package: str) -> frozenset[str]:
    """The literal codes raised in a package (e.g. "shared", "services.credits"): the code of every
    Problem(status, code, …), Refused(code, …) and problem(code, …) in its sources."""
    import importlib
    from pathlib import Path

    root = Path(importlib.import_module(package).__file__ or "").parent
    found: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                args = node.args
                if node.func.id == "Problem" and len(args) >= 2 and isinstance(args[1], ast.Constant):
                    found.add(str(args[1].value))
                elif node.func.id in ("Refused", "problem") and args and isinstance(args[0], ast.Constant):
                    found.add(str(args[0].value))
    return frozenset(found)


def known_codes(service: str, titles: Iterable[str]) -> frozenset[str]:
    """Every code a service can answer: its refusal titles, its literal codes and the kernel's."""
    return frozenset(titles) | literal_codes(f"services.{service}") | literal_codes("shared")
