"""A realistic synthetic set of forms, with the messiness of real ones, in contract format.

Organizations go to an .xlsx with a title row above the header (as the policy's
attachment is laid out); demands go to a GBK-encoded .csv as Excel on Chinese
Windows saves it. Both use some header aliases, short place names, full-width
spaces, mixed separators and date formats, blank and mis-filed categories.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
from sqlmodel import Session, select

from api.services.contract import ORG_FORM
from api.services.demo_shapes import reshape
from api.services.privacy import id_check_char, luhn_valid
from api.services.validation import CREDIT_CHARSET, credit_check_char
from matcher.categories import ACTIONS
from matcher.regions import RegionIndex

PRODUCTS = ["黑木耳", "大米", "鲜食玉米", "人参", "蜂蜜", "小米", "笨鸡蛋", "蓝莓", "松子", "冷水鱼",
            "苹果梨", "杂粮", "黄牛肉", "榛蘑", "葵花籽", "辣白菜", "山野菜", "五味子"]
GROUPS = ["空巢老人", "留守儿童", "残疾人", "低保户", "独居老人", "困境儿童", "高龄老人", "脱贫户",
          "留守妇女", "特困人员"]
BRANDS = ["春晖", "阳光", "同心", "仁和", "益民", "长青", "红烛", "启明", "众善", "德润", "新禾", "沃土"]
QUALIFIERS = ["", "乡村", "城乡", "公益", "爱心", "互助", "和美", "兴农", "富民", "善行"]
SKILLS = ["电工", "焊工", "家政服务", "养老护理员", "中式面点", "电商运营", "农机驾驶", "育婴师"]
TECHS = ["玉米高产栽培", "水稻侧深施肥", "木耳菌包管理", "林下参种植", "大棚蔬菜种植", "肉牛养殖",
         "病虫害绿色防控", "保护性耕作"]

# Per action: demand (title, description) templates.
DEMAND_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "创业就业": [
        ("{product}加工项目", "村合作社想建{product}初加工车间，带动{n}户村民就近就业，缺少资金和技术"),
        ("{product}保鲜冷库建设", "合作社需要建设冷库储存{product}，解决集中上市价格低的问题"),
        ("返乡青年创业扶持", "村里有{n}名返乡青年想发展{product}产业，需要创业指导和启动资金"),
        ("农闲季节务工岗位", "冬季农闲剩余劳动力多，希望提供就业岗位或组织外出务工"),
        ("{tech}技术指导", "村民发展{tech}缺乏技术，希望农技专家到田间地头指导"),
        ("乡村旅游民宿开发", "村子风景好，想把闲置农房改造成民宿，发展乡村旅游"),
        ("村集体经济项目", "村集体想发展{product}特色产业，需要项目规划和合作社规范化指导"),
    ],
    "人才培育": [
        ("{skill}技能培训", "村里青壮年想学{skill}技术，希望开办培训班并颁发证书"),
        ("高素质农民培育", "培训种养大户和合作社带头人，提升经营管理能力"),
        ("农业科普讲座", "组织专家进村讲解{tech}和科学种田知识"),
        ("电商人才培训", "培养本村电商带头人，学习网店运营和直播技巧"),
        ("致富带头人培养", "挑选{n}名有文化的年轻人，培养成农村实用人才"),
    ],
    "扶弱济困": [
        ("{group}冬季取暖救助", "村里{n}户{group}冬季取暖困难，需要煤炭和棉衣棉被"),
        ("{group}关爱帮扶", "{group}生活困难，需要定期探访、送去米面油等生活物资"),
        ("困难学生助学", "村里{n}名家庭困难学生上学有困难，需要助学金和学习用品"),
        ("残疾人辅具适配", "为{n}名行动不便的残疾人配备轮椅、助行器"),
        ("受灾群众救助", "夏季洪涝灾害后，受灾群众急需救灾物资和生产自救资金"),
        ("留守儿童关爱之家", "建设留守儿童关爱之家，开展课后陪伴和心理辅导"),
    ],
    "医护康养": [
        ("{group}健康义诊", "村里{group}多，常年没体检，希望医生进村义诊、测血压血糖"),
        ("慢性病筛查", "开展高血压、糖尿病筛查，建立健康档案，送常用药"),
        ("失能老人上门照护", "{n}位失能半失能老人需要上门护理、助浴和康复训练"),
        ("村级互助养老站", "利用闲置房屋建设互助养老站，提供日间照料和助餐"),
        ("康复理疗服务", "中老年村民腰腿痛普遍，希望开展针灸理疗和康复服务"),
        ("健康知识讲座", "组织医护人员开展健康讲座和急救培训"),
    ],
    "社会治理": [
        ("邻里纠纷调解", "村里土地和宅基地纠纷较多，需要专业调解和法律咨询"),
        ("送戏下乡文化活动", "村民文化生活单调，希望文艺团体来村演出，组建秧歌队"),
        ("人居环境整治", "村屯垃圾乱堆，需要志愿者清理并宣传垃圾分类"),
        ("村规民约修订", "帮助修订村规民约，建立村民议事协商机制"),
        ("反诈防骗宣传", "老年人容易上当受骗，需要开展反诈宣传"),
        ("志愿服务队建设", "组建村志愿服务队，开展文明实践活动"),
    ],
    "消费帮扶": [
        ("{product}滞销求助", "今年{product}丰收，还有{m}斤卖不出去，希望爱心单位以购代捐"),
        ("{product}直播带货", "合作社{product}品质好，想通过直播带货和网店拓宽销路"),
        ("{product}产销对接", "希望企业、机关食堂订购村里的{product}"),
        ("农产品展销", "组织村里的{product}参加年货展销会"),
        ("{product}品牌包装", "{product}缺少品牌和包装，卖不上价"),
    ],
}

# Per action: (name pattern, organization type, capability templates).
ORG_TEMPLATES: dict[str, list[tuple[str, str, str]]] = {
    "创业就业": [
        ("{place}{product}产业协会", "社会团体", "指导会员发展{product}种植加工，帮助村里成立合作社，吸纳农民就业"),
        ("{place}返乡创业促进会", "社会团体", "为返乡青年提供创业培训、项目孵化和小额贷款对接"),
        ("{place}农业技术推广协会", "社会团体", "组织农技专家下乡，开展{tech}技术指导"),
        ("{place}冷链物流商会", "社会团体", "会员企业投资建设冷库和加工车间，提供仓储物流服务"),
        ("{place}乡村旅游协会", "社会团体", "帮助村屯开发民宿、农家乐和旅游线路"),
        ("{place}劳务经纪人协会", "社会团体", "收集用工信息，组织农民外出务工，提供就业岗位"),
    ],
    "人才培育": [
        ("{place}职业技能培训学校", "民办非企业单位", "开办{skill}、电工、家政等职业技能培训班，颁发证书"),
        ("{place}科普志愿者协会", "社会团体", "组织科技人员进村开展科普讲座和农业新技术培训"),
        ("{place}农民学校", "社会服务机构", "培养高素质农民和致富带头人，开设电商运营课程"),
    ],
    "扶弱济困": [
        ("{place}慈善总会", "社会团体", "募集善款物资，救助困难群众和受灾群众，冬季送温暖"),
        ("{place}助学基金会", "基金会", "资助困难家庭学生，捐赠书包文具"),
        ("{place}爱心志愿者协会", "社会团体", "志愿者探访{group}，送去生活物资，帮助打扫卫生"),
        ("{place}残疾人服务中心", "社会服务机构", "为残疾人适配轮椅、助行器，提供托养和康复指导"),
        ("{place}儿童关爱服务中心", "社会服务机构", "为留守儿童提供课后陪伴、心理辅导和安全教育"),
    ],
    "医护康养": [
        ("{place}仁爱医院", "社会服务机构", "组织医生下乡义诊、巡诊，为老年人免费体检，送药上门"),
        ("{place}医师协会", "社会团体", "开展慢病筛查、健康讲座和急救培训"),
        ("{place}康复中心", "社会服务机构", "提供康复训练、理疗和上门康复护理"),
        ("{place}养老服务中心", "社会服务机构", "为失能老人提供上门照护、助餐助浴和日间照料"),
        ("{place}中医药学会", "社会团体", "中医专家进村针灸理疗，推广中医养生"),
    ],
    "社会治理": [
        ("{place}社会工作服务中心", "社会服务机构", "社工入村开展纠纷调解、村规民约修订和议事协商"),
        ("{place}法律服务志愿者协会", "社会团体", "律师志愿者下乡普法、法律咨询和反诈宣传"),
        ("{place}文化艺术团", "社会团体", "送戏下乡，编排二人转、秧歌，组织广场舞"),
        ("{place}环保志愿者协会", "社会团体", "组织志愿者清理垃圾河道，宣传垃圾分类，整治人居环境"),
        ("{place}志愿服务联合会", "社会团体", "组建志愿服务队，开展文明实践活动"),
    ],
    "消费帮扶": [
        ("{place}电子商务协会", "社会团体", "会员开网店、做直播带货，帮助农户销售{product}等农副产品"),
        ("{place}餐饮行业协会", "社会团体", "组织会员企业以购代捐，订购村里的{product}和杂粮"),
        ("{place}商会", "社会团体", "会员企业采购农副产品，组织年货展销会和产销对接"),
    ],
}

SECONDARY = {
    "创业就业": ["人才培育", "消费帮扶"], "人才培育": ["创业就业"], "扶弱济困": ["医护康养", "社会治理"],
    "医护康养": ["扶弱济困"], "社会治理": ["扶弱济困"], "消费帮扶": ["创业就业"],
}


@dataclass
class DemoFiles:
    organizations: Path
    demands: Path


def _credit_code(rng: random.Random, org_type: str, area_code: str) -> str:
    kind = {"社会团体": "51", "基金会": "53"}.get(org_type, "52")
    body = kind + area_code + "".join(rng.choice(CREDIT_CHARSET) for _ in range(9))
    return body + credit_check_char(body)


def _messy(rng: random.Random, text: str) -> str:
    """Stray spaces the way forms arrive: full-width, leading, trailing."""
    r = rng.random()
    if r < 0.05:
        return "\u3000" + text
    if r < 0.1:
        return text + "  "
    return text


def _phone(rng: random.Random, area: str = "0431") -> str:
    r = rng.random()
    if r < 0.15:
        return f"{area}-{rng.randint(1000000, 99999999)}"
    number = f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}"
    if r < 0.25:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return number


def synthetic_organizations(rng: random.Random, regions: RegionIndex, n: int) -> Iterator[tuple[dict[str, Any],
                                                                                             dict[str, Any]]]:
    """``n`` organizations, each as (its row of the sign-up form, the clean values an import stores)."""
    counties = list(regions.counties.values())
    used_names: set[str] = set()
    for i in range(n):
        action = ACTIONS[i % len(ACTIONS)]
        level = rng.choices(["province", "city", "county"], weights=[1, 3, 6])[0]
        county = counties[i % len(counties)] if level == "county" else rng.choice(counties)
        city = regions.cities[county.city_code]
        if level == "province":
            place, registrar, area_code, county_cell = "吉林省", "吉林省民政厅", "220000", ""
            city_cell = "长春市"
        elif level == "city":
            place, registrar, area_code, county_cell = city.name, f"{city.name}民政局", city.code, ""
            city_cell = _city_label(rng, regions, city.code)
        else:
            place = county.name if county.name != city.name else city.name
            registrar, area_code = f"{county.name}民政局", county.code
            county_cell, city_cell = county.name, _city_label(rng, regions, city.code)
        pattern, org_type, capability = rng.choice(ORG_TEMPLATES[action])
        name = pattern.format(place=place, product=rng.choice(PRODUCTS))
        attempt = 0
        while name in used_names:  # real registrations never share a name
            brand = BRANDS[attempt % len(BRANDS)] + QUALIFIERS[(attempt // len(BRANDS)) % len(QUALIFIERS)]
            number = attempt // (len(BRANDS) * len(QUALIFIERS))
            name = pattern.format(place=place + brand + (f"第{number + 1}" if number else ""),
                                  product=rng.choice(PRODUCTS))
            attempt += 1
        used_names.add(name)
        capability = capability.format(product=rng.choice(PRODUCTS), tech=rng.choice(TECHS),
                                       skill=rng.choice(SKILLS), group=rng.choice(GROUPS))
        actions = [action]
        if rng.random() < 0.4:
            actions.append(rng.choice(SECONDARY[action]))
        sep = rng.choice(["、", "，", ",", "；", " "])
        actions_cell = sep.join(a + ("行动" if rng.random() < 0.2 else "") for a in actions)
        area = ""
        if level == "county" and rng.random() < 0.3:
            area = rng.choice(["本县及相邻县", f"{county.name}及周边", f"{city.short}"])
        elif level == "province" and rng.random() < 0.3:
            area = rng.choice(["全省", f"{city.short}、{rng.choice(list(regions.cities.values())).short}"])
        funds = {"province": rng.choice([50, 100, 200, 500]), "city": rng.choice([10, 20, 50, 80]),
                 "county": rng.choice([0.5, 2, 5, 10, 20])}[level]
        org_type_code = "社会服务机构" if org_type == "民办非企业单位" else org_type
        row = {
            "社会组织名称": _messy(rng, name),
            "统一社会信用代码": _credit_code(rng, org_type_code, area_code),
            "组织类型": org_type,
            "登记管理机关": registrar,
            "所在市（州）": city_cell,
            "所在县（市、区）": county_cell,
            "参与行动": actions_cell,
            "业务范围": "",
            "帮扶能力": capability,
            "拟帮扶地区": area,
            "可投入资金（万元）": f"{funds}万" if rng.random() < 0.1 else funds if rng.random() < 0.9 else "",
            "可投入人员（人）": rng.randint(2, 60),
            "联系人": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(["丽", "伟", "芳", "军", "静", "强", "敏"]),
            "联系电话": _phone(rng),
            "电子邮箱": f"org{i:04d}@example.org" if rng.random() < 0.7 else "",
        }
        clean = {
            "name": name, "credit_code": row["统一社会信用代码"], "org_type": org_type, "registrar": registrar,
            "registrar_level": level, "city_code": _resolved_city(regions, city_cell),
            "county_code": county.code if level == "county" else None, "actions": actions, "scope": "",
            "capability": capability, "service_area": area, "funds": None if row["可投入资金（万元）"] == "" else float(funds),
            "staff": row["可投入人员（人）"], "contact_name": row["联系人"], "contact_phone": row["联系电话"],
            "email": row["电子邮箱"] or None,
        }
        yield row, clean


def synthetic_demands(rng: random.Random, regions: RegionIndex, n: int) -> Iterator[tuple[dict[str, Any],
                                                                                       dict[str, Any]]]:
    """``n`` demand points, every county with some, each as (its form row, the clean values)."""
    counties = list(regions.counties.values())
    unnamed: set[tuple[str, ...]] = set()  # a blank 需求编号 is keyed by place + title; keep those unique
    date_formats = ["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}年{m}月"]
    for j in range(n):
        county = counties[j % len(counties)] if j < len(counties) * 3 else rng.choice(counties)
        action = rng.choice(ACTIONS)
        title, desc = rng.choice(DEMAND_TEMPLATES[action])
        fill = {"product": rng.choice(PRODUCTS), "group": rng.choice(GROUPS), "n": rng.randint(5, 80),
                "m": rng.choice([5000, 10000, 30000, 50000]), "tech": rng.choice(TECHS),
                "skill": rng.choice(SKILLS)}
        r = rng.random()
        category = "" if r < 0.12 else rng.choice(ACTIONS) if r < 0.17 else action
        # A few already past: the engine must drop expired demands.
        y, m = rng.choice([2027, 2027, 2028]) if rng.random() > 0.05 else 2025, rng.randint(1, 12)
        form = rng.choice(date_formats)
        day = min(28, rng.randint(1, 28))
        due = form.format(y=y, m=m, d=day)
        funding = {"创业就业": rng.choice([20, 50, 100, 200]), "消费帮扶": rng.choice([0, 1, 5])}.get(
            action, rng.choice([0.5, 1, 3, 5, 10]))
        city = regions.cities[county.city_code]
        township = f"{rng.choice(['东风', '新华', '红旗', '胜利', '前进', '太平', '永安'])}镇"
        village = f"{rng.choice(['东', '西', '南', '北', '前', '后', '新'])}{rng.choice(['山', '河', '岭', '沟', '屯'])}村"
        title_text = title.format(**fill)
        ref = f"{county.code}-{j + 1:05d}"
        if rng.random() < 0.1 and (key := (county.code, township, village, title_text)) not in unnamed:
            unnamed.add(key)
            ref = ""
        row = {
            "需求编号": ref,
            "市州": _city_label(rng, regions, city.code),
            "县（市、区）": county.name,
            "乡（镇）": township,
            "村": village,
            "需求类别": category,
            "需求名称": _messy(rng, title_text),
            "需求内容": desc.format(**fill),
            "受益人数": rng.randint(10, 500),
            "资金需求（万元）": funding,
            "期望完成时间": due,
            "联系人": rng.choice("王李张刘陈杨赵黄周吴") + "书记",
            "联系电话": _phone(rng, "0433"),
        }
        clean = {
            "ref": ref or f"{county.code}-G{j + 1:05d}", "ref_generated": not ref, "city_code": city.code,
            "county_code": county.code, "township": township, "village": village, "category": category or action,
            "category_inferred": not category, "title": title_text, "description": row["需求内容"],
            "beneficiaries": row["受益人数"], "funding_needed": float(funding), "due_date": date(y, m, day),
            "contact_name": row["联系人"], "contact_phone": row["联系电话"],
        }
        yield row, clean


def _resolved_city(regions: RegionIndex, cell: str) -> str:
    """The city a form's 所在市（州） cell names, as the import reads it."""
    city = regions.resolve_city(cell)
    assert city is not None, cell  # the generator only writes names and short names it knows
    return city.code


