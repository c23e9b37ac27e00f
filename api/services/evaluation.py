"""``duijie eval``: the engine against a plain BM25 on the labeled dev sets."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.services.contract import FORMS
from api.services.engine import get_matcher
from api.services.importer import map_columns, validate_table
from api.services.vectors import default_encoder
from api.services.workbooks import ImportRejected, read_table
from api.settings import get_settings
from matcher import DemandRecord, Matcher, OrganizationRecord
from matcher.evaluation import Labels, Scores, bm25_rankings, engine_rankings, invert, score_rankings
from matcher.resources import data_dir
from matcher.semantic import Encoder, SemanticVectors


def parse_form(path: Path, kind: str, matcher: Matcher) -> list[dict[str, Any]]:
    """A contract-format file through the importer's own validation, without a database."""
    form = FORMS[kind]
    table = read_table(path, form)
    index, _warnings = map_columns(table, form)
    good, errors = validate_table(table, form, index, matcher, [])
    if errors:
        raise ImportRejected(errors)
    return [rec for _row, rec in good]


def org_from_fields(rec: dict[str, Any]) -> OrganizationRecord:
    return OrganizationRecord(
        key=rec["credit_code"], name=rec["name"], level=rec["registrar_level"],
        city_code=rec["city_code"], county_code=rec["county_code"], actions=tuple(rec["actions"]),
        capability=rec["capability"], scope=rec["scope"], org_type=rec["org_type"],
        service_area=rec["service_area"], funds=rec["funds"], staff=rec["staff"],
    )


def demand_from_fields(rec: dict[str, Any]) -> DemandRecord:
    return DemandRecord(
        key=rec["ref"], city_code=rec["city_code"], county_code=rec["county_code"],
        title=rec["title"], description=rec["description"],
        category=None if rec["category_inferred"] else rec["category"],
        township=rec["township"], village=rec["village"], beneficiaries=rec["beneficiaries"],
        funding_needed=rec["funding_needed"], due_date=rec["due_date"],
    )


def load_labels(path: Path) -> Labels:
    labels: Labels = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels.setdefault(row["demand_ref"], {})[row["credit_code"]] = int(row["grade"])
    return labels


