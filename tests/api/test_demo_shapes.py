"""The bench's shapes of data: each is what it says, and each imports as the contract wants."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from api.services.demo import generate
from api.services.demo_shapes import SHAPES


def rows(path: Path) -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    ws = openpyxl.load_workbook(path / "社会组织报名表.xlsx").active
    values = list(ws.values)
    header = values[1]
    orgs = [dict(zip(header, v, strict=True)) for v in values[2:]]
    with (path / "乡村振兴帮扶需求要点.csv").open(encoding="gb18030") as f:
        return orgs, list(csv.DictReader(f))


def test_plain_is_the_demo_itself(tmp_path: Path) -> None:
    a, b = generate(tmp_path / "a", organizations=60, demands=90, seed=3), \
        generate(tmp_path / "b", organizations=60, demands=90, seed=3, shape="plain")
    assert a.demands.read_bytes() == b.demands.read_bytes()  # the shape parameter changes nothing


def test_each_shape_is_what_it_says(tmp_path: Path) -> None:
    _, base_dems = rows(generate(tmp_path / "plain", organizations=90, demands=120, seed=3).demands.parent)
    orgs, _ = rows(generate(tmp_path / "b", organizations=90, demands=120, seed=3, shape="boilerplate").demands.parent)
    scopes = Counter(o["业务范围"] for o in orgs)
    assert all(o["业务范围"] for o in orgs) and scopes.most_common(1)[0][1] >= 2  # shared wording
    orgs, _ = rows(generate(tmp_path / "o", organizations=90, demands=120, seed=3, shape="offtopic").demands.parent)
    every = [o for o in orgs if str(o["参与行动"]).count("、") == 5]
    assert len(every) >= 90 // 3
    _, dems = rows(generate(tmp_path / "l", organizations=90, demands=120, seed=3, shape="lengths").demands.parent)
    lengths = sorted(len(d["需求内容"]) for d in dems)
    plain = sorted(len(d["需求内容"]) for d in base_dems)
    assert lengths[len(lengths) // 4] < plain[len(plain) // 4] and lengths[-1] > 2 * plain[-1]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_imports_without_a_rejected_row(shape: str, tmp_path: Path, shared_matcher) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from api.db import create_tables, make_engine
    from api.services.auth import Scope
    from api.services.uploads import import_for_scope

    files = generate(tmp_path, organizations=60, demands=90, seed=5, shape=shape)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_tables(engine)
    with Session(engine) as session:
        for path, kind in ((files.organizations, "orgs"), (files.demands, "demands")):
            report, _accounts = import_for_scope(session, path, kind, scope=Scope("province"), matcher=shared_matcher)
            assert not report.errors, (shape, kind, report.errors[:3])
