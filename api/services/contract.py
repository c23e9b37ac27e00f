"""The two upload forms exactly as shared/spec/data-contract.md defines them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnSpec:
    header: str
    key: str
    required: bool
    aliases: tuple[str, ...] = ()
    max_length: int = 100  # characters; the table's column is at least this wide
    free_text: bool = False  # typed freely: checked for personal data, masked for the non-entitled

    def names(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


@dataclass(frozen=True)
class FormSpec:
    kind: str  # "orgs" | "demands"
    title: str
    columns: tuple[ColumnSpec, ...]

    def header_of(self, key: str) -> str:
        return next(c.header for c in self.columns if c.key == key)


ORG_FORM = FormSpec("orgs", "社会组织参与乡村振兴行动报名表", (
    ColumnSpec("组织名称", "name", True, ("社会组织名称", "单位名称"), 200),
    ColumnSpec("统一社会信用代码", "credit_code", True, ("信用代码",)),
    ColumnSpec("组织类型", "org_type", True, ("类型",)),
    ColumnSpec("登记管理机关", "registrar", True, ("登记机关",)),
    ColumnSpec("所在市（州）", "city", True, ("所在市州", "市（州）")),
    ColumnSpec("所在县（市、区）", "county", False, ("所在县区", "县（市、区）")),
    ColumnSpec("参与行动", "actions", True, ("参与行动类别", "行动类别")),
    ColumnSpec("业务范围", "scope", False, (), 2000, free_text=True),
    ColumnSpec("帮扶能力", "capability", True, ("帮扶内容", "拟开展帮扶内容"), 2000, free_text=True),
    ColumnSpec("拟帮扶地区", "service_area", False, ("帮扶地区", "服务地区"), 500, free_text=True),
    ColumnSpec("可投入资金（万元）", "funds", False, ("资金（万元）",)),
    ColumnSpec("可投入人员（人）", "staff", False, ("人员（人）",)),
    ColumnSpec("联系人", "contact_name", True, (), 50),
    ColumnSpec("联系电话", "contact_phone", True, ("电话",)),
    ColumnSpec("电子邮箱", "email", False, ("邮箱",), 200),
))

DEMAND_FORM = FormSpec("demands", "乡村振兴帮扶需求要点", (
    ColumnSpec("需求编号", "ref", False, ("编号",), 64),
    ColumnSpec("市（州）", "city", True, ("市州",)),
    ColumnSpec("县（市、区）", "county", True, ("县区",)),
    ColumnSpec("乡（镇）", "township", False, ("乡镇",)),
    ColumnSpec("村", "village", False, ("行政村",)),
    ColumnSpec("需求类别", "category", False, ("行动类别",)),
    ColumnSpec("需求名称", "title", True, ("需求标题",), 200, free_text=True),
    ColumnSpec("需求内容", "description", True, ("需求要点", "具体需求"), 5000, free_text=True),
    ColumnSpec("受益人数", "beneficiaries", False),
    ColumnSpec("资金需求（万元）", "funding_needed", False, ("资金缺口（万元）",)),
    ColumnSpec("期望完成时间", "due_date", False, ("完成时限",)),
    ColumnSpec("联系人", "contact_name", True, (), 50),
    ColumnSpec("联系电话", "contact_phone", True, ("电话",)),
))

FORMS = {"orgs": ORG_FORM, "demands": DEMAND_FORM}


def header_key(text: object) -> str:
    """Headers compare after NFKC (（） and () alike) with all spaces removed."""
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split())
