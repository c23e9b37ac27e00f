"""Contract-format rows and files for tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl

from api.services.validation import credit_check_char


def credit_code(n: int, prefix: str = "51222424MJ") -> str:
    body = f"{prefix}{n:07d}"[:17]
    return body + credit_check_char(body)


def org_row(n: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "组织名称": f"汪清县第{n}志愿者协会", "统一社会信用代码": credit_code(n), "组织类型": "社会团体",
        "登记管理机关": "汪清县民政局", "所在市（州）": "延边州", "所在县（市、区）": "汪清县",
        "参与行动": "扶弱济困、医护康养", "业务范围": "志愿服务", "帮扶能力": "志愿者探访空巢老人，组织义诊",
        "拟帮扶地区": "本县及相邻县", "可投入资金（万元）": "5", "可投入人员（人）": "20",
        "联系人": "王丽", "联系电话": "13904330001", "电子邮箱": "wq@example.org",
    }
    row.update(changes)
    return row


def demand_row(n: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "需求编号": f"WQ-{n:03d}", "市（州）": "延边朝鲜族自治州", "县（市、区）": "汪清县", "乡（镇）": "汪清镇",
        "村": f"第{n}村", "需求类别": "医护康养", "需求名称": "空巢老人义诊",
        "需求内容": "为村里空巢老人测血压、查血糖，送常用药", "受益人数": "120", "资金需求（万元）": "2",
        "期望完成时间": "2027-06-30", "联系人": "李书记", "联系电话": "0433-8888888",
    }
    row.update(changes)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]], title: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(list(rows[0]))
    for row in rows:
        ws.append(list(row.values()))
    wb.save(path)
    return path
