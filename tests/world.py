"""A small, fully known world for API and page tests: organizations, demands, accounts, a match run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.db import session_scope
from api.services import auth
from api.services.auth import Scope
from api.services.lookup import find_organization
from api.services.runs import run_rematch
from api.services.uploads import import_for_scope
from api.settings import Settings
from matcher import Matcher
from tests.factories import credit_code, demand_row, org_row, write_csv

PASSWORD = "test-pass-123"


class FakeClock:
    """Injected time: tests move it, nobody sleeps."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    app: object
    clock: FakeClock
    engine: Engine
    codes: dict[str, str]  # A, B, C, D -> credit code
    phones: list[str] = field(default_factory=list)

    def client(self) -> TestClient:
        return TestClient(self.app)  # type: ignore[arg-type]

    def token(self, username: str) -> dict[str, str]:
        c = self.client()
        r = c.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def web_login(self, username: str) -> TestClient:
        c = self.client()
        csrf = page_csrf(c.get("/login").text)
        r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        return c


def page_csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


ORGS = {
    "A": org_row(1, 电子邮箱="a@example.org", 组织名称="汪清县仁爱医院", 组织类型="社会服务机构", 参与行动="医护康养",
                 帮扶能力="医生下乡义诊巡诊，为老年人免费体检，送常用药", 拟帮扶地区="", 联系电话="13904330001"),
    "B": org_row(2, 电子邮箱="b@example.org", 组织名称="延吉市爱心志愿者协会", 登记管理机关="延吉市民政局", **{"所在县（市、区）": "延吉市"},
                 参与行动="扶弱济困", 帮扶能力="志愿者探访空巢老人和残疾人，送米面油", 拟帮扶地区="",
                 联系电话="13904330002", 统一社会信用代码=credit_code(2, "51222401MJ")),
    "C": org_row(3, 电子邮箱="c@example.org", 组织名称="吉林省电子商务协会", 登记管理机关="吉林省民政厅", **{"所在市（州）": "长春市"},
                 **{"所在县（市、区）": ""}, 参与行动="消费帮扶", 帮扶能力="会员开网店直播带货，帮助销售木耳大米",
                 拟帮扶地区="全省", 联系电话="13904330003", 统一社会信用代码=credit_code(3, "51220000MJ")),
    "D": org_row(4, 电子邮箱="d@example.org", 组织名称="南关区医师协会", 登记管理机关="南关区民政局", **{"所在市（州）": "长春市"},
                 **{"所在县（市、区）": "南关区"}, 参与行动="医护康养", 帮扶能力="医生义诊体检，慢病筛查", 拟帮扶地区="",
                 联系电话="13904330004", 统一社会信用代码=credit_code(4, "51220102MJ")),
}
DEMANDS = [
    demand_row(1, 需求编号="WQ-1", 需求名称="空巢老人义诊", 需求内容="为空巢老人义诊体检，送常用药", 联系电话="13704330011"),
    demand_row(2, 需求编号="WQ-2", 需求类别="消费帮扶", 需求名称="木耳滞销", 需求内容="五万斤木耳卖不出去，想开网店直播带货",
               联系电话="13704330012"),
    demand_row(3, 需求编号="YJ-1", **{"县（市、区）": "延吉市"}, 需求类别="扶弱济困", 需求名称="独居老人探访",
               需求内容="志愿者定期探访独居老人和残疾人", 联系电话="13704330013"),
    demand_row(4, 需求编号="CC-1", **{"市（州）": "长春市"}, **{"县（市、区）": "南关区"}, 需求名称="老人体检",
               需求内容="为老年人义诊体检", 联系电话="13704330014"),
]
USERS = [
    ("admin", "province", None, None), ("yanbian", "city", "222400", None), ("wangqing", "county", "222424", None),
    ("yanji", "county", "222401", None), ("changchun", "city", "220100", None), ("orga", "org", None, "A"),
    ("orgb", "org", None, "B"),
]


def build_world(db_url: str, tmp_path: Path, matcher: Matcher) -> World:
    clock = FakeClock()
    # Tests log in far more often than people do; the rate limits have their own test.
    settings = Settings(database_url=db_url, secret_key="test-secret-key", secret_file=str(tmp_path / "s"),
                        login_rate_per_minute=0, upload_rate_per_minute=0)
    app = create_app(settings, clock=clock, matcher=matcher)
    engine = app.state.engine
    orgs_file = write_csv(tmp_path / "orgs.csv", list(ORGS.values()))
    demands_file = write_csv(tmp_path / "demands.csv", DEMANDS)
    codes = {k: v["统一社会信用代码"] for k, v in ORGS.items()}
    with session_scope(engine) as session:
        import_for_scope(session, orgs_file, "orgs", scope=Scope("province"), matcher=matcher)
        import_for_scope(session, demands_file, "demands", scope=Scope("province"), matcher=matcher)
        for username, role, region, org_key in USERS:
            org = find_organization(session, codes[org_key]) if org_key else None
            auth.create_user(session, username=username, password=PASSWORD, role=role, region_code=region,
                             organization=org, regions=matcher.regions)
        run_rematch(session, matcher)
    phones = [r["联系电话"] for r in ORGS.values()] + [r["联系电话"] for r in DEMANDS]
    assert len({r["电子邮箱"] for r in ORGS.values()}) == len(ORGS)
    return World(app, clock, engine, codes, phones)