def _city_label(rng: random.Random, regions: RegionIndex, code: str) -> str:
    city = regions.cities[code]
    return rng.choice([city.name, city.name, city.short])


def generate(out_dir: Path, *, organizations: int = 320, demands: int = 2400, seed: int = 7,
             regions: RegionIndex | None = None, shape: str = "plain") -> DemoFiles:
    """Write the two forms into ``out_dir`` and return their paths; ``shape`` (demo_shapes.SHAPES)
    rewrites the rows the way some real registries and request lists are."""
    rng = random.Random(seed)
    regions = regions or RegionIndex.default()
    out_dir.mkdir(parents=True, exist_ok=True)
    org_rows = [row for row, _ in synthetic_organizations(rng, regions, organizations)]
    twin = organization_twin(rng, org_rows[:-1])  # in place of the last: the demo keeps its size
    org_rows = org_rows[:len(org_rows) - len(twin)] + twin
    dem_rows = [row for row, _ in synthetic_demands(rng, regions, demands)]
    examples = review_examples(rng, dem_rows[:-3])
    dem_rows = dem_rows[:len(dem_rows) - len(examples)] + examples
    if shape != "plain":
        reshape(shape, random.Random(seed + 1), org_rows, dem_rows)

    org_path = out_dir / "社会组织报名表.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报名表"
    ws.append([ORG_FORM.title])
    ws.append(list(org_rows[0]))
    for row in org_rows:
        ws.append(list(row.values()))
    wb.save(org_path)

    dem_path = out_dir / "乡村振兴帮扶需求要点.csv"
    with dem_path.open("w", encoding="gb18030", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dem_rows[0]))
        writer.writeheader()
        writer.writerows(dem_rows)
    return DemoFiles(org_path, dem_path)


