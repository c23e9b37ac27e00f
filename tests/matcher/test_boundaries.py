"""matcher/ is a pure library and models/ imports nothing of ours: keep them so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "matcher": {"fastapi", "sqlmodel", "sqlalchemy", "apscheduler", "jinja2", "smtplib", "api", "models",
                "starlette", "uvicorn"},
    "models": {"api", "matcher", "fastapi"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_forbidden(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_services_never_import_fastapi() -> None:
    offenders = [str(p) for p in (ROOT / "api" / "services").rglob("*.py")
                 if "fastapi" in imported_roots(p)]
    assert offenders == []
