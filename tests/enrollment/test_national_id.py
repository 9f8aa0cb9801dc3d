"""GB 11643-1999 national ID numbers: check digit, date of birth, region, shape, masking.

Valid samples are computed here with the standard's weight table written out by hand, so the
production algorithm is checked against an independent copy, not against itself.
"""

from __future__ import annotations

from datetime import date

import pytest

from services.enrollment.domain import national_id as nid
from services.enrollment.domain.national_id import InvalidNationalId, mask, parse

TODAY = date(2024, 6, 1)
# GB 11643-1999 table 1: the weights for positions 1..17 and the check characters by remainder.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = ("1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2")


def make_id(region: str = "610102", born: str = "19850312", seq: str = "123") -> str:
    """A valid 18-character number for these parts (test helper, also used by the API tests)."""
    head = f"{region}{born}{seq}"
    return head + CHECK[sum(int(c) * w for c, w in zip(head, WEIGHTS, strict=True)) % 11]


def refusal(raw: str) -> str:
    with pytest.raises(InvalidNationalId) as info:
        parse(raw, TODAY)
    return info.value.reason


def test_the_standards_own_examples_have_the_published_check_characters():
    # GB 11643-1999 appendix examples: 11010519491231002X and 440524188001010014.
    assert nid.check_char("11010519491231002") == "X"
    assert nid.check_char("44052418800101001") == "4"
    assert parse("11010519491231002X", TODAY).birth_date == date(1949, 12, 31)


@pytest.mark.parametrize("parts", [("610102", "19850312", "123"), ("419001", "19900101", "005"),
                                   ("110105", "20000229", "998"), ("820000", "19711130", "010")])
def test_valid_numbers_parse_with_their_date_of_birth(parts):
    number = make_id(*parts)
    parsed = parse(number, TODAY)
    assert parsed.number == number
    assert parsed.birth_date == date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))


def test_a_lowercase_x_is_accepted_and_normalised():
    number = "11010519491231002X"
    assert parse(number.lower(), TODAY).number == number


def test_full_width_digits_and_padding_from_a_spreadsheet_are_normalised():
    number = make_id()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert parse(f"  {full_width} ", TODAY).number == number


def test_a_wrong_check_digit_is_refused():
    number = make_id()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert refusal(wrong) == nid.CHECK_DIGIT


@pytest.mark.parametrize("born", ["19990230", "19991301", "19990000", "20230229"])
def test_an_impossible_date_of_birth_is_refused(born):
    assert refusal(make_id(born=born)) == nid.BIRTH_DATE


def test_a_date_of_birth_after_today_is_refused():
    assert refusal(make_id(born="20240602")) == nid.BIRTH_FUTURE
    assert parse(make_id(born="20240601"), TODAY).birth_date == TODAY


def test_a_date_of_birth_before_1900_is_refused():
    assert refusal("440524188001010014") == nid.BIRTH_TOO_EARLY


@pytest.mark.parametrize("raw", ["", "61010219850312123", "6101021985031212345", make_id()[:15]])
def test_a_wrong_length_is_refused(raw):
    assert refusal(raw) == nid.LENGTH


@pytest.mark.parametrize("raw", ["61010219850312A23X", "6101021985031212Y3", "X10102198503121234"])
def test_letters_other_than_a_final_x_are_refused(raw):
    assert refusal(raw) == nid.CHARACTERS


@pytest.mark.parametrize("region", ["000000", "100101", "900101", "720101", "830101"])
def test_a_region_outside_the_gb2260_provinces_is_refused(region):
    assert refusal(make_id(region=region)) == nid.REGION


def test_a_number_mangled_by_excel_into_scientific_notation_gets_its_own_reason():
    assert refusal("6.10102E+17") == nid.SCIENTIFIC


def test_reasons_never_quote_the_number():
    number = make_id()
    for bad in (number[:17] + "0", number[:16], number.replace("1985", "2099")):
        with pytest.raises(InvalidNationalId) as info:
            parse(bad, TODAY)
        assert number[:14] not in str(info.value) and bad not in str(info.value)


def test_the_masked_form_shows_the_first_six_and_last_four():
    number = make_id("610102", "19850312", "123")
    assert mask(number) == "610102********" + number[-4:]
    assert mask("11010519491231002X") == "110105********002X"
    parsed = parse(number, TODAY)
    assert parsed.masked == mask(number) and number not in repr(parsed) and number not in str(parsed)
