"""Who may do what: every role against every endpoint and page, scoped by region."""

from __future__ import annotations

import pytest

from tests.world import World

ROLES = ["anon", "admin", "yanbian", "wangqing", "yanji", "changchun", "orga", "orgb"]


def call(world: World, who: str, method: str, path: str, json: dict | None = None) -> int:
    client = world.client()
    headers = {} if who == "anon" else world.token(who)
    path = path.format(**world.codes)
    return client.request(method, path, headers=headers, json=json).status_code


# (method, path, body, expected status per role in ROLES order)
API_MATRIX = [
    ("GET", "/api/v1/demands", None, [200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/demands/WQ-1", None, [200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/organizations", None, [401, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/organizations/{A}", None, [401, 200, 200, 200, 403, 403, 200, 403]),
    ("GET", "/api/v1/organizations/{A}/recommendations", None, [401, 200, 200, 200, 403, 403, 200, 403]),
    ("GET", "/api/v1/demands/WQ-1/recommendations", None, [401, 200, 200, 200, 403, 403, 403, 403]),
    ("GET", "/api/v1/pairings/queue", None, [401, 200, 200, 200, 200, 200, 403, 403]),
    ("GET", "/api/v1/pairings", None, [401, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/v1/match-runs", None, [401, 200, 200, 200, 200, 200, 403, 403]),
    ("POST", "/api/v1/pairings/decisions",
     {"demand_ref": "WQ-1", "credit_code": "{A}", "decision": "approve"}, [401, 200, 200, 200, 403, 403, 403, 403]),
    ("POST", "/api/v1/organizations/{A}/interests", {"demand_ref": "WQ-1"}, [401, 403, 403, 403, 403, 403, 201, 403]),
    ("POST", "/api/v1/organizations/{A}/dismissals", {"demand_ref": "WQ-2"}, [401, 403, 403, 403, 403, 403, 201, 403]),
    ("POST", "/api/v1/demands/WQ-2/close", None, [401, 200, 200, 200, 403, 403, 403, 403]),
    ("POST", "/api/v1/organizations/{B}/withdraw", None, [401, 200, 200, 403, 200, 403, 403, 200]),
    ("PATCH", "/api/v1/demands/YJ-1", {"beneficiaries": 99}, [401, 200, 200, 403, 200, 403, 403, 403]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), API_MATRIX,
                         ids=[f"{m} {p}" for m, p, _b, _e in API_MATRIX])
def test_api_matrix(world: World, method: str, path: str, body: dict | None, expected: list[int]) -> None:
    if body and "credit_code" in body:
        body = {**body, "credit_code": body["credit_code"].format(**world.codes)}
    got = [call(world, who, method, path, body) for who in ROLES]
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))


PAGE_MATRIX = [
    ("/", [200, 200, 200, 200, 200, 200, 200, 200]),
    ("/staff/queue", [303, 200, 200, 200, 200, 200, 403, 403]),
    ("/staff/upload", [303, 200, 200, 200, 200, 200, 403, 403]),
    ("/staff/overview", [303, 200, 200, 200, 200, 200, 403, 403]),
    ("/org", [303, 403, 403, 403, 403, 403, 200, 200]),
]


@pytest.mark.parametrize(("path", "expected"), PAGE_MATRIX, ids=[p for p, _ in PAGE_MATRIX])
def test_page_matrix(world: World, path: str, expected: list[int]) -> None:
    got = []
    for who in ROLES:
        client = world.client() if who == "anon" else world.web_login(who)
        got.append(client.get(path, follow_redirects=False).status_code)
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))


def test_county_staff_queue_holds_only_their_county(world: World) -> None:
    queue = world.client().get("/api/v1/pairings/queue", headers=world.token("wangqing")).json()
    assert queue
    assert {item["county_code"] for item in queue} == {"222424"}
    yanbian = world.client().get("/api/v1/pairings/queue", headers=world.token("yanbian")).json()
    assert {item["county_code"] for item in yanbian} == {"222424", "222401"}


def test_staff_lists_are_scoped(world: World) -> None:
    orgs = world.client().get("/api/v1/organizations", headers=world.token("yanji")).json()
    assert [o["credit_code"] for o in orgs["items"]] == [world.codes["B"]]
    own = world.client().get("/api/v1/organizations", headers=world.token("orga")).json()
    assert [o["credit_code"] for o in own["items"]] == [world.codes["A"]]


def test_anonymous_sees_no_personal_data(world: World) -> None:
    client = world.client()
    for path in ["/api/v1/demands?size=50", "/api/v1/demands/WQ-1", "/", "/?q=老人"]:
        text = client.get(path).text
        assert not any(phone in text for phone in world.phones), path
        assert "13704" not in text
    items = client.get("/api/v1/demands").json()["items"]
    assert {(d["contact_name"], d["contact_phone"]) for d in items} == {(None, None)}


def test_contact_details_only_to_those_entitled(world: World) -> None:
    client = world.client()
    by_ref = {d["ref"]: d for d in client.get("/api/v1/demands", headers=world.token("wangqing")).json()["items"]}
    assert set(by_ref) == {"WQ-1", "WQ-2"}  # staff lists hold their own region
    assert by_ref["WQ-1"]["contact_phone"] == "13704330011"
    other = client.get("/api/v1/demands/YJ-1", headers=world.token("wangqing")).json()
    assert (other["contact_name"], other["contact_phone"]) == (None, "137****0013")
    city = client.get("/api/v1/demands/YJ-1", headers=world.token("yanbian")).json()
    assert city["contact_phone"] == "13704330013"
    org_view = {d["ref"]: d for d in client.get("/api/v1/demands", headers=world.token("orgb")).json()["items"]}
    assert {d["contact_phone"] for d in org_view.values()} <= {"137****0011", "137****0012", "137****0013",
                                                               "137****0014"}
    own = client.get(f"/api/v1/organizations/{world.codes['A']}", headers=world.token("orga")).json()
    assert own["contact_phone"] == "13904330001"
    recs = client.get(f"/api/v1/organizations/{world.codes['A']}/recommendations", headers=world.token("orga")).json()
    assert recs["items"]
    assert all("****" in r["demand"]["contact_phone"] for r in recs["items"])
    staff_view = client.get("/api/v1/demands/WQ-1/recommendations", headers=world.token("wangqing")).json()
    phones = {r["organization"]["credit_code"]: r["organization"]["contact_phone"] for r in staff_view["items"]}
    assert phones[world.codes["A"]] == "13904330001"  # an organization of the county: full
    if world.codes["C"] in phones:  # a provincial one, outside the county's region: masked
        assert phones[world.codes["C"]] == "139****0003"


def test_organization_list_pages_in_id_order_with_and_without_an_action(world: World) -> None:
    client, staff = world.client(), world.token("admin")
    everyone = client.get("/api/v1/organizations?size=100", headers=staff).json()
    codes = [o["credit_code"] for o in everyone["items"]]
    assert everyone["total"] == len(codes) >= 3
    pages = [client.get(f"/api/v1/organizations?size=2&page={p}", headers=staff).json() for p in (1, 2)]
    assert [o["credit_code"] for page in pages for o in page["items"]] == codes[:4]
    assert {page["total"] for page in pages} == {len(codes)}
    health = client.get("/api/v1/organizations?action=医护康养&size=1", headers=staff).json()
    matching = [o["credit_code"] for o in everyone["items"] if "医护康养" in o["actions"]]
    assert health["total"] == len(matching) and [o["credit_code"] for o in health["items"]] == matching[:1]
    second = client.get("/api/v1/organizations?action=医护康养&size=1&page=2", headers=staff).json()
    assert [o["credit_code"] for o in second["items"]] == matching[1:2]


def test_review_queue_pages_are_slices_of_one_ordered_queue(world: World) -> None:
    client, staff = world.client(), world.token("admin")
    whole = client.get("/api/v1/pairings/queue?size=100", headers=staff).json()
    assert len(whole) >= 3
    scores = [item["score"] or 0 for item in whole]
    assert scores == sorted(scores, reverse=True)
    assert all(item["reasons"] for item in whole)  # read for the page's entries only, but read
    paged = [item for p in range(1, len(whole) + 1)
             for item in client.get(f"/api/v1/pairings/queue?size=1&page={p}", headers=staff).json()]
    key = [(i["demand_ref"], i["credit_code"], i["status"], i["score"]) for i in whole]
    assert [(i["demand_ref"], i["credit_code"], i["status"], i["score"]) for i in paged] == key
    waiting = client.get("/api/v1/pairings/queue?size=100&sort=waiting", headers=staff).json()
    assert sorted(map(str, waiting)) == sorted(map(str, whole))


def test_a_queue_entry_deleted_after_the_keys_were_read_is_left_out(world: World) -> None:
    from sqlmodel import Session

    from api.services import pairings
    from api.services.auth import Scope
    from models import Demand

    with Session(world.engine) as session:
        keys = pairings.queue_keys(session, Scope("province"))
        assert len(keys) >= 2
        victim = keys[0].demand_id
        session.connection().exec_driver_sql(f"DELETE FROM pairing WHERE demand_id = {victim}")
        session.connection().exec_driver_sql(f"DELETE FROM demand WHERE id = {victim}")
        items = pairings.queue_items(session, keys)
        assert session.get(Demand, victim) is None
    assert [i.demand.id for i in items] == [k.demand_id for k in keys if k.demand_id != victim]