def load_true_actions(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as f:
        return {row["demand_ref"]: row["action"] for row in csv.DictReader(f)}


@dataclass
class EvalReport:
    k: int
    engine_demands: Scores
    engine_orgs: Scores
    bm25_demands: Scores
    bm25_orgs: Scores
    inference_accuracy: float
    inference_n: int
    blank_accuracy: float
    blank_n: int
    forms_accuracy: float
    words_demands: Scores | None  # the engine without meaning vectors (None: it ran without them anyway)
    words_orgs: Scores | None
    n_orgs: int
    n_demands: int
    config_hash: str

    def table(self) -> str:
        k = self.k
        lines = [
            f"开发集：{self.n_orgs}个社会组织，{self.n_demands}个需求；引擎配置 {self.config_hash}",
            f"{'方向':<18}{'方法':<8}{f'NDCG@{k}':>10}{f'Recall@{k}':>12}{'查询数':>8}{'首条不相关':>8}",
        ]
        for label, eng, words, base in (("需求→社会组织", self.engine_demands, self.words_demands, self.bm25_demands),
                                        ("社会组织→需求", self.engine_orgs, self.words_orgs, self.bm25_orgs)):
            rows = [("engine", eng)] + ([("words", words)] if words is not None else []) + [("bm25", base)]
            for name, sc in rows:
                lines.append(f"{label:<14}{name:<8}{sc.ndcg:>10.3f}{sc.recall:>12.3f}{sc.queries:>8}"
                             f"{sc.first_irrelevant:>11.1%}")
        lines.append(f"类别推断准确率（仅凭文本，对照真实类别）：{self.inference_accuracy:.1%}"
                     f"（{self.inference_n}个需求；表格所填类别的准确率为{self.forms_accuracy:.1%}）")
        lines.append(f"未填类别的需求，匹配时推断的准确率：{self.blank_accuracy:.1%}（{self.blank_n}个）")
        return "\n".join(lines)


def dev_sets() -> list[tuple[str, Path]]:
    """The labeled dev sets, each a folder of orgs.csv, demands.csv, qrels.csv and actions.csv: the
    first (hand-written, plain) and the second, harder one (village wording, off-topic organizations)."""
    return [("开发集一：手写", data_dir() / "eval"), ("开发集二：村里的说法与无关组织", data_dir() / "eval" / "hard")]


_dev_vectors: dict[tuple[str, tuple[str, ...]], SemanticVectors] = {}


def dev_vectors(encoder: Encoder, orgs: list[OrganizationRecord], demands: list[DemandRecord]) -> SemanticVectors:
    """The dev set's texts encoded as the application stores them (a few seconds a set; kept for
    the process, as an ablation evaluates the same set many times)."""
    key = (encoder.name, (*(d.text for d in demands), "\x1e", *(o.text for o in orgs)))
    if key not in _dev_vectors:
        dv = encoder.encode([d.text for d in demands], "demand")
        ov = encoder.encode([o.text for o in orgs], "organization")
        _dev_vectors[key] = SemanticVectors({d.key: v for d, v in zip(demands, dv, strict=True)},
                                            {o.key: v for o, v in zip(orgs, ov, strict=True)})
    return _dev_vectors[key]


def evaluate_devset(folder: Path | None = None, *, k: int = 10, matcher: Matcher | None = None,
                    encoder: Encoder | bool | None = True) -> EvalReport:
    """``encoder``: True for the application's default (None when meaning is turned off), False or
    None for words alone, or an encoder."""
    folder = folder or data_dir() / "eval"
    matcher = matcher or get_matcher()
    if encoder is True:
        encoder = default_encoder() if get_settings().semantic else None
    org_fields = parse_form(folder / "orgs.csv", "orgs", matcher)
    dem_fields = parse_form(folder / "demands.csv", "demands", matcher)
    orgs = [org_from_fields(r) for r in org_fields]
    demands = [demand_from_fields(r) for r in dem_fields]
    labels = load_labels(folder / "qrels.csv")
    for d in demands:
        labels.setdefault(d.key, {})
    org_labels = invert(labels)

    vectors = dev_vectors(encoder, orgs, demands) if encoder else None
    result = matcher.match(orgs, demands, vectors=vectors)
    eng_d, eng_o = engine_rankings(result)
    words_d = words_o = None
    if vectors is not None:  # the same engine by words alone, beside it
        w_d, w_o = engine_rankings(matcher.match(orgs, demands))
        words_d, words_o = score_rankings(w_d, labels, k), score_rankings(w_o, org_labels, k)
    bm_d, bm_o = bm25_rankings(orgs, demands, matcher.tokenizer, k=k)

    truth = load_true_actions(folder / "actions.csv")
    hits = sum(1 for d in demands if matcher.infer_action(d.text).action == truth[d.key])
    in_run = {d.key: (d.category or result.inferred[d.key].action) for d in demands}
    blank = [d for d in demands if not d.category]
    forms_right = sum(1 for d in demands if d.category == truth[d.key])
    return EvalReport(
        k=k,
        engine_demands=score_rankings(eng_d, labels, k), engine_orgs=score_rankings(eng_o, org_labels, k),
        bm25_demands=score_rankings(bm_d, labels, k), bm25_orgs=score_rankings(bm_o, org_labels, k),
        inference_accuracy=hits / len(demands), inference_n=len(demands),
        blank_accuracy=(sum(1 for d in blank if in_run[d.key] == truth[d.key]) / len(blank)) if blank else 0.0,
        blank_n=len(blank), forms_accuracy=forms_right / len(demands), words_demands=words_d, words_orgs=words_o,
        n_orgs=len(orgs), n_demands=len(demands), config_hash=matcher.config.config_hash(),
    )
