"""The field tablet in Chromium loses its network for 30 s while the crew works through an assignment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Api, Server, make_token
from tests.integration.support import Cluster, create_incident
from tests.netcut import NetCut

from .conftest import new_page

pytestmark = pytest.mark.e2e

OFFLINE_S = 30.0


@dataclass
class Setup:
    tablet_server: Server  # where the tablet connects, through the relay
    api: Api  # where the EOC works (another node, with several)


@pytest.fixture(params=["sqlite", "redis"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "sqlite":
        data_dir = tmp_path / "data"
        token = make_token(data_dir)
        server = Server(data_dir).start()
        yield Setup(server, Api(server.url, token))
        server.stop()
    else:
        cluster = Cluster(tmp_path, request.getfixturevalue("redis_url"))
        a, b = cluster.start_node(), cluster.start_node()
        yield Setup(a, cluster.api(b))
        cluster.stop()


def _wait(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_actions_taken_offline_for_30_s_apply_once_in_order_on_reconnect(
    browser: Browser, setup: Setup, page_errors: list[str]
) -> None:
    api = setup.api
    unit = api.post("/api/units", json={"callsign": "MED-7", "kind": "medical_team"}).json()
    incident = create_incident(api, lat=42.356, lon=-71.062)
    relay = NetCut(setup.tablet_server.port)
    try:
        tablet = new_page(browser, page_errors)
        tablet.goto(f"{relay.url}/field#token={unit['token']}")
        expect(tablet.locator("#conn")).to_have_text("Online", timeout=15_000)
        assignment = api.post(
            "/api/assignments",
            json={"unit_id": unit["id"], "kind": "medical_aid", "incident_id": incident["id"]},
        ).json()
        url = f"/api/assignments/{assignment['id']}"
        _wait(lambda: api.get(url).json()["status"] == "delivered")

        relay.cut()
        went_offline = time.monotonic()
        expect(tablet.locator("#conn")).to_have_class("conn offline", timeout=10_000)
        # The crew works through the assignment, spread over the time without network.
        for step in ("acknowledged", "en_route", "on_scene"):
            tablet.click(f"[data-step={step}]")
            expect(tablet.locator("#queue")).to_be_visible()
            time.sleep(OFFLINE_S / 3 - 1)
        expect(tablet.locator("#queue")).to_have_text("3 queued")
        assert api.get(url).json()["status"] == "delivered"  # nothing reached the server
        time.sleep(max(0.0, OFFLINE_S - (time.monotonic() - went_offline)))

        relay.restore()
        expect(tablet.locator("#conn")).to_have_text("Online", timeout=20_000)
        expect(tablet.locator("#queue")).to_be_hidden(timeout=20_000)
        _wait(lambda: api.get(url).json()["status"] == "on_scene")
        tablet.reload()  # a reload must not send anything again
        expect(tablet.locator("#conn")).to_have_text("Online", timeout=15_000)
        time.sleep(1.0)
    finally:
        relay.close()

    events = api.get("/api/events", params={"after": 0}).json()["events"]
    steps = [e["type"] for e in events if e["payload"].get("id") == assignment["id"]]
    assert steps == [
        "AssignmentDispatched",
        "AssignmentDelivered",
        "AssignmentAcknowledged",
        "AssignmentEnRoute",
        "AssignmentOnScene",
    ]
    assert page_errors == []
