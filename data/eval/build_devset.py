"""Writes the labeled dev set: orgs.csv, demands.csv (contract format), qrels.csv (graded
pairs) and actions.csv (the action each demand truly belongs to, whatever its form says).

Texts are written by hand. Each organization carries hidden service tags (what
it really does: ``direct``, and what it only touches: ``related``), and each
demand one hidden tag (what it really asks for). Grades follow
shared/spec/matching-principles.md from those tags, the organization's true
reach and the scale, by the rule in ``grade()`` below. The engine never sees the
tags, only the texts, so the grades are not a restatement of its scoring.

Run: python data/eval/build_devset.py   (output is committed; rerun after edits)
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(body17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(body17, WEIGHTS, strict=True))
    return body17 + CHARSET[(31 - total % 31) % 31]


def load_places() -> tuple[dict, dict]:
    with (DATA / "cities.csv").open(encoding="utf-8") as f:
        cities = {r["name"]: r for r in csv.DictReader(f)}
    with (DATA / "counties.csv").open(encoding="utf-8") as f:
        counties = {r["name"]: r for r in csv.DictReader(f)}
    return cities, counties


CITIES, COUNTIES = load_places()


def km(a: str, b: str) -> float:
    pa, pb = COUNTIES[a], COUNTIES[b]
    lon1, lat1, lon2, lat2 = map(math.radians, map(float, (pa["lon"], pa["lat"], pb["lon"], pb["lat"])))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def city_of(county: str) -> str:
    code = COUNTIES[county]["city_code"]
    return next(name for name, r in CITIES.items() if r["code"] == code)


# Tags -> the action a demand with that tag belongs to.
TAG_ACTION = {
    "clinic": "医护康养", "rehab": "医护康养", "eldercare": "医护康养",
    "ecommerce": "消费帮扶", "purchase": "消费帮扶",
    "coldchain": "创业就业", "agritech": "创业就业", "startup": "创业就业", "jobs": "创业就业",
    "tourism": "创业就业",
    "vocational": "人才培育", "science": "人才培育",
    "schoolaid": "扶弱济困", "childcare": "扶弱济困", "disability": "扶弱济困", "relief": "扶弱济困",
    "elderlyvisit": "扶弱济困",
    "mediation": "社会治理", "culture": "社会治理", "environment": "社会治理",
}

# (name, type, registrar, county or None, actions, direct tags, related tags, funds 万元, area, capability)
ORGS = [
    ("延吉市仁心康复医院", "社会服务机构", "延吉市民政局", "延吉市", "医护康养", "clinic rehab", "eldercare", 30, "", "开展老年人健康体检、慢病随访，医生下乡为村民看病，提供康复理疗和肢体功能训练"),
    ("汪清县乡村医生协会", "社会团体", "汪清县民政局", "汪清县", "医护康养", "clinic", "elderlyvisit", 5, "本县及相邻县", "组织乡村医生巡回诊疗，测血压血糖，送常用药上门，普及卫生健康常识"),
    ("珲春市爱心志愿者协会", "社会团体", "珲春市民政局", "珲春市", "扶弱济困、社会治理", "elderlyvisit disability", "culture environment", 3, "", "志愿者定期探望独居和高龄老人，帮助打扫卫生、代购生活用品，为残疾人家庭送去米面油"),
    ("延边州慈善总会", "社会团体", "延边朝鲜族自治州民政局", None, "扶弱济困", "relief disability schoolaid", "elderlyvisit childcare", 300, "延边州", "募集善款和物资，救助受灾群众和困难家庭，资助贫困学生完成学业，为残疾人配发轮椅"),
    ("延边电子商务协会", "社会团体", "延边朝鲜族自治州民政局", None, "消费帮扶、创业就业", "ecommerce", "purchase vocational", 20, "", "组织会员企业开设网店，开展直播带货，帮助农户把木耳、大米、黄牛肉卖到全国"),
    ("敦化市林下经济促进会", "社会团体", "敦化市民政局", "敦化市", "创业就业", "agritech startup", "coldchain", 40, "敦化市及周边", "推广黑木耳、林下参种植技术，帮助村里成立合作社，带领农户发展林下经济"),
    ("长春市九台区仁爱养老服务中心", "社会服务机构", "九台区民政局", "九台区", "医护康养", "eldercare", "elderlyvisit clinic", 15, "", "为失能半失能老人提供上门照护、助餐助浴，开办日间照料站"),
    ("农安县农业技术推广协会", "社会团体", "农安县民政局", "农安县", "创业就业、人才培育", "agritech", "vocational", 10, "", "农技人员到田间地头指导玉米高产栽培、保护性耕作和病虫害防治"),
    ("长春市电商直播产业商会", "社会团体", "长春市民政局", None, "消费帮扶", "ecommerce purchase", "vocational", 80, "", "会员企业通过直播间和电商平台销售农副产品，商会组织会员以购代捐，集中采购滞销农产品"),
    ("吉林省青少年发展基金会", "基金会", "吉林省民政厅", None, "扶弱济困、人才培育", "schoolaid childcare", "science", 500, "", "设立助学项目资助困难家庭学生，为农村留守儿童建设关爱之家，开展心理辅导和课后陪伴"),
    ("吉林省红十字会志愿服务总队", "社会团体", "吉林省民政厅", None, "扶弱济困、医护康养", "relief clinic", "disability", 200, "", "开展应急救护培训和义诊活动，向受灾地区发放救灾物资，冬季为困难群众送棉衣棉被"),
    ("吉林省农村实用技术培训学校", "社会服务机构", "吉林省民政厅", None, "人才培育", "vocational", "agritech startup", 60, "", "面向农民开办电工、焊工、家政、养老护理员等职业技能培训班，培训合格颁发证书"),
    ("榆树市返乡创业者协会", "社会团体", "榆树市民政局", "榆树市", "创业就业", "startup jobs", "agritech", 25, "", "为返乡青年提供创业指导和小额贷款对接，帮助创办加工作坊，吸纳村民就近就业"),
    ("舒兰市大米产业协会", "社会团体", "舒兰市民政局", "舒兰市", "消费帮扶、创业就业", "purchase", "ecommerce coldchain", 35, "", "统一品牌收购农户稻米，对接超市和食堂订单，帮助解决大米销路"),
    ("蛟河市社会工作服务中心", "社会服务机构", "蛟河市民政局", "蛟河市", "社会治理、扶弱济困", "mediation childcare", "culture elderlyvisit", 8, "", "社工入村开展邻里纠纷调解、村规民约修订，为留守儿童开展小组活动"),
    ("白城市法律服务志愿者协会", "社会团体", "白城市民政局", None, "社会治理", "mediation", "", 5, "", "律师志愿者下乡普法，提供免费法律咨询，协助化解土地承包和赡养纠纷"),
    ("通榆县乡村文化艺术团", "社会团体", "通榆县民政局", "通榆县", "社会治理", "culture", "", 2, "", "编排二人转、秧歌和小品节目送戏下乡，组织村民广场舞队，丰富农村文化生活"),
    ("洮南市绿色家园环保协会", "社会团体", "洮南市民政局", "洮南市", "社会治理", "environment", "culture", 6, "本市及相邻县", "组织志愿者清理村屯垃圾和河道，宣传垃圾分类，协助改善农村人居环境"),
    ("集安市人参产业协会", "社会团体", "集安市民政局", "集安市", "创业就业、消费帮扶", "agritech purchase", "ecommerce", 50, "", "指导参农规范种植林下参，协会统一收购人参并开拓销售渠道"),
    ("柳河县残疾人康复协会", "社会团体", "柳河县民政局", "柳河县", "扶弱济困、医护康养", "disability rehab", "", 4, "", "为残疾人提供康复训练指导，适配助行器和轮椅，上门评估残疾儿童康复需要"),
    ("乾安县爱心助学会", "社会团体", "乾安县民政局", "乾安县", "扶弱济困", "schoolaid", "childcare", 12, "", "资助家庭困难的中小学生，捐赠书包文具，为贫困大学生发放助学金"),
    ("抚松县长白山旅游协会", "社会团体", "抚松县民政局", "抚松县", "创业就业", "tourism", "startup", 30, "", "帮助村屯开发民宿和农家乐，设计乡村旅游线路，培训接待服务人员"),
    ("梨树县农机合作联合会", "社会团体", "梨树县民政局", "梨树县", "创业就业", "agritech", "coldchain", 45, "", "组织农机合作社开展代耕代收、秸秆还田作业，推广黑土地保护性耕作技术"),
    ("梅河口市医疗健康促进会", "社会团体", "梅河口市民政局", None, "医护康养", "clinic", "rehab eldercare", 18, "", "组织医院专家下乡义诊、开展健康讲座和慢病筛查"),
    ("长白山池北区志愿服务协会", "社会团体", "长白山管委会民政局", "池北区", "社会治理、扶弱济困", "elderlyvisit environment", "culture", 3, "", "组织志愿者走访空巢老人，清扫社区和林区垃圾，开展文明劝导"),
    ("吉林省冷链物流协会", "社会团体", "吉林省民政厅", None, "创业就业", "coldchain", "purchase", 400, "", "为合作社和村集体投资建设冷库、保鲜库，提供冷链运输和仓储设备"),
    ("长春市科普志愿者协会", "社会团体", "长春市民政局", None, "人才培育", "science", "vocational", 6, "长春市", "组织科技工作者进村开展科普讲座，讲解农业新技术和防灾减灾知识"),
    ("吉林市助残服务中心", "社会服务机构", "吉林市民政局", None, "扶弱济困", "disability", "rehab", 20, "", "为重度残疾人提供托养照护，组织残疾人手工技能培训，发放康复辅具"),
    ("和龙市老年协会", "社会团体", "和龙市民政局", "和龙市", "社会治理、扶弱济困", "elderlyvisit culture", "eldercare", 2, "", "组织低龄老人结对关爱高龄独居老人，开展老年文艺活动"),
    ("图们市家政服务协会", "社会团体", "图们市民政局", "图们市", "创业就业、人才培育", "jobs vocational", "eldercare", 10, "", "培训妇女从事家政和月嫂工作，推荐到城市家政企业就业"),
    ("吉林省慈善基金会", "基金会", "吉林省民政厅", None, "扶弱济困", "relief schoolaid disability", "childcare", 1000, "", "设立救灾、助学、助残专项基金，接受社会捐赠并资助困难群体"),
    ("德惠市农民专业合作社联合会", "社会团体", "德惠市民政局", "德惠市", "创业就业、消费帮扶", "startup purchase", "agritech", 30, "", "指导农户组建合作社，统一收购鲜食玉米和杂粮，帮助对接加工企业"),
    ("延吉市社区心理咨询中心", "社会服务机构", "延吉市民政局", "延吉市", "扶弱济困", "childcare", "", 4, "", "心理咨询师为留守儿童和困境儿童提供心理疏导，开展亲子沟通课程"),
    ("白山市中医药学会", "社会团体", "白山市民政局", None, "医护康养", "clinic rehab", "", 8, "", "中医专家进村针灸理疗、诊治风湿腰腿痛，推广中医养生保健方法"),
    ("松原市查干湖渔业商会", "社会团体", "松原市民政局", None, "消费帮扶", "purchase", "ecommerce", 60, "", "会员企业订购农户的冷水鱼和杂粮，组织年货展销会帮助农民增收"),
    ("通化市职业技能培训学校", "社会服务机构", "通化市民政局", None, "人才培育", "vocational", "jobs", 15, "", "开设电商运营、厨师、中式面点等技能培训课程，推荐学员就业"),
    ("吉林省乡村振兴研究会", "社会团体", "吉林省民政厅", None, "创业就业、人才培育", "startup science", "agritech tourism", 30, "", "专家团队为村集体经济发展做规划，提供政策咨询和产业项目论证，组织专家进村开展科普讲座"),
    ("前郭县志愿者协会", "社会团体", "前郭尔罗斯蒙古族自治县民政局", "前郭尔罗斯蒙古族自治县", "社会治理", "environment culture", "elderlyvisit", 2, "", "组织志愿者参与村屯环境整治、文明实践和节日文艺演出"),
    ("临江市养老服务协会", "社会团体", "临江市民政局", "临江市", "医护康养", "eldercare", "elderlyvisit", 12, "", "协调养老机构为失能老人提供照护，建设村级互助养老点"),
    ("长岭县劳务经纪人协会", "社会团体", "长岭县民政局", "长岭县", "创业就业", "jobs", "vocational", 5, "", "收集企业用工信息，组织农民外出务工，维护务工人员权益"),
]

# (tag, county, declared category or "" / a wrong one, funding 万元 or None, beneficiaries, title, description)
DEMANDS = [
    ("clinic", "汪清县", "医护康养", 2, 300, "空巢老人健康检查", "村里六十岁以上老人多，常年没做过体检，希望有医生来村里量血压、查血糖"),
    ("clinic", "图们市", "扶弱济困", 1, 120, "留守老人看病难", "村子离卫生院远，老人腿脚不便，盼望大夫定期上门问诊并送些常用药"),
    ("clinic", "通榆县", "医护康养", 3, 400, "农村慢性病筛查", "开展高血压、糖尿病筛查和健康指导，建立村民健康档案"),
    ("clinic", "抚松县", "", 2, 200, "送医进山村", "山区村屯就医不便，需要医疗队进村免费诊疗，讲解风湿病防治"),
    ("clinic", "梅河口市", "医护康养", 1, 150, "老年人义诊活动", "请医院专家来村义诊，为老人测血压、做心电图"),
    ("clinic", "珲春市", "医护康养", 2, 180, "边境村健康服务", "边境村庄缺医少药，希望组织巡诊和健康讲座"),
    ("rehab", "延吉市", "医护康养", 5, 40, "残疾人康复训练", "村里有十几名肢体残疾人，需要专业人员指导康复训练"),
    ("rehab", "柳河县", "扶弱济困", 3, 25, "残疾儿童康复", "为残疾儿童提供康复评估和训练，帮助家长掌握居家康复方法"),
    ("rehab", "浑江区", "医护康养", 4, 60, "腰腿痛理疗", "中老年村民腰腿痛普遍，希望开展理疗、针灸等康复服务"),
    ("rehab", "九台区", "", 6, 30, "中风老人康复", "几位中风后遗症老人急需上门康复护理和功能训练"),
    ("rehab", "汪清县", "医护康养", 3, 35, "康复辅助指导", "帮助行动不便的村民进行康复锻炼，配置康复器具"),
    ("rehab", "舒兰市", "医护康养", 5, 50, "村级康复站建设", "在村卫生室设立康复角，需要康复理疗设备和技术人员指导"),
    ("eldercare", "九台区", "医护康养", 20, 80, "失能老人照护", "村里失能半失能老人多，子女外出打工，需要上门照护和助浴服务"),
    ("eldercare", "临江市", "医护康养", 15, 60, "互助养老点", "利用闲置村部建设互助养老点，为老人提供日间照料和午餐"),
    ("eldercare", "和龙市", "社会治理", 8, 70, "老年食堂运营", "村里想办老年食堂，缺少运营经验和厨房设备"),
    ("eldercare", "延吉市", "", 10, 45, "居家养老服务", "为独居高龄老人提供居家养老服务，包括送餐、清洁和护理"),
    ("eldercare", "德惠市", "医护康养", 12, 55, "日间照料中心", "村日间照料中心缺少护理人员，希望引进专业养老服务"),
    ("eldercare", "池北区", "医护康养", 6, 30, "林区老人照护", "林场退休职工年老体弱，需要长期照护和助餐服务"),
    ("ecommerce", "汪清县", "消费帮扶", 5, 200, "黑木耳线上销售", "村里合作社种了二十万袋木耳，想开网店、搞直播，把木耳卖出去"),
    ("ecommerce", "龙井市", "消费帮扶", 3, 150, "苹果梨直播带货", "苹果梨丰收但价格低，希望有人帮忙做直播推广"),
    ("ecommerce", "农安县", "创业就业", 4, 100, "农产品上网销售", "帮助村民把鲜食玉米、笨鸡蛋放到电商平台上卖"),
    ("ecommerce", "敦化市", "", 2, 80, "电商培训和运营", "年轻人想做农村电商，缺少网店运营和直播技巧"),
    ("ecommerce", "集安市", "消费帮扶", 6, 120, "人参网上营销", "村里林下参品质好，想拓宽网络销售渠道，打造品牌"),
    ("ecommerce", "榆树市", "消费帮扶", 3, 90, "大米网络营销", "村集体种植的有机大米需要开网店、拍短视频推广"),
    ("purchase", "舒兰市", "消费帮扶", 0, 300, "大米滞销求助", "今年村里有五万斤大米卖不出去，希望爱心单位认购"),
    ("purchase", "乾安县", "消费帮扶", 0, 200, "杂粮产销对接", "小米、绿豆等杂粮产量大但销路窄，盼望企业和机关食堂订购"),
    ("purchase", "德惠市", "扶弱济困", 0, 150, "鲜食玉米收购", "鲜食玉米集中上市，农户担心卖难，希望有人集中采购"),
    ("purchase", "宁江区", "消费帮扶", 0, 120, "冷水鱼年货销售", "冬捕的鱼需要拓展销路，希望以购代捐"),
    ("purchase", "集安市", "", 0, 100, "人参收购", "参农种植的人参找不到稳定收购商，价格被压得很低"),
    ("purchase", "通榆县", "消费帮扶", 0, 180, "葵花籽销路", "葵花籽丰收，需要帮助对接采购商"),
    ("coldchain", "敦化市", "创业就业", 150, 500, "木耳保鲜库建设", "合作社需要建一座保鲜冷库，储存鲜木耳和蓝莓，资金缺口较大"),
    ("coldchain", "舒兰市", "创业就业", 200, 800, "粮食烘干仓储", "建设粮食烘干塔和仓储设施，解决秋季粮食晾晒难"),
    ("coldchain", "梨树县", "", 120, 400, "农产品冷链物流", "村里蔬菜大棚产量高，缺少冷藏运输车辆和冷库"),
    ("coldchain", "集安市", "创业就业", 180, 300, "人参加工车间", "建设人参清洗、烘干和包装加工车间"),
    ("coldchain", "德惠市", "消费帮扶", 100, 350, "玉米加工冷库", "鲜食玉米真空包装后需要冷冻储存，需建设冷库"),
    ("coldchain", "农安县", "创业就业", 90, 260, "农产品储藏窖", "建设土豆、白菜储藏窖，延长销售期"),
    ("agritech", "农安县", "创业就业", 2, 150, "玉米种植技术指导", "村民种玉米还是老办法，产量上不去，需要农技专家来指导"),
    ("agritech", "梨树县", "人才培育", 3, 200, "黑土地保护性耕作", "推广秸秆覆盖免耕播种，需要技术人员和农机支持"),
    ("agritech", "汪清县", "创业就业", 5, 120, "木耳栽培技术", "新建木耳基地，农户缺乏菌袋管理和病害防治技术"),
    ("agritech", "集安市", "", 3, 80, "林下参种植指导", "农户想在林下种参，不懂选地和管护"),
    ("agritech", "洮南市", "创业就业", 4, 100, "杂粮高产栽培", "盐碱地种植杂粮产量低，希望技术人员指导改良"),
    ("agritech", "榆树市", "创业就业", 2, 90, "病虫害防治", "玉米螟危害严重，需要专业植保指导"),
    ("startup", "榆树市", "创业就业", 20, 30, "返乡青年创业扶持", "村里有一批返乡青年想创业办加工厂，缺少指导和启动资金"),
    ("startup", "德惠市", "创业就业", 15, 50, "合作社规范化建设", "村里合作社管理不规范，需要帮助完善章程、财务和经营"),
    ("startup", "敦化市", "", 10, 40, "发展林下经济项目", "想带动村民发展林下经济，需要项目规划和合作社组建指导"),
    ("startup", "乾安县", "创业就业", 12, 35, "村集体经济项目论证", "村集体有一笔资金，想上一个产业项目，需要专家论证"),
    ("startup", "抚松县", "人才培育", 8, 25, "农民创业孵化", "为有意创业的农民提供创业培训和孵化服务"),
    ("startup", "九台区", "创业就业", 10, 40, "庭院经济带头人培育", "扶持有能力的农户发展庭院经济，带动周边农户增收"),
    ("jobs", "长岭县", "创业就业", 0, 60, "农闲季节务工", "冬季农闲，村里剩余劳动力多，希望组织外出务工"),
    ("jobs", "图们市", "创业就业", 0, 40, "妇女就业岗位", "留守妇女想就近就业，希望提供家政、月嫂等工作机会"),
    ("jobs", "榆树市", "", 0, 50, "就近就业岗位", "村里闲散劳动力多，希望引进加工企业提供就业岗位"),
    ("jobs", "通榆县", "创业就业", 0, 80, "劳务输出对接", "组织青壮年劳力到外地企业务工，需要可靠的用工信息"),
    ("jobs", "大安市", "创业就业", 0, 45, "脱贫人口稳岗就业", "帮助脱贫户找到稳定工作，防止返贫"),
    ("jobs", "延吉市", "人才培育", 0, 30, "残疾人就业", "为有劳动能力的残疾人找合适的工作岗位"),
    ("tourism", "抚松县", "创业就业", 30, 100, "民宿开发", "村子靠近长白山景区，想把闲置农房改造成民宿"),
    ("tourism", "池北区", "创业就业", 25, 80, "乡村旅游线路", "设计乡村旅游和冰雪体验线路，吸引游客"),
    ("tourism", "集安市", "", 20, 60, "农家乐提升", "村里农家乐服务水平低，需要培训接待和餐饮服务"),
    ("tourism", "和龙市", "创业就业", 15, 50, "朝鲜族民俗村旅游", "打造朝鲜族民俗体验项目，发展乡村旅游"),
    ("tourism", "安图县", "创业就业", 30, 70, "森林康养旅游", "利用森林资源发展康养旅游和采摘体验"),
    ("tourism", "蛟河市", "创业就业", 18, 40, "红叶谷农家乐", "红叶季游客多，村民想开农家乐但缺经验"),
    ("vocational", "通化县", "人才培育", 3, 50, "农民技能培训", "村民想学电工、焊工等技术，外出务工能多挣钱"),
    ("vocational", "图们市", "人才培育", 2, 40, "家政服务培训", "组织妇女参加家政服务和育婴培训，取得证书"),
    ("vocational", "九台区", "", 3, 30, "养老护理员培训", "培养本村的养老护理员，照顾村里老人"),
    ("vocational", "东丰县", "人才培育", 2, 45, "厨师面点培训", "开设中式面点、厨师培训班，帮助村民学门手艺"),
    ("vocational", "洮北区", "创业就业", 4, 60, "高素质农民培育", "培训种养大户和合作社带头人的经营管理能力"),
    ("vocational", "梅河口市", "人才培育", 2, 35, "电商运营培训", "为村里年轻人开设电商运营技能课程"),
    ("science", "双阳区", "人才培育", 1, 200, "农业科普讲座", "组织专家讲解新品种、新技术，提高村民科学种田意识"),
    ("science", "农安县", "人才培育", 1, 150, "防灾减灾科普", "宣传防汛、防火和气象灾害避险知识"),
    ("science", "乾安县", "", 1, 100, "青少年科普活动", "为村小学生开展科学实验和科普展览"),
    ("science", "公主岭市", "人才培育", 1, 120, "黑土地科普", "向农民普及黑土地保护和科学施肥知识"),
    ("science", "梨树县", "社会治理", 1, 90, "反诈与科学知识讲座", "组织科普讲座，提高村民识别伪科学和诈骗的能力"),
    ("science", "敦化市", "人才培育", 1, 80, "林业科普", "讲解森林防火和林下资源保护知识"),
    ("schoolaid", "乾安县", "扶弱济困", 5, 30, "贫困学生助学", "村里有十几名家庭困难的学生，担心交不起学费"),
    ("schoolaid", "和龙市", "扶弱济困", 3, 20, "爱心书包文具", "为村小学的孩子捐赠书包和学习用品"),
    ("schoolaid", "通榆县", "人才培育", 8, 15, "大学新生资助", "资助考上大学的困难家庭学生"),
    ("schoolaid", "东辽县", "", 4, 25, "困难学生帮扶", "低保家庭孩子上学困难，需要助学金"),
    ("schoolaid", "珲春市", "扶弱济困", 3, 18, "留守孩子学习资助", "资助留守儿童购买课外书和学习用品"),
    ("schoolaid", "长白朝鲜族自治县", "扶弱济困", 6, 22, "边远村学生资助", "边远山村学生上学路远，希望资助住宿费和生活费"),
    ("childcare", "蛟河市", "扶弱济困", 2, 40, "留守儿童关爱", "村里留守儿童多，父母常年在外，孩子缺少陪伴和心理关怀"),
    ("childcare", "延吉市", "扶弱济困", 2, 25, "困境儿童心理疏导", "几名困境儿童性格孤僻，需要心理老师帮助"),
    ("childcare", "桦甸市", "", 3, 35, "儿童之家建设", "建设村儿童之家，开展课后陪伴和兴趣活动"),
    ("childcare", "乾安县", "扶弱济困", 2, 30, "暑期托管", "暑假孩子无人照看，希望开办暑期托管班"),
    ("childcare", "汪清县", "社会治理", 2, 28, "留守儿童亲情陪伴", "组织志愿者陪伴留守孩子，帮助他们和父母视频通话"),
    ("childcare", "双辽市", "扶弱济困", 2, 32, "儿童安全教育", "为孩子开展防溺水、防欺凌安全教育和心理辅导"),
    ("disability", "柳河县", "扶弱济困", 4, 20, "残疾人辅具适配", "为行动不便的残疾人配备轮椅、助行器"),
    ("disability", "昌邑区", "扶弱济困", 6, 15, "重度残疾人托养", "重度残疾人家庭照护压力大，需要托养服务"),
    ("disability", "珲春市", "", 3, 18, "残疾人家庭慰问", "走访慰问残疾人家庭，送去生活物资"),
    ("disability", "永吉县", "扶弱济困", 5, 22, "残疾人手工技能", "教残疾人做手工编织，增加收入"),
    ("disability", "延吉市", "扶弱济困", 4, 16, "助残无障碍改造", "为残疾人家庭进行无障碍改造"),
    ("disability", "洮北区", "社会治理", 3, 25, "残疾人帮扶", "帮助残疾人解决生活困难"),
    ("relief", "舒兰市", "扶弱济困", 30, 500, "洪涝灾后重建", "今年洪水冲毁部分农田和房屋，受灾群众急需救灾物资"),
    ("relief", "通榆县", "扶弱济困", 10, 200, "冬季取暖救助", "低保户和特困老人冬季取暖困难，需要煤炭和棉被"),
    ("relief", "和龙市", "", 15, 150, "困难家庭救助", "因病致贫家庭生活困难，希望得到临时救助"),
    ("relief", "大安市", "扶弱济困", 8, 120, "过冬物资发放", "为困难群众发放棉衣棉被等过冬物资"),
    ("relief", "辉南县", "扶弱济困", 20, 300, "灾后生产自救", "受灾农户需要种子化肥恢复生产"),
    ("relief", "汪清县", "社会治理", 12, 160, "特困户生活救助", "特困户房屋破旧、生活困难，需要资助"),
    ("elderlyvisit", "珲春市", "扶弱济困", 0.5, 50, "独居老人巡访", "村里独居老人多，需要志愿者定期上门看望，帮忙做家务"),
    ("elderlyvisit", "池北区", "社会治理", 0.5, 30, "空巢老人探访关爱", "组织志愿者定期探望空巢老人，陪老人聊天"),
    ("elderlyvisit", "和龙市", "", 0.3, 40, "高龄老人结对关爱", "为八十岁以上老人安排结对帮扶，防止意外"),
    ("elderlyvisit", "蛟河市", "扶弱济困", 0.5, 35, "留守老人关爱", "留守老人缺少照应，需要志愿者定期上门"),
    ("elderlyvisit", "前郭尔罗斯蒙古族自治县", "扶弱济困", 0.5, 45, "老人代购代办", "为行动不便的老人代购生活用品、代办事务"),
    ("elderlyvisit", "临江市", "医护康养", 0.5, 30, "老人陪伴服务", "安排志愿者陪伴孤寡老人过节"),
    ("mediation", "蛟河市", "社会治理", 1, 500, "邻里纠纷调解", "村里宅基地和邻里矛盾较多，需要专业调解"),
    ("mediation", "洮北区", "社会治理", 1, 400, "普法和法律咨询", "村民法律意识淡薄，希望律师来村免费咨询"),
    ("mediation", "镇赉县", "", 1, 300, "土地纠纷化解", "土地流转合同纠纷多，需要法律服务"),
    ("mediation", "洮南市", "社会治理", 1, 350, "赡养纠纷调处", "个别子女不履行赡养义务，需要调解和普法"),
    ("mediation", "桦甸市", "社会治理", 1, 280, "村规民约修订", "帮助村里修订村规民约，建立议事协商机制"),
    ("mediation", "通榆县", "扶弱济困", 1, 260, "法律援助", "困难群众打官司难，需要免费法律援助"),
    ("culture", "通榆县", "社会治理", 1, 600, "送戏下乡", "村民文化生活单调，希望文艺团体来村演出二人转"),
    ("culture", "前郭尔罗斯蒙古族自治县", "社会治理", 1, 400, "农民丰收节文艺活动", "举办丰收节，需要编排节目"),
    ("culture", "和龙市", "", 1, 200, "老年文艺队", "组建老年秧歌队和合唱队，需要辅导老师"),
    ("culture", "长岭县", "社会治理", 1, 300, "广场舞培训", "村里妇女想学广场舞，需要教练"),
    ("culture", "洮北区", "社会治理", 1, 350, "文化下乡", "组织文艺演出和电影放映进村"),
    ("culture", "珲春市", "社会治理", 1, 250, "民俗文化活动", "开展朝鲜族民俗文化活动，传承传统文化"),
    ("environment", "洮南市", "社会治理", 3, 800, "村屯垃圾清理", "村里垃圾乱堆乱放，需要志愿者清理和宣传垃圾分类"),
    ("environment", "前郭尔罗斯蒙古族自治县", "社会治理", 2, 600, "河道清理", "村边河道淤积垃圾，需要组织清理"),
    ("environment", "池北区", "", 2, 300, "林区环境整治", "景区周边村屯卫生差，需要环境整治"),
    ("environment", "大安市", "社会治理", 3, 500, "人居环境整治", "改善村容村貌，清理残垣断壁和柴草堆"),
    ("environment", "洮北区", "创业就业", 2, 400, "垃圾分类宣传", "推行垃圾分类，需要宣传和指导"),
    ("environment", "镇赉县", "社会治理", 2, 450, "美丽庭院创建", "组织村民清理庭院、美化环境"),
]


def org_reach(org: tuple) -> tuple[set[str], set[str]]:
    """(counties it works in, neighbouring counties it sometimes works in), per the principles."""
    _name, _type, registrar, county, *_rest, area, _cap = org
    if registrar.startswith("吉林省"):
        return set(COUNTIES), set()
    if county is None:
        city = next(name for name, r in CITIES.items() if registrar.startswith(name) or registrar.startswith(r["short"]))
        inside = {c for c, r in COUNTIES.items() if r["city_code"] == CITIES[city]["code"]}
        if area.startswith("延边州"):
            inside = {c for c, r in COUNTIES.items() if r["city_code"] == "222400"}
        return inside, set()
    near = {c for c in COUNTIES if c != county and km(county, c) <= 100}
    home = {county}
    if "相邻" in area or "周边" in area:
        return home | near, set()
    return home, near


def grade(org: tuple, demand: tuple) -> int:
    """A demand asking for several things (tags separated by spaces) is graded by the best fit."""
    tags, *rest = demand
    return max(_grade_one(org, (tag, *rest)) for tag in tags.split())


def _grade_one(org: tuple, demand: tuple) -> int:
    direct = set(org[5].split())
    related = set(org[6].split())
    tag, county, _cat, funding, *_ = demand
    inside, near = org_reach(org)
    if tag in direct:
        fit = "direct"
    elif tag in related:
        fit = "related"
    else:
        return 0
    if county not in inside and county not in near:
        return 1 if fit == "direct" else 0
    if fit == "related":
        return 1
    caveats = 0
    if county in near:
        caveats += 1
    if TAG_ACTION[tag] not in org[4]:
        caveats += 1
    funds = org[7]
    if funding and funds < funding / 5:
        caveats += 1
    return 3 - min(caveats, 2) if caveats < 2 else 1


def main() -> None:
    write_set(HERE, ORGS, DEMANDS, "DEV")


def write_set(folder: Path, orgs: list[tuple], demands: list[tuple], prefix: str) -> None:
    org_rows, dem_rows, qrels, truth = [], [], [], []
    codes = []
    for i, org in enumerate(orgs):
        name, otype, registrar, county, actions, _d, _r, funds, area, capability = org
        kind = {"社会团体": "51", "社会服务机构": "52", "基金会": "53"}[otype]
        county_code = COUNTIES[county]["code"] if county else "220000"
        code = credit_code(f"{kind}{county_code}MJ{i:07d}"[:17])
        codes.append(code)
        city = city_of(county) if county else next(
            n for n, r in CITIES.items() if registrar.startswith(n) or registrar.startswith(r["short"])
        ) if not registrar.startswith("吉林省") else "长春市"
        org_rows.append({
            "组织名称": name, "统一社会信用代码": code, "组织类型": otype, "登记管理机关": registrar,
            "所在市（州）": city, "所在县（市、区）": county or "", "参与行动": actions,
            "业务范围": "", "帮扶能力": capability, "拟帮扶地区": area, "可投入资金（万元）": funds,
            "可投入人员（人）": 10, "联系人": "联系人", "联系电话": f"1390431{i:04d}",
            "电子邮箱": f"org{i:02d}@example.org",
        })
    for j, dem in enumerate(demands):
        tags, county, cat, funding, benef, title, desc = dem
        ref = f"{prefix}-{j + 1:03d}"
        truth.append({"demand_ref": ref, "action": TAG_ACTION[tags.split()[0]]})
        dem_rows.append({
            "需求编号": ref, "市（州）": city_of(county), "县（市、区）": county, "乡（镇）": "",
            "村": f"第{j % 9 + 1}村", "需求类别": cat, "需求名称": title, "需求内容": desc,
            "受益人数": benef, "资金需求（万元）": funding, "期望完成时间": "2027-12-31",
            "联系人": "村书记", "联系电话": f"1370433{j:04d}",
        })
        for i, org in enumerate(orgs):
            g = grade(org, dem)
            if g:
                qrels.append({"demand_ref": ref, "credit_code": codes[i], "grade": g})
    for path, rows in (("orgs.csv", org_rows), ("demands.csv", dem_rows), ("qrels.csv", qrels),
                       ("actions.csv", truth)):
        with (folder / path).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    grades = [q["grade"] for q in qrels]
    print(f"{len(org_rows)} organizations, {len(dem_rows)} demands, "
          f"{len(qrels)} graded pairs: " + ", ".join(f"{g}: {grades.count(g)}" for g in (3, 2, 1)))


if __name__ == "__main__":
    main()
