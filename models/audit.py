"""The security audit trail: who did what, when and from where. Written once, never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

ACTION_LABELS = {
    "login_success": "登录成功", "login_failure": "登录失败", "upload": "上传表格", "pairing_decision": "审核对接",
    "interest": "表达意向", "dismiss": "不感兴趣", "demand_create": "发布需求", "demand_update": "修改需求",
    "demand_close": "关闭需求", "org_create": "登记组织", "org_update": "修改组织", "org_withdraw": "组织退出",
    "account_create": "新建账号", "mail_setting": "邮件设置", "export": "导出",
    "project_plan": "修改项目计划", "project_progress": "报告项目进展", "project_correct": "更正项目进展",
    "village_confirm": "村级确认", "project_case": "标记典型案例", "password_change": "修改密码",
    "password_reset": "重置密码", "account_disable": "停用账号", "account_enable": "启用账号",
    "review_decision": "复核决定",
}


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, index=True)  # no foreign key: the trail outlives accounts
    username: str = Field(default="", max_length=64)
    role: str = Field(default="", max_length=10)
    ip: str = Field(default="", max_length=64)
    action: str = Field(max_length=30, index=True)
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
