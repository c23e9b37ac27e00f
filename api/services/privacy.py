"""Personal data in what people type: find it, mask it for those not entitled to it.

The kinds and their masked forms follow ``shared/spec/personal-data.md``. Detection works on a
copy of the text with full-width digits and letters folded to ASCII one character for one, so
every position found is a position in the text as written, and masking keeps the rest of the
text exactly as typed.

>>> mask_text("请联系她儿子１３９ 1234 6578或村会计0431-88885678")
'请联系她儿子139****6578或村会计0431-****5678'
>>> mask_text("需求编号JL-2025-0012，资金3.5万元，2025年6月30日前完成")
'需求编号JL-2025-0012，资金3.5万元，2025年6月30日前完成'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.services.validation import CREDIT_CHARSET, credit_check_char

# Full-width ASCII forms and the ideographic space, folded one character for one.
_FOLD = {**{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}, 0x3000: 0x20}
_MAYBE = re.compile(r"[0-9０-９@＠]")  # every maskable kind has a digit or an @

KIND_LABELS = {
    "id_card": "身份证号码",
    "mobile": "手机号码",
    "landline": "固定电话",
    "bank_card": "银行卡号",
    "email": "电子邮箱",
    "name": "困难群众姓名",
}
MASKED_KINDS = frozenset(KIND_LABELS) - {"name"}

_SEP = r"[ \-]?"
_ID18 = re.compile(rf"(?<![0-9A-Za-z])[1-8]\d{{5}}{_SEP}(?:18|19|20)\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                   rf"{_SEP}\d{{3}}[0-9Xx](?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])[1-8]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])")
_CARD = re.compile(r"(?<!\d)(?:\d{16,19}|\d{4}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?)(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d){8}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0[1-9]\d{1,2})[ \-]?[2-9]\d{2,3}[ \-]?\d{4}(?!\d)")
# A local number without its area code counts only after a word that says it is one.
_LOCAL = re.compile(r"(?:电话|座机|固话|联系|办公室|tel|Tel|TEL)[:： ]*([2-9]\d{2,3}[ \-]?\d{4})(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_CREDIT = re.compile(rf"(?<![0-9A-Za-z])[{CREDIT_CHARSET}]{{18}}(?![0-9A-Za-z])")

# A person's name beside a household's circumstances: flagged to staff, never masked automatically.
_CIRCUMSTANCES = "|".join((
    "户主", "低保户", "低保对象", "特困户", "特困人员", "五保户", "贫困户", "脱贫户", "监测户", "残疾人", "重残",
    "孤寡老人", "独居老人", "空巢老人", "留守儿童",
))
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻"
    "苑迟邝朴"
)
_NAME = re.compile(rf"(?:{_CIRCUMSTANCES})[:：（(\s]*(?=[{_SURNAMES}])")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
# Common words that start like a surname and a given name ("留守儿童关爱之家", "空巢老人高龄化").
_NOT_NAMES = frozenset("高龄 康复 安全 文化 温暖 常年 方面 周边 任务 白天 金额 包括 单位 于是 宁静 向日 万元 "
                       "司法 商户 党员 贺卡 钱款 谷物 柏油 路灯 路面 车辆 米面 时常 易地".split())
# What may follow a name; a name run on into other words ("低保户申请救助") is no name.
_AFTER_NAME = frozenset("家的等和与户因现今患住及在是有已同老身电联手年岁之一、，。；：:（()） \n0123456789")


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of KIND_LABELS
    start: int
    end: int
    text: str  # as written
    masked: str | None  # None for kinds only flagged

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


def id_check_char(body17: str) -> str:
    """GB 11643-1999 check character of an 18-character ID number's first 17 digits.

    >>> id_check_char("11010519491231002")
    'X'
    """
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a bank card number.

    >>> luhn_valid("6228480402564890018"), luhn_valid("6228480402564890019")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit() or ch in "Xx")


def _keep(raw: str, head: int, tail: int, stars: int | None = None) -> str:
    """First ``head`` and last ``tail`` digits of ``raw``, stars between (separators dropped)."""
    d = _digits(raw)
    return d[:head] + "*" * (stars if stars is not None else len(d) - head - tail) + d[len(d) - tail:]


def _mask_landline(raw: str) -> str:
    d = re.sub(r"\D", "", raw)
    m = re.match(r"\(?(0(?:10|2\d|[3-9]\d{2}))", raw)
    area = m.group(1) if m else ""
    local = d[len(area):]
    return (f"{area}-" if area else "") + "****" + local[-4:]


def _mask_email(raw: str) -> str:
    name, domain = raw.split("@", 1)
    return f"{name[:1]}***@{domain}"


def scan(text: str | None) -> list[Finding]:
    """Every piece of personal data in ``text``, in order, none overlapping.

    >>> [(f.kind, f.masked) for f in scan("户主王桂芳，身份证220181195503121232，卡号6228480402564890018")]
    [('name', None), ('id_card', '220181********1232'), ('bank_card', '6228********0018')]
    """
    if not text:
        return []
    probe = text.translate(_FOLD)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, start: int, end: int, masked: str | None) -> None:
        taken.append((start, end))
        found.append(Finding(kind, start, end, text[start:end], masked))

    # A valid 统一社会信用代码 with a letter in it is a code, not a person's number.
    for m in _CREDIT.finditer(probe):
        code = m.group().upper()
        if not code.isdigit() and credit_check_char(code[:17]) == code[17]:
            taken.append(m.span())
    if _MAYBE.search(probe):
        for m in _EMAIL.finditer(probe):
            add("email", *m.span(), _mask_email(m.group()))
        for pattern in (_ID18, _ID15):
            for m in pattern.finditer(probe):
                d = _digits(m.group()).upper()
                if free(*m.span()) and (len(d) == 15 or id_check_char(d[:17]) == d[17]):
                    add("id_card", *m.span(), _keep(m.group(), 6, 4, 8 if len(d) == 18 else 5))
        for m in _CARD.finditer(probe):
            d = _digits(m.group())
            # An all-digit number that is a valid credit code is taken for one.
            is_code = len(d) == 18 and credit_check_char(d[:17]) == d[17]
            if free(*m.span()) and 16 <= len(d) <= 19 and luhn_valid(d) and not is_code:
                add("bank_card", *m.span(), _keep(d, 4, 4, 8))
        for m in _MOBILE.finditer(probe):
            if free(*m.span()):
                d = _digits(m.group())[-11:]
                add("mobile", *m.span(), d[:3] + "****" + d[-4:])
        for m in _LANDLINE.finditer(probe):
            if free(*m.span()):
                add("landline", *m.span(), _mask_landline(m.group()))
        for m in _LOCAL.finditer(probe):
            if free(*m.span(1)):
                add("landline", *m.span(1), _mask_landline(m.group(1)))
    for m in _NAME.finditer(text):
        run = _CJK.match(text, m.end())
        for size in (3, 2):
            end = m.end() + size
            if (run and run.end() >= end and (end == len(text) or text[end] in _AFTER_NAME)
                    and text[m.end():m.end() + 2] not in _NOT_NAMES):
                add("name", m.end(), end, None)
                break
    return sorted(found, key=lambda f: f.start)


def mask_text(text: str | None) -> str:
    """``text`` with every maskable kind of personal data masked; the rest as written."""
    if not text or not _MAYBE.search(text):
        return text or ""
    out, last = [], 0
    for f in scan(text):
        if f.masked is not None:
            out += [text[last:f.start], f.masked]
            last = f.end
    return "".join(out) + text[last:] if out else text


def may_touch_masked(query: str) -> bool:
    """Could a search for ``query`` find or miss a text because of its masking? Only a query with a
    digit, a Latin letter, an @ or a star can (names are never masked)."""
    return bool(re.search(r"[0-9A-Za-z@*０-９Ａ-Ｚａ-ｚ＠＊]", query))


def shown(text: str | None, entitled: bool) -> str:
    """The text as written for those entitled to it, masked for everyone else."""
    return (text or "") if entitled else mask_text(text)


def warnings(text: str | None) -> list[str]:
    """What an uploader is told about ``text``: one phrase per kind found, in Chinese.

    >>> warnings("低保户张桂芳，电话13912346578")
    ['含手机号码（非本地区人员只能看到遮蔽后的内容）', '含困难群众姓名「张桂芳」（请确认确有必要公开）']
    """
    found = scan(text)
    kinds = [k for k in KIND_LABELS if k in MASKED_KINDS and any(f.kind == k for f in found)]
    out = [f"含{'、'.join(KIND_LABELS[k] for k in kinds)}（非本地区人员只能看到遮蔽后的内容）"] if kinds else []
    names = [f.text for f in found if f.kind == "name"]
    if names:
        out.append(f"含困难群众姓名「{'、'.join(dict.fromkeys(names))}」（请确认确有必要公开）")
    return out


def mask_phone(phone: str | None) -> str | None:
    """A contact column's phone: 138****5678; a landline keeps its area code.

    >>> mask_phone("13812345678"), mask_phone("0433-8888888")
    ('138****5678', '0433-****888')
    """
    if not phone:
        return phone
    if "-" in phone:
        area, number = phone.split("-", 1)
        return f"{area}-{'*' * max(0, len(number) - 3)}{number[-3:]}"
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_email(email: str | None) -> str | None:
    """A contact column's e-mail address: z***@example.org."""
    if not email or "@" not in email:
        return email
    return _mask_email(email)
