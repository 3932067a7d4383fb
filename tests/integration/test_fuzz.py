"""Bad input tried for real: Schemathesis against the OpenAPI document, and a socket fuzz."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api, Server

from .support import comparable, connected, create_demonstration, create_incident, create_unit, state

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Objects shaped like the real messages, with wrong values in the right places.
NEAR_MISS = st.fixed_dictionaries(
    {},
    optional={
        "key": JSON,
        "type": st.sampled_from(["assignment_status", "incident", "unit_status", "position", "nope"]) | JSON,
        "data": st.dictionaries(
            st.sampled_from(["assignment_id", "status", "lat", "lon", "kind", "triage", "at", "reason"]),
            JSON,
            max_size=5,
        ),
        "assignment_id": JSON,
        "last_seq": JSON,
        "lat": st.floats(allow_nan=False) | JSON,
    },
)


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    server: Server, operator_token: str, tmp_path: Path
) -> None:
    api = Api(server.url, operator_token)
    create_demonstration(api)
    create_incident(api)
    st_command = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    run = subprocess.run(
        [
            st_command,
            "run",
            f"{server.url}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {operator_token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples",
            os.environ.get("SCHEMATHESIS_EXAMPLES", "15"),
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--seed",
            "1",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert requests.get(f"{server.url}/healthz", timeout=5).ok


def _fuzz_socket(server: Server, token: str, api: Api) -> None:
    before = comparable(state(api))
    client = connected(server.url, token)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(event=st.sampled_from(["sync", "received", "position", "action"]), payload=NEAR_MISS | JSON)
    def send(event: str, payload: Any) -> None:
        answer = client.call(event, payload)
        assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool)
        if not answer["ok"]:
            assert answer["error"]
            assert answer.get("status", 400) < 500, answer

    try:
        send()
    finally:
        client.close()
    after = comparable(state(api))
    # Positions may move if the fuzz hit a valid fix; nothing else may change.
    for snapshot in (before, after):
        snapshot["units"] = [{k: v for k, v in u.items() if k != "position"} for u in snapshot["units"]]
    assert after == before


def test_socket_fuzz_from_a_unit_changes_nothing_and_gets_an_answer_to_every_message(
    server: Server, api: Api
) -> None:
    unit = create_unit(api)
    create_demonstration(api)
    _fuzz_socket(server, unit["token"], api)
    assert requests.get(f"{server.url}/healthz", timeout=5).ok


def test_socket_fuzz_from_a_dashboard_changes_nothing(server: Server, api: Api, operator_token: str) -> None:
    create_unit(api)
    _fuzz_socket(server, operator_token, api)


def test_an_oversized_socket_message_drops_only_that_connection(server: Server, api: Api) -> None:
    unit = create_unit(api)
    before = comparable(state(api))
    big = connected(server.url, unit["token"])
    try:
        big.sio.emit("action", {"key": "k", "type": "incident", "data": {"note": "x" * 200_000}})
    finally:
        big.close()
    with connected(server.url, unit["token"]) as fresh:
        assert fresh.call("position", {"lat": 91, "lon": 0})["field"] == "lat"
    assert comparable(state(api)) == before
