"""Faults of several nodes on a real Redis: a node killed, Redis restarted, a unit that never answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Api, RedisServer

from .support import (
    Cluster,
    LiveClient,
    connected,
    create_incident,
    create_unit,
    dispatch,
    events_after,
    poll,
    position,
    state,
)


def _event_seqs(messages: list[tuple[str, Any]]) -> list[int]:
    """Every event sequence number a dashboard was sent, in arrival order."""
    seqs: list[int] = []
    for kind, data in messages:
        if kind in ("frame", "resync"):
            seqs += [e["seq"] for e in data["events"]]
    return seqs


def _last_seq(client: LiveClient) -> int:
    seq = 0
    for kind, data in client.received:
        if kind in ("snapshot", "frame", "resync"):
            seq = max(seq, data["seq"])
    return seq


def test_clients_of_a_killed_node_resync_on_the_other_without_gap_or_duplicate(
    cluster: Cluster,
) -> None:
    a, b = cluster.start_node(), cluster.start_node()
    api_b = cluster.api(b)
    medic = create_unit(api_b, "MED-1")
    dashboard = connected(a.url, cluster.token)
    first_sync = dashboard.sync()
    assert first_sync["kind"] == "snapshot"
    start_seq = dashboard.messages("snapshot")[0]["seq"]
    tablet = connected(a.url, medic["token"])
    tablet.sync()

    # Work flows through node B while node A's tablet reports its position.
    stop = threading.Event()
    written: list[str] = []

    def operator() -> None:
        while not stop.is_set():
            incident = create_incident(api_b)
            assignment = dispatch(api_b, medic["id"], incident["id"])
            cancel = api_b.post(f"/api/assignments/{assignment['id']}/status", {"status": "cancelled"})
            assert cancel.status_code == 200, cancel.text
            written.append(assignment["id"])

    def gps() -> None:
        while not stop.is_set():
            try:
                tablet.call("position", position(42.35, -71.06), timeout=1)
            except Exception:
                return  # node A is gone
            time.sleep(0.1)

    workers = [threading.Thread(target=operator), threading.Thread(target=gps)]
    for worker in workers:
        worker.start()
    try:
        poll(lambda: len(written) >= 3 and _last_seq(dashboard) > start_seq + 6, timeout=15)
        a.kill()
        poll(lambda: len(written) >= 6, timeout=15)  # B keeps working meanwhile
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    dashboard.close()
    tablet.close()

    # Both clients come back on the surviving node and ask for what follows what they had.
    seen_before = _last_seq(dashboard)
    with connected(b.url, cluster.token) as again, connected(b.url, medic["token"]) as back:
        assert again.sync(seen_before)["kind"] == "resync"
        back.sync()
        assert back.messages("assignments")[0]["unit"]["id"] == medic["id"]
        assert back.call("position", position(42.36, -71.05))["ok"] is True
        again.wait_for("positions", lambda m: medic["id"] in m["positions"], timeout=5)
        create_incident(api_b)
        final_seq = state(api_b)["seq"]
        again.wait_for("frame", lambda f: f["seq"] == final_seq, timeout=5)
        seqs = _event_seqs(dashboard.received) + _event_seqs(again.received)
    assert seqs == list(range(start_seq + 1, final_seq + 1)), "gap or duplicate across the failover"
    assert [e["seq"] for e in events_after(api_b, start_seq)] == seqs


def test_an_unacknowledged_assignment_is_delivered_again_and_a_repeated_ack_changes_nothing(
    cluster: Cluster,
) -> None:
    a, b = cluster.start_node(), cluster.start_node()
    api_b = cluster.api(b)
    medic = create_unit(api_b, "MED-4")
    with connected(a.url, medic["token"]) as tablet:
        tablet.sync()
        assignment = dispatch(api_b, medic["id"], create_incident(api_b)["id"])

        def pushes() -> int:
            return sum(1 for m in tablet.messages("assignment") if m["assignment"]["id"] == assignment["id"])

        poll(lambda: pushes() >= 2 or None, timeout=15)  # sent, then sent again: no answer came
        ack = {
            "key": "ack-1",
            "type": "assignment_status",
            "data": {"assignment_id": assignment["id"], "status": "acknowledged"},
        }
        for _ in range(2):
            assert tablet.call("received", {"assignment_id": assignment["id"]})["ok"] is True
            assert tablet.call("action", ack)["ok"] is True
        settled = pushes()
        time.sleep(6)  # longer than the redelivery interval: nothing more comes
        assert pushes() == settled
    steps = [e["type"] for e in events_after(api_b) if e["payload"].get("id") == assignment["id"]]
    assert steps == ["AssignmentDispatched", "AssignmentDelivered", "AssignmentAcknowledged"]


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", durable=True)
    server.workdir.mkdir()
    yield server.start()
    server.stop()


def test_redis_restarted_under_load_loses_no_acknowledged_write_and_nodes_recover(
    tmp_path: Path, durable_redis: RedisServer
) -> None:
    nodes = Cluster(tmp_path, durable_redis.url)
    try:
        a, b = nodes.start_node(), nodes.start_node()
        api_a = nodes.api(a)
        medic = create_unit(api_a, "MED-5")
        acknowledged: list[str] = []
        refused: list[tuple[int, dict[str, Any]]] = []
        stop = threading.Event()

        def burst(node_url: str) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {nodes.token}"
            while not stop.is_set():
                r = session.post(
                    f"{node_url}/api/incidents", json={"kind": "other", "lat": 42.35, "lon": -71.06}
                )
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])
                else:
                    refused.append((r.status_code, r.json()))

        workers = [threading.Thread(target=burst, args=(n.url,)) for n in (a, b)]
        for worker in workers:
            worker.start()
        tablet = connected(a.url, medic["token"])
        try:
            tablet.sync()
            poll(lambda: len(acknowledged) >= 30, timeout=20, interval=0.01)
            durable_redis.kill()
            poll(lambda: len(refused) >= 2, timeout=30)
            # While Redis is down: the tablet's action is refused for retry; its fixes wait in the node.
            with tablet:
                action = {"key": "svc-1", "type": "unit_status", "data": {"status": "out_of_service"}}
                answer = tablet.call("action", action, timeout=30)
                assert answer["ok"] is False and answer["status"] == 503, answer
                assert tablet.call("position", position(42.37, -71.04))["ok"] is True
                durable_redis.start()
                poll(lambda: len(acknowledged) >= 60, timeout=30, interval=0.05)
                retried = tablet.call("action", action, timeout=30)
                assert retried["ok"] is True and retried["replayed"] is False, retried
                assert tablet.call("action", action)["replayed"] is True
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)

        assert {status for status, _ in refused} == {503}
        assert all("Redis" in body["error"] for _, body in refused)
        for api in (api_a, nodes.api(b)):
            # Each node catches up within a tick of Redis answering again.
            def holds_all(api: Api = api) -> set[str] | None:
                ids = {i["id"] for i in api.get("/api/incidents").json()}
                return ids if ids >= set(acknowledged) else None

            present = poll(holds_all, timeout=10)
        # Only writes in flight at the kill may be there without an answer.
        assert len(present) - len(set(acknowledged)) <= 2
        unit = poll(
            lambda: (u := api_a.get(f"/api/units/{medic['id']}").json())["position"] and u, timeout=10
        )
        assert unit["status"] == "out_of_service"
        assert unit["position"]["lat"] == 42.37  # the fix buffered through the outage was kept
        events = events_after(api_a)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert sum(e["type"] == "UnitUpdated" for e in events) == 1
        # Both nodes agree again.
        poll(lambda: state(api_a)["seq"] == state(nodes.api(b))["seq"] or None, timeout=10)
        with connected(b.url, nodes.token) as dashboard:
            dashboard.sync()
            assert nodes.api(a).post("/api/incidents", {"kind": "other", "lat": 42.3, "lon": -71.1}).ok
            dashboard.wait_for("frame", lambda f: any(e["type"] == "IncidentReported" for e in f["events"]))
    finally:
        nodes.stop()
