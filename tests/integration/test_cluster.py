"""Two nodes on one real Redis: what one node hears, the other's clients see."""

from __future__ import annotations

from typing import Any

import pytest

from .support import (
    Cluster,
    comparable,
    connected,
    create_demonstration,
    create_incident,
    create_unit,
    dispatch,
    poll,
    position,
    state,
)


@pytest.mark.parametrize("runner", ["coordinator serve", "gunicorn with gevent"])
def test_a_fix_reported_on_one_node_reaches_a_dashboard_on_the_other(cluster: Cluster, runner: str) -> None:
    # The production server on one side, the development server on the other: they interoperate.
    a, b = cluster.start_node(gunicorn=runner.startswith("gunicorn")), cluster.start_node()
    unit = create_unit(cluster.api(a), "MED-1")
    with connected(b.url, cluster.token) as dashboard, connected(a.url, unit["token"]) as tablet:
        dashboard.sync()
        tablet.sync()
        assert tablet.call("position", position(42.3601, -71.0589))["ok"] is True
        message = dashboard.wait_for("positions", lambda m: unit["id"] in m["positions"], timeout=5)
        assert message["positions"][unit["id"]]["lat"] == 42.3601
    # Node B knows the position too: its API and snapshots show it.
    view = poll(lambda: (u := cluster.api(b).get(f"/api/units/{unit['id']}").json())["position"] and u)
    assert view["position"]["lon"] == -71.0589


def test_an_assignment_made_on_one_node_reaches_the_unit_on_the_other_and_back(cluster: Cluster) -> None:
    a, b = cluster.start_node(), cluster.start_node()
    api_b = cluster.api(b)
    unit = create_unit(api_b, "MED-2")
    incident = create_incident(api_b)
    with connected(a.url, unit["token"]) as tablet, connected(b.url, cluster.token) as dashboard:
        tablet.sync()
        dashboard.sync()
        assignment = dispatch(api_b, unit["id"], incident["id"])
        pushed = tablet.wait_for("assignment", lambda m: m["assignment"]["id"] == assignment["id"], timeout=5)
        assert pushed["target"]["id"] == incident["id"]
        assert tablet.call("received", {"assignment_id": assignment["id"]})["ok"] is True
        answer = tablet.call(
            "action",
            {
                "key": "ack-1",
                "type": "assignment_status",
                "data": {"assignment_id": assignment["id"], "status": "acknowledged"},
            },
        )
        assert answer["ok"] is True, answer
        frame = dashboard.wait_for(
            "frame",
            lambda f: any(e["type"] == "AssignmentAcknowledged" for e in f["events"]),
            timeout=5,
        )
        assert frame["changes"]["assignments"][assignment["id"]]["status"] == "acknowledged"


def test_both_nodes_agree_on_the_state_after_writes_on_each(cluster: Cluster) -> None:
    a, b = cluster.start_node(), cluster.start_node()
    api_a, api_b = cluster.api(a), cluster.api(b)
    march = create_demonstration(api_a, name="Harbor march", tension=2)
    assert api_b.patch(f"/api/demonstrations/{march['id']}", {"tension": 4}).status_code == 200
    medic = create_unit(api_b, "MED-3")
    create_unit(api_a, "DEESC-1", "deescalation_team")
    injury = create_incident(api_a, demonstration_id=march["id"], severity=3)
    dispatch(api_b, medic["id"], injury["id"])
    with connected(a.url, medic["token"]) as tablet:
        tablet.sync()
        assert tablet.call("position", position(42.35, -71.06))["ok"] is True

    def agreed() -> dict[str, Any] | None:
        left, right = comparable(state(api_a)), comparable(state(api_b))
        medic_on_b = next(u for u in right["units"] if u["id"] == medic["id"])
        return left if left == right and medic_on_b["position"] else None

    settled = poll(agreed, timeout=5)
    assert settled["seq"] == 7
    assert {d["tension"] for d in settled["demonstrations"]} == {4}


def test_a_keyed_command_sent_to_both_nodes_applies_once(cluster: Cluster) -> None:
    a, b = cluster.start_node(), cluster.start_node()
    body = {"name": "Vigil", "lat": 42.35, "lon": -71.06}
    first = cluster.api(a).post("/api/demonstrations", body, headers={"Idempotency-Key": "retry-1"})
    second = cluster.api(b).post("/api/demonstrations", body, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(state(cluster.api(a))["demonstrations"]) == 1
