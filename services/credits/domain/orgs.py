"""The way up the org tree from a school to its province, for "the nearest policy wins".

The credits service keeps its own copy of the tree from enrollment's OrgRegistered events. When
a code is not (yet) known there — events from another stream can arrive late — the GB/T 2260
shape of the code gives the parent: a school is its county's code plus digits, a county NNNNxx
sits under its city NNNN00 (or under the province when the city digits are 90, 省直辖县级行政区划,
e.g. 419001 济源 under 410000, seed 003), a city under NN0000.
"""

from __future__ import annotations

from collections.abc import Mapping

DIRECT_COUNTY_MARK = "90"
MAX_DEPTH = 8


def gbt_parent(code: str) -> str | None:
    if not (code.isascii() and code.isdigit()) or len(code) < 6:
        return None
    if len(code) > 6:
        return code[:6]  # a school under its county
    if code.endswith("0000"):
        return None  # a province
    if code.endswith("00"):
        return code[:2] + "0000"
    return code[:2] + "0000" if code[2:4] == DIRECT_COUNTY_MARK else code[:4] + "00"


def chain(code: str, parents: Mapping[str, str | None]) -> list[str]:
    """[code, parent, grandparent, …] up to the root; known parents first, GB/T shape otherwise."""
    out = [code]
    while len(out) < MAX_DEPTH:
        cur = out[-1]
        parent = parents[cur] if cur in parents else gbt_parent(cur)
        if parent is None or parent in out:
            break
        out.append(parent)
    return out


def kind_of(code: str) -> str:
    if len(code) > 6:
        return "school"
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"
