"""Personal data in free text: each kind found and masked, and what looks like it but is not left alone."""

from __future__ import annotations

import pytest

from api.services.privacy import id_check_char, luhn_valid, mask_text, may_touch_masked, scan, warnings
from api.services.validation import credit_check_char


def valid_id(body17: str) -> str:
    return body17 + id_check_char(body17)


def luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def invalid_id(body17: str) -> str:
    """A wrong check character, and not Luhn-valid either (else it would be a bank card's number)."""
    return next(body17 + c for c in "0123456789" if c != id_check_char(body17) and not luhn_valid(body17 + c))


ID = valid_id("22018119550312123")  # 220181195503121232
ID_X = next(valid_id(f"2224011980110500{i}") for i in range(10) if id_check_char(f"2224011980110500{i}") == "X")
CARD16 = luhn_complete("622848040256489")
CARD19 = luhn_complete("622202100112345678")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(("text", "kind", "masked"), [
    (f"身份证{ID}", "id_card", "220181********1232"),
    (f"身份证号：{ID[:6]} {ID[6:14]} {ID[14:]}", "id_card", "220181********1232"),
    (f"身份证{ID_X.lower()}", "id_card", f"{ID_X[:6]}********{ID_X[14:17]}x"),
    ("老身份证220181550312123", "id_card", "220181*****2123"),
    ("联系她儿子13912346578", "mobile", "139****6578"),
    ("电话139 1234 6578", "mobile", "139****6578"),
    ("电话139-1234-6578", "mobile", "139****6578"),
    ("电话+86 13912346578", "mobile", "139****6578"),
    ("电话8613912346578", "mobile", "139****6578"),
    ("村会计0431-88885678", "landline", "0431-****5678"),
    ("村会计（0431）88885678", "landline", "0431-****5678"),
    ("村委会电话0433-8888888", "landline", "0433-****8888"),
    ("办公室座机：88885678", "landline", "****5678"),
    (f"捐款可汇至{CARD19}", "bank_card", f"6222********{CARD19[-4:]}"),
    (f"卡号{CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]}", "bank_card", f"6228********{CARD16[-4:]}"),
    ("邮箱zhangsan.wq@example.org", "email", "z***@example.org"),
])
def test_each_kind_is_found_and_masked(text: str, kind: str, masked: str) -> None:
    found = [f for f in scan(text) if f.kind != "name"]
    assert [(f.kind, f.masked) for f in found] == [(kind, masked)]
    assert masked in mask_text(text)
    assert found[0].text not in mask_text(text)


@pytest.mark.parametrize("text", [
    f"身份证{ID}", "联系13912346578", "村会计0431-88885678", f"汇至{CARD19}", "邮箱zhang@example.org",
])
def test_full_width_digits_are_found_too(text: str) -> None:
    wide = text.translate(FULLWIDTH).replace("@", "＠")
    assert len(scan(wide)) == 1
    assert mask_text(wide) != wide
    assert mask_text(wide).startswith(wide[:2])  # the rest of the text as typed


@pytest.mark.parametrize("text", [
    f"身份证{invalid_id('22018119550312123')}",  # a wrong check character is no ID number
    f"卡号{CARD19[:-1]}{(int(CARD19[-1]) + 1) % 10}",  # fails the Luhn check
    "电话1291234567",  # no such mobile prefix, too short
])
def test_invalid_check_characters_are_not_taken_for_personal_data(text: str) -> None:
    assert [f for f in scan(text) if f.kind != "name"] == []


@pytest.mark.parametrize("text", [
    "需求编号WQ-2025-0012，编号JL20250001",
    "资金需求3.5万元，缺口120000元，受益1200人，面积20000亩",
    "期望2025-06-30前完成，2025/6/30，20250630，2025年6月30日",
    "2023-2025年三年行动，第2024001号文件",
    f"统一社会信用代码{'52222424MJ0000012' + credit_check_char('52222424MJ0000012')}",
    "五万斤木耳，单价12.5元/斤，总计625000元",
    "吉民发〔2022〕9号，邮编133200",
])
def test_numbers_that_are_not_personal_data_are_left_alone(text: str) -> None:
    assert scan(text) == []
    assert mask_text(text) == text


def test_an_all_digit_credit_code_is_not_taken_for_a_bank_card() -> None:
    codes = (body + credit_check_char(body) for body in (f"5122240100000{i:04d}" for i in range(10000)))
    code = next(c for c in codes if c.isdigit() and luhn_valid(c))
    assert luhn_valid(code)
    assert mask_text(f"信用代码{code}") == f"信用代码{code}"


def test_the_issue_example_is_masked_whole_and_the_rest_kept() -> None:
    text = (f"独居老人张桂芳（身份证{ID}）房屋漏雨，有意帮扶请联系她儿子13912346578或村会计0431-88885678，"
            f"捐款可汇至{CARD19}")
    masked = mask_text(text)
    assert masked == ("独居老人张桂芳（身份证220181********1232）房屋漏雨，有意帮扶请联系她儿子139****6578"
                      f"或村会计0431-****5678，捐款可汇至6222********{CARD19[-4:]}")
    assert [f.kind for f in scan(text)] == ["name", "id_card", "mobile", "landline", "bank_card"]


@pytest.mark.parametrize(("text", "names"), [
    ("低保户张桂芳家房屋漏雨", ["张桂芳"]),
    ("户主：王德福，", ["王德福"]),
    ("残疾人李强因病致贫", ["李强"]),
    ("低保户申请救助，残疾人康复训练，留守儿童关爱活动", []),
    ("为空巢老人义诊，留守儿童课后托管", []),
])
def test_names_beside_circumstances_are_flagged_not_masked(text: str, names: list[str]) -> None:
    assert [f.text for f in scan(text) if f.kind == "name"] == names
    assert mask_text(text) == text


def test_warnings_name_each_kind_once_and_the_flagged_names() -> None:
    text = "低保户张桂芳，电话13912346578，儿子13812345678，邮箱a@b.cn"
    assert warnings(text) == ["含手机号码、电子邮箱（非本地区人员只能看到遮蔽后的内容）",
                              "含困难群众姓名「张桂芳」（请确认确有必要公开）"]
    assert warnings("为空巢老人义诊") == []


def test_only_queries_with_digits_letters_at_or_stars_can_touch_masked_text() -> None:
    assert may_touch_masked("139") and may_touch_masked("a@") and may_touch_masked("139****")
    assert may_touch_masked("１３９")
    assert not may_touch_masked("义诊 老人")
