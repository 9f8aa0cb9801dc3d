"""Org ancestry has one home (issue 20 point 9): the tree's shape in shared/orgs.py, the look-ups
over a registered tree in shared/orgtree.py. Once there were four (a code prefix, the GB/T 2260
parent with 省直辖县级行政区划, and two tree walks); these tests hold the two readings that remain
(prefix and parent chain) to one answer, and keep every service from growing a fifth."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from shared.orgs import chain, gbt_parent, kind_of, org_within

ROOT = Path(__file__).resolve().parent.parent

provinces = st.sampled_from(["11", "41", "61", "36", "33"])
cities = st.sampled_from(["00", "01", "02", "90"])  # 90: counties directly under the province
counties = st.sampled_from(["00", "01", "02", "03"])
schools = st.sampled_from(["", "001", "017"])


@st.composite
def codes(draw: st.DrawFn) -> str:
    p, c, k, s = draw(provinces), draw(cities), draw(counties), draw(schools)
    if c == "00":
        k = "00"  # a province has no county digits
    if c == "90" and k == "00":
        k = "01"  # 90 marks counties only
    code = p + c + k
    return code + s if k != "00" else code


@given(codes(), codes())
def test_the_prefix_and_the_parent_chain_agree_on_every_gbt_code(code: str, ancestor: str) -> None:
    """Given two GB/T 2260 codes and no registered tree, When asked whether one lies under the other
    by prefix (org_within) and by walking parents (chain), Then both answer the same."""
    assert org_within(code, ancestor) == (ancestor in chain(code, {}))


def test_a_county_directly_under_the_province_belongs_to_no_city() -> None:
    """003 §5.2 (济源, 419001): Given the county-level city under Henan, When its ancestry is read,
    Then its parent is the province and no city of Henan holds it."""
    assert gbt_parent("419001") == "410000" and chain("419001001", {}) == ["419001001", "419001", "410000"]
    assert org_within("419001001", "410000") and not org_within("419001001", "410100")
    assert (kind_of("419001"), kind_of("410000"), kind_of("419001001")) == ("county", "province", "school")


def test_a_registered_parent_wins_over_the_codes_shape() -> None:
    """Given a non-GB tree registered through OrgRegistered, When its chain is read, Then the recorded
    parents decide and the shape only fills in what is not recorded."""
    assert chain("999001001", {"999001001": "999001", "999001": "990000"}) == ["999001001", "999001", "990000"]
    assert chain("610102001", {"610102": "610100"}) == ["610102001", "610102", "610100", "610000"]


HOMES = {Path("shared/orgs.py"), Path("shared/orgtree.py")}
FIFTH_WAY = (
    (re.compile(r"WITH RECURSIVE(?![^\n]*subtree_codes_sql)", re.I), "a recursive walk of the org tree"),
    (re.compile(r"""endswith\(["']0000["']\)"""), "a province test by the code's shape"),
    (re.compile(r"""\[:4\]\s*\+\s*["']00["']"""), "a city parent by the code's shape"),
)


def test_no_service_walks_the_org_tree_itself() -> None:
    """Every module outside the two homes asks shared.orgs / shared.orgtree (registration's own
    shape checks in enrollment's domain/orgs.py call gbt_parent too)."""
    found = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("services/**/*.sql"), *ROOT.glob("shared/**/*.py")]):
        rel = path.relative_to(ROOT)
        if rel in HOMES:
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{rel}: {what}" for pattern, what in FIFTH_WAY if pattern.search(text)]
    assert found == [], found
