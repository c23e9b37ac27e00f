"""The real pages in a real browser: staff review, the organization portal, the public board, uploads."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from models import Pairing
from tests.browser.conftest import shot
from tests.factories import demand_row, org_row, write_csv
from tests.world import PASSWORD, World


def login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_staff_filters_the_queue_approves_one_and_rejects_another(page, live) -> None:  # type: ignore[no-untyped-def]
    world, base = live
    login(page, base, "yanbian")
    page.wait_for_url(f"{base}/staff/queue")
    rows = page.locator("tr.queue-item")
    assert rows.count() >= 2
    page.select_option("select[name=action]", "医护康养")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**action=**")
    filtered = page.locator("tr.queue-item")
    assert filtered.count() >= 2
    assert all(t == "医护康养" for t in filtered.locator(".tag").all_inner_texts())
    shot(page, "staff-queue")

    first, second = filtered.nth(0), filtered.nth(1)
    first_id, second_id = first.get_attribute("id"), second.get_attribute("id")
    first.locator("button[value=approve]").click()
    page.locator(f"#{first_id}.decided").wait_for()
    assert "已通过" in page.locator(f"#{first_id}").inner_text()
    second = page.locator(f"#{second_id}")
    second.locator("select[name=reason_code]").select_option("reach")
    second.locator("input[name=note]").fill("路途太远")
    second.locator("button[value=reject]").click()
    page.locator(f"#{second_id}.decided").wait_for()
    assert "已驳回：不在服务范围或距离过远（路途太远）" in page.locator(f"#{second_id}").inner_text()
    shot(page, "staff-queue-decided")
    with Session(world.engine) as session:
        statuses = sorted(p.status for p in session.exec(select(Pairing)).all())
    assert statuses == ["approved", "rejected"]


def test_organization_sees_reasons_and_expresses_interest(page, live) -> None:  # type: ignore[no-untyped-def]
    world, base = live
    login(page, base, "orga")
    page.wait_for_url(f"{base}/org")
    cards = page.locator("article.recommendation")
    assert cards.count() >= 1
    first = cards.nth(0)
    assert "类别一致" in first.locator(".reasons").inner_text()
    shot(page, "org-portal")
    first.locator("input[name=note]").fill("下周可派两名医生")
    first.locator("button[value=interest]").click()
    page.get_by_text("已提交帮扶意向，等待民政工作人员审核。").wait_for()
    with Session(world.engine) as session:
        pairing = session.exec(select(Pairing)).one()
    assert (pairing.status, pairing.note) == ("requested", "下周可派两名医生")
    shot(page, "org-portal-interest")


def test_public_board_shows_demands_without_phone_numbers(page, live) -> None:  # type: ignore[no-untyped-def]
    world, base = live
    page.goto(base + "/")
    assert page.locator("article.demand").count() == 4
    text = page.inner_text("body")
    assert not any(phone in text for phone in world.phones)
    page.fill("input[name=q]", "木耳")
    page.click("form.filters button[type=submit]")
    assert page.locator("article.demand h3").all_inner_texts() == ["木耳滞销"]
    shot(page, "public-board")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(base + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(page, "public-board-phone")


def test_upload_with_bad_rows_shows_the_report(page, live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, base = live
    bad = write_csv(tmp_path / "报名表.csv", [org_row(31, 联系电话="12"), org_row(32, 组织类型="公司")])
    login(page, base, "admin")
    page.goto(f"{base}/staff/upload")
    page.set_input_files("input[type=file]", str(bad))
    page.click("form.card button[type=submit]")
    report = page.locator(".upload-report")
    report.wait_for()
    assert "文件被拒绝，未写入任何数据：2行有错误" in report.inner_text()
    cells = page.locator("table.errors tbody tr").all_inner_texts()
    assert len(cells) == 2
    assert cells[0].split("\t")[:2] == ["2", "联系电话"]
    assert cells[1].split("\t")[:2] == ["3", "组织类型"]
    shot(page, "upload-report")
    assert isinstance(world, World)


def test_project_progress_dashboard_and_report_download(page, live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    from api.services import auth, pairings
    from models import Demand, Organization

    world, base = live
    with Session(world.engine) as session:
        demand = session.exec(select(Demand).where(Demand.ref == "WQ-1")).one()
        org = session.exec(select(Organization).where(Organization.credit_code == world.codes["A"])).one()
        admin = auth.get_user(session, "admin")
        pairings.decide(session, scope=auth.Scope.of(admin), user=admin, demand=demand, org=org, decision="approve",
                        clock=world.clock)
        session.commit()

    # The organization reports progress from its portal.
    login(page, base, "orga")
    page.wait_for_url(f"{base}/org")
    page.click("table.projects a.button")
    page.fill("input[name=funds_in]", "2.5")
    page.fill("input[name=beneficiaries]", "36")
    page.fill("textarea[name=note]", "首次义诊，36位老人体检")
    page.click("form.progress-form button[type=submit]")
    page.wait_for_selector("p.ok")
    assert "2.50" in page.locator(".funds-in").inner_text()
    page.click("header form button")  # log out

    # Staff see it on the dashboard, drawn with Chinese text in the charts.
    login(page, base, "wangqing")
    page.wait_for_url(f"{base}/staff/queue")
    page.goto(f"{base}/staff/dashboard")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    assert "在办需求" in charts.nth(0).inner_html()
    assert page.locator(".kpi strong").nth(2).inner_text() == "1"  # one project
    assert page.evaluate("document.fonts.check('14px \"Noto Sans CJK SC\"', '在办需求')")
    shot(page, "staff-dashboard")

    # ... and download the half-year's progress list from the reports page.
    page.goto(f"{base}/staff/reports")
    page.select_option("select[name=kind]", "progress")
    page.select_option("select[name=period]", "2026H2")
    with page.expect_download() as info:
        page.click("form.filters button[type=submit]")
    target = tmp_path / "progress.xlsx"
    info.value.save_as(target)
    assert info.value.suggested_filename == "汪清县_项目进展清单_2026H2.xlsx"
    ws = openpyxl.load_workbook(target).active
    assert ws["A1"].value == "汪清县社会组织参与乡村振兴行动项目进展清单（2026年下半年）"
    assert [ws.cell(row=4, column=c).value for c in (5, 9, 10, 11, 12)] == [
        "汪清县仁爱医院", "实施中", 2.5, 36, "首次义诊，36位老人体检"]


def test_staff_review_page_lists_a_duplicate_and_merges_it(page, live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _world, base = live
    copy = write_csv(tmp_path / "乡镇汇总.csv", [demand_row(1, 需求编号="WQ-TS-7", 需求名称="空巢老人义诊体检",
                                                           需求内容="为第1村空巢老人开展义诊体检，送常用药"),
                                                demand_row(5, 需求编号="WQ-TM", 需求名称="给我家买台跑步机",
                                                           需求内容="给我家买一台跑步机")])
    login(page, base, "wangqing")
    page.wait_for_url(f"{base}/staff/queue")
    page.goto(f"{base}/staff/upload")
    page.check("input[name=kind][value=demands]")
    page.set_input_files("input[type=file]", str(copy))
    page.click("form.card button[type=submit]")
    page.locator(".upload-report").wait_for()
    assert "疑似重复" in page.locator(".upload-report").inner_text()
    page.click("header a:has-text('需复核')")
    page.wait_for_url(f"{base}/staff/review")
    rows = page.locator("tr.review-item")
    assert rows.count() == 2
    assert page.locator("nav.tabs a[data-kind=duplicate_demand] .count").inner_text() == "1"
    assert page.locator("nav.tabs a[data-kind=doubtful_demand] .count").inner_text() == "1"
    duplicate = page.locator("tr.review-item[data-kind=duplicate_demand]")
    assert "WQ-1「空巢老人义诊」" in duplicate.inner_text() and "wangqing" in duplicate.inner_text()
    shot(page, "staff-review")
    duplicate.locator("button[value=merge]").click()
    page.locator("tr.review-item[data-kind=duplicate_demand] .decision").wait_for()
    assert "合并为一条" in page.locator("tr.review-item[data-kind=duplicate_demand]").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/staff/review")
    assert page.locator("tr.review-item").count() == 1  # the doubtful request waits
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "staff-review-phone")
    page.goto(base + "/")
    assert page.locator("article.demand").count() == 4  # the copy merged, the treadmill held


def click_county(page, code: str) -> None:  # type: ignore[no-untyped-def]
    """A real click on a point inside the county's shape (its box's centre may lie in a neighbour)."""
    point = page.evaluate("""code => {
        const el = document.querySelector(`svg.county-map [data-county-code="${code}"]`);
        el.scrollIntoView();
        const r = el.getBoundingClientRect();
        for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) {
            const x = r.left + r.width * i / 20, y = r.top + r.height * j / 20;
            if (document.elementFromPoint(x, y) === el) return [x, y];
        }
        return null;
    }""", code)
    assert point, f"county {code} has no visible point"
    page.mouse.click(*point)


def test_county_map_on_the_board_and_the_dashboard(page, live) -> None:  # type: ignore[no-untyped-def]
    _world, base = live
    page.goto(base + "/")
    codes = page.eval_on_selector_all("svg.county-map [data-county-code]", "els => els.map(e => e.dataset.countyCode)")
    assert len(set(codes)) >= 60
    assert page.locator("article.demand").count() == 4
    shot(page, "map-public-board")
    click_county(page, "222401")  # 延吉市
    page.wait_for_url("**county=222401**")
    assert page.locator("article.demand h3").all_inner_texts() == ["独居老人探访"]
    assert page.locator('svg.county-map .selected[data-county-code="222401"]').count() == 1

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("svg.county-map").bounding_box()["width"] <= 390
    shot(page, "map-public-board-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, base, "admin")
    page.wait_for_url(f"{base}/staff/**")
    page.goto(f"{base}/staff/dashboard")
    title = page.locator('svg.county-map [data-county-code="222424"] title')
    assert title.text_content() == "汪清县：在办需求 2条"
    page.select_option("#county-map select[name=figure]", "approved")  # swapped in by htmx, no reload
    page.wait_for_url("**figure=approved**")
    assert page.locator('svg.county-map [data-county-code="222424"] title').text_content() == "汪清县：通过对接 0对"
    shot(page, "map-staff-dashboard")
    click_county(page, "220102")  # 南关区
    page.wait_for_url("**county=220102**")
    assert page.locator("h1").inner_text() == "数据看板：南关区"
    assert page.locator(".kpi strong").nth(0).inner_text() == "1"
