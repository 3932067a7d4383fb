"""Limits, headers, secrets, revocation, audit and the privacy flags, against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import Api, Server, cli

from .support import connected, create_unit, live_token, poll


def _login_form(session: requests.Session, server: Server) -> str:
    page = session.get(f"{server.url}/login", timeout=5).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_sign_in_attempts_are_limited_per_address(server: Server) -> None:
    session = requests.Session()
    codes = []
    for _ in range(11):
        csrf = _login_form(session, server)
        answer = session.post(
            f"{server.url}/login",
            data={"username": "nobody", "password": "wrong-guess", "csrf": csrf},
            timeout=5,
        )
        codes.append(answer.status_code)
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def _failed_sign_ins(server: Server, forwarded_for: str, count: int) -> list[int]:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = forwarded_for
    codes = []
    for _ in range(count):
        csrf = _login_form(session, server)
        body = {"username": "nobody", "password": "wrong-guess", "csrf": csrf}
        codes.append(session.post(f"{server.url}/login", data=body, timeout=5).status_code)
    return codes


def test_behind_a_trusted_proxy_the_sign_in_limit_is_per_client(data_dir: Path) -> None:
    proxied = Server(data_dir, extra_args=("--trusted-proxies", "1")).start()
    try:
        assert _failed_sign_ins(proxied, "203.0.113.7", 11)[-1] == 429
        # Another client behind the same proxy still has its own budget.
        assert _failed_sign_ins(proxied, "198.51.100.4", 1) == [401]
    finally:
        proxied.stop()


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(server: Server) -> None:
    codes = [_failed_sign_ins(server, f"203.0.113.{i}", 1)[0] for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_a_unit_that_floods_reports_is_told_to_wait_over_http_and_socket_alike(
    server: Server, api: Api
) -> None:
    unit = create_unit(api)
    device = Api(server.url, unit["token"])
    body = {"kind": "other", "lat": 42.36, "lon": -71.06}
    codes = [device.post("/api/incidents", json=body).status_code for _ in range(25)]
    assert codes == [201] * 25
    with connected(server.url, unit["token"]) as tablet:
        answers = [
            tablet.call("action", {"key": f"k{i}", "type": "incident", "data": body}) for i in range(6)
        ]
    assert [a["ok"] for a in answers] == [True] * 5 + [False]
    assert answers[5]["status"] == 429
    refused = device.post("/api/incidents", json=body)
    assert refused.status_code == 429 and "wait" in refused.json()["error"]
    # Other units and staff are not held back by one unit's budget.
    assert api.post("/api/incidents", json=body).status_code == 201


def test_pages_and_api_carry_a_strict_content_security_policy(server: Server, api: Api) -> None:
    for answer in (requests.get(f"{server.url}/field", timeout=5), api.get("/api/state")):
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_policy_allows_images_from_the_configured_tile_host_only(
    data_dir: Path, operator_token: str
) -> None:
    srv = Server(data_dir, extra_args=("--tile-url", "https://{s}.tiles.example.org/{z}/{x}/{y}.png")).start()
    try:
        policy = requests.get(f"{srv.url}/login", timeout=5).headers["Content-Security-Policy"]
        assert "img-src 'self' data: https://*.tiles.example.org" in policy
    finally:
        srv.stop()


def test_the_server_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COORDINATOR_SECRET_KEY"}
    run = subprocess.run(
        [sys.executable, "-m", "coordinator.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "COORDINATOR_SECRET_KEY" in run.stderr
    short = tmp_path / "key"
    short.write_text("too-short")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "coordinator.cli",
            "serve",
            "--secret-key-file",
            str(short),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "at least 16" in run.stderr


def test_a_revoked_api_token_loses_http_and_its_live_socket(server: Server, data_dir: Path) -> None:
    token = live_token(server, "viewer", "wallscreen")
    wall = Api(server.url, token)
    dashboard = connected(server.url, token)
    try:
        dashboard.sync()
        result = cli(data_dir, "token", "revoke", "wallscreen")
        assert result.returncode == 0, result.stderr
        poll(lambda: not dashboard.sio.connected, timeout=5)
        assert wall.get("/api/state").status_code == 401
    finally:
        dashboard.close()


def test_a_revoked_unit_is_cut_off_and_a_new_token_works(server: Server, api: Api, data_dir: Path) -> None:
    unit = create_unit(api)
    tablet = connected(server.url, unit["token"])
    try:
        tablet.sync()
        assert cli(data_dir, "unit", "revoke", unit["id"]).returncode == 0
        poll(lambda: not tablet.sio.connected, timeout=5)
    finally:
        tablet.close()
    old = Api(server.url, unit["token"])
    assert (
        old.post(f"/api/units/{unit['id']}/position", json={"lat": 42.36, "lon": -71.06}).status_code == 401
    )
    issued = cli(data_dir, "unit", "token", unit["id"])
    new = Api(server.url, issued.stdout.strip().splitlines()[-1])
    assert (
        new.post(f"/api/units/{unit['id']}/position", json={"lat": 42.36, "lon": -71.06}).status_code == 202
    )


def test_audit_lists_what_one_account_did(server: Server, api: Api, data_dir: Path) -> None:
    other = Api(server.url, live_token(server, "supervisor", "night-shift"))
    api.post("/api/demonstrations", json={"name": "Day march", "lat": 42.36, "lon": -71.06})
    other.post("/api/demonstrations", json={"name": "Night vigil", "lat": 42.35, "lon": -71.07})
    time.sleep(0.1)
    result = cli(data_dir, "audit", "--actor", "night-shift", "--from", "2000-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "Night vigil" in result.stdout and "Day march" not in result.stdout
    assert result.stdout.strip().endswith("1 event(s)")


def test_a_note_with_a_phone_number_is_kept_and_flagged(api: Api) -> None:
    body = {
        "kind": "injury",
        "triage": "minor",
        "lat": 42.36,
        "lon": -71.06,
        "note": "son's number 617-555-0100",
    }
    incident = api.post("/api/incidents", json=body).json()
    assert incident["note_flags"] == ["phone"]
    assert api.get(f"/api/incidents/{incident['id']}").json()["note_flags"] == ["phone"]


def test_two_nodes_share_a_units_report_budget_through_redis(
    data_dir: Path, operator_token: str, redis_url: str
) -> None:
    nodes = [Server(data_dir, extra_args=("--rate-limit-storage", redis_url)).start() for _ in range(2)]
    try:
        api = Api(nodes[0].url, operator_token)
        unit = create_unit(api, "MED-R")
        body = {"kind": "other", "lat": 42.36, "lon": -71.06}
        # The second node learns of the new unit from the shared log.
        device_b = Api(nodes[1].url, unit["token"])
        poll(lambda: device_b.get(f"/api/units/{unit['id']}").status_code == 200)
        device_a = Api(nodes[0].url, unit["token"])
        codes = [device_a.post("/api/incidents", json=body).status_code for _ in range(20)]
        codes += [device_b.post("/api/incidents", json=body).status_code for _ in range(11)]
        assert codes == [201] * 30 + [429]
    finally:
        for node in nodes:
            node.stop()


def test_a_disabled_user_is_signed_out_everywhere_and_a_new_password_replaces_the_old(
    server: Server, data_dir: Path
) -> None:
    assert (
        cli(
            data_dir, "user", "add", "ops2", "--role", "viewer", "--password-stdin", stdin="first-pass-1\n"
        ).returncode
        == 0
    )
    session = requests.Session()
    csrf = _login_form(session, server)
    signed_in = session.post(
        f"{server.url}/login", data={"username": "ops2", "password": "first-pass-1", "csrf": csrf}, timeout=5
    )
    assert signed_in.ok and session.get(f"{server.url}/api/state", timeout=5).status_code == 200

    changed = cli(data_dir, "user", "password", "ops2", "--password-stdin", stdin="second-pass-2\n")
    assert changed.returncode == 0, changed.stderr
    time.sleep(0.6)  # the running server reads the change from the log on its next tick
    for password, expected in (("first-pass-1", 401), ("second-pass-2", 302)):
        fresh = requests.Session()
        token = _login_form(fresh, server)
        answer = fresh.post(
            f"{server.url}/login",
            data={"username": "ops2", "password": password, "csrf": token},
            timeout=5,
            allow_redirects=False,
        )
        assert answer.status_code == expected, password

    assert cli(data_dir, "user", "disable", "ops2").returncode == 0
    poll(lambda: session.get(f"{server.url}/api/state", timeout=5).status_code == 401, timeout=5)
    again = requests.Session()
    token = _login_form(again, server)
    refused = again.post(
        f"{server.url}/login",
        data={"username": "ops2", "password": "second-pass-2", "csrf": token},
        timeout=5,
    )
    assert refused.status_code == 401
