"""Field rules of the data contract. Each parser returns a clean value or raises FieldError
with the reason in Chinese."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime

CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
ORG_TYPE_ALIASES = {
    "社会团体": "社会团体",
    "基金会": "基金会",
    "社会服务机构": "社会服务机构",
    "民办非企业单位": "社会服务机构",
    "民办非企业": "社会服务机构",
}


MAX_NUMBER = 1_000_000_000  # above any real amount in 万元 or head count; keeps values inside INTEGER


class FieldError(ValueError):
    """A value that breaks a rule; ``reason`` is shown to staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def cell_text(value: object) -> str:
    """Any cell as text: numbers without a spurious '.0', dates as ISO, spaces normalised."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    # Spaces folded (the full-width one included) but nothing else: Chinese punctuation in
    # free text stays as written; codes, numbers and dates are normalised by their parsers.
    return " ".join(str(value).split())


def nfkc(raw: str) -> str:
    """Full-width digits and letters to ASCII, for codes, phones, numbers and dates."""
    return unicodedata.normalize("NFKC", raw)


def credit_check_char(body17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters.

    >>> credit_check_char("91350100M000100Y4")
    '3'
    """
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(body17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def parse_credit_code(raw: str) -> str:
    code = nfkc(raw).replace(" ", "").upper()
    if len(code) != 18:
        raise FieldError(f"应为18位，实际{len(code)}位")
    bad = sorted({c for c in code if c not in CREDIT_CHARSET})
    if bad:
        raise FieldError(f"含有不允许的字符：{'、'.join(bad)}（代码不使用I、O、Z、S、V）")
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise FieldError(f"校验位错误：按GB 32100-2015第18位应为{expected}")
    return code


def parse_org_type(raw: str) -> str:
    value = ORG_TYPE_ALIASES.get(nfkc(raw).replace(" ", ""))
    if value is None:
        raise FieldError("应为社会团体、基金会或社会服务机构（民办非企业单位）")
    return value


def parse_phone(raw: str) -> str:
    phone = re.sub(r"\s", "", nfkc(raw))
    phone = re.sub(r"^(\+?86-?)", "", phone) if len(phone) > 11 else phone
    if MOBILE.match(phone) or LANDLINE.match(phone):
        return phone
    raise FieldError("格式不正确：手机号应为11位（1开头），座机应为区号-号码，如0431-88888888")


def parse_email(raw: str) -> str | None:
    if not raw:
        return None
    email = nfkc(raw).replace(" ", "")
    if not EMAIL.match(email):
        raise FieldError("电子邮箱格式不正确")
    return email


def parse_amount(raw: str) -> float | None:
    """A non-negative number of 万元; '5万', '5万元' accepted."""
    if not raw:
        return None
    text = nfkc(raw).replace(" ", "").replace(",", "").removesuffix("万元").removesuffix("万")
    try:
        value = float(text)
    except ValueError:
        raise FieldError("应为数字（单位：万元）") from None
    if value < 0 or value != value:
        raise FieldError("不能为负数")
    if value > MAX_NUMBER:
        raise FieldError("数值过大")
    return value


def parse_count(raw: str) -> int | None:
    """A non-negative whole number; '20人' accepted."""
    if not raw:
        return None
    text = nfkc(raw).replace(" ", "").replace(",", "").removesuffix("人").removesuffix("名")
    try:
        value = float(text)
    except ValueError:
        raise FieldError("应为整数") from None
    if not value.is_integer():
        raise FieldError("应为整数")
    if value < 0:
        raise FieldError("不能为负数")
    if value > MAX_NUMBER:
        raise FieldError("数值过大")
    return int(value)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
_MONTH_PATTERNS = (
    re.compile(r"^(\d{4})年(\d{1,2})月(?:底|末)?$"),
    re.compile(r"^(\d{4})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})$"),
)


def parse_due_date(raw: object) -> date | None:
    """2025-06-30, 2025/6/30, 2025年6月30日; a month alone (2025年6月) means its last day.

    >>> parse_due_date("2025年6月")
    datetime.date(2025, 6, 30)
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = nfkc(str(raw)).replace(" ", "")
    try:
        for pattern in _DATE_PATTERNS:
            m = pattern.match(text)
            if m:
                return date(int(m[1]), int(m[2]), int(m[3]))
        for pattern in _MONTH_PATTERNS:
            m = pattern.match(text)
            if m:
                year, month = int(m[1]), int(m[2])
                return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        raise FieldError("日期不存在") from None
    raise FieldError("日期格式应为2025-06-30、2025/6/30、2025年6月30日或2025年6月")
