"""Property-based API tests with schemathesis against the live OpenAPI of a real server:
generated requests for every operation, bounded examples; no server errors and every response
conforms to the documented status codes, content types, headers and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from apisupport import LiveServer, Store
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
MAX_EXAMPLES = 20


@pytest.fixture
def live_seeded(seeded: tuple[Store, dict[str, str]], tmp_path: Path
                ) -> Iterator[tuple[LiveServer, Store]]:
    store, _ = seeded
    srv = LiveServer(store.url, tmp_path / "server.log")
    srv.start()
    try:
        yield srv, store
    finally:
        srv.stop()


@pytest.fixture
def api_schema(live_seeded: tuple[LiveServer, Store]) -> Any:
    srv, _ = live_seeded
    schema = schemathesis.openapi.from_url(f"{srv.base}/openapi.json")
    # revoking key ids at random would revoke the key the test authenticates with; the route
    # is covered by the role table and the keys tests
    return schema.exclude(method="DELETE", path="/v1/keys/{key_id}")


@pytest.mark.slow
def test_api_conforms_to_its_openapi(api_schema: Any,
                                     live_seeded: tuple[LiveServer, Store]) -> None:
    # One hypothesis run per operation, driven here rather than by schemathesis' pytest
    # plugin (whose lazy fixture loader does not support this pytest version).
    srv, store = live_seeded
    headers = store.headers("admin")
    failures: list[str] = []
    n_ops = 0
    statuses: dict[int, int] = {}
    for result in api_schema.get_all_operations():
        op = result.ok()
        n_ops += 1

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            resp = case.call_and_validate(base_url=srv.base, headers=headers, checks=CHECKS,
                                          timeout=60)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert n_ops >= 30
    # the run exercised the API for real: many requests, successes and refusals alike
    assert sum(statuses.values()) >= 5 * n_ops, statuses
    assert sum(v for k, v in statuses.items() if k < 300) >= n_ops, statuses
    assert not any(k >= 500 for k in statuses), statuses
    assert not failures, "\n\n".join(failures)