def review_examples(rng: random.Random, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three rows as villages really send them, for 汪清县's staff to find on 需复核: a need with a
    household's personal data and a bank card typed in, one household's treadmill, and the
    township's copy of a village's need under a number of its own."""
    base = next((r for r in rows if r["县（市、区）"] == "汪清县"), None)
    if base is None:  # a demo too small to reach 汪清县
        return []
    id_number = "22242419550312123" + id_check_char("22242419550312123")
    card = next(f"622202100112345678{d}" for d in "0123456789" if luhn_valid(f"622202100112345678{d}"))
    common = {k: base[k] for k in ("市州", "县（市、区）", "乡（镇）", "村", "受益人数", "期望完成时间", "联系人", "联系电话")}
    return [
        {**common, "需求编号": "WQ-DEMO-1", "需求类别": "扶弱济困", "需求名称": "独居老人房屋漏雨",
         "需求内容": f"独居老人张桂芳（身份证{id_number}）房屋漏雨，急需维修。有意帮扶请联系她儿子13912346578"
                     f"或村会计0433-88885678，捐款可汇至{card}", "资金需求（万元）": 2},
        {**common, "需求编号": "WQ-DEMO-2", "需求类别": "扶弱济困", "需求名称": "给我家买台跑步机",
         "需求内容": "我家老人想锻炼身体，给我家买一台跑步机", "资金需求（万元）": 0.5},
        {**common, "需求编号": "WQ-DEMO-3", "需求类别": base["需求类别"], "需求名称": base["需求名称"].strip(),
         "需求内容": f"（乡镇汇总）{base['需求内容']}", "资金需求（万元）": base["资金需求（万元）"]},
    ]


def organization_twin(rng: random.Random, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An organization of 汪清县 registered again under its short place name and another code."""
    first = next((r for r in rows if str(r["社会组织名称"]).strip().startswith("汪清县")), None)
    if first is None:
        return []
    name = str(first["社会组织名称"]).strip().replace("汪清县", "汪清", 1)
    org_type = "社会服务机构" if first["组织类型"] == "民办非企业单位" else first["组织类型"]
    return [{**first, "社会组织名称": name, "统一社会信用代码": _credit_code(rng, org_type, "222424")}]


DEMO_PASSWORD = "duijie-demo-2026"


def ensure_demo_accounts(session: Session, regions: RegionIndex) -> list[dict[str, str]]:
    """One account per role so a newcomer can log in at once (idempotent)."""
    from api.services import auth
    from models import Organization, User

    org = session.exec(select(Organization).where(Organization.county_code == "222424")
                       .order_by(Organization.id)).first() or session.exec(
                           select(Organization).order_by(Organization.id)).first()
    wanted = [
        ("admin", "province", None, None, "省级管理员：全省"),
        ("yanbian", "city", "222400", None, "市州工作人员：延边朝鲜族自治州"),
        ("wangqing", "county", "222424", None, "县区工作人员：汪清县"),
    ]
    if org is not None:
        wanted.append(("org-demo", "org", None, org, f"社会组织：{org.name}"))
    out = []
    for username, role, region, organization, note in wanted:
        if session.exec(select(User).where(User.username == username)).first() is None:
            auth.create_user(session, username=username, password=DEMO_PASSWORD, role=role, region_code=region,
                             organization=organization, regions=regions)
        out.append({"role": role, "username": username, "password": DEMO_PASSWORD, "note": note})
    return out


# -- a year and a half of history, so reports, the dashboard and the notebooks have something to show

NOTES = {
    "创业就业": ["开展{skill}技能培训一期，{n}人结业", "对接用工企业，{n}人实现就近就业", "帮助合作社开通网店，首月销售额{m}万元"],
    "人才培育": ["举办乡村带头人培训班，培训{n}人次", "组织专家下乡指导{n}人次", "选派{n}名志愿者驻村服务"],
    "扶弱济困": ["走访慰问{group}{n}户，发放物资折合{m}万元", "为{group}提供助餐服务{n}人次", "开展临时救助{n}户"],
    "医护康养": ["组织义诊巡诊{n}人次，发放常用药品", "为{group}开展健康体检{n}人", "上门康复护理服务{n}人次"],
    "社会治理": ["协助修订村规民约，召开村民议事会{n}次", "开展矛盾纠纷调解{n}件", "组织法律咨询进村，服务{n}人次"],
    "消费帮扶": ["直播带货销售{product}{m}万元", "组织单位食堂采购{product}{m}万元", "在展销会销售{product}{m}万元"],
}
STORY = ("{org}与{place}结对后，围绕“{title}”制定了帮扶计划。项目自{start}启动，累计投入资金物资{funds:.1f}万元，"
         "惠及群众{people}人。村里评价：“{comment}”。该项目做法可复制、可推广，现作为典型案例供各地参考。")
COMMENTS = ["服务很实在，群众满意", "来得及时，解决了大问题", "希望以后长期合作", "组织得好，老人们都说好"]


def simulate_history(session: Session, matcher_regions: RegionIndex, *, today: Any, seed: int = 7,
                     share: float = 0.18) -> dict[str, int]:
    """Staff decisions on the latest suggestions, the projects they opened and their reports,
    spread over the past eighteen months (deterministic for a seed). Needs a re-match first."""
    from datetime import UTC, datetime, timedelta

    from sqlmodel import col

    from api.services import auth, pairings, projects
    from models import Demand, Organization, Recommendation, User
    from models.project import LIVE_STATUSES

    rng = random.Random(seed)
    admin = session.exec(select(User).where(User.role == "province").order_by(User.id)).first()
    if admin is None:
        raise RuntimeError("需要一个省级管理员账号")
    if session.exec(select(projects.Project.id)).first() is not None:
        return {"approved": 0, "rejected": 0, "projects": 0, "reports": 0}  # already has a history
    scope = auth.Scope.of(admin)
    run_id = session.exec(select(Recommendation.run_id).order_by(col(Recommendation.run_id).desc())).first()
    firsts = session.exec(select(Recommendation).where(Recommendation.run_id == run_id,
                                                       Recommendation.demand_rank == 1)
                          .order_by(col(Recommendation.demand_id))).all()
    counts = {"approved": 0, "rejected": 0, "projects": 0, "reports": 0, "cases": 0}
    for rec in firsts:
        if rng.random() > share:
            continue
        demand, org = session.get(Demand, rec.demand_id), session.get(Organization, rec.organization_id)
        assert demand is not None and org is not None
        days_ago = rng.randint(20, 560)
        start = today - timedelta(days=days_ago)
        at = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
        demand.created_at = at - timedelta(days=rng.randint(3, 75), hours=rng.randint(0, 23))  # published earlier
        session.add(demand)
        if rng.random() < 0.2:
            pairings.decide(session, scope=scope, user=admin, demand=demand, org=org, decision="reject",
                            reason_code=rng.choice(["capability", "reach", "scale", "covered"]), clock=lambda at=at: at)
            counts["rejected"] += 1
            continue
        pairing = pairings.decide(session, scope=scope, user=admin, demand=demand, org=org, decision="approve",
                                  reason_code="fit", clock=lambda at=at: at)
        counts["approved"] += 1
        project = projects.project_of_pairing(session, pairing.id)  # type: ignore[arg-type]
        assert project is not None
        project.start_date, project.created_at = start, at
        project.planned_end = start + timedelta(days=rng.choice([90, 180, 270, 365]))
        if project.planned_funds is None:
            project.planned_funds = round(rng.uniform(0.5, 20), 1)
        if project.planned_beneficiaries is None:
            project.planned_beneficiaries = rng.randint(10, 300)
        counts["projects"] += 1
        silent = rng.random() < 0.12  # some organizations stop reporting: they become overdue
        day, people, status = start, 0, "not_started"
        while True:
            day = day + timedelta(days=rng.randint(25, 100))
            if day > today or (silent and status != "not_started"):
                break
            status = "done" if day >= project.planned_end or rng.random() < 0.08 else "in_progress"
            if status == "in_progress" and rng.random() < 0.02:
                status = "stopped"
            people = min(people + rng.randint(5, 80), (project.planned_beneficiaries or 100) * 2)
            funds = round(rng.uniform(0.1, min(project.planned_funds or 5, 40) / 2), 2)
            note = rng.choice(NOTES.get(project.action, NOTES["扶弱济困"])).format(
                skill=rng.choice(SKILLS), n=rng.randint(5, 120), m=funds, group=rng.choice(GROUPS),
                product=rng.choice(PRODUCTS))
            session.add(projects.ProgressReport(
                project_id=project.id, report_date=day, status=status,  # type: ignore[arg-type]
                funds_in=funds, beneficiaries=people,
                note=note, created_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC)))
            counts["reports"] += 1
            if status not in LIVE_STATUSES:
                break
        projects.recompute(session, project, at)
        if project.status in ("in_progress", "done") and rng.random() < 0.6:
            stars = rng.choices([5, 4, 3, 2], weights=[5, 4, 2, 1])[0]
            project.village_rating, project.village_comment = stars, rng.choice(COMMENTS)
            project.village_confirmed_at = datetime.combine(project.last_report_date or today, datetime.min.time(),
                                                            tzinfo=UTC)
            project.village_confirmed_by = "village"
        if project.status == "done" and project.village_rating == 5 and counts["cases"] < 4:
            project.is_case, project.case_marked_at = True, project.village_confirmed_at
            project.case_story = STORY.format(
                org=org.name, place=f"{matcher_regions.place_name(project.city_code, project.county_code)}"
                                    f"{project.village}", title=project.title, start=project.start_date.isoformat(),
                funds=project.funds_in, people=project.beneficiaries, comment=project.village_comment)
            counts["cases"] += 1
        session.add(project)
    session.flush()
    return counts
