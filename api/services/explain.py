"""Why is X (not) suggested for Y? One pair's signals, its rank on both sides, what the latest run
stored, and — when it is not recommended — the reason, in words staff use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from api.services.incremental import demand_index, organization_index
from api.services.learning import learning_inputs
from api.services.records import demand_record, org_record
from api.services.runs import latest_run
from api.services.vectors import default_encoder, stored_vectors
from matcher import Matcher
from matcher.diagnosis import PairDiagnosis, diagnose
from matcher.semantic import closest_clauses
from models import Demand, Organization, Pairing, Recommendation
from models.pairing import REJECT_REASONS

SIGNAL_LABELS = {"text": "文本相似度", "category": "类别", "reach": "服务范围", "distance_km": "距离（公里）",
                 "scale": "规模", "semantic": "语义相似", "kind": "组织类型", "feedback": "审核记录"}
STATUS_WORDS = {"closed": "已关闭", "held": "正在复核（需复核）"}


@dataclass
class Explanation:
    demand: Demand
    organization: Organization
    diagnosis: PairDiagnosis | None  # None when either record takes no part in matching
    run_id: int | None
    stored_rank: int | None  # the organization's place in the demand's list of the latest run
    why_not: list[str] = field(default_factory=list)
    closest: tuple[str, str, float] | None = None  # the clauses nearest in meaning, when meaning counts

    @property
    def recommended(self) -> bool:
        return self.stored_rank is not None

    def lines(self) -> list[str]:
        d, o = self.demand, self.organization
        out = [f"需求 {d.ref}「{d.title}」 ← 社会组织 {o.credit_code}「{o.name}」"]
        if self.recommended:
            out.append(f"结论：已推荐，在该需求的推荐中排第{self.stored_rank}位（第{self.run_id}次匹配）")
        else:
            out.append("结论：未推荐")
            out += [f"  原因：{w}" for w in self.why_not]
        diag = self.diagnosis
        if diag is not None and diag.recommendation is not None:
            rec = diag.recommendation
            signals = "；".join(f"{SIGNAL_LABELS.get(k, k)} {v:.2f}" if k != "distance_km" else
                                f"{SIGNAL_LABELS[k]} {v:.0f}" for k, v in rec.signals.items())
            out.append(f"总分 {rec.score:.3f}：{signals}")
            if rec.reasons:
                out.append(f"理由：{'；'.join(rec.reasons)}")
            if self.closest is not None:
                out.append(f"语义相近：“{self.closest[0]}”与“{self.closest[1]}”（相似度{self.closest[2]:.2f}）")
            out.append(f"在该需求的全部{diag.demand_candidates}个候选组织中排第{diag.demand_rank}位；"
                       f"在该组织的全部{diag.organization_candidates}个候选需求中排第{diag.organization_rank}位"
                       f"（各推荐前{diag.top_k}位）")
        return out


def explain_pair(session: Session, matcher: Matcher, *, demand: Demand, organization: Organization,
                 today: date | None = None) -> Explanation:
    run = latest_run(session)
    stored = session.exec(select(Recommendation.demand_rank).where(
        Recommendation.run_id == (run.id if run else -1), Recommendation.demand_id == demand.id,
        Recommendation.organization_id == organization.id)).first()
    out = Explanation(demand, organization, None, run.id if run else None, stored)
    if demand.status != "open":
        out.why_not.append(f"需求{STATUS_WORDS.get(demand.status, demand.status)}，不参与匹配")
    if organization.status != "active":
        out.why_not.append("社会组织已退出，不参与匹配")
    if out.why_not:
        return out
    pairing = session.exec(select(Pairing).where(Pairing.demand_id == demand.id,
                                                 Pairing.organization_id == organization.id)).first()
    learned = learning_inputs(session).keyed()
    # The indexes the incremental job keeps: one pair scored as a single record is there.
    orgs, dems = organization_index(session, matcher), demand_index(session, matcher, today)
    vectors = stored_vectors(session, orgs.orgs, dems.dems)
    diag = out.diagnosis = diagnose(matcher, orgs.orgs, dems.dems, demand_key=str(demand.id),
                                    organization_key=str(organization.id), today=today, organization_index=orgs,
                                    demand_index=dems, vectors=vectors, **learned)
    if diag.recommendation is not None and diag.recommendation.signals.get("semantic", 0.0) > 0:
        # The demand's and the organization's clauses nearest in meaning: a few dozen encoded, here only.
        out.closest = closest_clauses(default_encoder(), demand_record(demand).text, org_record(organization).text)
    if out.recommended:
        return out
    if pairing is not None and pairing.status == "rejected":
        reason = REJECT_REASONS.get(pairing.reason_code or "", "")
        out.why_not.append(f"该对接已被驳回{f'（{reason}）' if reason else ''}，不再推荐")
    elif pairing is not None and pairing.status == "dismissed":
        out.why_not.append("该社会组织已对此需求表示不感兴趣，不再推荐")
    elif diag.recommendation is None:
        out.why_not.append("不是候选：帮扶能力与需求没有共同用词，意思也不相近，类别和服务范围也不足以入选")
    elif diag.without_evidence:
        out.why_not.append("没有帮扶能力的依据：与需求没有共同用词，意思不够相近，组织类型也不对应该行动，"
                           "无论申报了哪些行动都不推荐")
    else:
        rec, cfg = diag.recommendation, matcher.config
        if diag.out_of_reach:
            out.why_not.append(f"需求所在地不在该组织的服务范围内（总分按{cfg.out_of_reach_factor}折算）")
        if diag.below_text_gate:
            out.why_not.append(f"帮扶能力与需求的文本相似度{rec.signals.get('text', 0):.2f}低于{cfg.text_gate}："
                               "类别和服务范围不计满分")
        if diag.below_min_score:
            out.why_not.append(f"总分{rec.score:.3f}低于推荐门槛{cfg.min_score}")
        elif diag.demand_rank is not None and diag.demand_rank > cfg.top_k:
            out.why_not.append(f"在该需求的{diag.demand_candidates}个候选组织中排第{diag.demand_rank}位，"
                               f"每个需求只推荐前{cfg.top_k}位")
        elif run is None:
            out.why_not.append("还没有完成的匹配：运行一次全量匹配后即有推荐")
        else:
            out.why_not.append(f"按分数可进前{cfg.top_k}位，但第{run.id}次匹配中该组织的推荐次数已达上限"
                               "（名额让给了与它更匹配的需求），或此后记录有变化，下次匹配后更新")
    return out
