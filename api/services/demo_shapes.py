"""Shapes of synthetic data beyond the demo's own, for `duijie bench`: real registries and
request lists are not as tidy as the templates, and the engine's cost must not depend on it.

- ``plain``: the demo generator as it is.
- ``boilerplate``: every organization's 业务范围 is made of the clauses registries repeat
  (hundreds of 志愿者协会 with near-identical wording), and a third are near-copies of another
  organization, one word changed: many near-ties for every demand.
- ``offtopic``: a third of the organizations are hobby, sports and trade bodies that tick all
  six actions and describe nothing the villages ask for.
- ``lengths``: texts very short (a title's few words) or very long (several paragraphs).
"""

from __future__ import annotations

import random
from typing import Any

SHAPES = ("plain", "boilerplate", "offtopic", "lengths")

CLAUSES = [
    "宣传贯彻党和国家的方针政策", "团结和组织广大会员", "开展志愿服务活动", "组织会员学习交流",
    "承办政府部门委托的事项", "开展公益慈善活动", "维护会员合法权益", "加强行业自律",
    "开展调查研究，为政府决策提供参考", "组织开展培训、考察、交流活动", "编辑出版内部资料",
    "积极参与乡村振兴和社会公益事业", "弘扬社会主义核心价值观", "开展与本会宗旨相关的其他活动",
    "协助有关部门做好相关工作", "促进经济社会协调发展",
]
OFFTOPIC = [
    ("书法家协会", "组织书法创作、展览和培训"), ("摄影家协会", "组织摄影采风和摄影展览"),
    ("篮球协会", "举办篮球联赛和青少年训练营"), ("围棋协会", "举办围棋比赛和少儿围棋培训"),
    ("钓鱼协会", "组织垂钓比赛和会员交流"), ("汽车用品商会", "开展汽车用品行业交流和展会"),
    ("房地产业商会", "维护会员单位权益，开展行业自律"), ("集邮协会", "组织邮票展览和集邮讲座"),
    ("跆拳道协会", "开展跆拳道培训、考级和比赛"), ("美容美发行业协会", "开展美容美发技能比赛和培训"),
    ("收藏家协会", "组织收藏品鉴定和展览"), ("马拉松运动协会", "组织马拉松和健步走赛事"),
    ("户外运动协会", "组织登山徒步和露营活动"), ("物业管理协会", "推动物业服务标准化"),
    ("茶文化研究会", "举办茶艺培训和品茶交流"), ("电子竞技协会", "举办电子竞技赛事"),
]
ALL_ACTIONS = "创业就业、人才培育、扶弱济困、医护康养、社会治理、消费帮扶"


def reshape(shape: str, rng: random.Random, orgs: list[dict[str, Any]], demands: list[dict[str, Any]]) -> None:
    """Rewrite the generated form rows in place into ``shape``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: {', '.join(SHAPES)}")
    if shape == "boilerplate":
        for row in orgs:
            row["业务范围"] = "；".join(rng.sample(CLAUSES, rng.randint(5, 9)))
        for i in range(0, len(orgs), 3):
            source = orgs[rng.randrange(len(orgs))]
            words = source["帮扶能力"]
            cut = rng.randrange(max(1, len(words) - 2))
            orgs[i]["帮扶能力"] = words[:cut] + rng.choice(["积极", "长期", "广泛", "认真"]) + words[cut + 2:]
            orgs[i]["业务范围"] = source["业务范围"]
            orgs[i]["参与行动"] = source["参与行动"]
    elif shape == "offtopic":
        for i in range(0, len(orgs), 3):
            name, text = OFFTOPIC[rng.randrange(len(OFFTOPIC))]
            place = orgs[i]["社会组织名称"][:3]
            orgs[i]["社会组织名称"] = f"{place}{name}{i}"
            orgs[i]["参与行动"] = ALL_ACTIONS
            orgs[i]["帮扶能力"] = f"{text}。热心社会公益，积极响应号召参与乡村振兴"
            orgs[i]["业务范围"] = "；".join(rng.sample(CLAUSES, 4))
    elif shape == "lengths":
        pool = [row["需求内容"] for row in demands]
        for row in demands:
            if rng.random() < 0.5:
                row["需求内容"] = row["需求名称"]
            else:
                row["需求内容"] = "。".join(rng.sample(pool, 6)) + "。" + "；".join(rng.sample(CLAUSES, 6))
        caps = [row["帮扶能力"] for row in orgs]
        for row in orgs:
            if rng.random() < 0.5:
                row["帮扶能力"] = row["帮扶能力"][:8]
            else:
                row["帮扶能力"] = "。".join(rng.sample(caps, 5))
                row["业务范围"] = "；".join(rng.sample(CLAUSES, 8))
