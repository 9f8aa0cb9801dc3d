"""Resident identity card numbers (公民身份号码), GB 11643-1999.

18 characters: a 6-digit region code (GB/T 2260 at the time of issue), the date of birth as
YYYYMMDD, a 3-digit sequence number and a check character computed with ISO 7064 MOD 11-2
(0-9 or X). Nothing here ever puts the number into an error message: reasons name the rule
that failed, never the value, so a refusal can be logged and returned without leaking it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul

# GB 11643-1999 §6.2: W_i = 2^(i-1) mod 11 for positions i = 18..2 (left to right here).
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"  # indexed by (Σ a_i·W_i) mod 11
_ASCII_OFFSET = ord("0") * sum(_WEIGHTS)
# GB/T 2260 province-level prefixes (incl. 71 Taiwan, 81 Hong Kong, 82 Macao, which issue
# mainland-style numbers to their residents' 居住证).
PROVINCE_PREFIXES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
})
EARLIEST_BIRTH = date(1900, 1, 1)  # no person alive today was born earlier

# Reasons, bilingual so a county clerk and an integrator both understand them.
LENGTH = "身份证号应为18位 must be 18 characters"
CHARACTERS = "前17位须为数字，末位为数字或X first 17 must be digits, the last a digit or X"
SCIENTIFIC = ("身份证号被表格软件转成了数字，请将该列设为文本格式"
              " mangled into a number by a spreadsheet; format the column as text")
REGION = "地区码无效 region code is not a GB/T 2260 province"
BIRTH_DATE = "出生日期无效 date of birth is not a valid date"
BIRTH_FUTURE = "出生日期晚于今天 date of birth is in the future"
BIRTH_TOO_EARLY = "出生日期早于1900年 date of birth is before 1900"
CHECK_DIGIT = "校验码错误 check digit does not match (GB 11643 MOD 11-2)"


class InvalidNationalId(ValueError):
    """`reason` is one of the constants above; the number itself is never included."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NationalId:
    number: str  # normalised: 18 ASCII characters, upper-case X
    birth_date: date

    @property
    def masked(self) -> str:
        return mask(self.number)

    def __repr__(self) -> str:  # keeps the number out of tracebacks and debug logs
        return f"NationalId({self.masked})"

    __str__ = __repr__


def check_char(first17: str) -> str:
    """The GB 11643 check character for 17 digits."""
    if len(first17) != len(_WEIGHTS) or not (first17.isascii() and first17.isdigit()):
        raise ValueError("17 digits expected")
    # The digits' ASCII codes are the digits + 48: their weighted sum, less 48 × Σ W_i.
    return _CHECK_CHARS[(sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _ASCII_OFFSET) % 11]


def normalise(raw: str) -> str:
    # NFKC folds full-width digits and "ｘ" typed with a Chinese input method; spreadsheets
    # also pad cells with spaces.
    return unicodedata.normalize("NFKC", raw).strip().upper()


def parse(raw: str, today: date) -> NationalId:
    """Validate and normalise; raises InvalidNationalId with a reason."""
    number = normalise(raw)
    if "E+" in number and len(number) < 18:
        raise InvalidNationalId(SCIENTIFIC)
    if len(number) != 18:
        raise InvalidNationalId(LENGTH)
    head, last = number[:17], number[17]
    if not (head.isascii() and head.isdigit()) or not (last == "X" or (last.isascii() and last.isdigit())):
        raise InvalidNationalId(CHARACTERS)
    if head[:2] not in PROVINCE_PREFIXES:
        raise InvalidNationalId(REGION)
    try:
        born = date(int(head[6:10]), int(head[10:12]), int(head[12:14]))
    except ValueError:
        raise InvalidNationalId(BIRTH_DATE) from None
    if born > today:
        raise InvalidNationalId(BIRTH_FUTURE)
    if born < EARLIEST_BIRTH:
        raise InvalidNationalId(BIRTH_TOO_EARLY)
    if check_char(head) != last:
        raise InvalidNationalId(CHECK_DIGIT)
    return NationalId(number, born)


def mask(number: str) -> str:
    """First 6 and last 4 shown, as on 12306 and bank receipts: 610102********123X."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
