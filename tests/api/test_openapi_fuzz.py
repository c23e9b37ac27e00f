"""Property-based requests generated from our own OpenAPI spec: no request may produce a 500."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis

from tests.world import build_world

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def fuzz_world(db_url: str, tmp_path, shared_matcher):  # type: ignore[no-untyped-def]
    # On both databases: PostgreSQL is stricter (INTEGER range, VARCHAR lengths).
    return build_world(db_url, tmp_path, shared_matcher)


def fuzz_operation(op, headers: dict[str, str], failures: list[str], calls: list[int]) -> None:  # type: ignore[no-untyped-def]
    label = f"{op.method.upper()} {op.path}"

    @hypothesis.given(case=op.as_strategy())
    @hypothesis.settings(max_examples=15, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck))
    def check(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=headers)
        calls.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{label} -> {response.status_code}: {response.text[:200]}")

    check()


def test_no_request_produces_a_server_error(fuzz_world) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.app)
    headers = fuzz_world.token("admin")
    failures: list[str] = []
    calls: list[int] = []
    operations = 0
    for operation in schema.get_all_operations():
        op = operation.ok()
        if op.path == "/api/v1/match-runs" and op.method.upper() == "POST":
            continue  # starts a background run; covered by its own test
        fuzz_operation(op, headers, failures, calls)
        operations += 1
    assert failures == []
    assert operations >= 20
    assert len(calls) >= 5 * operations  # the run really exercised every operation
