"""The org tree's shape, as GB/T 2260 codes read it (pure; no database).

Orgs are administrative division codes: `610000` a province, `610100` a city under it,
`610102` a county/district, and a school is its county's code plus digits. A county NNNNxx sits
under its city NNNN00, or directly under the province when the city digits are 90
(省直辖县级行政区划, e.g. 419001 济源 under 410000, seed 003). Services keep their own copy of
the registered tree (OrgRegistered); where a code is not known there (yet), its shape gives the
parent. The recursive look-ups over a registered tree are in shared/orgtree.py.
"""

from __future__ import annotations

from collections.abc import Mapping

DIRECT_COUNTY_MARK = "90"
MAX_DEPTH = 8


def _gbt(code: str) -> bool:
    return len(code) >= 6 and code.isascii() and code.isdigit()


def subtree_prefix(code: str) -> str | None:
    """The prefix every code in `code`'s subtree starts with; None if it has no subtree."""
    if len(code) != 6 or not _gbt(code):
        return None  # schools (longer codes) and non-GB codes cover only themselves
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def org_within(code: str, ancestor: str) -> bool:
    """Whether `code` is `ancestor` or lies in its subtree, by GB/T 2260 prefix."""
    if code == ancestor:
        return True
    prefix = subtree_prefix(ancestor)
    if prefix is None or not _gbt(code):
        return False
    return code.startswith(prefix)


def gbt_parent(code: str) -> str | None:
    """The parent a code's shape implies, or None for a province or a code of another shape."""
    if not _gbt(code):
        return None
    if len(code) > 6:
        return code[:6]  # a school under its county
    if code.endswith("0000"):
        return None  # a province
    if code.endswith("00"):
        return code[:2] + "0000"
    return code[:2] + "0000" if code[2:4] == DIRECT_COUNTY_MARK else code[:4] + "00"


def chain(code: str, parents: Mapping[str, str | None]) -> list[str]:
    """[code, parent, grandparent, …] up to the root: recorded parents first, GB/T shape otherwise."""
    out = [code]
    while len(out) < MAX_DEPTH:
        cur = out[-1]
        parent = parents[cur] if cur in parents else gbt_parent(cur)
        if parent is None or parent in out:
            break
        out.append(parent)
    return out


def kind_of(code: str) -> str:
    """province, city, county or school, by the code's shape."""
    if len(code) > 6:
        return "school"
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"

