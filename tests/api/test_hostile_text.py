"""SQL and HTML in every free-text field: stored as typed, shown as text, never run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlmodel import Session, select

from models import Demand, Organization
from tests.factories import credit_code, demand_row, org_row, write_csv
from tests.world import World

PAYLOAD = "<script>alert(1)</script>';DROP TABLE demand;--"  # fits the 50-character name fields
DEMAND_TEXT = ["township", "village", "title", "description", "contact_name"]
ORG_TEXT = ["name", "scope", "capability", "contact_name"]


def test_api_text_fields_keep_sql_and_html_as_text(world: World) -> None:
    c, h = world.client(), world.token("wangqing")
    body = {"ref": "X-1", "city": "延边州", "county": "汪清县", "title": "取暖", "description": "低保户冬季取暖",
            "contact_name": "李", "contact_phone": "13704339999", **dict.fromkeys(DEMAND_TEXT, PAYLOAD)}
    r = c.post("/api/v1/demands", headers=h, json=body)
    assert r.status_code == 201, r.text
    org = {"name": PAYLOAD, "credit_code": credit_code(9, "51222424MJ"), "org_type": "社会团体",
           "registrar": "汪清县民政局", "city": "延边州", "county": "汪清县", "actions": ["扶弱济困"],
           "scope": PAYLOAD, "capability": f"<img src=x onerror=alert(1)>{PAYLOAD}", "service_area": "",
           "contact_name": PAYLOAD, "contact_phone": "13904339999"}
    r = c.post("/api/v1/organizations", headers=world.token("admin"), json=org)
    assert r.status_code == 201, r.text
    with Session(world.engine) as session:
        d = session.exec(select(Demand).where(Demand.ref == "X-1")).one()
        # Stored as typed (place names only lose their spaces, as every place name does).
        assert all(getattr(d, k).replace(" ", "") == PAYLOAD.replace(" ", "") for k in DEMAND_TEXT)
        o = session.exec(select(Organization).where(Organization.credit_code == org["credit_code"])).one()
        assert all(PAYLOAD.replace(" ", "") in getattr(o, k).replace(" ", "") for k in ORG_TEXT)
        assert {"demand", "organization"} <= set(inspect(session.get_bind()).get_table_names())
    # Searching with it is a search, not a statement.
    found = c.get("/api/v1/demands", params={"q": PAYLOAD}).json()
    assert found["total"] >= 1
    for page in (c.get("/"), c.get(f"/demand/{d.county_code}/X-1"), c.get("/", params={"q": PAYLOAD}),
                 world.web_login("wangqing").get("/staff/queue")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    board = c.get("/").text
    assert "&lt;script&gt;alert(" in board  # shown, escaped


def test_uploaded_text_with_sql_and_html_is_escaped_in_the_pages(world: World, tmp_path: Path) -> None:
    from api.services.auth import Scope
    from api.services.uploads import import_for_scope

    path = write_csv(tmp_path / "d.csv", [demand_row(7, 需求编号="H-1", 需求名称=f"标题{PAYLOAD}",
                                                     需求内容=f"内容{PAYLOAD}", 联系人=f"人{PAYLOAD}")])
    with Session(world.engine) as session:
        import_for_scope(session, path, "demands", scope=Scope("province"), matcher=world.app.state.matcher())  # type: ignore[attr-defined]
        session.commit()
    page = world.client().get("/demand/222424/H-1")
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    path = write_csv(tmp_path / "o.csv", [org_row(8, 统一社会信用代码=credit_code(8, "51222424MJ"),
                                                  组织名称=PAYLOAD)])
    with Session(world.engine) as session:
        import_for_scope(session, path, "orgs", scope=Scope("province"), matcher=world.app.state.matcher())  # type: ignore[attr-defined]
        session.commit()
        names = [o.name.replace(" ", "") for o in session.exec(select(Organization)).all()]
        assert PAYLOAD.replace(" ", "") in names
